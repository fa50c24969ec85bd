/**
 * Every method of the prelude, end to end on a tiny model: compiled from DSL text, run for a few
 * iterations, metrics and rollouts written, and the tensor count flat across iterations.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import * as tf from "@tensorflow/tfjs-core";
import { compile } from "../../dsl/index.js";
import type { ExperimentPlan } from "../../dsl/plan.js";
import { runPlan } from "../../src/run/runner.js";
import { batchAdvantages } from "../../src/rl/iteration.js";
import type { RolloutBatch } from "../../src/rl/batch.js";
import type { MetricsRow } from "../../src/run/types.js";
import { tinyWorldSpec } from "../helpers/plans.js";

const WORLD = tinyWorldSpec(5);

function plan(body: string): ExperimentPlan {
  const { plan, diagnostics } = compile(WORLD + body, { file: "method.sw", purpose: "run" });
  assert.ok(plan, diagnostics.map((d) => `${d.line}:${d.column} ${d.message}`).join("\n"));
  return plan;
}

function rows(dir: string): MetricsRow[] {
  return fs.readFileSync(path.join(dir, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
}

async function runFlat(p: ExperimentPlan, tag: string): Promise<{ dir: string; rows: MetricsRow[] }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `stepwise-${tag}-`));
  const counts: number[] = [];
  const res = await runPlan(p, { dir, beforeIteration: (stage) => stage !== "sft" && counts.push(tf.memory().numTensors) });
  assert.equal(res.status, "finished", res.message);
  assert.ok(counts.length >= 3);
  assert.equal(counts[counts.length - 1], counts[1], `tensor count flat across ${tag} iterations: ${counts.join(", ")}`);
  return { dir, rows: rows(dir) };
}

const RL = `sampler standard { temperature 1.0, max_tokens 20 }\ntrain { sft { steps 4, lr 3e-3, batch 8 } rl { iterations 3, prompts 2, group 4, lr 1e-3 } }`;

for (const [name, body] of [
  ["grpo", `use grpo\n${RL}`],
  ["dr_grpo", `use dr_grpo\n${RL}`],
  ["spro", `reward correct = outcome\nuse spro(beta = 0.05)\n${RL}`],
  ["vineppo", `use vineppo(rollouts = 2)\n${RL}`],
  ["sspo", `probe belief { prompt "{question}\\n{steps}answer ", score likelihood(reference) }\nreward correct = outcome\nreward cost: step = -0.01 * tokens\nuse sspo(probe = belief, gamma = 0.9, lambda = 0.8)\n${RL}`],
] as const) {
  test(`${name}: a short run completes, records replayable rollouts, no tensor leak`, async () => {
    const p = plan(body);
    const { dir, rows: r } = await runFlat(p, name);
    assert.equal(r.filter((x) => x.stage === "rl").length, 3);
    for (let it = 0; it < 3; it++) {
      const batch = JSON.parse(fs.readFileSync(path.join(dir, "rollouts", `iter-${it}.json`), "utf8")) as RolloutBatch;
      const used = JSON.parse(fs.readFileSync(path.join(dir, "rollouts", `iter-${it}.advantages.json`), "utf8")).advantages as number[][];
      const replay = batchAdvantages(p, batch).advantages;
      replay.forEach((row, i) => row.forEach((v, t) => assert.ok(Math.abs(v - used[i]![t]!) < 1e-6, `${name} iter ${it} response ${i} token ${t}`)));
      if (name === "sspo") for (const g of batch.groups) for (const resp of g.responses) assert.equal(resp.probes!.belief!.length, resp.step_ends.length + 1);
    }
    if (name === "vineppo") {
      // Monte Carlo step values in every response (K+1: V(s_k) before each step, then the outcome),
      // V(s_0) shared by the group, and their sampling cost in the metrics
      const batch = JSON.parse(fs.readFileSync(path.join(dir, "rollouts", "iter-0.json"), "utf8")) as RolloutBatch;
      for (const g of batch.groups) {
        for (const resp of g.responses) {
          assert.equal(resp.mc_value!.length, resp.step_ends.length + 1);
          assert.equal(resp.mc_value!.at(-1), resp.outcome);
          assert.ok(resp.mc_value!.every((v) => [0, 0.5, 1].includes(v)), `2 rollouts give 0, 1/2 or 1: ${resp.mc_value}`);
        }
        assert.equal(new Set(g.responses.map((x) => x.mc_value![0])).size, 1, "V(s_0) is the group's");
      }
      const rl = r.filter((x) => x.stage === "rl");
      assert.ok(rl.every((x) => (x["values/sampled_tokens"] as number) > 0 && (x["values/rollouts"] as number) >= 2 * 2));
    }
    if (name === "spro") {
      // SPRO's two terms are named in the plan and measured every iteration; at the first one
      // (policy = reference) the process term is exactly 0 and the outcome term is the whole advantage
      assert.deepEqual(p.advantageTerms, ["zscore(reward)", "center(beta * cumsum(logratio), by position)"]);
      const rl = r.filter((x) => x.stage === "rl");
      assert.ok(rl.every((x) => typeof x["adv/terms/0_rms"] === "number" && typeof x["adv/terms/1_rms"] === "number"));
      assert.equal(rl[0]!["adv/terms/1_rms"], 0);
      const used = (JSON.parse(fs.readFileSync(path.join(dir, "rollouts", "iter-0.advantages.json"), "utf8")).advantages as number[][]).flat();
      const rms = Math.sqrt(used.reduce((a, v) => a + v * v, 0) / used.length);
      assert.ok(Math.abs((rl[0]!["adv/terms/0_rms"] as number) - rms) < 1e-5, `${rl[0]!["adv/terms/0_rms"]} vs ${rms}`);
    }
  });
}

test("SPRO's first iteration (policy = reference) gives exactly GRPO's advantages", async () => {
  const spro = plan(`reward correct = outcome\nuse spro(beta = 0.05)\n${RL}`);
  const grpo = plan(`reward correct = outcome\nuse grpo\n${RL}`);
  const { dir } = await runFlat(spro, "spro-first");
  const first = JSON.parse(fs.readFileSync(path.join(dir, "rollouts", "iter-0.json"), "utf8")) as RolloutBatch;
  // logratio is exactly 0 at the first iteration: lp_old and lp_ref come from the same weights
  for (const g of first.groups) for (const r of g.responses) assert.deepEqual(r.token_logp, r.token_logp_ref);
  assert.deepEqual(batchAdvantages(spro, first).advantages, batchAdvantages(grpo, first).advantages);
  // (that SPRO departs from GRPO once logratio != 0 is checked on hand-made batches in test/rl/formula-methods.test.ts)
});

test("sppd and step_dpo: tree self-sampling, step pairs, the step-DPO objective", async () => {
  for (const use of ["use sppd(beta = 0.1, gamma = 1, margin_sign = -1, threshold = 0.2, children = 2, paths = 4)", "use step_dpo(beta = 0.4)\nsampler tree { children 2, paths 4, temperature 1.0, max_tokens 20 }"]) {
    const p = plan(`${use}\ntrain { sft { steps 4, lr 3e-3, batch 8 } step_dpo { iterations 3, prompts 2, lr 1e-3 } }`);
    const { rows: r } = await runFlat(p, "sppd");
    const sd = r.filter((x) => x.stage === "step_dpo");
    assert.equal(sd.length, 3);
    assert.ok(sd.every((x) => typeof x["tree/nodes"] === "number" && (x["tree/leaves"] as number) > 0));
  }
});

test("the SPPD curriculum: rejection-sampled SFT, trajectory DPO, then step DPO", async () => {
  const p = plan(`use sppd(threshold = 0.2, paths = 4)\ntrain { sft { steps 6, lr 3e-3, batch 8 } sft { steps 2, lr 1e-3, batch 4, only_correct true } dpo { steps 2, lr 1e-3, beta 0.1, pairs 4 } step_dpo { iterations 2, prompts 2, lr 1e-3 } }`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "stepwise-curriculum-"));
  const res = await runPlan(p, { dir });
  assert.equal(res.status, "finished", res.message);
  const r = rows(dir);
  assert.deepEqual(r.filter((x) => x.stage === "eval").map((x) => x.after), ["init", "sft", "sft", "dpo", "step_dpo"]);
});
