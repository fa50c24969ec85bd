import { test } from "node:test";
import assert from "node:assert/strict";
import {
  createArithmeticTask,
  defaultArithmeticSettings,
  redundantStepFraction,
  splitOf,
  parseQuestion,
} from "../../src/task/arithmetic.js";
import { evaluate, parseExpr, formatExpr } from "../../src/task/arithmetic-expr.js";
import type { Problem, StepLabel } from "../../src/task/types.js";

const task = createArithmeticTask({}, 0);
const problem = (q: string): Problem => ({ id: "x", prompt: q + "\n", question: q, reference: "", solution: "" });
const label = (q: string, lines: string[]) => task.labelSteps(problem(q), lines);
const [E, R, S, F, A]: StepLabel[] = ["essential", "redundant", "slip", "fix", "answer"];

test("expressions evaluate by precedence, left to right, with exact division", () => {
  assert.equal(evaluate(parseExpr("3+4*2-5")!), 6);
  assert.equal(evaluate(parseExpr("2-3-4")!), -5);
  assert.equal(evaluate(parseExpr("8/4*2")!), 4);
  assert.equal(evaluate(parseExpr("7/2")!), null);
  assert.equal(evaluate(parseExpr("5-(-3)")!), 8);
  assert.equal(formatExpr(parseExpr("-2*(-3)")!), "-2*(-3)");
  assert.equal(parseExpr("3+"), null);
});

test("labels: a clean solution, and the documented example with every kind of line", () => {
  assert.deepEqual(label("Q: 3+4*2-5", ["4*2=8", "3+8=11", "11-5=6", "answer 6"]), [E, E, E, A]);
  assert.deepEqual(
    label("Q: 3+4*2-5", ["4*2=8", "check 4*2=8", "3+8=12", "fix 3+8=11", "so far 11", "11+0=11", "11-5=6", "answer 6"]),
    [E, R, S, F, R, R, E, A],
  );
});

test("labels: wrong order is a slip, and so is every line built on it", () => {
  assert.deepEqual(label("Q: 3+4*2-5", ["3+4=7", "7*2=14", "14-5=9", "answer 9"]), [S, S, S, A]);
});

test("labels: a value-preserving reduction out of canonical order is essential", () => {
  // 3+8-5 -> 3+3 keeps the value 6; 2-3+4 -> 2-7 would not
  assert.deepEqual(label("Q: 3+4*2-5", ["4*2=8", "8-5=3", "3+3=6", "answer 6"]), [E, E, E, A]);
  assert.deepEqual(label("Q: 2-3+4", ["3+4=7", "2-3=-1", "-1+4=3", "answer 3"]), [S, E, E, A]);
});

test("labels: repeats, empty lines, garbage and wrong restatements", () => {
  assert.deepEqual(
    label("Q: 3+4*2-5", ["4*2=8", "4*2=8", "", "hello", "so far 9", "so far 8", "answer 6"]),
    [E, R, R, S, S, R, A],
  );
  // a fix of a wrong check is a fix; a fix with no slip before it is an ordinary step
  assert.deepEqual(label("Q: 3+4*2-5", ["4*2=8", "check 4*2=9", "fix 4*2=8", "fix 3+8=11", "fix 11-5=7"]), [E, S, F, E, S]);
  // a real step that looks like a no-op stays essential
  assert.deepEqual(label("Q: 5+0*3", ["0*3=0", "5+0=5", "5*1=5", "answer 5"]), [E, E, R, A]);
  // negative numbers, with a parenthesised right operand
  assert.deepEqual(label("Q: 2-3*4", ["3*4=12", "2-12=-10", "-10-(-1)=-9", "answer -10"]), [E, E, S, A]);
});

test("labels: steps holding several lines (other segmentations) get one label each", () => {
  assert.deepEqual(
    label("Q: 3+4*2-5", ["4*2=8\ncheck 4*2=8\n", "3+8=12\nfix 3+8=11\n", "so far 11\n", "11-5=6\nanswer 6"]),
    [E, F, R, A],
  );
  assert.deepEqual(label("Q: 3+4*2-5", ["4*2=8\n3+8=11\n", "11-5=7\n", "answer 7"]), [E, S, A]);
});

test("verifier and extractAnswer on hand-written responses", () => {
  assert.equal(task.verify("4*2=8\n3+8=11\n11-5=6\nanswer 6", "6"), 1);
  assert.equal(task.verify("4*2=8\nanswer 7", "6"), 0);
  assert.equal(task.verify("4*2=8\n3+8=11\n11-5=6", "6"), 0);
  assert.equal(task.verify("answer 6\nanswer 7", "6"), 1, "the first answer line counts");
  assert.equal(task.verify("answer -10\n", "-10"), 1);
  assert.equal(task.extractAnswer("answer six"), null);
  assert.equal(task.extractAnswer("x\n answer 12 \n"), "12");
});

