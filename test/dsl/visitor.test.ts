import { test } from "node:test";
import assert from "node:assert/strict";
import { StepwiseLexer } from "../../dsl/lexer.js";
import { parser } from "../../dsl/parser.js";
import { astBuilder, decodeString } from "../../dsl/visitor.js";
import type { Decl, Expr } from "../../dsl/ast.js";

/** CST of one declaration → AST, through the visitor alone. */
function visit(src: string): Decl {
  parser.input = StepwiseLexer.tokenize(src).tokens;
  const cst = parser.declaration();
  assert.deepEqual(parser.errors, []);
  return astBuilder.visit(cst) as Decl;
}
const formula = (src: string): Expr => (visit(`advantage = ${src}`) as Extract<Decl, { kind: "advantage" }>).formula;

/** A compact s-expression of a formula, to compare trees at a glance. */
function sx(e: Expr): string {
  switch (e.kind) {
    case "num": return e.raw;
    case "str": return e.raw;
    case "name": return e.name;
    case "unary": return `(${e.op} ${sx(e.arg)})`;
    case "binary": return `(${e.op} ${sx(e.left)} ${sx(e.right)})`;
    case "if": return `(if ${sx(e.cond)} ${sx(e.then)} ${sx(e.else)})`;
    case "call": return `(${e.fn}${e.args.map((a) => " " + sx(a)).join("")}${e.modifiers.map((m) => ` :${m.kind} ${m.value}`).join("")})`;
  }
}

test("operator chains become left-leaning binary trees with the right operators", () => {
  assert.equal(sx(formula("a - b + c * d / e")), "(+ (- a b) (/ (* c d) e))");
  assert.equal(sx(formula("2 ^ 3 ^ 4")), "(^ 2 (^ 3 4))");
  assert.equal(sx(formula("not a or b and c")), "(or (not a) (and b c))");
  assert.equal(sx(formula("- - x")), "(neg (neg x))");
  assert.equal(sx(formula("if a < 1 then -b else mean(c over response)")), "(if (< a 1) (neg b) (mean c :over response))");
  assert.equal(sx(formula("zscore(x, by step index)")), "(zscore x :by step_index)");
});

test("parentheses leave no node but widen the span", () => {
  const e = formula("(a + b)");
  assert.equal(sx(e), "(+ a b)");
  assert.equal(e.span.column, 13);
  assert.equal(e.span.endColumn, 20);
});

test("strings are decoded; numbers keep their source text", () => {
  assert.equal(decodeString('"a\\nb\\t\\"c\\\\"'), 'a\nb\t"c\\');
  const n = formula("3e-3");
  assert.ok(n.kind === "num" && n.value === 0.003 && n.raw === "3e-3");
});

test("declaration spans run from the keyword to the end", () => {
  const d = visit("model gpt {\n  layers 4\n}");
  assert.deepEqual([d.span.line, d.span.column, d.span.endLine, d.span.endColumn], [1, 1, 3, 2]);
  assert.ok(d.kind === "component" && d.block!.multiline);
});
