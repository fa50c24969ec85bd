/** Builders of the MIME bundles the conventions in types.ts ask for. */
import type { MimeBundle } from "./types.js";

export const VEGALITE_MIME = "application/vnd.vegalite.v5+json";
export const VEGALITE_V5_SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json";

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

/** A chart's title as text: a string title, a `{ text }` title's text, else "chart". */
export function chartTitle(spec: object): string {
  const t = (spec as { title?: unknown }).title;
  if (typeof t === "string") return t;
  if (t && typeof t === "object" && typeof (t as { text?: unknown }).text === "string") return (t as { text: string }).text;
  return "chart";
}

/**
 * Assembles a chart bundle from parts already rendered: vega-lite v5 JSON, optional PNG (bytes, or
 * base64 text as analytics' renderer makes it), and a text fallback (no SVG: types.ts says why). Renders nothing
 * (src/analytics/render.ts `renderChartBundle` renders a spec and then calls this).
 * Refuses a spec with another major version's `$schema` (no frontend renders v6).
 */
export function assembleChartBundle(parts: {
  /** a vega-lite spec (any object: analytics' typed specs and plain literals alike) */
  spec: object;
  png?: Uint8Array | string;
  text?: string;
}): MimeBundle {
  const schema = (parts.spec as { $schema?: unknown }).$schema;
  if (schema !== undefined && !/\/vega-lite\/v5(\.\d+)*(\.\d+)?\.json$/.test(String(schema))) {
    throw new Error(`chart spec has $schema ${String(schema)}: notebooks render vega-lite v5 only; use ${VEGALITE_V5_SCHEMA}`);
  }
  const bundle: MimeBundle = { [VEGALITE_MIME]: { $schema: VEGALITE_V5_SCHEMA, ...parts.spec } };
  if (parts.png) bundle["image/png"] = parts.png;
  bundle["text/plain"] = parts.text ?? `<${chartTitle(parts.spec)}: vega-lite chart>`;
  return bundle;
}

export type Cell = string | number | boolean | null | undefined;

function formatCell(v: Cell): string {
  if (v === null || v === undefined) return "";
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : v.toPrecision(4).replace(/\.?0+(e|$)/, "$1");
  return String(v);
}

/** "5 rows × 3 columns": the size footer every table bundle ends with. */
export function tableSize(rows: number, columns: number): string {
  return `${rows} row${rows === 1 ? "" : "s"} × ${columns} column${columns === 1 ? "" : "s"}`;
}

/**
 * Plain-text lines of a table: every column padded to its widest cell, two spaces apart, trailing
 * blanks trimmed; `rule` adds a line of dashes under the header.
 */
export function alignColumns(header: string[], rows: string[][], opts: { rule?: boolean } = {}): string[] {
  const widths = header.map((c, j) => Math.max(c.length, ...rows.map((r) => r[j]!.length)));
  const line = (r: string[]) => r.map((c, j) => c.padEnd(widths[j]!)).join("  ").trimEnd();
  return [line(header), ...(opts.rule ? [line(widths.map((w) => "-".repeat(w)))] : []), ...rows.map(line)];
}

/**
 * A table of plain rows as HTML (at most `limit` rows, with an "N rows × M columns" footer) and
 * as aligned plain text. (An arquero table: src/analytics/render.ts `columnTableBundle`.)
 */
export function rowsTableBundle(
  columns: string[],
  rows: Cell[][],
  opts: { limit?: number; caption?: string } = {},
): MimeBundle {
  const limit = opts.limit ?? 20;
  const shown = rows.slice(0, limit);
  const cells = shown.map((r) => columns.map((_, j) => formatCell(r[j])));
  const footer = tableSize(rows.length, columns.length);
  const more = rows.length > shown.length ? ` (first ${shown.length} shown)` : "";

  const th = columns.map((c) => `<th>${escapeHtml(c)}</th>`).join("");
  const trs = cells.map((r) => `<tr>${r.map((c) => `<td>${escapeHtml(c)}</td>`).join("")}</tr>`).join("\n");
  const cap = opts.caption ? `<caption>${escapeHtml(opts.caption)}</caption>` : "";
  // a wide table scrolls inside its box instead of overflowing the notebook cell
  const html =
    `<div style="overflow-x: auto; max-width: 100%;"><table class="stepwise-table">${cap}<thead><tr>${th}</tr></thead>\n<tbody>\n${trs}\n</tbody></table></div>` +
    `<p style="font-size:smaller">${escapeHtml(footer + more)}</p>`;

  const text = [
    ...(opts.caption ? [opts.caption] : []),
    ...alignColumns(columns, cells, { rule: true }),
    footer + more,
  ].join("\n");
  return { "text/html": html, "text/plain": text };
}

/** Wire form of a bundle: bytes become base64 strings, other values pass through. */
export function toWire(bundle: MimeBundle): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [mime, v] of Object.entries(bundle)) {
    out[mime] = v instanceof Uint8Array ? Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("base64") : v;
  }
  return out;
}
