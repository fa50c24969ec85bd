/** The targets of issue 16 for `npm run bench`'s ratios (bench/run.ts computes them, bench/report.ts shows them). */
/** Issue 16's targets for `ratios`: time ratios at most, speed ratios at least. */
export const TARGETS = {
  train_step: { what: "training step, Stepwise time / PyTorch time", at_most: 1.5 },
  sampling: { what: "sampling with the KV cache, Stepwise tokens/s / PyTorch tokens/s", at_least: 1 },
  rl_iteration_vs_trl: { what: "one quickstart RL iteration, Stepwise time / TRL GRPOTrainer time", below: 1 },
} as const;

/** Issue 16: the Qwen3-0.6B-shaped model decoding at batch 1, at least twice the 3.5 tokens/s measured before. */
export const QWEN3_DECODE_TARGET = 7;

export function targetMet(key: keyof typeof TARGETS, ratio: number): boolean {
  const t = TARGETS[key] as { at_most?: number; at_least?: number; below?: number };
  if (t.at_most !== undefined) return ratio <= t.at_most;
  if (t.at_least !== undefined) return ratio >= t.at_least;
  return ratio < t.below!;
}
