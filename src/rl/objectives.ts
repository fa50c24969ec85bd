/**
 * Training objectives, all differentiable through their `logp` inputs:
 *  - the shared clipped policy loss of the GRPO family (ALGORITHMS.md "The shared policy loss"),
 *  - step-DPO with SPPD's dynamic value margin, and trajectory DPO,
 *  - SFT (token-mean negative log-likelihood).
 * Inputs are padded `[N, T]` tensors with a 0/1 mask; the caller owns them (nothing here disposes
 * an input). Call inside `tf.variableGrads` / `tf.tidy`; the returned loss is the only tensor left.
 * Gradients need tfjs-core's gradient registry loaded (the backend module does that).
 */
import * as tf from "@tensorflow/tfjs-core";
import type { ObjectivePlan } from "../../dsl/plan.js";

export type ClippedPlan = Extract<ObjectivePlan, { kind: "clipped" }>;
export type StepDpoPlan = Extract<ObjectivePlan, { kind: "step_dpo" }>;

export interface PolicyLossInputs {
  /** [N, T] current policy log-probs of the response tokens (with gradient) */
  logp: tf.Tensor2D;
  /** [N, T] rollout-time log-probs (pi_old) */
  logpOld: tf.Tensor2D;
  /** [N, T] reference-model log-probs; needed when kl_coef != 0 */
  logpRef?: tf.Tensor2D;
  /** [N, T] advantages, broadcast to tokens */
  advantages: tf.Tensor2D;
  /** [N, T] 1 where response i has a token at t */
  mask: tf.Tensor2D;
  /** [N, T] entropy of the current policy (with gradient), for the bonus and the metric */
  entropy?: tf.Tensor2D;
  /** [N] 1 for responses that hit the length limit; masked out when `maskTruncated` */
  truncated?: tf.Tensor1D | number[];
}

export interface PolicyLossMetrics {
  /** fraction of live tokens where the clipped branch was taken (low: ratio < 1-eps_lo with A < 0; high: ratio > 1+eps_hi with A > 0), as TRL's clip_ratio/region_mean */
  clipRatio: number;
  clipLow: number;
  clipHigh: number;
  /** token mean of the k3 KL estimate against the reference (0 when no reference is given) */
  kl: number;
  /** token mean of the policy entropy (0 when not given) */
  entropy: number;
}

/**
 * The shared clipped policy loss (PPO clip as used by GRPO, DeepSeekMath arXiv 2402.03300 eq. 3;
 * clip-higher eps_lo/eps_hi from DAPO arXiv 2503.14476 eq. 10):
 *
 *   L = - (1/Z) * sum_{i,t} m[i,t] * ( min(r*A, clip(r, 1-eps_lo, 1+eps_hi)*A) - kl_coef*KL[i,t] + ent_coef*H[i,t] )
 *   r[i,t]  = exp(lp - lp_old)
 *   KL[i,t] = exp(lp_ref - lp) - (lp_ref - lp) - 1          (k3 estimator, Schulman 2020; DeepSeekMath eq. 4)
 *
 * Normalisation `Z` (`opts.norm`):
 *   "response": (1/N') * sum_i (1/|y_i|) sum_t  — mean over responses of per-response token means
 *               (GRPO, SPRO); N' counts the responses with at least one live token;
 *   "token":    sum_{i,t} / sum_{i,t} m            — DAPO "token-mean";
 *   "constant": sum_{i,t} / (N * maxLen)          — Dr. GRPO (arXiv 2503.20783): N rows times the
 *               generation budget `maxLen` (default: T, the padded width).
 * `maskTruncated`: responses with `truncated = 1` get no loss (DAPO's overlong filtering).
 * `ratio: "sequence"`: r[i,t] is GSPO's sequence-level ratio in its token form (sequenceRatio below)
 * instead of the per-token ratio; the clip, the advantages and Z are as above.
 */
