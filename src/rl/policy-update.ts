/**
 * The policy update of one RL iteration with the clipped objective (ALGORITHMS.md "The shared
 * policy loss"): `epochs` passes over the batch in minibatches of whole groups, each an AdamW step.
 */
import * as tf from "@tensorflow/tfjs-core";
import type { ObjectivePlan } from "../../dsl/plan.js";
import type { TrainContext } from "../train/context.js";
import type { AdamW } from "../train/optimizer.js";
import { responseGrid, tokensTensor, type SequenceBatch } from "../train/sequences.js";
import { applyUpdate } from "../train/update.js";
import type { RolloutBatch } from "./batch.js";
import { clippedPolicyLoss } from "./objectives.js";

export interface UpdateMetrics {
  loss: number;
  gradNorm: number;
  clipRatio: number;
  kl: number;
  entropy: number;
  trainedTokens: number;
}

export interface PolicyUpdateOptions {
  objective: Extract<ObjectivePlan, { kind: "clipped" }>;
  epochs: number;
  /** responses per minibatch (0 = the whole batch) */
  minibatch: number;
  lr: number;
  /** the generation budget, for the "constant" (Dr. GRPO) normalisation */
  maxTokens: number;
  /** the sampling temperature T: lp = log_softmax(logits / T), as lp_old and lp_ref were scored */
  temperature: number;
}

/**
 * @param advantages per response, per response token (unpadded), in batch order
 */
export function updatePolicy(
  ctx: TrainContext,
  optimizer: AdamW,
  seq: SequenceBatch,
  batch: RolloutBatch,
  advantages: number[][],
  opts: PolicyUpdateOptions,
): UpdateMetrics {
  const responses = batch.groups.flatMap((g) => g.responses);
  const n = responses.length;
  const mb = opts.minibatch > 0 ? Math.min(opts.minibatch, n) : n;
  const sums = { loss: 0, gradNorm: 0, clipRatio: 0, kl: 0, entropy: 0, updates: 0, trainedTokens: 0 };
  for (let epoch = 0; epoch < opts.epochs; epoch++) {
    for (let start = 0; start < n; start += mb) {
      const rows = Array.from({ length: Math.min(mb, n - start) }, (_, k) => start + k);
      const part: SequenceBatch = {
        tokens: rows.map((r) => seq.tokens[r]!),
        promptLen: rows.map((r) => seq.promptLen[r]!),
        responseLen: rows.map((r) => seq.responseLen[r]!),
        length: seq.length,
      };
      const tokens = tokensTensor(part);
      const mask = responseGrid(part, null);
      const logpOld = responseGrid(part, rows.map((r) => responses[r]!.token_logp));
      const logpRef = responseGrid(part, rows.map((r) => responses[r]!.token_logp_ref));
      const adv = responseGrid(part, rows.map((r) => advantages[r]!));
      const truncated = rows.map((r) => (responses[r]!.truncated ? 1 : 0));
      let metrics = { clipRatio: 0, kl: 0, entropy: 0 };
      try {
        const res = applyUpdate(
          ctx.model,
          optimizer,
          () => {
            const needEntropy = opts.objective.entropy !== 0;
            const s = ctx.model.score(tokens, { entropy: needEntropy, temperature: opts.temperature });
            const out = clippedPolicyLoss(
              { logp: s.logp, logpOld, logpRef, advantages: adv, mask, entropy: needEntropy ? s.entropy : undefined, truncated },
              opts.objective,
              opts.maxTokens,
            );
            metrics = out.metrics;
            return out.loss;
          },
          opts.lr,
        );
        sums.loss += res.loss;
        sums.gradNorm += res.gradNorm;
        sums.clipRatio += metrics.clipRatio;
        sums.kl += metrics.kl;
        sums.entropy += metrics.entropy;
        sums.updates++;
        sums.trainedTokens += part.responseLen.reduce((a, b) => a + b, 0);
      } finally {
        tf.dispose([tokens, mask, logpOld, logpRef, adv]);
      }
    }
  }
  const u = Math.max(1, sums.updates);
  return {
    loss: sums.loss / u,
    gradNorm: sums.gradNorm / u,
    clipRatio: sums.clipRatio / u,
    kl: sums.kl / u,
    entropy: sums.entropy / u,
    trainedTokens: sums.trainedTokens,
  };
}