test("redundant-step fraction: redundant lines over non-answer lines", () => {
  assert.equal(redundantStepFraction([E, R, S, F, R, R, E, A]), 3 / 7);
  assert.equal(redundantStepFraction([E, E, A]), 0);
  assert.equal(redundantStepFraction([A]), 0);
  assert.equal(redundantStepFraction([R, R]), 1);
});

test("deterministic from the seed; offsets index the same sequence", () => {
  const a = createArithmeticTask({ verbosity: 0.5, slips: 0.2 }, 7);
  const b = createArithmeticTask({ verbosity: 0.5, slips: 0.2 }, 7);
  const c = createArithmeticTask({ verbosity: 0.5, slips: 0.2 }, 8);
  assert.deepEqual(a.train(20), b.train(20));
  assert.deepEqual(a.heldOut(10), b.heldOut(10));
  assert.deepEqual(a.train(5, 10), a.train(15).slice(10));
  assert.notDeepEqual(
    a.train(20).map((p) => p.question),
    c.train(20).map((p) => p.question),
  );
});

test("train and held-out splits are disjoint, and held-out problems are distinct", () => {
  const t = createArithmeticTask({ operandsMin: 2, operandsMax: 2, valueMin: 0, valueMax: 9, operators: "+" }, 3);
  // 100 possible expressions: held-out gets the ones in 1 hash bucket of 8
  const held = t.heldOut(1000).map((p) => p.question);
  assert.ok(held.length > 3 && held.length < 30, `held-out count ${held.length}`);
  assert.equal(new Set(held).size, held.length);
  const train = new Set(t.train(2000).map((p) => p.question));
  for (const q of held) assert.ok(!train.has(q), `${q} is in both splits`);
  assert.equal(train.size + held.length, 100, "together the splits cover the whole space");
  for (const q of held) assert.equal(splitOf(q.slice(3)), "heldout");
});

test("generated labels equal labelSteps on the generated lines, across settings", () => {
  const settings = [
    { verbosity: 0.5, slips: 0.3 },
    { verbosity: 1, slips: 1, operators: "+-*/", valueMin: 0, valueMax: 12, operandsMax: 5 },
    { verbosity: 0.7, slips: 0.5, valueMin: -5, valueMax: 5, operators: "-*" },
  ];
  for (const [k, s] of settings.entries()) {
    const t = createArithmeticTask(s, k);
    for (const p of [...t.train(150), ...t.heldOut(20)]) {
      const lines = p.solution.split("\n");
      assert.deepEqual(t.labelSteps(p, lines), p.labels, `${p.question}\n${p.solution}`);
      assert.equal(t.verify(p.solution, p.reference), 1);
      assert.equal(String(evaluate(parseQuestion(p.question)!)), p.reference);
      assert.equal(p.prompt, p.question + "\n");
    }
  }
});

test("redundant lines and slips appear at the declared rates", () => {
  const clean = createArithmeticTask({ verbosity: 0, slips: 0 }, 1).train(50);
  for (const p of clean) assert.ok(p.labels!.every((l) => l === E || l === A));
  const t = createArithmeticTask({ verbosity: 0.4, slips: 0.2 }, 2);
  let stepsDone = 0, redundant = 0, slips = 0;
  for (const p of t.train(600)) {
    const ls = p.labels!;
    stepsDone += ls.filter((l) => l === E || l === F).length;
    redundant += ls.filter((l) => l === R).length;
    slips += ls.filter((l) => l === S).length;
    assert.equal(ls.filter((l) => l === S).length, ls.filter((l) => l === F).length);
  }
  // ~1500 steps: binomial sd ~0.013 and ~0.010
  assert.ok(Math.abs(redundant / stepsDone - 0.4) < 0.05, `redundant rate ${redundant / stepsDone}`);
  assert.ok(Math.abs(slips / stepsDone - 0.2) < 0.04, `slip rate ${slips / stepsDone}`);
});

test("default problems are short enough for a 128-token character model", () => {
  const ps = createArithmeticTask(defaultArithmeticSettings, 0).train(500);
  const lens = ps.map((p) => p.prompt.length + p.solution.length);
  const mean = lens.reduce((a, b) => a + b, 0) / lens.length;
  assert.ok(mean < 80, `mean length ${mean}`);
  assert.ok(Math.max(...lens) < 128, `max length ${Math.max(...lens)}`);
});

test("settings are validated with a message that says the fix", () => {
  assert.throws(() => createArithmeticTask({ operandsMin: 1 }), /at least 2/);
  assert.throws(() => createArithmeticTask({ operators: "+^" }), /operators/);
  assert.throws(() => createArithmeticTask({ verbosity: 2 }), /verbosity/);
  assert.throws(() => createArithmeticTask({ valueMin: 5, valueMax: 1 }), /empty/);
});

test("label codes follow the formula IR (essential 0 … answer 4, unknown -1)", async () => {
  const { labelCode } = await import("../../src/task/labels.js");
  assert.deepEqual([E, R, S, F, A, undefined].map(labelCode), [0, 1, 2, 3, 4, -1]);
});