export function clippedPolicyLoss(
  inputs: PolicyLossInputs,
  opts: ClippedPlan,
  maxLen?: number,
): { loss: tf.Scalar; metrics: PolicyLossMetrics } {
  const { logp, logpOld, logpRef, advantages, entropy } = inputs;
  const [n, t] = logp.shape;
  if (opts.kl !== 0 && !logpRef) throw new Error("clippedPolicyLoss: kl != 0 needs logpRef (the reference model's log-probs)");
  if (opts.entropy !== 0 && !entropy) throw new Error("clippedPolicyLoss: an entropy bonus needs the policy entropy tensor");
  const epsLo = opts.clip;
  const epsHi = opts.clipHigh;

  const mask = tf.tidy(() => {
    let m = tf.cast(inputs.mask, "float32"); // [N, T]
    if (opts.maskTruncated && inputs.truncated) {
      const tr = Array.isArray(inputs.truncated) ? tf.tensor1d(inputs.truncated, "float32") : tf.cast(inputs.truncated, "float32"); // [N]
      m = tf.mul(m, tf.expandDims(tf.sub(1, tr), 1)); // [N, T]
    }
    return m as tf.Tensor2D;
  });

  const importanceRatio = (): tf.Tensor2D =>
    opts.ratio === "sequence" ? sequenceRatio(logp, logpOld, mask) : (tf.exp(tf.sub(logp, logpOld)) as tf.Tensor2D);

  const loss = tf.tidy(() => {
    const ratio = importanceRatio(); // [N, T]
    const surr1 = tf.mul(ratio, advantages);
    const surr2 = tf.mul(tf.clipByValue(ratio, 1 - epsLo, 1 + epsHi), advantages);
    let perToken: tf.Tensor = tf.minimum(surr1, surr2); // [N, T]
    if (opts.kl !== 0 && logpRef) perToken = tf.sub(perToken, tf.mul(opts.kl, k3(logp, logpRef)));
    if (opts.entropy !== 0 && entropy) perToken = tf.add(perToken, tf.mul(opts.entropy, entropy));
    const masked = tf.mul(perToken, mask); // [N, T]
    let objective: tf.Tensor;
    if (opts.norm === "response") {
      const lens = tf.sum(mask, 1); // [N]
      const perResponse = tf.div(tf.sum(masked, 1), tf.maximum(lens, 1)); // [N]
      const live = tf.maximum(tf.sum(tf.cast(tf.greater(lens, 0), "float32")), 1);
      objective = tf.div(tf.sum(perResponse), live);
    } else if (opts.norm === "token") {
      objective = tf.div(tf.sum(masked), tf.maximum(tf.sum(mask), 1));
    } else {
      objective = tf.div(tf.sum(masked), n * (maxLen ?? t));
    }
    return tf.neg(objective) as tf.Scalar;
  });

  // metrics: no gradient needed, read back as numbers
  const metrics = tf.tidy(() => {
    const ratio = importanceRatio();
    const tokens = tf.maximum(tf.sum(mask), 1);
    const low = tf.mul(tf.cast(tf.logicalAnd(tf.less(ratio, 1 - epsLo), tf.less(advantages, 0)), "float32"), mask);
    const high = tf.mul(tf.cast(tf.logicalAnd(tf.greater(ratio, 1 + epsHi), tf.greater(advantages, 0)), "float32"), mask);
    const kl = logpRef ? tf.div(tf.sum(tf.mul(k3(logp, logpRef), mask)), tokens) : tf.scalar(0);
    const ent = entropy ? tf.div(tf.sum(tf.mul(entropy, mask)), tokens) : tf.scalar(0);
    return tf.stack([tf.div(tf.sum(low), tokens), tf.div(tf.sum(high), tokens), kl, ent]);
  });
  const [clipLow, clipHigh, kl, ent] = Array.from(metrics.dataSync());
  metrics.dispose();
  mask.dispose();
  return { loss, metrics: { clipRatio: clipLow + clipHigh, clipLow, clipHigh, kl, entropy: ent } };
}

/**
 * GSPO's sequence-level importance ratio (Zheng et al. 2025, arXiv 2507.18071), in the token form
 * the paper calls GSPO-token, broadcast to `[N, T]`:
 *
 *   s_i     = exp( (1/|y_i|) * sum_t m[i,t] * (lp[i,t] - lp_old[i,t]) )   (the length-normalised sequence ratio)
 *   s_{i,t} = sg[s_i] * exp(lp[i,t] - sg[lp[i,t]])                       (value s_i; d s_{i,t} / d lp[i,t] = s_i)
 *
 * With an advantage constant over each response and per-response normalisation (1/|y_i| sum_t),
 * the clipped objective on s_{i,t} has GSPO's value min(s_i A_i, clip(s_i, 1-eps, 1+eps) A_i) and its
 * gradient s_i A_i (1/|y_i|) sum_t grad lp[i,t]; with per-token advantages it is GSPO-token. sg (stop
 * gradient) is a custom gradient: the backward pass sends dy * s_i to lp[i,t] and nothing to lp_old.
 * `mask` is the `[N, T]` 0/1 float mask of live tokens; a response with none gets s_i = 1.
 */
