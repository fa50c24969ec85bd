/**
 * display / updateDisplay / clearOutput: send MIME bundles to the running notebook, in the
 * Stepwise kernel or stock tslab (see sink.ts). Outside a kernel the text/plain part is printed,
 * so library code can call these unconditionally.
 */
import { randomBytes } from "node:crypto";
import { toWire } from "./bundles.js";
import { currentSink } from "./sink.js";
import type { DisplayOptions, KernelKind, MimeBundle } from "./types.js";

/** Which kernel this code runs in. */
export function kernelKind(): KernelKind {
  return currentSink()?.kind ?? "none";
}

export function newDisplayId(): string {
  return randomBytes(8).toString("hex");
}

function printText(bundle: MimeBundle): void {
  const text = bundle["text/plain"];
  if (typeof text === "string") process.stdout.write(text.endsWith("\n") ? text : text + "\n");
}

/**
 * Shows a bundle; returns its display id when `opts.id` asked for one (pass `true` for a fresh id).
 *
 * @example
 *   const id = display(rowsTableBundle(["a"], [[1]]), { id: true });
 *   updateDisplay(id!, rowsTableBundle(["a"], [[2]]));
 */
export function display(bundle: MimeBundle, opts: DisplayOptions = {}): string | undefined {
  const id = opts.id === true ? newDisplayId() : opts.id;
  const sink = currentSink();
  if (!sink) {
    printText(bundle);
    return id;
  }
  sink.send("display_data", {
    data: toWire(bundle),
    metadata: opts.metadata ?? {},
    transient: id === undefined ? {} : { display_id: id },
  });
  return id;
}

/** Replaces the contents of every output shown with display id `id`. */
export function updateDisplay(id: string, bundle: MimeBundle, metadata: Record<string, unknown> = {}): void {
  const sink = currentSink();
  if (!sink) return; // nothing to update outside a kernel; the final state is printed by its owner
  sink.send("update_display_data", { data: toWire(bundle), metadata, transient: { display_id: id } });
}

/** Clears the cell's output (`wait`: when the next output arrives). */
export function clearOutput(wait = false): void {
  currentSink()?.send("clear_output", { wait });
}
