/**
 * VinePPO (Kazemnejad et al. 2024, arXiv 2410.01679) as the prelude writes it, `use vineppo`:
 * A_k = r_k + V(s_k+1) - V(s_k), gamma 1, V by Monte Carlo (`mc_value`), V(s_K) = 0 after the
 * last step whose step reward is r_o; checked against numbers worked by hand, and the checks that
 * keep `mc_value` honest (a sampler that samples no completions, a batch that records none).
 */
import assert from "node:assert/strict";
import { before, test } from "node:test";
import { initBackend } from "../../src/backend/index.js";
import { batchAdvantages } from "../../src/rl/iteration.js";
import { validateBatch, BatchError } from "../../src/rl/batch-validate.js";
import type { RolloutBatch, RolloutResponse } from "../../src/rl/batch.js";
import { FormulaError } from "../../src/rl/formula/index.js";
import { errors, plan } from "../dsl/helpers.js";
import { refusals } from "../../src/compile/targets.js";

before(async () => {
  await initBackend({ backend: "cpu" });
});

/** A response with the given step lengths (tokens), outcome and Monte Carlo values (K+1). */
function response(stepLens: number[], outcome: number, mc?: number[]): RolloutResponse {
  const n = stepLens.reduce((a, b) => a + b, 0);
  const ends = stepLens.map((_, k) => stepLens.slice(0, k + 1).reduce((a, b) => a + b, 0));
  return { text: "x".repeat(n), token_logp: new Array(n).fill(-1), token_logp_ref: new Array(n).fill(-1), token_entropy: new Array(n).fill(1), step_ends: ends, outcome, ...(mc ? { mc_value: mc } : {}) };
}

test("use vineppo: step advantages r_k + V(s_k+1) - V(s_k) match numbers worked by hand", () => {
  const p = plan("use vineppo(rollouts = 4)");
  assert.deepEqual(p.sampler, { kind: "standard", temperature: 1, topP: 1, topK: 0, maxTokens: 64, valueRollouts: 4 });
  // a spec's own sampler keeps the method's value_rollouts
  assert.equal((plan("use vineppo(rollouts = 3)\nsampler standard { max_tokens 32 }").sampler as { valueRollouts: number }).valueRollouts, 3);
  const batch: RolloutBatch = {
    groups: [
      {
        prompt: "q",
        reference: "1",
        responses: [
          // V(s_0) = 0.5 (the group's prompt), V(s_1) = 0.75, V(s_2) = 0.25, outcome 1:
          // A_0 = 0 + 0.75 - 0.5 = 0.25 ; A_1 = 0 + 0.25 - 0.75 = -0.5 ; A_2 = 1 + 0 - 0.25 = 0.75
          response([2, 1, 3], 1, [0.5, 0.75, 0.25, 1]),
          // V(s_0) = 0.5, V(s_1) = 0.5, outcome 0: A_0 = 0.5 - 0.5 = 0 ; A_1 = 0 + 0 - 0.5 = -0.5
          response([1, 2], 0, [0.5, 0.5, 0]),
          // one step, outcome 1: A_0 = 1 - 0.5 = 0.5
          response([2], 1, [0.5, 1]),
        ],
      },
    ],
  };
  const { advantages } = batchAdvantages(p, validateBatch(JSON.parse(JSON.stringify(batch))));
  const expected = [
    [0.25, 0.25, -0.5, 0.75, 0.75, 0.75],
    [0, -0.5, -0.5],
    [0.5, 0.5],
  ];
  advantages.forEach((row, i) => row.forEach((v, t) => assert.ok(Math.abs(v - expected[i]![t]!) < 1e-6, `response ${i} token ${t}: ${v} vs ${expected[i]![t]}`)));
});

test("mc_value needs a sampler that samples completions, and a batch that records them", () => {
  const e = errors("advantage = gae(step_reward, mc_value, 1, 0)");
  assert.equal(e.length, 1);
  assert.match(e[0]!.message, /`mc_value` needs Monte Carlo completions/);
  assert.match(e[0]!.hint!, /value_rollouts/);
  assert.deepEqual(errors("advantage = gae(step_reward, mc_value, 1, 0)\nsampler standard { value_rollouts 2 }"), []);
  // replaying a batch without mc_value through VinePPO says what is missing
  const p = plan("use vineppo");
  // the compiled TRL/verl trainers sample no completions from prefixes: refused, naming the construct
  for (const target of ["trl", "verl"] as const) assert.ok(refusals(p, target).some((m) => m.startsWith("`mc_value`")), target);
  const bare: RolloutBatch = { groups: [{ prompt: "q", reference: "1", responses: [response([1], 1), response([2], 0)] }] };
  assert.throws(() => batchAdvantages(p, bare), (err: Error) => err instanceof FormulaError && /records no Monte Carlo values/.test(err.message));
  // a malformed mc_value names the field
  const bad: RolloutBatch = { groups: [{ prompt: "q", reference: "1", responses: [response([1, 1], 1, [0.5, 1]), response([2], 0, [0.5, 0])] }] };
  assert.throws(() => validateBatch(bad), (err: Error) => err instanceof BatchError && /responses\[0\]\.mc_value: has 2 values, must have K\+1 = 3/.test(err.message));
});
