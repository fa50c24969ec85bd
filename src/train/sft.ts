/**
 * Supervised warm start on the task's worked solutions (and the first stage of SPPD's curriculum):
 * token-mean NLL on response tokens only, AdamW, warm-up + cosine schedule, gradient clipping.
 */
import * as tf from "@tensorflow/tfjs-core";
import { sftLoss } from "../rl/objectives.js";
import type { Problem } from "../task/types.js";
import { encodePrompt, type TrainContext } from "./context.js";
import type { AdamW } from "./optimizer.js";
import { cosineSchedule, type LrSchedule } from "./schedule.js";
import { buildSequences, responseMask, tokensTensor } from "./sequences.js";
import { applyUpdate, type UpdateResult } from "./update.js";

export interface SftStageOptions {
  steps: number;
  lr: number;
  batch: number;
  /** warm-up steps of the schedule */
  warmup: number;
}

/** Encodes problems with their solutions (or given responses) as training rows: bos prompt response eos. */
export function sftRows(ctx: TrainContext, problems: Problem[], responses?: string[]): { prompts: number[][]; responses: number[][] } {
  const prompts = problems.map((p) => encodePrompt(ctx.tokenizer, p));
  const resp = problems.map((p, i) => [...ctx.tokenizer.encode(responses?.[i] ?? p.solution), ctx.tokenizer.eosId]);
  // a row longer than the context is cut from the end (the model never sees beyond its context)
  const limit = ctx.model.config.contextLength;
  return { prompts, responses: resp.map((r, i) => r.slice(0, Math.max(1, limit - prompts[i]!.length))) };
}

/** One SFT step on the given rows. */
export function sftStep(ctx: TrainContext, optimizer: AdamW, rows: { prompts: number[][]; responses: number[][] }, lr: number): UpdateResult & { tokens: number } {
  const seq = buildSequences(rows.prompts, rows.responses, ctx.tokenizer.padId);
  const tokens = tokensTensor(seq);
  const mask = responseMask(seq);
  try {
    const res = applyUpdate(ctx.model, optimizer, () => sftLoss(ctx.model.score(tokens).logp, mask), lr);
    return { ...res, tokens: seq.responseLen.reduce((a, b) => a + b, 0) };
  } finally {
    tf.dispose([tokens, mask]);
  }
}

/** The SFT schedule of `opts`: linear warm-up, then cosine down to 10% of the peak. */
export function sftSchedule(opts: SftStageOptions): LrSchedule {
  const warmupSteps = Math.min(opts.warmup, opts.steps);
  return cosineSchedule({ peakLr: opts.lr, warmupSteps, totalSteps: Math.max(opts.steps, warmupSteps), minLrRatio: 0.1 });
}
