/**
 * A rollout batch as padded tensors on the active backend: what the formula engine
 * (src/rl/formula) and the objectives read. N = all responses of the batch, group by group;
 * T = the longest response in tokens; K = the most steps of any response.
 *
 * Padding holds 0 and is masked; every op that mixes elements (reductions, group ops, scans)
 * goes through a mask. Group ops use the one-hot group matrix `groupOneHot` [N, Gc] as a matmul
 * (the wasm backend lacks UnsortedSegmentSum).
 */
import * as tf from "@tensorflow/tfjs-core";
import type { RolloutBatch } from "./batch.js";
import { STEP_LABELS } from "./batch-validate.js";

export interface BatchTensors {
  /** number of responses (all groups) */
  N: number;
  /** padded token length (>= 1) */
  T: number;
  /** padded step count (>= 1) */
  K: number;
  /** number of groups (prompts) */
  groupCount: number;

  // token level [N, T]
  logp: tf.Tensor2D; // lp_old: rollout-time policy log-prob
  logpRef: tf.Tensor2D; // lp_ref
  entropy: tf.Tensor2D;
  position: tf.Tensor2D; // t = 0..|y_i|-1
  tokenMask: tf.Tensor2D; // 1 where response i has token t

  // step level [N, K]
  stepIndex: tf.Tensor2D; // k = 0..K_i-1
  stepTokens: tf.Tensor2D; // e_k - b_k
  stepLabel: tf.Tensor2D; // label code (essential 0 … answer 4; unknown or absent -1)
  stepMask: tf.Tensor2D; // 1 where response i has step k
  /** per probe: its value before each step, u[0..K-1] [N, K] (0 at padding) */
  probes: Record<string, tf.Tensor2D>;
  /** per probe: the value after the last step, u[K_i] [N] (recorded for analytics) */
  probesFinal: Record<string, tf.Tensor1D>;
  /** Monte Carlo values V(s_k) before each step [N, K] (0 at padding); null when the batch records none */
  mcValue: tf.Tensor2D | null;

  // response level [N]
  outcome: tf.Tensor1D;
  responseTokens: tf.Tensor1D;
  responseSteps: tf.Tensor1D;
  truncated: tf.Tensor1D; // 0/1

  // token → step
  tokenStep: tf.Tensor2D; // [N, T] int32, step index of each token (0 at padding)
  tokenStepOneHot: tf.Tensor3D; // [N, T, K] float32, 1 where token t belongs to step k
  stepLastToken: tf.Tensor3D; // [N, T, K] float32, 1 where t is the last token of step k
  tokenLast: tf.Tensor2D; // [N, T] 1 at the last token of each response
  stepLast: tf.Tensor2D; // [N, K] 1 at the last step of each response

  // groups
  groupId: tf.Tensor1D; // [N] int32
  groupOneHot: tf.Tensor2D; // [N, Gc] float32
  groupSizes: tf.Tensor1D; // [Gc] float32, = G of each group

  /** plain JS lengths, for unpadding outputs */
  tokenCounts: number[];
  stepCounts: number[];
  groupSizesJs: number[];
  /** the row range of each group: responses [groupStarts[g], groupStarts[g] + groupSizesJs[g]) */
  groupStarts: number[];

  dispose(): void;
}

/** Label name → code as in dsl/plan.ts; anything else is -1 (unknown). */
export function labelCode(label: string | undefined): number {
  const i = label === undefined ? -1 : (STEP_LABELS as readonly string[]).indexOf(label);
  return i;
}

/**
 * Builds the padded tensors of a (validated) batch on the active backend. The caller owns them:
 * call `dispose()` when done.
 * @example const bt = toBatchTensors(validateBatch(json)); try { … } finally { bt.dispose(); }
 */
