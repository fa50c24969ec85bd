/**
 * The arena's hard world (`task arithmetic { preset hard }`): the preset through the DSL, its
 * generator, labels and split (deterministic, disjoint), and the overlap report.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { compile } from "../../dsl/index.js";
import { ArithmeticTask, createArithmeticTask, parseQuestion, splitOf } from "../../src/task/arithmetic.js";
import { ARITHMETIC_PRESETS } from "../../src/task/arithmetic-presets.js";
import { formatWorldOverlap, worldOverlap, worldSize } from "../../src/task/arithmetic-overlap.js";
import { evaluate, formatExpr } from "../../src/task/arithmetic-expr.js";
import { Rng } from "../../src/random.js";
import type { Problem } from "../../src/task/types.js";

const HARD = ARITHMETIC_PRESETS.hard;

function taskOf(block: string) {
  const { plan, diagnostics } = compile(`task arithmetic { ${block} }\n`, { file: "t.sw" });
  return { task: plan?.task, diagnostics };
}

test("preset hard: the DSL block gives the preset's settings; settings beside it override them one by one", () => {
  assert.deepEqual(taskOf("preset hard").task, { kind: "arithmetic", preset: "hard", settings: { ...HARD } });
  assert.deepEqual(taskOf("preset hard, slips 0, values 1..9").task, {
    kind: "arithmetic",
    preset: "hard",
    settings: { ...HARD, slips: 0, valueMin: 1, valueMax: 9 },
  });
  // no preset: the compiler's defaults, and no preset in the plan
  assert.equal((taskOf("operands 2..3").task as { preset?: string }).preset, undefined);
  const bad = taskOf("preset hrad").diagnostics;
  assert.equal(bad.length, 1);
  assert.match(bad[0]!.message, /`preset` must be `small` or `hard`/);
  assert.match(bad[0]!.hint ?? "", /hard/);
  assert.equal(bad[0]!.line, 1);
});

test("hard world: problems are deterministic from (seed, split, index) and differ across seeds", () => {
  const a = createArithmeticTask(HARD, 11);
  const b = createArithmeticTask(HARD, 11);
  assert.deepEqual(a.train(50), b.train(50));
  assert.deepEqual(a.train(10, 40), a.train(50).slice(40));
  assert.deepEqual(a.heldOut(30), b.heldOut(30));
  const other = createArithmeticTask(HARD, 12).train(50).map((p) => p.question);
  assert.ok(a.train(50).filter((p, i) => p.question === other[i]).length <= 1);
});

test("hard world: 3–4 operands up to 9, multiplication, correct worked solutions, labels that labelSteps reproduces", () => {
  const task = createArithmeticTask(HARD, 3);
  const problems = task.train(400);
  let withMul = 0;
  for (const p of problems) {
    const e = parseQuestion(p.question)!;
    assert.ok(e.values.length >= 3 && e.values.length <= 4, p.question);
    assert.ok(e.values.every((v) => v >= 1 && v <= 9), p.question);
    if (e.ops.includes("*")) withMul++;
    assert.equal(p.reference, String(evaluate(e)));
    const lines = p.solution.split("\n");
    assert.equal(lines.at(-1), `answer ${p.reference}`);
    assert.equal(task.verify(p.solution, p.reference), 1);
    assert.deepEqual(task.labelSteps(p, lines), p.labels, p.solution);
  }
  // P(at least one * among 2–3 operators drawn from "+-*") is 1 - (2/3)^k: 0.56 for k = 2, 0.70 for k = 3
  assert.ok(withMul / problems.length > 0.56, `share with a multiplication: ${withMul / problems.length}`);
});

test("hard world: redundant lines and slips at the preset's rates", () => {
  const problems = createArithmeticTask(HARD, 5).train(1500);
  let essentialSteps = 0;
  let redundant = 0;
  let slips = 0;
  for (const p of problems) {
    for (const l of p.labels!) {
      if (l === "essential" || l === "slip") essentialSteps++; // each step is written once, as itself or as a slip
      if (l === "redundant") redundant++;
      if (l === "slip") slips++;
    }
  }
  // (a detour that is a real step is restated instead, so every drawn redundant line is kept)
  assert.ok(Math.abs(redundant / essentialSteps - HARD.verbosity) < 0.03, `redundant per step ${redundant / essentialSteps}`);
  assert.ok(Math.abs(slips / essentialSteps - HARD.slips) < 0.03, `slips per step ${slips / essentialSteps}`);
});

test("hard world: the split is a fixed function of the text, disjoint, about 1 in 8 held out", () => {
  const a = createArithmeticTask(HARD, 1);
  const b = createArithmeticTask(HARD, 2);
  const train = [...a.train(600), ...b.train(600)];
  const held = [...a.heldOut(150), ...b.heldOut(150)];
  assert.ok(train.every((p) => splitOf(p.question.slice(3)) === "train"));
  assert.ok(held.every((p) => splitOf(p.question.slice(3)) === "heldout"));
  const trainQ = new Set(train.map((p) => p.question));
  assert.equal(held.filter((p) => trainQ.has(p.question)).length, 0);
  assert.equal(new Set(a.heldOut(150).map((p) => p.question)).size, 150);
  // the hash puts about 1/8 of all expressions in held-out: count it on raw uniform draws
  const rng = new Rng(99);
  const texts = Array.from({ length: 4000 }, () => {
    const n = rng.int(3, 4);
    return formatExpr({ values: Array.from({ length: n }, () => rng.int(1, 9)), ops: Array.from({ length: n - 1 }, () => rng.pick(["+", "-", "*"] as const)) });
  });
  const heldShare = texts.filter((t) => splitOf(t) === "heldout").length / texts.length;
  assert.ok(Math.abs(heldShare - 1 / 8) < 0.02, `held-out share ${heldShare}`);
});

test("hard world: prompt + worked solution fit a 192-token character model in at least 99% of problems", () => {
  const problems = createArithmeticTask(HARD, 9).train(1000);
  const fits = problems.filter((p) => p.prompt.length + p.solution.length + 2 <= 192).length; // + bos, eos
  assert.ok(fits >= 990, `${fits} of 1000 fit`);
});

test("worldSize: the number of distinct expressions, computed by hand", () => {
  // small: 2 operands 9^2 * 2 + 3 operands 9^3 * 2^2 = 162 + 2916
  assert.equal(worldSize(ARITHMETIC_PRESETS.small), 3078);
  // hard: 9^3 * 3^2 + 9^4 * 3^3
  assert.equal(worldSize(HARD), 6_561 + 177_147);
});

test("worldOverlap: none exact in either world; the small world's held-out work is all seen, the hard world's much less", () => {
  const small = worldOverlap(createArithmeticTask(ARITHMETIC_PRESETS.small, 7), 8000, 200);
  assert.equal(small.exactOverlap, 0);
  assert.equal(small.heldOut, 200);
  assert.ok(small.trainDistinct < 2700, `the small world repeats: ${small.trainDistinct} distinct of 8000`);
  assert.ok(small.heldOutStepsAllSeen >= 190, `small: ${small.heldOutStepsAllSeen} of 200 fully seen`);
  const hard = worldOverlap(createArithmeticTask(HARD, 7), 8000, 200);
  assert.equal(hard.exactOverlap, 0);
  // (3-operand expressions, half the draws, come from only 6,561: those repeat)
  assert.ok(hard.trainDistinct >= 6500, `hard: ${hard.trainDistinct} distinct of 8000`);
  assert.ok(hard.heldOutStepsAllSeen < small.heldOutStepsAllSeen - 15, `hard: ${hard.heldOutStepsAllSeen} of 200 fully seen`);
  assert.deepEqual(worldOverlap(createArithmeticTask(HARD, 7), 8000, 200), hard, "deterministic");
  const text = formatWorldOverlap(hard);
  assert.match(text, /world: 183,708 distinct expressions/);
  assert.match(text, /in the training draws: 0 \(0\.0%\)/);
});

test("worldOverlap counts a leak: a task whose held-out set is its training set overlaps fully", () => {
  class Leaky extends ArithmeticTask {
    override heldOut(n: number): Problem[] {
      return this.train(n);
    }
  }
  const o = worldOverlap(new Leaky(HARD, 4), 300, 100);
  assert.equal(o.exactOverlap, 100);
  assert.equal(o.heldOutStepsAllSeen, 100);
});

test("stepwise world SPEC prints the report for the arena's warm start", () => {
  const r = spawnSync(process.execPath, ["--import", "tsx", "src/cli/main.ts", "world", "examples/warmstart-hard.sw", "--train", "2000", "--heldout", "100"], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /task arithmetic \(preset hard\), seed 7/);
  assert.match(r.stdout, /training draws: 2,000, distinct 1,924 \(96\.2%\)/);
  assert.match(r.stdout, /held-out: 100 expressions, in the training draws: 0 \(0\.0%\)/);
  const noTask = spawnSync(process.execPath, ["--import", "tsx", "src/cli/main.ts", "world", "examples/real-model.sw"], { encoding: "utf8" });
  assert.equal(noTask.status, 1);
  assert.match(noTask.stderr, /needs `task arithmetic/);
});
