/**
 * Finds where display messages go. The Stepwise kernel registers a sink on globalThis; in stock
 * tslab, its protocol module (tslab/dist/jupyter.js, already loaded by the running kernel) holds
 * `lastWriteDisplayData`, which sends a whole bundle at once (tslab's own `display.raw` sends one
 * MIME type per message, so it cannot carry a chart's fallbacks). Anywhere else there is no sink.
 */
import { createRequire } from "node:module";
import type { DisplaySink } from "./types.js";

export const SINK_KEY = Symbol.for("stepwise.kernel.display");

type TslabWrite = (data: Record<string, unknown>, update: boolean) => void;

/** The Stepwise kernel calls this at start. */
export function registerSink(sink: DisplaySink | null): void {
  (globalThis as unknown as Record<symbol, unknown>)[SINK_KEY] = sink ?? undefined;
}

function tslabSink(): DisplaySink | null {
  let cache: Record<string, { exports?: { lastWriteDisplayData?: TslabWrite | null } }>;
  try {
    cache = createRequire(import.meta.url).cache as typeof cache;
  } catch {
    return null;
  }
  for (const [path, mod] of Object.entries(cache)) {
    if (!/[\\/]tslab[\\/]dist[\\/]jupyter\.js$/.test(path)) continue;
    const write = mod?.exports?.lastWriteDisplayData;
    if (typeof write !== "function") continue;
    return {
      kind: "tslab",
      send(msgType, content) {
        // tslab has no clear_output; an empty update is the closest it can do
        if (msgType === "clear_output") return;
        write(content, msgType === "update_display_data");
      },
    };
  }
  return null;
}

/** The sink of the running kernel, or null outside a kernel. */
export function currentSink(): DisplaySink | null {
  const own = (globalThis as unknown as Record<symbol, DisplaySink | undefined>)[SINK_KEY];
  return own ?? tslabSink();
}
