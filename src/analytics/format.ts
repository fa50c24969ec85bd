/**
 * Tables as HTML and plain text. arquero's `toHTML` stops at 100 rows without saying so; these
 * always pass a limit and end with an "N rows × M columns" footer, so a cut table says it is cut.
 */
import type { ColumnTable } from "arquero";
import { alignColumns, escapeHtml, tableSize } from "../display/bundles.js";

export interface TableFormatOptions {
  /** most rows shown (default 20) */
  limit?: number;
  /** digits after the point for non-integer numbers (default 4) */
  digits?: number;
}

const DEFAULT_LIMIT = 20;

/** "24 rows × 11 columns" (and "showing the first 20" when cut). */
export function tableFooter(t: ColumnTable, limit: number): string {
  const n = t.numRows();
  const dims = tableSize(n, t.numCols());
  return n > limit ? `${dims} (showing the first ${limit})` : dims;
}

function formatValue(v: unknown, digits: number): string {
  if (v === null || v === undefined) return "";
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : Number.isFinite(v) ? v.toFixed(digits).replace(/\.?0+$/, "") : String(v);
  if (v instanceof Date) return v.toISOString();
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

/**
 * HTML table of at most `limit` rows with a footer giving the full size.
 * @example tableToHTML(run.metrics, { limit: 50 }) // "<table>…</table><p …>5 rows × 23 columns</p>"
 */
export function tableToHTML(t: ColumnTable, options: TableFormatOptions = {}): string {
  const limit = options.limit ?? DEFAULT_LIMIT;
  const digits = options.digits ?? 4;
  // arquero escapes cell text but not column names: escape those by renaming
  const safe = t.rename(Object.fromEntries(t.columnNames().map((c) => [c, escapeHtml(c)])));
  const html = safe.toHTML({
    limit,
    format: Object.fromEntries(safe.columnNames().map((c) => [c, (v: unknown) => formatValue(v, digits)])),
  });
  // a wide table scrolls inside its box instead of overflowing the page or the notebook cell
  return `<div class="stepwise-table" style="overflow-x: auto; max-width: 100%;">${html}<p style="font-size: 0.85em; color: #666; margin: 0.3em 0;">${escapeHtml(tableFooter(t, limit))}</p></div>`;
}

/**
 * Fixed-width plain text of at most `limit` rows, with the same footer: the `text/plain`
 * fallback of a table.
 * @example tableToText(run.evalRows().select("after", "accuracy"))
 * // after  accuracy
 * // sft    0.5
 * // rl     0.75
 * // 2 rows × 2 columns
 */
export function tableToText(t: ColumnTable, options: TableFormatOptions = {}): string {
  const limit = options.limit ?? DEFAULT_LIMIT;
  const digits = options.digits ?? 4;
  const names = t.columnNames();
  const rows = (t.objects({ limit }) as Record<string, unknown>[]).map((r) =>
    names.map((c) => formatValue(r[c], digits).replace(/\s+/g, " ").slice(0, 40)),
  );
  return [...alignColumns(names, rows), tableFooter(t, limit)].join("\n");
}
