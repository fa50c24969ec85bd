/**
 * Showing analytics in a notebook: charts and tables as the MIME bundles of render.ts, sent
 * through the shared display layer (src/display), which works in the Stepwise kernel, in stock
 * tslab, and outside any kernel (it prints the text/plain part).
 */
import type { ColumnTable } from "arquero";
import { display, updateDisplay } from "../display/index.js";
import type { ChartSpec } from "./charts.js";
import type { TableFormatOptions } from "./format.js";
import { type PngOptions, columnTableBundle, renderChartBundle } from "./render.js";

/** Symbol a value carries to say how the kernel shows it as a cell's result (kernel/kernel.ts). */
const MIME_BUNDLE = Symbol.for("stepwise.mimeBundle");

/**
 * Renders a chart and shows it; returns the display id when `id` asks for one.
 * @example const id = await showChart(entropyKlChart(run.metrics), { id: true });
 */
export async function showChart(spec: ChartSpec, options: PngOptions & { id?: string | true } = {}): Promise<string | undefined> {
  return display({ ...(await renderChartBundle(spec, options)) }, { id: options.id });
}

/**
 * Replaces a chart shown with `showChart(…, { id })` (live displays; ≈ 1 Hz is plenty).
 * @example await updateChart(id!, entropyKlChart(run.metrics));
 */
export async function updateChart(id: string, spec: ChartSpec, options: PngOptions = {}): Promise<void> {
  updateDisplay(id, { ...(await renderChartBundle(spec, options)) });
}

/**
 * Shows a table as HTML (with its size footer) and text.
 * @example showTable(run.evalRows(), { limit: 50 })
 */
export function showTable(t: ColumnTable, options: TableFormatOptions & { id?: string | true } = {}): string | undefined {
  return display({ ...columnTableBundle(t, options) }, { id: options.id });
}

/**
 * A table that shows itself as HTML + text when it is a cell's last expression in the Stepwise
 * kernel (and as its text elsewhere).
 * @example rich(run.metrics, { limit: 100 })   // last line of a cell
 */
export function rich(t: ColumnTable, options: TableFormatOptions = {}): { table: ColumnTable; toString(): string } {
  const bundle = () => ({ ...columnTableBundle(t, options) });
  return {
    table: t,
    [MIME_BUNDLE]: bundle,
    toMimeBundle: bundle,
    toString: () => bundle()["text/plain"],
  } as { table: ColumnTable; toString(): string };
}
