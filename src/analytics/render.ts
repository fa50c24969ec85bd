/**
 * Rendering: vega-lite spec → vega spec (vega-lite 5 `compile`) → SVG (a headless vega View,
 * renderer "none", `toSVG`) → PNG (@resvg/resvg-js, with DejaVu Sans loaded from its file and
 * no system font scan, so the pixels do not depend on what fonts a machine has).
 * Plus the MIME bundles a notebook shows: charts as vega-lite + PNG + SVG (never text/html: it
 * outranks the vega-lite renderer), assembled by src/display; arquero tables as HTML + plain text.
 */
import { existsSync } from "node:fs";
import { Resvg } from "@resvg/resvg-js";
import type { ColumnTable } from "arquero";
import * as vega from "vega";
import * as vl from "vega-lite";
import { assembleChartBundle, chartTitle } from "../display/bundles.js";
import type { ChartSpec } from "./charts.js";
import { type TableFormatOptions, tableToHTML, tableToText } from "./format.js";

/** Where Debian's fonts-dejavu-core puts the font. */
export const DEJAVU_SANS = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

export interface ChartBundle {
  "application/vnd.vegalite.v5+json": ChartSpec;
  /** base64 PNG */
  "image/png": string;
  /** a one-line stand-in for text-only frontends (nbconvert to text, terminals) */
  "text/plain": string;
}

export interface TableBundle {
  "text/html": string;
  "text/plain": string;
}

export interface PngOptions {
  /** device pixels per SVG pixel (default 1: the PNG has the SVG's width and height) */
  scale?: number;
  /** font files for resvg (default: DejaVu Sans) */
  fontFiles?: string[];
}

/** Compiles a vega-lite 5 spec to a vega spec; throws vega-lite's message when it does not compile. */
export function compileSpec(spec: ChartSpec): vega.Spec {
  return vl.compile(spec).spec;
}

/**
 * SVG text of a chart.
 * @example const svg = await chartToSVG(entropyKlChart(run.metrics));
 */
export async function chartToSVG(spec: ChartSpec): Promise<string> {
  const view = new vega.View(vega.parse(compileSpec(spec)), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Width and height an SVG declares on its root element. */
export function svgSize(svg: string): { width: number; height: number } {
  const root = /<svg\b[^>]*>/.exec(svg)?.[0] ?? "";
  const width = Number(/\swidth="([\d.]+)"/.exec(root)?.[1]);
  const height = Number(/\sheight="([\d.]+)"/.exec(root)?.[1]);
  return { width, height };
}

/**
 * PNG bytes of an SVG, rendered by resvg with DejaVu Sans as every sans-serif font.
 * @example writeFileSync("chart.png", svgToPNG(await chartToSVG(spec), { scale: 2 }))
 */
export function svgToPNG(svg: string, options: PngOptions = {}): Buffer {
  const fontFiles = (options.fontFiles ?? [DEJAVU_SANS]).filter((f) => existsSync(f));
  const scale = options.scale ?? 1;
  const resvg = new Resvg(svg, {
    fitTo: scale === 1 ? { mode: "original" } : { mode: "zoom", value: scale },
    background: "white",
    font: {
      fontFiles,
      loadSystemFonts: false,
      defaultFontFamily: "DejaVu Sans",
      sansSerifFamily: "DejaVu Sans",
    },
  });
  return Buffer.from(resvg.render().asPng());
}

/**
 * PNG bytes of a chart.
 * @example writeFileSync("acc.png", await chartToPNG(accuracyTokensChart(run.metrics)))
 */
export async function chartToPNG(spec: ChartSpec, options: PngOptions = {}): Promise<Buffer> {
  return svgToPNG(await chartToSVG(spec), options);
}

/**
 * Renders a chart to the MIME bundle a notebook shows: vega-lite 5 JSON (interactive in JupyterLab,
 * Jupyter Notebook 7 and VS Code), PNG (what static viewers, nbconvert's HTML and code hosts show),
 * and a text/plain stand-in. No SVG: nbconvert's HTML export ranks SVG above PNG, and Debian's
 * nbconvert sanitises an SVG output to nothing, so a bundle with SVG exports as a blank chart.
 * No text/html: frontends rank it above vega-lite. Renders here, assembles with src/display's
 * `assembleChartBundle` (which also refuses a non-v5 `$schema`).
 * @example display(await renderChartBundle(stepValueChart(run.steps)))   // display from src/display
 */
export async function renderChartBundle(spec: ChartSpec, options: PngOptions = {}): Promise<ChartBundle> {
  const png = (await chartToPNG(spec, options)).toString("base64");
  // all three keys are set: png is non-empty, text is given
  return assembleChartBundle({ spec, png, text: `<chart: ${chartTitle(spec)}>` }) as unknown as ChartBundle;
}

/**
 * The MIME bundle of an arquero table: HTML with a size footer, and a plain-text fallback.
 * (Plain rows of cells: src/display `rowsTableBundle`.)
 * @example columnTableBundle(run.evalRows(), { limit: 50 })
 */
export function columnTableBundle(t: ColumnTable, options: TableFormatOptions = {}): TableBundle {
  return { "text/html": tableToHTML(t, options), "text/plain": tableToText(t, options) };
}

/** Width and height from a PNG's IHDR chunk (bytes 16–23, big-endian). */
export function pngSize(png: Uint8Array): { width: number; height: number } {
  const sig = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (png.length < 24 || sig.some((b, i) => png[i] !== b)) throw new Error("not a PNG (bad signature)");
  const dv = new DataView(png.buffer, png.byteOffset, png.byteLength);
  if (String.fromCharCode(...png.subarray(12, 16)) !== "IHDR") throw new Error("not a PNG (first chunk is not IHDR)");
  return { width: dv.getUint32(16), height: dv.getUint32(20) };
}
