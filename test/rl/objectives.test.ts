import { test, before } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../../src/backend/index.js";
import { clippedPolicyLoss, dpoLoss, sftLoss, stepDpoLoss, type ClippedPlan } from "../../src/rl/objectives.js";

before(async () => {
  await initBackend({ backend: "cpu" }); // exact numbers; gradients registered by the backend module
});

const plan = (over: Partial<ClippedPlan> = {}): ClippedPlan => ({
  kind: "clipped",
  clip: 0.2,
  clipHigh: 0.2,
  kl: 0,
  entropy: 0,
  norm: "response",
  maskTruncated: false,
  ...over,
});
const near = (a: number, b: number, tol = 1e-5) => assert.ok(Math.abs(a - b) < tol, `${a} != ${b}`);
const t2 = (x: number[][]) => tf.tensor2d(x, undefined, "float32");

test("normalisations: response mean of token means, token mean, constant (Dr. GRPO)", () => {
  const before = tf.memory().numTensors;
  // ratio = 1 everywhere, so each token contributes A[i,t]
  const lp = t2([[-1, -1, -1], [-2, -2, -2]]);
  const A = t2([[1, 1, 1], [2, 2, 0]]);
  const mask = t2([[1, 1, 1], [1, 1, 0]]);
  const inputs = { logp: lp, logpOld: lp, advantages: A, mask };
  // row sums: 1+1+1 = 3 over 3 tokens; 2+2 = 4 over 2 tokens
  // response: (3/3 + 4/2) / 2 = 1.5
  const r = clippedPolicyLoss(inputs, plan({ norm: "response" }));
  near(r.loss.dataSync()[0], -1.5);
  // token: (3 + 4) / 5 = 1.4
  const tk = clippedPolicyLoss(inputs, plan({ norm: "token" }));
  near(tk.loss.dataSync()[0], -1.4);
  // constant: 7 / (N=2 * T=3) = 7/6 ; with maxLen 10: 7 / 20 = 0.35
  const c = clippedPolicyLoss(inputs, plan({ norm: "constant" }));
  near(c.loss.dataSync()[0], -7 / 6);
  const c10 = clippedPolicyLoss(inputs, plan({ norm: "constant" }), 10);
  near(c10.loss.dataSync()[0], -0.35);
  assert.equal(r.metrics.clipRatio, 0);
  for (const x of [r, tk, c, c10]) x.loss.dispose();
  tf.dispose([lp, A, mask]);
  assert.equal(tf.memory().numTensors, before, "no tensor leaks");
});

test("clipping on both sides (eps_lo 0.2, eps_hi 0.28) and its gradient", () => {
  // ratios 1.5, 0.5, 1.5, 0.5 with advantages +1, -1, -1, +1
  //  t0: min(1.5*1, 1.28*1)    = 1.28  (high clip, no gradient)
  //  t1: min(-0.5, 0.8*-1)     = -0.8  (low clip, no gradient)
  //  t2: min(-1.5, 1.28*-1)    = -1.5  (unclipped: pessimistic branch)
  //  t3: min(0.5, 0.8)         = 0.5   (unclipped)
  // token mean: (1.28 - 0.8 - 1.5 + 0.5) / 4 = -0.13 -> loss 0.13
  const old = t2([[0, 0, 0, 0]]);
  const lpv = tf.variable(t2([[Math.log(1.5), Math.log(0.5), Math.log(1.5), Math.log(0.5)]]));
  const A = t2([[1, -1, -1, 1]]);
  const mask = t2([[1, 1, 1, 1]]);
  let metrics: ReturnType<typeof clippedPolicyLoss>["metrics"] | undefined;
  const { value, grads } = tf.variableGrads(() => {
    const out = clippedPolicyLoss({ logp: lpv as tf.Tensor2D, logpOld: old, advantages: A, mask }, plan({ clip: 0.2, clipHigh: 0.28, norm: "token" }));
    metrics = out.metrics;
    return out.loss;
  }, [lpv]);
  near(value.dataSync()[0], 0.13);
  assert.ok(metrics);
  near(metrics.clipLow, 0.25);
  near(metrics.clipHigh, 0.25);
  near(metrics.clipRatio, 0.5);
  // d loss / d lp = -(r*A)/4 where unclipped: t2: -(1.5*-1)/4 = 0.375, t3: -(0.5*1)/4 = -0.125
  const g = Array.from(grads[lpv.name].dataSync());
  [0, 0, 0.375, -0.125].forEach((x, i) => near(g[i], x));
  tf.dispose([old, lpv, A, mask, value, grads[lpv.name]]);
});

