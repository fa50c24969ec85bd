/**
 * Method comparison across runs: one summary per run, then mean ± std per method over its
 * seeds (runs sharing a name), as an arquero table, CSV and Markdown. `stepwise compare` writes
 * these; the notebooks show them.
 */
import * as aq from "arquero";
import type { ColumnTable } from "arquero";
import { METRIC } from "../run/types.js";
import { type Run, loadRun } from "./tables.js";

/** What each run contributes to the comparison. NaN where the run did not record it. */
export interface RunSummary {
  method: string;
  dir: string;
  seed: number;
  /** final evaluation's accuracy (else the last training row's reward/accuracy) */
  accuracy: number;
  /** final evaluation's mean_tokens (else the last training row's completions/mean_length) */
  mean_tokens: number;
  /** final evaluation's mean_steps (else the last training row's completions/mean_steps) */
  mean_steps: number;
  /** final evaluation's redundant_step_frac */
  redundant_step_frac: number;
  /** the last training row's entropy */
  final_entropy: number;
  /** seconds from run start to its last metrics row */
  wall_time: number;
  /** response tokens sampled over all recorded RL iterations (rollouts/) */
  tokens_sampled: number;
}

/** The compared quantities, their column headings and the digits shown. */
export const COMPARE_COLUMNS = [
  { key: "accuracy", heading: "accuracy", digits: 3 },
  { key: "mean_tokens", heading: "mean tokens", digits: 1 },
  { key: "mean_steps", heading: "mean steps", digits: 2 },
  { key: "redundant_step_frac", heading: "redundant-step fraction", digits: 3 },
  { key: "final_entropy", heading: "final entropy", digits: 3 },
  { key: "wall_time", heading: "wall time (s)", digits: 1 },
  { key: "tokens_sampled", heading: "tokens sampled", digits: 0 },
] as const satisfies readonly { key: keyof RunSummary; heading: string; digits: number }[];

export interface CompareResult {
  /** one summary per run, in the order given */
  runs: RunSummary[];
  /** one row per method (first-appearance order): method, seeds, then KEY_mean and KEY_std per quantity */
  table: ColumnTable;
  csv: string;
  markdown: string;
}

const last = <T>(xs: T[]): T | undefined => xs[xs.length - 1];
const numOr = (v: unknown, fallback: unknown = NaN): number =>
  typeof v === "number" && Number.isFinite(v) ? v : typeof fallback === "number" && Number.isFinite(fallback) ? fallback : NaN;

/**
 * A run's summary for the comparison.
 * @example summarizeRun(await loadRun("runs/sspo-s1"), "sspo").accuracy
 */
export function summarizeRun(run: Run, method: string = run.info.name): RunSummary {
  const ev = run.finalEval();
  const train = run.trainRows().objects() as Record<string, unknown>[];
  const lastTrain = last(train) ?? {};
  const lastWith = (key: string) => last(train.filter((r) => typeof r[key] === "number"))?.[key];
  const times = (run.metrics.array("time") as unknown[]).filter((t): t is number => typeof t === "number");
  const tokens = run.rollouts.numRows() > 0 ? (run.rollouts.array("tokens") as number[]).reduce((s, x) => s + x, 0) : NaN;
  return {
    method,
    dir: run.dir,
    seed: run.info.seed,
    accuracy: numOr(ev?.accuracy, lastTrain[METRIC.accuracy]),
    mean_tokens: numOr(ev?.mean_tokens, lastTrain[METRIC.meanTokens]),
    mean_steps: numOr(ev?.mean_steps, lastTrain[METRIC.meanSteps]),
    redundant_step_frac: numOr(ev?.redundant_step_frac),
    final_entropy: numOr(lastWith(METRIC.entropy)),
    wall_time: times.length ? Math.max(...times) : NaN,
    tokens_sampled: tokens,
  };
}

/** Mean and sample standard deviation (n − 1; NaN for a single value), NaNs left out. */
export function meanStd(xs: number[]): { mean: number; std: number; n: number } {
  const v = xs.filter((x) => Number.isFinite(x));
  const n = v.length;
  if (n === 0) return { mean: NaN, std: NaN, n };
  const mean = v.reduce((s, x) => s + x, 0) / n;
  const std = n > 1 ? Math.sqrt(v.reduce((s, x) => s + (x - mean) ** 2, 0) / (n - 1)) : NaN;
  return { mean, std, n };
}

/**
 * The comparison of per-run summaries: mean ± std per method over its runs.
 * @example compareSummaries([a, b, c]).markdown
 */
export function compareSummaries(runs: RunSummary[]): CompareResult {
  const methods = [...new Set(runs.map((r) => r.method))];
  const cols: Record<string, unknown[]> = { method: methods, seeds: methods.map((m) => runs.filter((r) => r.method === m).length) };
  for (const { key } of COMPARE_COLUMNS) {
    const stats = methods.map((m) => meanStd(runs.filter((r) => r.method === m).map((r) => r[key])));
    cols[`${key}_mean`] = stats.map((s) => s.mean);
    cols[`${key}_std`] = stats.map((s) => s.std);
  }
  const table = aq.table(cols);
  return { runs, table, csv: toCsv(table), markdown: toMarkdown(table) };
}

/**
 * Loads each run directory and compares them; `names[i]` is the method of `dirs[i]`, and runs
 * that share a name are seeds of one method.
 * @example
 *   const { markdown, csv } = await compareRuns(["runs/grpo-s1", "runs/grpo-s2", "runs/sspo-s1"], ["grpo", "grpo", "sspo"]);
 */
export async function compareRuns(dirs: string[], names: string[] = []): Promise<CompareResult> {
  if (names.length !== 0 && names.length !== dirs.length) {
    throw new Error(`compareRuns: ${dirs.length} run directories but ${names.length} names (give one name per directory, or none)`);
  }
  const summaries: RunSummary[] = [];
  for (let i = 0; i < dirs.length; i++) {
    const run = await loadRun(dirs[i]!);
    summaries.push(summarizeRun(run, names[i] ?? run.info.name));
  }
  return compareSummaries(summaries);
}

function csvCell(v: unknown): string {
  if (typeof v === "number") return Number.isFinite(v) ? String(v) : "";
  const s = String(v ?? "");
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function toCsv(t: ColumnTable): string {
  const names = t.columnNames();
  const rows = t.objects() as Record<string, unknown>[];
  return [names.join(","), ...rows.map((r) => names.map((n) => csvCell(r[n])).join(","))].join("\n") + "\n";
}

/** "0.620 ± 0.030", "0.620" for a single seed, "—" when not recorded. */
export function formatMeanStd(mean: number, std: number, digits: number): string {
  if (!Number.isFinite(mean)) return "—";
  return Number.isFinite(std) ? `${mean.toFixed(digits)} ± ${std.toFixed(digits)}` : mean.toFixed(digits);
}

function toMarkdown(t: ColumnTable): string {
  const rows = t.objects() as Record<string, unknown>[];
  const head = ["method", "seeds", ...COMPARE_COLUMNS.map((c) => c.heading)];
  const lines = [`| ${head.join(" | ")} |`, `|${head.map((_, i) => (i === 0 ? ":--" : "--:")).join("|")}|`];
  for (const r of rows) {
    const cells = [String(r.method), String(r.seeds)];
    for (const c of COMPARE_COLUMNS) cells.push(formatMeanStd(r[`${c.key}_mean`] as number, r[`${c.key}_std`] as number, c.digits));
    lines.push(`| ${cells.join(" | ")} |`);
  }
  return lines.join("\n") + "\n";
}
