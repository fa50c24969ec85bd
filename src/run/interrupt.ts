/**
 * Interrupts for library code running in a kernel cell.
 *
 * The kernel runs cells in its own process; SIGINT (kernelspec `interrupt_mode: "signal"`) or an
 * `interrupt_request` aborts the running cell's AbortSignal and rejects the cell's await. Long
 * library work (a training run) must look at the signal at every safe point (each iteration,
 * each rollout batch), stop there, keep its checkpoint, and resolve or throw `InterruptedError`:
 *
 * @example
 *   import { currentAbortSignal, throwIfInterrupted } from "../run/interrupt.js";
 *   const signal = opts.signal ?? currentAbortSignal();
 *   for (let it = 0; it < n; it++) {
 *     if (signal.aborted) { await saveCheckpoint(); return { status: "interrupted" }; }
 *     await trainIteration(); // must yield to the event loop: await something each iteration
 *   }
 *
 * Outside a kernel `currentAbortSignal()` returns a signal that never aborts, so the same code
 * runs in the CLI and tests unchanged. The state lives on `globalThis` under a registered symbol,
 * because a cell's `require("stepwise")` and the kernel's own `import` may load two instances of
 * this module (CommonJS and ESM); both must see the same signal.
 */

export class InterruptedError extends Error {
  constructor(message = "interrupted") {
    super(message);
    this.name = "InterruptedError";
  }
}

interface InterruptState {
  controller: AbortController | null;
  listeners: Set<() => void>;
}

const KEY = Symbol.for("stepwise.kernel.interrupt");

function state(): InterruptState {
  const g = globalThis as unknown as Record<symbol, InterruptState | undefined>;
  return (g[KEY] ??= { controller: null, listeners: new Set() });
}

const NEVER = new AbortController().signal;

/** The AbortSignal of the cell now running (a signal that never aborts outside a kernel cell). */
export function currentAbortSignal(): AbortSignal {
  return state().controller?.signal ?? NEVER;
}

/** Throws `InterruptedError` when the running cell has been interrupted. */
export function throwIfInterrupted(): void {
  if (currentAbortSignal().aborted) throw new InterruptedError();
}

/** Calls `fn` on each interrupt; returns the unsubscribe function. */
export function onInterrupt(fn: () => void): () => void {
  state().listeners.add(fn);
  return () => state().listeners.delete(fn);
}

/** Kernel side: a fresh signal for the cell about to run. */
export function beginCell(): AbortSignal {
  const c = new AbortController();
  state().controller = c;
  return c.signal;
}

/** Kernel side: the cell is done; later library calls see the never-aborting signal again. */
export function endCell(): void {
  state().controller = null;
}

/** Kernel side: aborts the running cell's signal and tells the listeners. */
export function interruptCell(): void {
  const s = state();
  s.controller?.abort(new InterruptedError());
  for (const fn of [...s.listeners]) {
    try {
      fn();
    } catch {
      // a listener's failure must not stop the interrupt
    }
  }
}