test("k3 KL penalty, entropy bonus, truncated responses masked", () => {
  // lp = ln .5 both tokens; lp_ref = ln .25, ln 1
  //  d = lp_ref - lp = ln .5 -> k3 = .5 - ln .5 - 1 = 0.193147 ; d = ln 2 -> k3 = 2 - ln 2 - 1 = 0.306853
  //  mean KL = 0.25; A = 0, kl_coef 0.1 -> loss = 0.1 * 0.25 = 0.025
  const lp = t2([[Math.log(0.5), Math.log(0.5)]]);
  const ref = t2([[Math.log(0.25), 0]]);
  const zero = t2([[0, 0]]);
  const ones = t2([[1, 1]]);
  const kl = clippedPolicyLoss({ logp: lp, logpOld: lp, logpRef: ref, advantages: zero, mask: ones }, plan({ kl: 0.1 }));
  near(kl.loss.dataSync()[0], 0.025);
  near(kl.metrics.kl, 0.25);
  // entropy [1, 2], coefficient 0.01 -> objective 0.01 * 1.5 -> loss -0.015
  const ent = t2([[1, 2]]);
  const eb = clippedPolicyLoss({ logp: lp, logpOld: lp, advantages: zero, mask: ones, entropy: ent }, plan({ entropy: 0.01 }));
  near(eb.loss.dataSync()[0], -0.015);
  near(eb.metrics.entropy, 1.5);
  // row 0 truncated with A = 1, row 1 with A = 3; token mean
  const lp2 = t2([[0, 0], [0, 0]]);
  const A2 = t2([[1, 1], [3, 3]]);
  const m2 = t2([[1, 1], [1, 1]]);
  const masked = clippedPolicyLoss({ logp: lp2, logpOld: lp2, advantages: A2, mask: m2, truncated: [1, 0] }, plan({ norm: "token", maskTruncated: true }));
  near(masked.loss.dataSync()[0], -3); // only row 1: 6 / 2
  const kept = clippedPolicyLoss({ logp: lp2, logpOld: lp2, advantages: A2, mask: m2, truncated: [1, 0] }, plan({ norm: "token", maskTruncated: false }));
  near(kept.loss.dataSync()[0], -2); // (2 + 6) / 4
  // response norm: the masked row does not count in the mean over responses
  const maskedR = clippedPolicyLoss({ logp: lp2, logpOld: lp2, advantages: A2, mask: m2, truncated: tf.tensor1d([1, 0]) }, plan({ norm: "response", maskTruncated: true }));
  near(maskedR.loss.dataSync()[0], -3);
  tf.dispose([lp, ref, zero, ones, ent, lp2, A2, m2, kl.loss, eb.loss, masked.loss, kept.loss, maskedR.loss]);
});

