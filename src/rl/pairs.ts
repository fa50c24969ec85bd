/**
 * Preference pairs from SPPD trees (arXiv 2502.13516 §3.3; ALGORITHMS.md "SPPD" §3, §5) and the
 * differentiable log-probs the step-DPO loss needs.
 *  - stepPairs: sibling steps (a_w, a_l) under one prefix with V(a_w) - V(a_l) > threshold;
 *  - trajectoryPairs: whole responses, correct vs incorrect, for the trajectory-DPO stage;
 *  - leafResponses: every complete response with its correctness and minimum step value, for
 *    the SFT stage ("PRM rejection sampling": correct answer and high minimum step value);
 *  - pairLogprobs: summed log-probs of the chosen and rejected continuations given their prefix,
 *    [P] each, with gradient (for stepDpoLoss / dpoLoss in objectives.ts).
 */
import * as tf from "@tensorflow/tfjs-core";
import type { ScoringModel } from "./probes.js";
import { actionTokens, pathTo, prefixTokens, responseText, type Tree, type TreeNode } from "./tree.js";

export interface StepPair {
  /** prompt tokens (bos included) + the tokens of the shared steps before the pair */
  prefixTokens: number[];
  /** the response text before the pair (shared steps) */
  prefixText: string;
  /** the steps' tokens as actions (a step that ended the response carries its eos) */
  winTokens: number[];
  loseTokens: number[];
  winText: string;
  loseText: string;
  /** V(s + a_w), V(s + a_l) */
  vW: number;
  vL: number;
  /** summed reference log-probs of the two actions, as the tree scored them (equal to pairLogprobs(reference) on the same pairs) */
  refW: number;
  refL: number;
  /** node ids in the tree */
  nodeW: number;
  nodeL: number;
}

/**
 * Sibling pairs whose values differ by MORE than `threshold` (paper: 0.5), the higher-valued step
 * as the winner. Siblings without a value (NaN: no leaf below) are never paired.
 * @param values a node's value (default: its Monte Carlo value); pass a probe's values here
 */
export function stepPairs(tree: Tree, threshold: number, values: (node: TreeNode) => number = (n) => n.value): StepPair[] {
  const pairs: StepPair[] = [];
  for (const parent of tree.nodes) {
    const kids = parent.children.map((id) => tree.nodes[id]);
    for (let a = 0; a < kids.length; a++) {
      for (let b = a + 1; b < kids.length; b++) {
        const va = values(kids[a]);
        const vb = values(kids[b]);
        if (!Number.isFinite(va) || !Number.isFinite(vb) || Math.abs(va - vb) <= threshold) continue;
        const [w, l] = va > vb ? [kids[a], kids[b]] : [kids[b], kids[a]];
        pairs.push({
          prefixTokens: prefixTokens(tree, parent.id),
          prefixText: responseText(tree, parent.id),
          winTokens: actionTokens(tree, w.id),
          loseTokens: actionTokens(tree, l.id),
          winText: w.text,
          loseText: l.text,
          vW: values(w),
          vL: values(l),
          refW: w.refLogp,
          refL: l.refLogp,
          nodeW: w.id,
          nodeL: l.id,
        });
      }
    }
  }
  return pairs;
}

export interface LeafResponse {
  node: number;
  text: string;
  /** response tokens (prompt excluded), with the eos that ended it when there was one */
  tokens: number[];
  correct: number;
  truncated: boolean;
  /** the smallest value among the response's steps */
  minValue: number;
  /** the response's step texts */
  steps: string[];
}

/** Every distinct complete response of a tree. */
export function leafResponses(tree: Tree, values: (node: TreeNode) => number = (n) => n.value): LeafResponse[] {
  return tree.nodes
    .filter((n) => n.final)
    .map((leaf) => {
      const ids = pathTo(tree, leaf.id).slice(1);
      return {
        node: leaf.id,
        text: responseText(tree, leaf.id),
        tokens: ids.flatMap((k) => actionTokens(tree, k)),
        correct: leaf.correct,
        truncated: leaf.truncated,
        minValue: Math.min(...ids.map((k) => values(tree.nodes[k]))),
        steps: ids.map((k) => tree.nodes[k].text),
      };
    });
}

