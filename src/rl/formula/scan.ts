/**
 * Scans within a response, over its tokens or its steps, masked (dsl/plan.ts: cumsum, revcumsum,
 * discount, gae). Each scan is one matmul of the padded values [N, L] with an [L, L] matrix
 * (triangular or discounted), which is fast on wasm and on a GPU; padding is zeroed first, so
 * nothing flows from past a response's end.
 */
import * as tf from "@tensorflow/tfjs-core";
import type { BatchTensors } from "../batch-tensors.js";
import { clean, maskOf, toLevel } from "./levels.js";
import { FormulaError, finest, type Granularity, type Leveled } from "./types.js";


/** The level a scan runs at: token or step (coarser values broadcast down first). */
export function scanLevel(nodeLevel: Granularity, ...args: Leveled[]): "token" | "step" {
  const lvl = finest(nodeLevel, ...args.map((a) => a.level));
  if (lvl !== "token" && lvl !== "step") {
    throw new FormulaError(`scans run over the tokens or steps of a response: found a ${lvl}-level value`);
  }
  return lvl;
}

/**
 * [L, L] matrix W with y = x W:
 *   forward (cumsum):  W[l', l] = g^(l-l') for l' <= l          y[l] = sum_{m>=0} g^m x[l-m]
 *   backward:          W[l', l] = g^(l'-l) for l' >= l          y[l] = sum_{m>=0} g^m x[l+m]
 */
function scanMatrix(L: number, direction: "forward" | "backward", g = 1): tf.Tensor2D {
  const w = new Float32Array(L * L);
  for (let a = 0; a < L; a++) {
    for (let b = 0; b < L; b++) {
      if (direction === "forward" ? a <= b : a >= b) w[a * L + b] = Math.pow(g, Math.abs(a - b));
    }
  }
  return tf.tensor2d(w, [L, L]);
}

function lengthOf(level: "token" | "step", bt: BatchTensors): number {
  return level === "token" ? bt.T : bt.K;
}

/**
 * A scan of the registry (dsl/ops.ts SCANS) within each response: forward y[l] = sum_{l' <= l} x[l']
 * (cumsum; SPRO arXiv 2507.01551 eq. 11, R[i,t] = beta * sum_{j<=t} logratio), backward
 * y[l] = sum_{m >= 0} gamma^m x[l + m] (revcumsum with gamma 1, reward-to-go; discount).
 */
export function scan(direction: "forward" | "backward", gamma: number, x: Leveled, nodeLevel: Granularity, bt: BatchTensors): Leveled {
  const level = scanLevel(nodeLevel, x);
  const xv = clean(toLevel(x, level, bt, true), maskOf(level, bt)); // [N, L]
  return { level, value: tf.matMul(xv, scanMatrix(lengthOf(level, bt), direction, gamma)) };
}

/** discount(x, gamma): y[l] = sum_{m >= 0} gamma^m x[l + m], within the response. */
export function discount(x: Leveled, gamma: number, nodeLevel: Granularity, bt: BatchTensors): Leveled {
  return scan("backward", gamma, x, nodeLevel, bt);
}

/**
 * Generalised advantage estimation over steps, SSPO (arXiv 2508.12604) as read in ALGORITHMS.md
 * (GAE: Schulman et al. 2016, eqs. 11-16), with the terminal value u[K] = 0:
 *   delta[k] = reward[k] + gamma * value[k+1] - value[k]
 *   A[k]     = sum_{l >= 0} (gamma * lambda)^l * delta[k+l]
 */
export function gae(reward: Leveled, value: Leveled, gamma: number, lambda: number, nodeLevel: Granularity, bt: BatchTensors): Leveled {
  const level = scanLevel(nodeLevel, reward, value);
  const L = lengthOf(level, bt);
  const mask = maskOf(level, bt)!; // [N, L]
  const r = toLevel(reward, level, bt, true);
  const v = clean(toLevel(value, level, bt, true), mask); // [N, L]
  // value[k+1], 0 past the last step (terminal): shift left by one, pad with 0, mask
  const vNext = L === 1 ? tf.zerosLike(v) : tf.concat([tf.slice(v, [0, 1], [bt.N, L - 1]), tf.zeros([bt.N, 1])], 1);
  const delta = tf.sub(tf.add(r, tf.mul(vNext, gamma)), v); // [N, L]
  return discount({ level, value: delta }, gamma * lambda, level, bt);
}
