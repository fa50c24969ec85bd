/**
 * Throttling for live displays: at most one update per interval, always the latest value, and a
 * final flush so the last state is never lost. Progress updates ≤ 10 Hz, charts ≈ 1 Hz (issue 5):
 * a chart costs 50–100 ms to render, and frontends slow down under a flood of updates.
 */

export const PROGRESS_INTERVAL_MS = 100; // ≤ 10 Hz
export const CHART_INTERVAL_MS = 1000; // ≈ 1 Hz

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Date.now and unref'd timers. */
export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref?.(); // a pending update must not keep the process alive
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

export interface Throttled<T> {
  /** Offers a value: sent now if the interval has passed, else kept as the pending one. */
  push(value: T): void;
  /** Sends the pending value now, if any. */
  flush(): void;
  /** Drops the pending value. */
  cancel(): void;
}

/**
 * @example
 *   const progress = throttle((p: number) => updateDisplay(id, bar(p)), PROGRESS_INTERVAL_MS);
 *   for (...) progress.push(done / total);
 *   progress.flush();
 */
export function throttle<T>(send: (value: T) => void, intervalMs: number, clock: Clock = realClock): Throttled<T> {
  let last = -Infinity;
  let pending: { value: T } | null = null;
  let timer: unknown = null;

  const fire = () => {
    timer = null;
    if (!pending) return;
    const { value } = pending;
    pending = null;
    last = clock.now();
    send(value);
  };

  return {
    push(value) {
      pending = { value };
      const wait = last + intervalMs - clock.now();
      if (wait <= 0) {
        if (timer !== null) clock.clearTimeout(timer);
        fire();
      } else if (timer === null) {
        timer = clock.setTimeout(fire, wait);
      }
    },
    flush() {
      if (timer !== null) clock.clearTimeout(timer);
      fire();
    },
    cancel() {
      if (timer !== null) clock.clearTimeout(timer);
      timer = null;
      pending = null;
    },
  };
}