/**
 * Trajectory pairs for DPO: each correct response against an incorrect one of the same question
 * (round-robin, at most `max` pairs). The prefix is the prompt; refW/refL are the summed reference
 * log-probs of the whole responses (sum over their steps).
 */
export function trajectoryPairs(tree: Tree, max = Infinity): StepPair[] {
  const leaves = leafResponses(tree);
  const good = leaves.filter((l) => l.correct === 1);
  const bad = leaves.filter((l) => l.correct !== 1);
  const pairs: StepPair[] = [];
  const refOf = (id: number) => pathTo(tree, id).slice(1).reduce((s, k) => s + tree.nodes[k].refLogp, 0);
  const n = good.length > 0 && bad.length > 0 ? Math.min(max, good.length * bad.length) : 0;
  for (let i = 0; i < n; i++) {
    const w = good[i % good.length];
    const l = bad[(i + Math.floor(i / good.length)) % bad.length];
    pairs.push({
      prefixTokens: tree.nodes[0].tokens,
      prefixText: "",
      winTokens: w.tokens,
      loseTokens: l.tokens,
      winText: w.text,
      loseText: l.text,
      vW: w.correct,
      vL: l.correct,
      refW: refOf(w.node),
      refL: refOf(l.node),
      nodeW: w.node,
      nodeL: l.node,
    });
  }
  return pairs;
}

/**
 * Summed log-probs of each pair's winning and losing continuation given its prefix, under
 * `model`, with gradient: logp(a|s) = sum_t log pi(a_t | s, a_<t) (SPPD eq. 10's log pi(a|s)).
 * One forward pass over the 2P rows [prefix + a], right-padded; rows longer than the context
 * lose prefix tokens from the left (bos kept when `bosId` is given). Call inside tf.variableGrads.
 */
export function pairLogprobs(
  model: ScoringModel,
  pairs: Pick<StepPair, "prefixTokens" | "winTokens" | "loseTokens">[],
  opts: { padId?: number; bosId?: number } = {},
): { logpW: tf.Tensor1D; logpL: tf.Tensor1D } {
  const P = pairs.length;
  if (P === 0) throw new Error("pairLogprobs: no pairs");
  const ctx = model.config.contextLength;
  const rows = pairs.flatMap((p) => [fitRow(p.prefixTokens, p.winTokens, ctx, opts.bosId), fitRow(p.prefixTokens, p.loseTokens, ctx, opts.bosId)]);
  const T = Math.max(2, ...rows.map((r) => r.seq.length));
  const flat = new Int32Array(2 * P * T).fill(opts.padId ?? 0);
  const maskData = new Float32Array(2 * P * (T - 1));
  rows.forEach((r, i) => {
    flat.set(r.seq, i * T);
    // logp[i, t] scores token t+1: the continuation occupies tokens c..c+n-1
    for (let j = 0; j < r.n; j++) maskData[i * (T - 1) + r.c - 1 + j] = 1;
  });
  return tf.tidy(() => {
    const { logp } = model.score(tf.tensor2d(flat, [2 * P, T], "int32"), { entropy: false }); // [2P, T-1]
    const sums = tf.sum(tf.mul(logp, tf.tensor2d(maskData, [2 * P, T - 1])), 1); // [2P]
    const wl = tf.reshape(sums, [P, 2]); // rows alternate win, lose
    const [w, l] = tf.split(wl, 2, 1);
    return { logpW: tf.reshape(w, [P]) as tf.Tensor1D, logpL: tf.reshape(l, [P]) as tf.Tensor1D };
  });
}

function fitRow(prefix: number[], cont: number[], ctx: number, bosId?: number): { seq: number[]; c: number; n: number } {
  const keepBos = bosId !== undefined && prefix[0] === bosId;
  const cont2 = cont.slice(0, Math.max(1, ctx - (keepBos ? 2 : 1))); // at least one prefix token stays
  const room = ctx - cont2.length;
  let p = prefix;
  if (p.length > room) p = keepBos ? [prefix[0], ...prefix.slice(prefix.length - (room - 1))] : prefix.slice(prefix.length - room);
  return { seq: [...p, ...cont2], c: p.length, n: cont2.length };
}
