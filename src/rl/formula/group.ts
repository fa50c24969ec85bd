/**
 * Group operators: statistics within the responses to one prompt (dsl/plan.ts: center, zscore,
 * rank; opts.by "position" | "step_index").
 *
 * The comparison set of an element:
 *   no `by`:           every valid element of its group at x's level (response level: the G
 *                      responses, GRPO; step level: all steps of all the group's responses, SSPO;
 *                      token level: all tokens)
 *   by "position":     token level, the group's responses alive at token position t
 *                      (SPRO arXiv 2507.01551 eq. 12, masked step advantage)
 *   by "step_index":   step level, the group's responses that have a step k
 *
 * Group sums are matmuls with the one-hot group matrix M [N, Gc] (M^T x sums a group, M m
 * broadcasts a group statistic back to its responses); the wasm backend has no segment ops.
 */
import * as tf from "@tensorflow/tfjs-core";
import type { BatchTensors } from "../batch-tensors.js";
import { clean, maskOf, toLevel } from "./levels.js";
import { FormulaError, finest, type Granularity, type Leveled } from "./types.js";

import { STD_EPS, type GroupBy as By, type GroupFn } from "../../../dsl/ops.js";

export { STD_EPS };
export type GroupOp = GroupFn;
export type GroupBy = By | undefined;

/** The level a group op works at, given the node's level, x's level and `by`. */
export function groupOpLevel(nodeLevel: Granularity, x: Leveled, by: GroupBy): Granularity {
  const lvl = finest(nodeLevel, x.level);
  if (by === "position") return "token"; // coarser values broadcast to the tokens first
  if (by === "step_index") {
    if (lvl === "token") throw new FormulaError(`by step_index compares steps: the value must be step level, found token level (reduce it with sum/mean(x, over step))`);
    return "step";
  }
  return lvl === "group" ? "response" : lvl;
}

export function groupOp(op: GroupOp, x: Leveled, nodeLevel: Granularity, by: GroupBy, bt: BatchTensors): Leveled {
  if (by !== undefined && by !== "position" && by !== "step_index") {
    throw new FormulaError(`${op}: by must be "position" or "step_index", found "${String(by)}"`);
  }
  const level = groupOpLevel(nodeLevel, x, by);
  const xv = toLevel(x, level, bt, true); // [N] or [N, L]
  const mask = maskOf(level, bt);
  if (op === "rank") return { level, value: rank(xv, mask, by !== undefined, bt) };
  return { level, value: centerOrZscore(op, xv, mask, by !== undefined, bt) };
}

/**
 * Sums within groups. `perColumn` false: over every element of the group → [Gc, 1]; true: per
 * column (position t or step index k) → [Gc, L].
 */
function groupSum(x: tf.Tensor, perColumn: boolean, bt: BatchTensors): tf.Tensor {
  const rows = x.rank === 1 ? tf.reshape(x, [bt.N, 1]) : perColumn ? x : tf.sum(x, 1, true); // [N, L] or [N, 1]
  return tf.matMul(bt.groupOneHot, rows, true, false); // M^T rows: [Gc, L] or [Gc, 1]
}

/** A group statistic [Gc, L|1] back on the responses, shaped like x. */
function backToRows(stat: tf.Tensor, like: tf.Tensor, bt: BatchTensors): tf.Tensor {
  const rows = tf.matMul(bt.groupOneHot, stat); // M stat: [N, L|1]
  return like.rank === 1 ? tf.reshape(rows, [bt.N]) : rows;
}

/**
 * center: x - mean;  zscore: (x - mean) / (std + 1e-6) with the sample std (divide by n-1), as
 * GRPO (arXiv 2402.03300) A = (r - mean_G(r)) / (std_G(r) + 1e-6), in TRL and verl.
 * A set of one element has x - mean = 0, so both give 0 there (SPRO eq. 12: where only one
 * response is alive, MSA = 0).
 */
function centerOrZscore(op: "center" | "zscore", x: tf.Tensor, mask: tf.Tensor | undefined, perColumn: boolean, bt: BatchTensors): tf.Tensor {
  const ones = mask ?? tf.onesLike(x);
  const count = groupSum(ones, perColumn, bt); // [Gc, L|1]  n
  const mean = tf.div(groupSum(clean(x, mask), perColumn, bt), tf.maximum(count, 1)); // sum x / n
  const dev = tf.sub(x, backToRows(mean, x, bt)); // x - mean
  if (op === "center") return dev;
  const ss = groupSum(clean(tf.square(dev), mask), perColumn, bt); // sum (x - mean)^2
  const std = tf.sqrt(tf.div(ss, tf.maximum(tf.sub(count, 1), 1))); // sample std (n - 1); 0 when n = 1
  return tf.div(dev, tf.add(backToRows(std, x, bt), STD_EPS));
}

/**
 * rank: the mid-rank of x within its comparison set, scaled to [0, 1]:
 *   rank_i = ( #{j : x_j < x_i} + 0.5 * #{j != i : x_j = x_i} ) / (n - 1),   n = set size
 * so the smallest is 0, the largest 1, ties share the mean of their ranks and the group mean is
 * always 0.5; a set of one element gets 0.5. (Stepwise's definition; subtract 0.5 for a centred
 * rank advantage.) Computed per group with pairwise comparisons: O(G^2 L) by column, O((G L)^2)
 * without `by`.
 */
function rank(x: tf.Tensor, mask: tf.Tensor | undefined, perColumn: boolean, bt: BatchTensors): tf.Tensor {
  const x2 = x.rank === 1 ? tf.reshape(x, [bt.N, 1]) : x; // [N, L]
  const L = x2.shape[1]!;
  const m2 = mask ?? tf.onesLike(x2);
  const parts: tf.Tensor[] = [];
  bt.groupSizesJs.forEach((G, g) => {
    const xg = tf.slice(x2, [bt.groupStarts[g], 0], [G, L]); // [G, L]
    const mg = tf.slice(m2, [bt.groupStarts[g], 0], [G, L]);
    // comparison axes: perColumn → [G, G, L] (i, j, column); whole group → [GL, GL]
    const xi = perColumn ? tf.reshape(xg, [G, 1, L]) : tf.reshape(xg, [G * L, 1]);
    const xj = perColumn ? tf.reshape(xg, [1, G, L]) : tf.reshape(xg, [1, G * L]);
    const mj = perColumn ? tf.reshape(mg, [1, G, L]) : tf.reshape(mg, [1, G * L]);
    const axis = 1;
    const less = tf.sum(tf.mul(tf.cast(tf.less(xj, xi), "float32"), mj), axis); // [G, L] | [GL]
    const equal = tf.sum(tf.mul(tf.cast(tf.equal(xj, xi), "float32"), mj), axis); // includes i itself
    const n = tf.sum(mj, axis); // same for every i in the set
    const r = tf.div(tf.add(less, tf.mul(tf.sub(equal, 1), 0.5)), tf.maximum(tf.sub(n, 1), 1));
    const single = tf.lessEqual(n, 1);
    parts.push(tf.reshape(tf.where(single, tf.fill(r.shape, 0.5), r), [G, L]));
  });
  const out = tf.concat(parts, 0); // [N, L]
  return x.rank === 1 ? tf.reshape(out, [bt.N]) : out;
}
