/** Builders of the MIME bundles the conventions in types.ts ask for. */
import type { MimeBundle } from "./types.js";

export const VEGALITE_MIME = "application/vnd.vegalite.v5+json";
export const VEGALITE_V5_SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json";

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

/**
 * A chart bundle: vega-lite v5 JSON, optional PNG bytes and SVG text, and a text fallback.
 * Refuses a spec with another major version's `$schema` (no frontend renders v6).
 */
export function chartBundle(opts: {
  spec: Record<string, unknown>;
  png?: Uint8Array;
  svg?: string;
  text?: string;
}): MimeBundle {
  const schema = opts.spec.$schema;
  if (schema !== undefined && !/\/vega-lite\/v5(\.\d+)*(\.\d+)?\.json$/.test(String(schema))) {
    throw new Error(`chart spec has $schema ${String(schema)}: notebooks render vega-lite v5 only; use ${VEGALITE_V5_SCHEMA}`);
  }
  const bundle: MimeBundle = { [VEGALITE_MIME]: { $schema: VEGALITE_V5_SCHEMA, ...opts.spec } };
  if (opts.png) bundle["image/png"] = opts.png;
  if (opts.svg) bundle["image/svg+xml"] = opts.svg;
  const title = typeof opts.spec.title === "string" ? opts.spec.title : "chart";
  bundle["text/plain"] = opts.text ?? `<${title}: vega-lite chart>`;
  return bundle;
}

export type Cell = string | number | boolean | null | undefined;

function formatCell(v: Cell): string {
  if (v === null || v === undefined) return "";
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : v.toPrecision(4).replace(/\.?0+(e|$)/, "$1");
  return String(v);
}

/**
 * A table as HTML (at most `limit` rows, with an "N rows × M columns" footer) and as aligned
 * plain text.
 */
export function tableBundle(
  columns: string[],
  rows: Cell[][],
  opts: { limit?: number; caption?: string } = {},
): MimeBundle {
  const limit = opts.limit ?? 20;
  const shown = rows.slice(0, limit);
  const cells = shown.map((r) => columns.map((_, j) => formatCell(r[j])));
  const footer = `${rows.length} row${rows.length === 1 ? "" : "s"} × ${columns.length} column${columns.length === 1 ? "" : "s"}`;
  const more = rows.length > shown.length ? ` (first ${shown.length} shown)` : "";

  const th = columns.map((c) => `<th>${escapeHtml(c)}</th>`).join("");
  const trs = cells.map((r) => `<tr>${r.map((c) => `<td>${escapeHtml(c)}</td>`).join("")}</tr>`).join("\n");
  const cap = opts.caption ? `<caption>${escapeHtml(opts.caption)}</caption>` : "";
  const html =
    `<table class="stepwise-table">${cap}<thead><tr>${th}</tr></thead>\n<tbody>\n${trs}\n</tbody></table>` +
    `<p style="font-size:smaller">${escapeHtml(footer + more)}</p>`;

  const widths = columns.map((c, j) => Math.max(c.length, ...cells.map((r) => r[j]!.length)));
  const line = (r: string[]) => r.map((c, j) => c.padEnd(widths[j]!)).join("  ").trimEnd();
  const text = [
    ...(opts.caption ? [opts.caption] : []),
    line(columns),
    line(widths.map((w) => "-".repeat(w))),
    ...cells.map(line),
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
