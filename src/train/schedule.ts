/**
 * Learning-rate schedule: linear warm-up, then cosine decay to a floor
 * (Loshchilov & Hutter, "SGDR", ICLR 2017, eq. 5 without restarts; the warm-up as in Goyal et al. 2017).
 */

export interface CosineScheduleOptions {
  /** peak learning rate, reached at the end of warm-up */
  peakLr: number;
  /** steps of linear warm-up; 0 starts at the peak */
  warmupSteps: number;
  /** step at which the cosine reaches the floor (the whole run's length, usually) */
  totalSteps: number;
  /** floor = peakLr * minLrRatio; 0.1 as in Chinchilla/Llama */
  minLrRatio?: number;
}

/** A schedule maps the optimizer step (0-based: the step about to be taken) to a learning rate. */
export type LrSchedule = (step: number) => number;

/**
 * @example
 *   const lr = cosineSchedule({ peakLr: 1e-3, warmupSteps: 10, totalSteps: 100 });
 *   lr(0)   // 1e-4   (1/10 of the peak: the first step already moves)
 *   lr(9)   // 1e-3   (peak)
 *   lr(100) // 1e-4   (floor)
 */
export function cosineSchedule(opts: CosineScheduleOptions): LrSchedule {
  const { peakLr, warmupSteps, totalSteps } = opts;
  const minLr = peakLr * (opts.minLrRatio ?? 0.1);
  if (!(peakLr >= 0)) throw new Error(`cosineSchedule: peakLr must be >= 0, got ${peakLr}`);
  if (!(warmupSteps >= 0) || !Number.isInteger(warmupSteps)) throw new Error(`cosineSchedule: warmupSteps must be a non-negative integer, got ${warmupSteps}`);
  if (!(totalSteps >= warmupSteps)) throw new Error(`cosineSchedule: totalSteps (${totalSteps}) must be >= warmupSteps (${warmupSteps})`);
  return (step: number): number => {
    // 1) linear warm-up: step s of W gets peak * (s + 1) / W, so step W - 1 is at the peak
    if (step < warmupSteps) return (peakLr * (step + 1)) / warmupSteps;
    // 2) after the end: hold the floor
    if (step >= totalSteps) return minLr;
    // 3) cosine from the peak (step W) down to the floor (step T):
    //    lr = min + (peak - min) * (1 + cos(pi * (s - W) / (T - W))) / 2     (SGDR eq. 5)
    const progress = (step - warmupSteps) / (totalSteps - warmupSteps);
    return minLr + ((peakLr - minLr) * (1 + Math.cos(Math.PI * progress))) / 2;
  };
}

/** A constant learning rate (after an optional linear warm-up). */
export function constantSchedule(lr: number, warmupSteps = 0): LrSchedule {
  return (step: number) => (step < warmupSteps ? (lr * (step + 1)) / warmupSteps : lr);
}