export function sequenceRatio(logp: tf.Tensor2D, logpOld: tf.Tensor2D, mask: tf.Tensor2D): tf.Tensor2D {
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [lp, old, m] = args as tf.Tensor[];
    const save = args[3] as tf.GradSaveFunc;
    const lens = tf.maximum(tf.sum(m!, 1, true), 1); // [N, 1]
    const s = tf.exp(tf.div(tf.sum(tf.mul(tf.sub(lp!, old!), m!), 1, true), lens)); // [N, 1]
    const value = tf.mul(s, tf.onesLike(lp!)) as tf.Tensor2D; // [N, T]
    save([value]);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [tf.mul(dy, saved[0]!), tf.zerosLike(old!), tf.zerosLike(m!)],
    };
  });
  return op(logp, logpOld, mask) as tf.Tensor2D;
}

/** k3 estimator of KL(pi || pi_ref) per token: exp(lp_ref - lp) - (lp_ref - lp) - 1 (>= 0). */
export function k3(logp: tf.Tensor, logpRef: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const d = tf.sub(logpRef, logp);
    return tf.sub(tf.sub(tf.exp(d), d), 1);
  });
}

export interface StepDpoInputs {
  /** [P] summed log-probs of the chosen step a_w given its prefix, current policy (with gradient) */
  logpW: tf.Tensor1D;
  /** [P] the same under the reference model */
  logpRefW: tf.Tensor1D | number[];
  /** [P] summed log-probs of the rejected step a_l, current policy (with gradient) */
  logpL: tf.Tensor1D;
  logpRefL: tf.Tensor1D | number[];
  /** [P] step values V(s + a_w), V(s + a_l); only read when gamma != 0 */
  vW?: tf.Tensor1D | number[];
  vL?: tf.Tensor1D | number[];
}

/**
 * Step-DPO with SPPD's dynamic value margin (SPPD, arXiv 2502.13516, eq. 10; Step-DPO, Lai et al.
 * 2024, eq. 1 when gamma = 0 and m = 0), the mean over the P pairs of
 *
 *   h = [logp(a_w|s) - logp_ref(a_w|s)] - [logp(a_l|s) - logp_ref(a_l|s)]
 *   L = - log sigmoid( beta*h + sign*gamma*(V(s+a_w) - V(s+a_l)) - m )
 *
 * sign = +1 reads the step reward as r = beta*log(pi* / pi_ref) + V(s_{t+1}) - V(s_t) (the seed's
 * form): the chosen step's higher value adds to its implicit reward, so the loss asks less of h.
 * sign = -1 is the Bellman form r = beta*log(pi* / pi_ref) - V(s_{t+1}) + V(s_t): the value gap is a
 * margin the chosen step's log-ratio must beat. m (default 0) is a fixed margin, SPPD's "fixed"
 * ablation (as SimPO's target margin). -log sigmoid(z) = softplus(-z).
 */
export function stepDpoLoss(
  inputs: StepDpoInputs,
  opts: { beta: number; gamma: number; marginSign: 1 | -1; margin?: number },
): tf.Scalar {
  return tf.tidy(() => {
    const refW = asTensor(inputs.logpRefW);
    const refL = asTensor(inputs.logpRefL);
    const h = tf.sub(tf.sub(inputs.logpW, refW), tf.sub(inputs.logpL, refL)); // [P]
    let z: tf.Tensor = tf.mul(opts.beta, h);
    if (opts.gamma !== 0) {
      if (!inputs.vW || !inputs.vL) throw new Error("stepDpoLoss: gamma != 0 needs the step values vW and vL");
      const margin = tf.sub(asTensor(inputs.vW), asTensor(inputs.vL)); // [P]
      z = tf.add(z, tf.mul(opts.marginSign * opts.gamma, margin));
    }
    if (opts.margin) z = tf.sub(z, opts.margin);
    return tf.mean(tf.softplus(tf.neg(z))) as tf.Scalar;
  });
}

/**
 * Trajectory DPO (Rafailov et al. 2023, eq. 7): step-DPO with whole responses as the "steps" and
 * no margin. `logpW`/`logpL` are the summed response log-probs given the prompt.
 */
export function dpoLoss(
  inputs: Omit<StepDpoInputs, "vW" | "vL">,
  opts: { beta: number },
): tf.Scalar {
  return stepDpoLoss(inputs, { beta: opts.beta, gamma: 0, marginSign: 1 });
}

/** SFT: token-mean negative log-likelihood, -sum(m*lp)/sum(m), over `[N, T]` log-probs. */
export function sftLoss(logp: tf.Tensor2D, mask: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const m = tf.cast(mask, "float32");
    return tf.neg(tf.div(tf.sum(tf.mul(logp, m)), tf.maximum(tf.sum(m), 1))) as tf.Scalar;
  });
}

function asTensor(x: tf.Tensor1D | number[]): tf.Tensor1D {
  return Array.isArray(x) ? tf.tensor1d(x, "float32") : x;
}
