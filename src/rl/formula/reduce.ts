/**
 * Reductions one level up, masked (dsl/plan.ts: sum mean last max min, opts.over "step" |
 * "response"). Going up the granularities needs an explicit reduction (ALGORITHMS.md,
 * "Granularities").
 *   token → step:             over the tokens [b_k, e_k) of step k
 *   token or step → response: over the valid tokens or steps of the response
 * An empty set (a response of zero tokens) reduces to 0.
 */
import * as tf from "@tensorflow/tfjs-core";
import type { BatchTensors } from "../batch-tensors.js";
import { clean, maskOf } from "./levels.js";
import { FormulaError, LEVEL_ORDER, type Granularity, type Leveled } from "./types.js";

import type { ReduceFn } from "../../../dsl/ops.js";

export type Reduction = ReduceFn;

/** Reduces `v` to `to` ("step" or "response"). A value already at or above `to` is returned as is. */
export function reduce(kind: Reduction, v: Leveled, to: Granularity, bt: BatchTensors): Leveled {
  if (to !== "step" && to !== "response") {
    throw new FormulaError(`${kind}: over must be "step" or "response", found "${to}"`);
  }
  // a value already at (or above) the target level is one element there: it reduces to itself
  if (LEVEL_ORDER[v.level] <= LEVEL_ORDER[to]) return v;
  if (to === "step") {
    if (v.level !== "token") throw new FormulaError(`${kind} over step needs a token-level value, found ${v.level}`);
    return { level: "step", value: tokenToStep(kind, v.value, bt) };
  }
  return { level: "response", value: toResponse(kind, v.value, v.level, bt) };
}

/** token [N, T] → step [N, K] */
function tokenToStep(kind: Reduction, x: tf.Tensor, bt: BatchTensors): tf.Tensor {
  const xc = tf.broadcastTo(clean(x, bt.tokenMask), [bt.N, bt.T]);
  const row = tf.reshape(xc, [bt.N, 1, bt.T]); // [N, 1, T]
  switch (kind) {
    case "sum":
      return tf.reshape(tf.matMul(row, bt.tokenStepOneHot), [bt.N, bt.K]); // [N,1,T]x[N,T,K]
    case "mean": {
      const s = tf.reshape(tf.matMul(row, bt.tokenStepOneHot), [bt.N, bt.K]);
      return tf.div(s, tf.maximum(bt.stepTokens, 1));
    }
    case "last":
      return tf.reshape(tf.matMul(row, bt.stepLastToken), [bt.N, bt.K]);
    case "max":
    case "min": {
      const sign = kind === "max" ? 1 : -1;
      const col = tf.mul(tf.reshape(tf.broadcastTo(x, [bt.N, bt.T]), [bt.N, bt.T, 1]), sign); // [N, T, 1]
      const inStep = tf.greater(bt.tokenStepOneHot, 0); // [N, T, K]
      const m = tf.max(tf.where(inStep, tf.broadcastTo(col, [bt.N, bt.T, bt.K]), tf.fill([bt.N, bt.T, bt.K], -Infinity)), 1);
      return clean(tf.mul(m, sign), bt.stepMask); // [N, K], 0 at padded steps
    }
  }
}

/** token [N, T] or step [N, K] → response [N] */
function toResponse(kind: Reduction, x: tf.Tensor, level: Granularity, bt: BatchTensors): tf.Tensor {
  const mask = maskOf(level, bt)!;
  const L = level === "token" ? bt.T : bt.K;
  const xf = tf.broadcastTo(x, [bt.N, L]);
  const count = tf.sum(mask, 1); // [N]
  switch (kind) {
    case "sum":
      return tf.sum(clean(xf, mask), 1);
    case "mean":
      return tf.div(tf.sum(clean(xf, mask), 1), tf.maximum(count, 1));
    case "last":
      return tf.sum(tf.mul(clean(xf, mask), level === "token" ? bt.tokenLast : bt.stepLast), 1);
    case "max":
    case "min": {
      const sign = kind === "max" ? 1 : -1;
      const m = tf.max(tf.where(tf.greater(mask, 0), tf.mul(xf, sign), tf.fill([bt.N, L], -Infinity)), 1);
      return tf.where(tf.greater(count, 0), tf.mul(m, sign), tf.zerosLike(count));
    }
  }
}