test("Step-DPO and SPPD losses against numbers worked by hand, both margin signs", () => {
  // pair 0: h = (-1 - -2) - (-3 - -2.5) = 1 + 0.5 = 1.5 ; beta 0.1 -> 0.15 ; V_w - V_l = 0.9 - 0.2 = 0.7
  // pair 1: h = 0, V_w = V_l -> z = 0 -> -log sigmoid(0) = ln 2 = 0.693147
  const inputs = {
    logpW: tf.tensor1d([-1, -4]),
    logpRefW: [-2, -4],
    logpL: tf.tensor1d([-3, -5]),
    logpRefL: [-2.5, -5],
    vW: [0.9, 0.5],
    vL: [0.2, 0.5],
  };
  // sign +1, gamma 0.5: z0 = 0.15 + 0.35 = 0.5 -> ln(1 + e^-0.5) = 0.474077 ; mean with ln 2 = 0.583612
  const plus = stepDpoLoss(inputs, { beta: 0.1, gamma: 0.5, marginSign: 1 });
  near(plus.dataSync()[0], 0.5836121);
  // sign -1: z0 = 0.15 - 0.35 = -0.2 -> ln(1 + e^0.2) = 0.798139 ; mean = 0.745643
  const minus = stepDpoLoss(inputs, { beta: 0.1, gamma: 0.5, marginSign: -1 });
  near(minus.dataSync()[0], 0.7456430);
  // gamma 0 (plain Step-DPO): z0 = 0.15 -> ln(1 + e^-0.15) = 0.620957 ; mean = 0.657052
  const plain = stepDpoLoss(inputs, { beta: 0.1, gamma: 0, marginSign: 1 });
  near(plain.dataSync()[0], 0.6570521);
  const dpo = dpoLoss(inputs, { beta: 0.1 });
  near(dpo.dataSync()[0], 0.6570521);
  // a fixed margin m = 0.3 (gamma 0): z0 = 0.15 - 0.3 -> ln(1 + e^0.15) = 0.770957 ; z1 = -0.3 -> 0.854355 ; mean 0.812656
  const fixed = stepDpoLoss(inputs, { beta: 0.1, gamma: 0, marginSign: 1, margin: 0.3 });
  near(fixed.dataSync()[0], 0.8126561);
  // both: sign -1, gamma 0.5, m = 0.1: z0 = 0.15 - 0.35 - 0.1 = -0.3 ; z1 = -0.1 -> mean (0.854355 + 0.744397) / 2
  const both = stepDpoLoss(inputs, { beta: 0.1, gamma: 0.5, marginSign: -1, margin: 0.1 });
  near(both.dataSync()[0], 0.7993760);
  tf.dispose([inputs.logpW, inputs.logpL, plus, minus, plain, dpo, fixed, both]);
});

test("step-DPO gradient raises the chosen step and lowers the rejected one", () => {
  const w = tf.variable(tf.tensor1d([-2]));
  const l = tf.variable(tf.tensor1d([-2]));
  // d/dlogpW of softplus(-beta*h) = -beta * sigmoid(-z) = -0.1 * 0.5 at z = 0
  const { value, grads } = tf.variableGrads(
    () => stepDpoLoss({ logpW: w as tf.Tensor1D, logpRefW: [-2], logpL: l as tf.Tensor1D, logpRefL: [-2] }, { beta: 0.1, gamma: 0, marginSign: 1 }),
    [w, l],
  );
  near(grads[w.name].dataSync()[0], -0.05);
  near(grads[l.name].dataSync()[0], 0.05);
  tf.dispose([w, l, value, grads[w.name], grads[l.name]]);
});

test("SFT loss is the token-mean negative log-likelihood", () => {
  // (1 + 2 + 3) / 3 = 2
  const lp = t2([[-1, -2], [-3, 0]]);
  const m = t2([[1, 1], [1, 0]]);
  const loss = sftLoss(lp, m);
  near(loss.dataSync()[0], 2);
  tf.dispose([lp, m, loss]);
});

test("one gradient step with positive advantages raises those tokens' log-probs", () => {
  // a stand-in policy: free logits [N=2, T=3, V=4]; response tokens fixed
  const V = 4;
  const logits = tf.variable(tf.randomNormal([2, 3, V], 0, 0.5, "float32", 7));
  const tokens = tf.tensor2d([[1, 2, 3], [0, 0, 2]], undefined, "int32");
  const logpOf = () =>
    tf.tidy(() => tf.sum(tf.mul(tf.logSoftmax(logits), tf.oneHot(tokens, V)), 2) as tf.Tensor2D); // [N, T]
  const old = logpOf();
  const A = t2([[1, 1, 1], [-1, -1, -1]]);
  const mask = t2([[1, 1, 1], [1, 1, 1]]);
  const { value, grads } = tf.variableGrads(() => clippedPolicyLoss({ logp: logpOf(), logpOld: old, advantages: A, mask }, plan()).loss, [logits]);
  logits.assign(tf.sub(logits, tf.mul(0.5, grads[logits.name])));
  const after = logpOf();
  const o = old.arraySync();
  const a = after.arraySync();
  for (let t = 0; t < 3; t++) {
    assert.ok(a[0][t] > o[0][t], `positive advantage raises token ${t}`);
    assert.ok(a[1][t] < o[1][t], `negative advantage lowers token ${t}`);
  }
  tf.dispose([logits, tokens, old, A, mask, value, grads[logits.name], after]);
});
