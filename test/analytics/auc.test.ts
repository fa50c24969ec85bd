import { strict as assert } from "node:assert";
import { test } from "node:test";
import { rocAuc, stepLabelAuc } from "../../src/analytics/auc.js";
import { stepsTable } from "../../src/analytics/tables.js";
import type { StepRecord } from "../../src/run/types.js";

const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-12, `${a} ≠ ${b}`);

test("AUC by hand: pairs (pos, neg) ordered correctly / all pairs", () => {
  // positives 0.9, 0.3; negatives 0.8, 0.1: 0.9>0.8, 0.9>0.1, 0.3<0.8, 0.3>0.1 → 3/4
  close(rocAuc([0.9, 0.8, 0.3, 0.1], [1, 0, 1, 0]), 0.75);
  close(rocAuc([1, 2, 3, 4], [0, 0, 1, 1]), 1);
  close(rocAuc([1, 2, 3, 4], [1, 1, 0, 0]), 0);
  // 3 positives × 2 negatives: 0.7>{0.6,0.2}, 0.5>{0.2}, 0.1>{} → 3/6
  close(rocAuc([0.7, 0.6, 0.5, 0.2, 0.1], [true, false, true, false, true]), 0.5);
});

test("ties count one half", () => {
  // pos 0.5 vs neg 0.5: ½; pos 0.5 vs neg 0.2: 1 → 1.5/2
  close(rocAuc([0.5, 0.5, 0.2], [1, 0, 0]), 0.75);
  // all tied: ½
  close(rocAuc([3, 3, 3, 3], [1, 0, 1, 0]), 0.5);
  // pos {2, 1}, neg {2, 2, 0}: 2 vs (½, ½, 1) = 2; 1 vs (0, 0, 1) = 1 → 3/6
  close(rocAuc([2, 1, 2, 2, 0], [1, 1, 0, 0, 0]), 0.5);
});

test("one class only: NaN; bad input throws", () => {
  assert.ok(Number.isNaN(rocAuc([1, 2], [1, 1])));
  assert.ok(Number.isNaN(rocAuc([], [])));
  assert.throws(() => rocAuc([1, 2], [1]), /2 scores but 1 labels/);
  assert.throws(() => rocAuc([1, NaN], [1, 0]), /score 1 is not a finite number/);
});

test("stepLabelAuc: value changes over steps against labels, by hand", () => {
  const rec = (response: number, step: number, label: string, v: number): StepRecord => ({
    stage: "rl", iteration: 0, group: 0, response, step, tokens: 1, text: "", label, advantage: 0, outcome: 1, probes: { b: v },
  });
  const steps = stepsTable([
    // response 0: essential +0.3, redundant +0.0, essential +0.2, answer (last: no delta)
    rec(0, 0, "essential", 0.2), rec(0, 1, "redundant", 0.5), rec(0, 2, "essential", 0.5), rec(0, 3, "answer", 0.7),
    // response 1: redundant +0.1, essential −0.05, answer (last)
    rec(1, 0, "redundant", 0.3), rec(1, 1, "essential", 0.4), rec(1, 2, "answer", 0.35),
  ]);
  // deltas: essential {0.3, 0.2, −0.05}, negatives (redundant, answer with a next step: none) {0.0, 0.1}
  // pairs: 0.3>{0,0.1} 2, 0.2>{0,0.1} 2, −0.05 → 0: 4/6
  const d = stepLabelAuc(steps, { probe: "b", positive: ["essential"], negative: ["redundant"] });
  assert.equal(d.positives, 3);
  assert.equal(d.negatives, 2);
  close(d.auc, 4 / 6);
  // raw values: essential {0.2, 0.5, 0.4}; redundant {0.5, 0.3}; answer {0.7, 0.35}
  // vs redundant: 0.2→0, 0.5→1.5, 0.4→1 = 2.5/6
  close(stepLabelAuc(steps, { probe: "b", negative: ["redundant"], score: "value" }).auc, 2.5 / 6);
  // vs every other label: + answer {0.7, 0.35}: 0.2→0, 0.5→1, 0.4→1 → (2.5+2)/12
  close(stepLabelAuc(steps, { probe: "b", score: "value" }).auc, 4.5 / 12);
  assert.throws(() => stepLabelAuc(steps, { probe: "zz" }), /no probe zz/);
});
