/**
 * Moving values between granularities and masking padding.
 * Broadcasting goes down only: group → response → step → token (ALGORITHMS.md, "Granularities":
 * a step value applies to every token of its step).
 */
import * as tf from "@tensorflow/tfjs-core";
import type { BatchTensors } from "../batch-tensors.js";
import { FormulaError, LEVEL_ORDER, type Granularity, type Leveled } from "./types.js";

/** The full shape of a value at `level`. */
export function shapeOf(level: Granularity, bt: BatchTensors): number[] {
  return level === "token" ? [bt.N, bt.T] : level === "step" ? [bt.N, bt.K] : [bt.N];
}

/** The validity mask at `level` (float 0/1), or undefined where every element is valid. */
export function maskOf(level: Granularity, bt: BatchTensors): tf.Tensor | undefined {
  return level === "token" ? bt.tokenMask : level === "step" ? bt.stepMask : undefined;
}

/** `x` where `mask` is 1, else 0: padding (which may hold NaN or ±Inf) cannot leak into sums. */
export function clean(x: tf.Tensor, mask: tf.Tensor | undefined): tf.Tensor {
  if (mask === undefined) return x;
  return tf.where(tf.greater(mask, 0), x, tf.zerosLike(mask));
}

/**
 * Broadcasts `v` down to `level` with its full shape. A rank-0 value is materialised only when
 * `materialize` is set (constants otherwise stay scalars and broadcast inside tf ops).
 */
export function toLevel(v: Leveled, level: Granularity, bt: BatchTensors, materialize = false): tf.Tensor {
  const from = v.level;
  if (LEVEL_ORDER[from] > LEVEL_ORDER[level]) {
    throw new FormulaError(
      `a ${from}-level value cannot be used where a ${level}-level one is needed: reduce it first (e.g. sum(x, over ${level === "step" ? "step" : "response"}))`,
    );
  }
  const x = v.value;
  if (x.rank === 0) return materialize ? tf.broadcastTo(x, shapeOf(level, bt)) : x;
  if (level === "group" || level === "response" || from === level) return x;
  if (from === "step") {
    // step → token: each token takes its step's value, as a batched matmul with the token→step
    // one-hot (tf.gather with batchDims gives wrong rows on wasm 4.22); padding zeroed so that
    // NaN or Inf there cannot leak (NaN * 0 = NaN)
    const xs = tf.reshape(clean(x, bt.stepMask), [bt.N, bt.K, 1]); // [N, K, 1]
    return tf.reshape(tf.matMul(bt.tokenStepOneHot, xs), [bt.N, bt.T]); // [N, T, K] x [N, K, 1]
  }
  // group/response [N] → [N, K] or [N, T]
  return tf.broadcastTo(tf.reshape(x, [bt.N, 1]), shapeOf(level, bt));
}
