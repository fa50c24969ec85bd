import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import * as tf from "@tensorflow/tfjs-core";
import { runPlan } from "../../src/run/runner.js";
import { loadCheckpoint } from "../../src/model/checkpoint.js";
import { batchAdvantages } from "../../src/rl/iteration.js";
import { runAdvantageCommand } from "../../src/rl/advantage-command.js";
import type { RolloutBatch } from "../../src/rl/batch.js";
import type { MetricsRow } from "../../src/run/types.js";
import { tinyPlan } from "../helpers/plans.js";

function tmpDir(tag: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `stepwise-${tag}-`));
}

function metrics(dir: string): MetricsRow[] {
  return fs
    .readFileSync(path.join(dir, "metrics.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as MetricsRow);
}

test("a tiny SFT + GRPO run writes its run directory, and each recorded iteration replays to the advantages it trained with", async () => {
  const dir = tmpDir("e2e");
  const counts: number[] = [];
  const plan = tinyPlan();
  const res = await runPlan(plan, {
    dir,
    beforeIteration: (stage) => {
      if (stage === "rl") counts.push(tf.memory().numTensors);
    },
  });
  assert.equal(res.status, "finished", res.message);
  const rows = metrics(dir);
  const rl = rows.filter((r) => r.stage === "rl");
  assert.deepEqual(rl.map((r) => r.iteration), [0, 1, 2]);
  for (const key of ["reward/accuracy", "reward/frac_zero_std", "completions/mean_length", "entropy", "kl", "loss", "grad_norm", "throughput/rollout_tokens_per_s"]) {
    assert.ok(typeof rl[0]![key] === "number" && Number.isFinite(rl[0]![key] as number), `metric ${key}`);
  }
  const evals = rows.filter((r) => r.stage === "eval");
  assert.deepEqual(evals.map((r) => r.after), ["init", "sft", "rl"]);
  for (const e of evals) for (const k of ["accuracy", "mean_tokens", "mean_steps", "redundant_step_frac"]) assert.equal(typeof e[k], "number", `eval ${k}`);
  // the tensor count is flat across RL iterations (nothing leaks per iteration)
  assert.equal(counts.length, 3);
  assert.equal(counts[2], counts[1]);
  // replay: the recorded batch through the plan's formulas gives the advantages used in training
  for (let it = 0; it < 3; it++) {
    const batch = JSON.parse(fs.readFileSync(path.join(dir, "rollouts", `iter-${it}.json`), "utf8")) as RolloutBatch;
    const used = JSON.parse(fs.readFileSync(path.join(dir, "rollouts", `iter-${it}.advantages.json`), "utf8")).advantages as number[][];
    const replay = batchAdvantages(plan, batch).advantages;
    assert.equal(replay.length, used.length);
    replay.forEach((row, i) => row.forEach((v, t) => assert.ok(Math.abs(v - used[i]![t]!) < 1e-6)));
    // and through the command a user runs, `stepwise advantage runs/<x>/plan.json --batch iter-N.json`,
    // on a batch whose stopped responses carry their stop token and `finish`
    assert.ok(batch.groups.every((g) => g.responses.every((r) => r.finish !== undefined && r.tokens!.length === r.token_logp.length)));
    const cmd = await runAdvantageCommand(path.join(dir, "plan.json"), path.join(dir, "rollouts", `iter-${it}.json`));
    assert.equal(cmd.exitCode, 0, cmd.stderr);
    const printed = (JSON.parse(cmd.stdout) as { advantages: number[][] }).advantages;
    printed.forEach((row, i) => row.forEach((v, t) => assert.ok(Math.abs(v - used[i]![t]!) < 1e-6, `iter ${it} response ${i} token ${t}`)));
  }
  const steps = fs.readFileSync(path.join(dir, "steps.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
  assert.ok(steps.length >= 2 * 4 * 3, "one record per step of every response");
  assert.ok(steps.every((s) => typeof s.advantage === "number" && typeof s.text === "string"));
  assert.ok(fs.existsSync(path.join(dir, "checkpoints", "final", "config.json")));
});

test("an interrupted run resumes to the same result as an uninterrupted one (cpu backend)", async () => {
  const plan = tinyPlan({ name: "resume" });
  const whole = tmpDir("whole");
  const a = await runPlan(plan, { dir: whole });
  assert.equal(a.status, "finished", a.message);

  const parts = tmpDir("parts");
  const controller = new AbortController();
  const b1 = await runPlan(plan, {
    dir: parts,
    signal: controller.signal,
    beforeIteration: (stage, it) => {
      if (stage === "rl" && it === 1) controller.abort(); // stops after RL iteration 1 completes
    },
  });
  assert.equal(b1.status, "interrupted");
  assert.ok(fs.existsSync(path.join(parts, "checkpoints", "last", "state.json")), "a checkpoint is kept");
  const b2 = await runPlan(plan, { dir: parts, resume: true });
  assert.equal(b2.status, "finished", b2.message);

  const strip = (rows: MetricsRow[]) => rows.map(({ time, ...r }) => Object.fromEntries(Object.entries(r).filter(([k]) => !k.startsWith("throughput/") && !k.startsWith("time/"))));
  assert.deepEqual(strip(metrics(parts)), strip(metrics(whole)));
  const wa = await loadCheckpoint(path.join(whole, "checkpoints", "final"));
  const wb = await loadCheckpoint(path.join(parts, "checkpoints", "final"));
  for (const [name, v] of wa.model.params) {
    const d = tf.tidy(() => tf.max(tf.abs(tf.sub(v, wb.model.params.get(name)!))).dataSync()[0]!);
    assert.equal(d, 0, `parameter ${name} differs`);
  }
  wa.model.dispose();
  wb.model.dispose();
});

test("a planted NaN stops the run with a clear message and keeps the last good checkpoint", async () => {
  const dir = tmpDir("nan");
  const plan = tinyPlan({ name: "nan" });
  const res = await runPlan(plan, {
    dir,
    checkpointEvery: 1,
    beforeIteration: (stage, it, ctx) => {
      if (stage === "rl" && it === 2) {
        const [name, v] = [...ctx.model.params][0]!;
        v.assign(tf.fill(v.shape, NaN));
        assert.ok(name);
      }
    },
  });
  assert.equal(res.status, "failed");
  assert.match(res.message ?? "", /NaN/);
  const ck = await loadCheckpoint(path.join(dir, "checkpoints", "last"));
  for (const v of ck.model.params.values()) assert.ok(tf.tidy(() => tf.all(tf.isFinite(v)).dataSync()[0]) === 1);
  assert.equal((ck.state as { done: number }).done, 2, "the checkpoint is the one after iteration 1");
  ck.model.dispose();
});

test("a plan that lacks what `run` needs gets a diagnostic, not a crash", async () => {
  const res = await runPlan({ ...tinyPlan(), model: undefined, advantage: undefined }, { dir: tmpDir("missing") });
  assert.equal(res.status, "failed");
  assert.match(res.message ?? "", /model/);
  assert.match(res.message ?? "", /advantage/);
});
