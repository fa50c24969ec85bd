/**
 * Prompt + response sequences laid out for one forward pass.
 *
 * A batch of right-padded sequences `[B, L]` is scored by the model into per-position log-probs
 * `[B, L-1]` (position p predicts token p+1). Per-token quantities of the responses (advantages,
 * lp_old, lp_ref, masks) are written by JS into the same `[B, L-1]` grid, so the loss needs no
 * gather in the graph: response token j of row b sits at grid column promptLen[b] - 1 + j.
 */
import * as tf from "@tensorflow/tfjs-core";

export interface SequenceBatch {
  /** [B, L] int32, right-padded with padId */
  tokens: number[][];
  /** number of prompt tokens (bos included) of each row */
  promptLen: number[];
  /** number of response tokens of each row */
  responseLen: number[];
  /** padded length L */
  length: number;
}

/** Concatenates prompt and response ids of each row and pads them to one length. */
export function buildSequences(prompts: number[][], responses: number[][], padId: number): SequenceBatch {
  if (prompts.length !== responses.length) throw new Error("buildSequences: prompts and responses differ in count");
  const tokens = prompts.map((p, i) => [...p, ...responses[i]!]);
  const length = Math.max(2, ...tokens.map((t) => t.length));
  for (const t of tokens) while (t.length < length) t.push(padId);
  return {
    tokens,
    promptLen: prompts.map((p) => p.length),
    responseLen: responses.map((r) => r.length),
    length,
  };
}

/** The batch's token ids as an int32 tensor [B, L]. */
export function tokensTensor(batch: SequenceBatch): tf.Tensor2D {
  return tf.tensor2d(batch.tokens.flat(), [batch.tokens.length, batch.length], "int32");
}

/**
 * Lays per-response-token values into the [B, L-1] grid of next-token positions.
 * `values[b][j]` is the value for response token j of row b; everything else is `fill`.
 */
export function responseGrid(batch: SequenceBatch, values: ArrayLike<number>[] | null, fill = 0): tf.Tensor2D {
  const B = batch.tokens.length;
  const W = batch.length - 1;
  const out = new Float32Array(B * W).fill(fill);
  for (let b = 0; b < B; b++) {
    const start = batch.promptLen[b]! - 1;
    const n = batch.responseLen[b]!;
    const row = values?.[b];
    for (let j = 0; j < n; j++) out[b * W + start + j] = row ? row[j]! : 1;
  }
  return tf.tensor2d(out, [B, W]);
}

/** The response-token mask in the grid: 1 where a column predicts a response token. */
export function responseMask(batch: SequenceBatch): tf.Tensor2D {
  return responseGrid(batch, null, 0);
}

/** Reads the response tokens' values back out of a [B, L-1] grid (e.g. log-probs after scoring). */
export function readResponseGrid(batch: SequenceBatch, grid: Float32Array | number[]): number[][] {
  const W = batch.length - 1;
  return batch.tokens.map((_, b) => {
    const start = batch.promptLen[b]! - 1;
    const out: number[] = [];
    for (let j = 0; j < batch.responseLen[b]!; j++) out.push(grid[b * W + start + j]!);
    return out;
  });
}