export function toBatchTensors(batch: RolloutBatch): BatchTensors {
  const responses = batch.groups.flatMap((g) => g.responses);
  const N = responses.length;
  const groupSizesJs = batch.groups.map((g) => g.responses.length);
  const groupCount = groupSizesJs.length;
  const groupStarts: number[] = [];
  groupSizesJs.reduce((acc, s) => (groupStarts.push(acc), acc + s), 0);
  const tokenCounts = responses.map((r) => r.token_logp.length);
  const stepCounts = responses.map((r) => r.step_ends.length);
  // at least 1 so that no tensor has a zero-size axis; the masks say what is real
  const T = Math.max(1, ...tokenCounts);
  const K = Math.max(1, ...stepCounts);

  // 1) token level [N, T]
  const logp = new Float32Array(N * T);
  const logpRef = new Float32Array(N * T);
  const entropy = new Float32Array(N * T);
  const position = new Float32Array(N * T);
  const tokenMask = new Float32Array(N * T);
  const tokenLast = new Float32Array(N * T);
  const tokenStep = new Int32Array(N * T);
  const tokenStepOneHot = new Float32Array(N * T * K);
  const stepLastToken = new Float32Array(N * T * K);
  // 2) step level [N, K]
  const stepIndex = new Float32Array(N * K);
  const stepTokens = new Float32Array(N * K);
  const stepLabel = new Float32Array(N * K).fill(-1);
  const stepMask = new Float32Array(N * K);
  const stepLast = new Float32Array(N * K);
  // 3) response level [N]
  const outcome = new Float32Array(N);
  const truncated = new Float32Array(N);
  const groupId = new Int32Array(N);
  const groupOneHot = new Float32Array(N * groupCount);

  const probeNames = [...new Set(responses.flatMap((r) => Object.keys(r.probes ?? {})))];
  const probeVals = Object.fromEntries(probeNames.map((p) => [p, new Float32Array(N * K)]));
  const probeFinal = Object.fromEntries(probeNames.map((p) => [p, new Float32Array(N)]));
  const hasMc = responses.some((r) => r.mc_value !== undefined);
  const mcVals = new Float32Array(hasMc ? N * K : 0);

  let row = 0;
  batch.groups.forEach((g, gi) => {
    for (const r of g.responses) {
      const n = r.token_logp.length;
      for (let t = 0; t < n; t++) {
        const j = row * T + t;
        logp[j] = r.token_logp[t];
        logpRef[j] = r.token_logp_ref[t];
        entropy[j] = r.token_entropy[t];
        position[j] = t;
        tokenMask[j] = 1;
      }
      if (n > 0) tokenLast[row * T + n - 1] = 1;
      let b = 0;
      r.step_ends.forEach((e, k) => {
        const j = row * K + k;
        stepIndex[j] = k;
        stepTokens[j] = e - b;
        stepMask[j] = 1;
        stepLabel[j] = labelCode(r.step_labels?.[k]);
        for (let t = b; t < e; t++) {
          tokenStep[row * T + t] = k;
          tokenStepOneHot[(row * T + t) * K + k] = 1;
        }
        stepLastToken[(row * T + e - 1) * K + k] = 1;
        b = e;
      });
      const Ki = r.step_ends.length;
      if (Ki > 0) stepLast[row * K + Ki - 1] = 1;
      for (const p of probeNames) {
        const u = r.probes?.[p];
        if (u === undefined) {
          throw new Error(`groups[${gi}].responses[${row - groupStarts[gi]}].probes: probe "${p}" is missing (other responses have it)`);
        }
        for (let k = 0; k < Ki; k++) probeVals[p][row * K + k] = u[k]; // u[k]: before step k
        probeFinal[p][row] = u[Ki]; // after the last step
      }
      if (hasMc) {
        const v = r.mc_value;
        if (!v) throw new Error(`groups[${gi}].responses[${row - groupStarts[gi]}].mc_value: missing (other responses have it)`);
        for (let k = 0; k < Ki; k++) mcVals[row * K + k] = v[k]; // V(s_k): before step k
      }
      outcome[row] = r.outcome;
      truncated[row] = r.truncated ? 1 : 0;
      groupId[row] = gi;
      groupOneHot[row * groupCount + gi] = 1;
      row++;
    }
  });

  const t2 = (a: Float32Array, cols: number) => tf.tensor2d(a, [N, cols], "float32");
  const all: tf.Tensor[] = [];
  const keep = <X extends tf.Tensor>(x: X): X => (all.push(x), x);
  const bt: BatchTensors = {
    N,
    T,
    K,
    groupCount,
    logp: keep(t2(logp, T)),
    logpRef: keep(t2(logpRef, T)),
    entropy: keep(t2(entropy, T)),
    position: keep(t2(position, T)),
    tokenMask: keep(t2(tokenMask, T)),
    stepIndex: keep(t2(stepIndex, K)),
    stepTokens: keep(t2(stepTokens, K)),
    stepLabel: keep(t2(stepLabel, K)),
    stepMask: keep(t2(stepMask, K)),
    probes: Object.fromEntries(probeNames.map((p) => [p, keep(t2(probeVals[p], K))])),
    probesFinal: Object.fromEntries(probeNames.map((p) => [p, keep(tf.tensor1d(probeFinal[p], "float32"))])),
    mcValue: hasMc ? keep(t2(mcVals, K)) : null,
    outcome: keep(tf.tensor1d(outcome, "float32")),
    responseTokens: keep(tf.tensor1d(tokenCounts, "float32")),
    responseSteps: keep(tf.tensor1d(stepCounts, "float32")),
    truncated: keep(tf.tensor1d(truncated, "float32")),
    tokenStep: keep(tf.tensor2d(tokenStep, [N, T], "int32")),
    tokenStepOneHot: keep(tf.tensor3d(tokenStepOneHot, [N, T, K], "float32")),
    stepLastToken: keep(tf.tensor3d(stepLastToken, [N, T, K], "float32")),
    tokenLast: keep(t2(tokenLast, T)),
    stepLast: keep(t2(stepLast, K)),
    groupId: keep(tf.tensor1d(groupId, "int32")),
    groupOneHot: keep(tf.tensor2d(groupOneHot, [N, groupCount], "float32")),
    groupSizes: keep(tf.tensor1d(groupSizesJs, "float32")),
    tokenCounts,
    stepCounts,
    groupSizesJs,
    groupStarts,
    dispose: () => all.forEach((x) => x.dispose()),
  };
  return bt;
}
