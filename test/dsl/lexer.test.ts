import { test } from "node:test";
import assert from "node:assert/strict";
import { StepwiseLexer } from "../../dsl/lexer.js";

const kinds = (src: string) => StepwiseLexer.tokenize(src).tokens.map((t) => `${t.tokenType.name}:${t.image}`);

test("keywords before identifiers, with longer_alt", () => {
  assert.deepEqual(kinds("seed seeds reward rewards_x model_size"), ["Seed:seed", "Identifier:seeds", "Reward:reward", "Identifier:rewards_x", "Identifier:model_size"]);
});

test("numbers, ranges and operators", () => {
  assert.deepEqual(kinds("3..5 3e-3 0.05 1.5E+2"), ["NumberLit:3", "DotDot:..", "NumberLit:5", "NumberLit:3e-3", "NumberLit:0.05", "NumberLit:1.5E+2"]);
  assert.deepEqual(kinds("a<=b==c!=d>=e<f>g=h"), [
    "Identifier:a", "LessEq:<=", "Identifier:b", "EqEq:==", "Identifier:c", "NotEq:!=", "Identifier:d",
    "GreaterEq:>=", "Identifier:e", "Less:<", "Identifier:f", "Greater:>", "Identifier:g", "Equals:=", "Identifier:h",
  ]);
});

test("operator families are token categories", () => {
  const toks = StepwiseLexer.tokenize("+ - * / < ==").tokens;
  assert.deepEqual(toks.map((t) => t.tokenType.CATEGORIES?.map((c) => c.name)), [["AddOp"], ["AddOp"], ["MulOp"], ["MulOp"], ["CompareOp"], ["CompareOp"]]);
});

test("a regex only right after `split`; elsewhere `/` divides", () => {
  assert.deepEqual(kinds("steps split /Step \\d+:/i"), ["Steps:steps", "Identifier:split", "RegexLit:/Step \\d+:/i"]);
  assert.deepEqual(kinds("a / b / c"), ["Identifier:a", "Slash:/", "Identifier:b", "Slash:/", "Identifier:c"]);
});

test("strings with escapes; comments go to their own group with positions", () => {
  const r = StepwiseLexer.tokenize('prompt "a \\"b\\" \\n" # note\nx');
  assert.deepEqual(r.tokens.map((t) => t.image), ["prompt", '"a \\"b\\" \\n"', "x"]);
  const c = (r.groups["comments"] ?? [])[0]!;
  assert.equal(c.image, "# note");
  assert.equal(c.startLine, 1);
  assert.equal(c.startColumn, 21);
});

test("unknown characters are errors with positions, and lexing goes on", () => {
  const r = StepwiseLexer.tokenize("seed 1\n  @ x");
  assert.equal(r.errors.length, 1);
  assert.equal(r.errors[0]!.line, 2);
  assert.equal(r.errors[0]!.column, 3);
  assert.deepEqual(r.tokens.map((t) => t.image), ["seed", "1", "x"]);
});
