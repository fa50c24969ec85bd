/**
 * GSPO's sequence-level ratio (Zheng et al. 2025, arXiv 2507.18071) as the `ratio sequence` option of
 * the clipped objective: values and gradients computed by hand, and the DSL option and method.
 */
import { test, before } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../../src/backend/index.js";
import { clippedPolicyLoss, sequenceRatio, type ClippedPlan } from "../../src/rl/objectives.js";
import { compile } from "../../dsl/index.js";

before(async () => {
  await initBackend({ backend: "cpu" });
});

const plan = (over: Partial<ClippedPlan> = {}): ClippedPlan => ({
  kind: "clipped", clip: 0.2, clipHigh: 0.2, kl: 0, entropy: 0, norm: "response", maskTruncated: false, ratio: "sequence", ...over,
});
const near = (a: number, b: number, tol = 1e-5) => assert.ok(Math.abs(a - b) < tol, `${a} != ${b}`);
const t2 = (x: number[][]) => tf.tensor2d(x, undefined, "float32");

/** loss, d loss / d lp and metrics of the clipped objective at lp = old + diff */
function lossAndGrad(diff: number[][], adv: number[][], mask: number[][], p: ClippedPlan) {
  const old = t2(diff.map((r) => r.map(() => -1)));
  const lp = tf.variable(t2(diff.map((r) => r.map((d) => d - 1))));
  const A = t2(adv);
  const m = t2(mask);
  let metrics: ReturnType<typeof clippedPolicyLoss>["metrics"] | undefined;
  const { value, grads } = tf.variableGrads(() => {
    const out = clippedPolicyLoss({ logp: lp as tf.Tensor2D, logpOld: old, advantages: A, mask: m }, p);
    metrics = out.metrics;
    return out.loss;
  }, [lp]);
  const res = { loss: value.dataSync()[0]!, grad: Array.from(grads[lp.name]!.dataSync()), metrics: metrics! };
  tf.dispose([old, lp, A, m, value, grads[lp.name]!]);
  return res;
}

test("sequenceRatio: exp of each response's mean live-token log-ratio, on every position", () => {
  const before = tf.memory().numTensors;
  // response 0: diffs 0.3, -0.1, 0.1 -> mean 0.1; response 1: -0.4, 0, (padding 5 ignored) -> mean -0.2
  const old = t2([[0, 0, 0], [0, 0, 0]]);
  const lp = t2([[0.3, -0.1, 0.1], [-0.4, 0, 5]]);
  const mask = t2([[1, 1, 1], [1, 1, 0]]);
  const s = sequenceRatio(lp, old, mask);
  const v = Array.from(s.dataSync());
  [0, 1, 2].forEach((t) => near(v[t]!, Math.exp(0.1)));
  [3, 4, 5].forEach((t) => near(v[t]!, Math.exp(-0.2)));
  tf.dispose([old, lp, mask, s]);
  assert.equal(tf.memory().numTensors, before, "no tensor leaks");
});

test("GSPO, unclipped: value (s_0 A_0 + s_1 A_1)/2 and gradient s_i A_i / (2 |y_i|) per token", () => {
  // s_0 = e^0.1 = 1.105171 (A +1), s_1 = e^-0.2 = 0.818731 (A -1): both inside [0.8, 1.2]
  // objective (1.105171 - 0.818731) / 2 = 0.143220, loss -0.143220
  // d loss / d lp: response 0: -(1/2)(1/3)(1.105171) = -0.184195 on its 3 tokens;
  //                response 1: -(1/2)(1/2)(0.818731)(-1) = +0.204683 on its 2 tokens, 0 on padding
  const r = lossAndGrad([[0.3, -0.1, 0.1], [-0.4, 0, 5]], [[1, 1, 1], [-1, -1, -1]], [[1, 1, 1], [1, 1, 0]], plan());
  near(r.loss, -(Math.exp(0.1) - Math.exp(-0.2)) / 2);
  near(r.loss, -0.14322);
  [-0.184195, -0.184195, -0.184195, 0.204683, 0.204683, 0].forEach((g, i) => near(r.grad[i]!, g));
  assert.equal(r.metrics.clipRatio, 0);
});

