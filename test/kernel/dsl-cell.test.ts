import { test } from "node:test";
import assert from "node:assert/strict";
import { diagnosticsError, isDslCell, parseMagic, specSource } from "../../kernel/dsl-cell.js";
import { formatFormula, planRows } from "../../kernel/plan-summary.js";
import { compile } from "./fixtures/fake-dsl.js";

test("the magic line: plain, named, run", () => {
  assert.deepEqual(parseMagic("%%stepwise"), { run: false, planVar: "plan", runVar: "run" });
  assert.deepEqual(parseMagic("%%stepwise  base "), { run: false, planVar: "base", runVar: "baseRun" });
  assert.deepEqual(parseMagic("%%stepwise run"), { run: true, planVar: "plan", runVar: "run" });
  assert.deepEqual(parseMagic("%%stepwise run sspo"), { run: true, planVar: "sspo", runVar: "sspoRun" });
  assert.throws(() => parseMagic("%%stepwise a b"), /usage/);
  assert.throws(() => parseMagic("%%stepwise 9lives"), /usage/);
  assert.ok(isDslCell("%%stepwise\nexperiment x"));
  assert.ok(!isDslCell("// %%stepwise\n1"));
  assert.ok(!isDslCell("%%stepwiser\n1"));
});

test("the spec keeps the cell's line numbers (line 1 is the magic line)", () => {
  const cell = "%%stepwise\nexperiment a\n  bad";
  const src = specSource(cell);
  assert.equal(src.split("\n")[2], "  bad"); // index 2 = line 3
  const { diagnostics } = compile(src, { file: "cell" });
  const err = diagnosticsError(diagnostics);
  assert.equal(err.ename, "StepwiseError");
  assert.equal(err.evalue, 'unknown declaration "bad"');
  assert.deepEqual(err.traceback, ['cell:3:3: unknown declaration "bad"', "  hint: use experiment or iterations"]);
  assert.equal(specSource("%%stepwise"), "");
});

test("formulas print back with the precedence they were parsed with", () => {
  const ref = (name: string) => ({ op: "ref", source: "let", name, level: "step" }) as const;
  const num = (value: number) => ({ op: "num", value, level: "step" }) as const;
  // (a - b) * c  and  a - b * c
  assert.equal(formatFormula({ op: "binary", fn: "*", level: "step", left: { op: "binary", fn: "-", level: "step", left: ref("a"), right: ref("b") }, right: ref("c") }), "(a - b) * c");
  assert.equal(formatFormula({ op: "binary", fn: "-", level: "step", left: ref("a"), right: { op: "binary", fn: "*", level: "step", left: ref("b"), right: ref("c") } }), "a - b * c");
  // a - (b - c): the right operand of a left-associative operator keeps its parentheses
  assert.equal(formatFormula({ op: "binary", fn: "-", level: "step", left: ref("a"), right: { op: "binary", fn: "-", level: "step", left: ref("b"), right: ref("c") } }), "a - (b - c)");
  assert.equal(formatFormula({ op: "group", fn: "zscore", arg: ref("outcome"), by: "position", level: "step" }), "zscore(outcome, by position)");
  assert.equal(formatFormula({ op: "reduce", fn: "sum", arg: ref("x"), over: "step", level: "step" }), "sum(x over step)");
  assert.equal(formatFormula({ op: "scan", fn: "discount", arg: ref("x"), gamma: 0.9, level: "step" }), "discount(x, 0.9)");
  assert.equal(formatFormula({ op: "unary", fn: "neg", arg: num(2), level: "step" }), "-2");
});

test("the plan summary lists the advantage and each stage", () => {
  const { plan } = compile("experiment demo\niterations 4");
  const rows = new Map(planRows(plan!));
  assert.equal(rows.get("name"), "demo");
  assert.equal(rows.get("advantage"), "outcome - 0.5");
  assert.match(rows.get("train 1")!, /^rl: iterations 4, prompts 2, group 4/);
});
