/**
 * PURE's min-form credit (Cheng et al. 2025, arXiv 2504.15275) as the prelude's `pure` method,
 * against numbers worked by hand and against the min-form limit as tau -> 0.
 */
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { initBackend } from "../../src/backend/index.js";
import { compile } from "../../dsl/index.js";
import type { ExperimentPlan } from "../../dsl/plan.js";
import { batchAdvantages } from "../../src/rl/iteration.js";
import type { RolloutBatch, RolloutResponse } from "../../src/rl/batch.js";

before(async () => {
  await initBackend({ backend: "cpu" });
});

function purePlan(args: string): ExperimentPlan {
  const src = `probe belief { prompt "{question}\\n{steps}answer ", score likelihood(reference) }\nuse pure(prm = belief${args})\n`;
  const { plan, diagnostics } = compile(src, { file: "pure.sw", purpose: "advantage" });
  assert.ok(plan, diagnostics.map((d) => d.message).join("\n"));
  return plan;
}

/** a response whose steps end at `ends`, with probe values before each step (the last value, after the last step, unused) */
function response(ends: number[], belief: number[], outcome: number): RolloutResponse {
  const n = ends.at(-1)!;
  const zeros = Array.from({ length: n }, () => -1);
  return { text: "x".repeat(n), token_logp: zeros, token_logp_ref: zeros, token_entropy: zeros.map(() => 0), step_ends: ends, outcome, probes: { belief } };
}

/** per-step values of per-token advantages (steps are constant within a step here) */
const perStep = (adv: number[], ends: number[]) => ends.map((e) => adv[e - 1]!);
const close = (a: number[], b: number[], tol = 1e-5) => a.forEach((x, i) => assert.ok(Math.abs(x - b[i]!) < tol, `${a} != ${b}`));

// Response A: 3 steps (tokens 2, 1, 2), prm = [0.5, 0, 1], outcome 0.  Response B: 2 steps, prm = [1, 1], outcome 1.
// tau = 1:
//   A: min 0, w ∝ [e^-0.5, 1, e^-1] = [0.606531, 1, 0.367879], Z = 1.974410
//      r' = [0.5 * 0.606531, 0, 0.367879] / Z = [0.153596, 0, 0.186324], sum 0.339920, per step 0.113307
//   B: min 1, w = [1/2, 1/2], r' = [0.5, 0.5], sum 1, per step 0.5
//   b = (0.113307 + 0.5) / 2 = 0.306653
//   returns A: r' - b = [-0.153057, -0.306653, -0.120329] → reverse sums [-0.580039, -0.426982, -0.120329]
//           B: [0.193347, 0.193347] → [0.386694, 0.193347]
//   vr * center(outcome): A -0.5, B +0.5
const A_ENDS = [2, 3, 5];
const B_ENDS = [1, 3];
const batch: RolloutBatch = {
  groups: [{ prompt: "Q", reference: "1", responses: [response(A_ENDS, [0.5, 0, 1, 0.9], 0), response(B_ENDS, [1, 1, 1], 1)] }],
};

test("PURE, tau = 1: softmin-weighted step rewards, the group's per-step baseline, reverse sums, the centred outcome", () => {
  const { advantages } = batchAdvantages(purePlan(", tau = 1"), batch);
  close(perStep(advantages[0]!, A_ENDS), [-1.080039, -0.926982, -0.620329]);
  close(perStep(advantages[1]!, B_ENDS), [0.886694, 0.693347]);
  // every token of a step carries the step's value
  close(advantages[0]!, [-1.080039, -1.080039, -0.926982, -0.620329, -0.620329]);
  // vr = 0 drops the outcome term
  const { advantages: noVr } = batchAdvantages(purePlan(", tau = 1, vr = 0"), batch);
  close(perStep(noVr[0]!, A_ENDS), [-0.580039, -0.426982, -0.120329]);
});

test("PURE as tau -> 0: steps up to the worst one get the response's minimum step reward (min-form), later steps none", () => {
  const prm = [[0.5, 0.2, 1], [0.7, 0.4]];
  const b2: RolloutBatch = { groups: [{ prompt: "Q", reference: "1", responses: [response(A_ENDS, [...prm[0]!, 0], 1), response(B_ENDS, [...prm[1]!, 0], 1)] }] };
  const { advantages } = batchAdvantages(purePlan(", tau = 0.001"), b2);
  // min-form: r'_k = min_j r_j at the argmin, 0 elsewhere; baseline b = mean_i (min_i / K_i)
  const b = (0.2 / 3 + 0.4 / 2) / 2;
  const minForm = (r: number[]) => {
    const m = Math.min(...r);
    const at = r.indexOf(m);
    return r.map((_, k) => (k <= at ? m : 0) - b * (r.length - k));
  };
  close(perStep(advantages[0]!, A_ENDS), minForm(prm[0]!), 1e-4);
  close(perStep(advantages[1]!, B_ENDS), minForm(prm[1]!), 1e-4);
  // the sum form would credit step 0 of A with 0.5 + 0.2 + 1 = 1.7: the min form gives 0.2
});