test("GSPO with the paper's clip (3e-4 below, 4e-4 above): both responses clipped, no gradient", () => {
  // s_0 = 1.105 > 1.0004 with A > 0: min(1.105, 1.0004) = 1.0004; s_1 = 0.819 < 0.9997 with A < 0:
  // min(-0.819, -0.9997) = -0.9997. objective (1.0004 - 0.9997) / 2 = 0.00035
  const r = lossAndGrad([[0.3, -0.1, 0.1], [-0.4, 0, 5]], [[1, 1, 1], [-1, -1, -1]], [[1, 1, 1], [1, 1, 0]], plan({ clip: 3e-4, clipHigh: 4e-4 }));
  near(r.loss, -0.00035, 1e-6);
  r.grad.forEach((g) => near(g, 0));
  near(r.metrics.clipHigh, 3 / 5); // the 3 live tokens of response 0 out of 5
  near(r.metrics.clipLow, 2 / 5);
});

test("a sequence ratio of 1 is not clipped where the per-token ratios would be", () => {
  // diffs +0.5, -0.5: token ratios 1.6487 (clipped at 1.2 with A > 0) and 0.6065; sequence ratio e^0 = 1
  const seq = lossAndGrad([[0.5, -0.5]], [[1, 1]], [[1, 1]], plan());
  near(seq.loss, -1);
  seq.grad.forEach((g) => near(g, -0.5)); // -(1/2) * s * A per token
  const tok = lossAndGrad([[0.5, -0.5]], [[1, 1]], [[1, 1]], plan({ ratio: "token" }));
  near(tok.loss, -(1.2 + Math.exp(-0.5)) / 2);
  near(tok.grad[0]!, 0); // clipped
  near(tok.grad[1]!, -Math.exp(-0.5) / 2);
  near(tok.metrics.clipHigh, 0.5);
  assert.equal(seq.metrics.clipRatio, 0);
});

test("GSPO-token: per-token advantages keep their own sign under the shared sequence ratio", () => {
  // diffs 0.1, 0.1 -> s = e^0.1; A = +1, -1: value (s - s)/2 = 0; gradient -(1/2) s A_t
  const r = lossAndGrad([[0.1, 0.1]], [[1, -1]], [[1, 1]], plan());
  near(r.loss, 0);
  near(r.grad[0]!, -Math.exp(0.1) / 2);
  near(r.grad[1]!, Math.exp(0.1) / 2);
});

test("ratio sequence equals the per-token ratio's value and gradient when lp = lp_old (on-policy first step)", () => {
  const args = [[[0, 0, 0], [0, 0, 0]], [[0.7, 0.7, 0.7], [-0.3, -0.3, -0.3]], [[1, 1, 1], [1, 1, 0]]] as const;
  const seq = lossAndGrad(args[0].map((r) => [...r]), args[1].map((r) => [...r]), args[2].map((r) => [...r]), plan());
  const tok = lossAndGrad(args[0].map((r) => [...r]), args[1].map((r) => [...r]), args[2].map((r) => [...r]), plan({ ratio: "token" }));
  near(seq.loss, tok.loss);
  seq.grad.forEach((g, i) => near(g, tok.grad[i]!));
});

test("DSL: objective clipped { ratio sequence } and the prelude's gspo method", () => {
  const base = "reward correct = outcome\n";
  const one = compile(base + "advantage = zscore(reward)\nobjective clipped { ratio sequence, clip 3e-4, clip_high 4e-4 }\n", { file: "g.sw" });
  assert.deepEqual(one.plan?.objective, { kind: "clipped", clip: 3e-4, clipHigh: 4e-4, kl: 0, entropy: 0, norm: "response", maskTruncated: false, ratio: "sequence" });
  const dflt = compile(base + "advantage = zscore(reward)\nobjective clipped { clip 0.2 }\n", { file: "g.sw" });
  assert.equal((dflt.plan?.objective as ClippedPlan).ratio, undefined); // absent: per token
  const bad = compile(base + "advantage = zscore(reward)\nobjective clipped { ratio sequense }\n", { file: "g.sw" });
  assert.equal(bad.plan, undefined);
  assert.match(bad.diagnostics[0]!.message, /`ratio` must be `token` or `sequence`/);
  assert.match(bad.diagnostics[0]!.hint ?? "", /sequence/);
  const m = compile(base + "use gspo\n", { file: "g.sw" });
  assert.deepEqual(m.plan?.objective, { kind: "clipped", clip: 3e-4, clipHigh: 4e-4, kl: 0, entropy: 0, norm: "response", maskTruncated: false, ratio: "sequence" });
  assert.deepEqual(m.plan?.advantage, compile(base + "use grpo\n", { file: "g.sw" }).plan?.advantage);
  assert.equal(m.plan?.method?.name, "gspo");
});
