/**
 * Method comparison across runs: one summary per run, then per method (runs sharing a name are
 * seeds) the mean and 95% confidence interval over seeds, and the paired difference against a
 * baseline method on the same seeds (src/analytics/stats.ts), as an arquero table, CSV and
 * Markdown. `stepwise compare` writes these; the notebooks show them.
 */
import * as aq from "arquero";
import type { ColumnTable } from "arquero";
import { METRIC } from "../run/types.js";
import { type CreditStepRecord, creditByIteration } from "./credit.js";
import { type MeanCi, type PairedDifference, meanCi95, pairedDifference } from "./stats.js";
import { type Run, evalRows, loadRun } from "./tables.js";

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
  /** final evaluation's redundant-step fraction (redundant_step_frac) */
  redundant_fraction: number;
  /** credit/auc_redundant of the advantage, mean over the run's RL iterations (src/analytics/credit.ts) */
  credit_auc_redundant: number;
  /** credit/auc_slip, mean over the run's RL iterations */
  credit_auc_slip: number;
  /** credit/gap_redundant, mean over the run's RL iterations */
  credit_gap_redundant: number;
  /** the last training row's entropy */
  final_entropy: number;
  /** seconds from run start to its last metrics row */
  wall_time: number;
  /** response tokens sampled over all recorded RL iterations (rollouts/), or by the tree sampler of step_dpo stages */
  tokens_sampled: number;
}

type Figure = Exclude<keyof RunSummary, "method" | "dir" | "seed">;

/** The compared figures: their column headings, digits shown and the Markdown table they sit in. */
export const COMPARE_COLUMNS = [
  { key: "accuracy", heading: "accuracy", digits: 3, group: "eval" },
  { key: "mean_tokens", heading: "mean tokens", digits: 1, group: "eval" },
  { key: "mean_steps", heading: "mean steps", digits: 2, group: "eval" },
  { key: "redundant_fraction", heading: "redundant fraction", digits: 3, group: "eval" },
  { key: "credit_auc_redundant", heading: "AUC essential > redundant", digits: 3, group: "credit" },
  { key: "credit_auc_slip", heading: "AUC essential > slip", digits: 3, group: "credit" },
  { key: "credit_gap_redundant", heading: "gap redundant − essential", digits: 3, group: "credit" },
  { key: "final_entropy", heading: "final entropy", digits: 3, group: "cost" },
  { key: "wall_time", heading: "wall time (s)", digits: 1, group: "cost" },
  { key: "tokens_sampled", heading: "tokens sampled", digits: 0, group: "cost" },
] as const satisfies readonly { key: Figure; heading: string; digits: number; group: "eval" | "credit" | "cost" }[];

const GROUP_TITLES = {
  eval: "Final held-out evaluation",
  credit: "Credit assignment: the advantage against the step labels (mean over RL iterations; GRPO is exactly 0.5 and 0)",
  cost: "Cost",
} as const;

/** The label of the starting-point row (the warm start or shared checkpoint, before any method). */
export const START_ROW = "warm start";

export interface CompareOptions {
  /** the method the others are paired against (default: the first method) */
  baseline?: string;
  /**
   * Where every method started from one model: the runs whose first evaluation is that start
   * (e.g. the baseline's), shown as a first row "warm start" (no differences).
   */
  start?: { dirs: string[]; note?: string };
}

export interface CompareResult {
  /** one summary per run, in the order given */
  runs: RunSummary[];
  /** the baseline method of the paired differences */
  baseline: string;
  /**
   * one row per method (first-appearance order; the start row first, where given): method,
   * seeds (how many), seed_list ("1 2 3"), KEY_mean and KEY_ci95 per figure, then KEY_diff and
   * KEY_diff_ci95 (against the baseline, same seeds; empty for the baseline and the start row)
   */
  table: ColumnTable;
  /** per method and figure: the paired difference against the baseline */
  differences: Record<string, Partial<Record<Figure, PairedDifference>>>;
  /**
   * per method, for the held-out figures: the paired difference against the start row (the
   * method's final evaluation − its starting model's, seed by seed); empty without a start row
   */
  fromStart: Record<string, Partial<Record<Figure, PairedDifference>>>;
  csv: string;
  markdown: string;
}

const last = <T>(xs: T[]): T | undefined => xs[xs.length - 1];
const numOr = (v: unknown, fallback: unknown = NaN): number =>
  typeof v === "number" && Number.isFinite(v) ? v : typeof fallback === "number" && Number.isFinite(fallback) ? fallback : NaN;
const meanOf = (xs: number[]): number => {
  const v = xs.filter((x) => Number.isFinite(x));
  return v.length ? v.reduce((a, b) => a + b, 0) / v.length : NaN;
};

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
  // RL stages record their responses (rollouts/); tree stages (step_dpo) record the tokens their trees sampled
  const treeTokens = train.map((r) => r["tree/tokens_sampled"]).filter((x): x is number => typeof x === "number");
  const tokens =
    run.rollouts.numRows() > 0 ? (run.rollouts.array("tokens") as number[]).reduce((s, x) => s + x, 0) : treeTokens.length ? treeTokens.reduce((s, x) => s + x, 0) : NaN;
  const credit = creditByIteration(run.steps.objects() as CreditStepRecord[]);
  return {
    method,
    dir: run.dir,
    seed: run.info.seed,
    accuracy: numOr(ev?.accuracy, lastTrain[METRIC.accuracy]),
    mean_tokens: numOr(ev?.mean_tokens, lastTrain[METRIC.meanTokens]),
    mean_steps: numOr(ev?.mean_steps, lastTrain[METRIC.meanSteps]),
    redundant_fraction: numOr(ev?.redundant_step_frac),
    credit_auc_redundant: meanOf(credit.map((c) => c.auc_redundant)),
    credit_auc_slip: meanOf(credit.map((c) => c.auc_slip)),
    credit_gap_redundant: meanOf(credit.map((c) => c.gap_redundant)),
    final_entropy: numOr(lastWith(METRIC.entropy)),
    wall_time: times.length ? Math.max(...times) : NaN,
    tokens_sampled: tokens,
  };
}

/** A run's starting point: its first evaluation (before any training of the compared stages). */
export function summarizeStart(run: Run, method = START_ROW): RunSummary {
  const first = (evalRows(run.metrics).objects() as Record<string, unknown>[])[0];
  return {
    method,
    dir: run.dir,
    seed: run.info.seed,
    accuracy: numOr(first?.accuracy),
    mean_tokens: numOr(first?.mean_tokens),
    mean_steps: numOr(first?.mean_steps),
    redundant_fraction: numOr(first?.redundant_step_frac),
    credit_auc_redundant: NaN,
    credit_auc_slip: NaN,
    credit_gap_redundant: NaN,
    final_entropy: NaN,
    wall_time: NaN,
    tokens_sampled: NaN,
  };
}

/**
 * The comparison of per-run summaries: mean and 95% interval per method over its seeds, and the
 * paired difference of every method against the baseline on the seeds both ran.
 * @example compareSummaries([a1, a2, b1, b2], { baseline: "grpo" }).markdown
 */
export function compareSummaries(runs: RunSummary[], options: CompareOptions & { startRuns?: RunSummary[] } = {}): CompareResult {
  const methods = [...new Set(runs.map((r) => r.method))];
  const baseline = options.baseline ?? methods[0] ?? "";
  if (methods.length > 0 && !methods.includes(baseline)) {
    throw new Error(`compare: no method "${baseline}" to use as the baseline (methods: ${methods.join(", ")})`);
  }
  const start = options.startRuns ?? [];
  const rows = [...(start.length ? [{ method: START_ROW, runs: start }] : []), ...methods.map((m) => ({ method: m, runs: runs.filter((r) => r.method === m) }))];
  const bySeed = (rs: RunSummary[], key: Figure) => new Map(rs.map((r) => [r.seed, r[key]]));
  const baseRuns = runs.filter((r) => r.method === baseline);
  const differences: CompareResult["differences"] = {};
  for (const m of methods) {
    if (m === baseline) continue;
    const mine = runs.filter((r) => r.method === m);
    differences[m] = Object.fromEntries(COMPARE_COLUMNS.map(({ key }) => [key, pairedDifference(bySeed(mine, key), bySeed(baseRuns, key))]));
  }
  // what each method did to its starting model: final − first evaluation, seed by seed
  const fromStart: CompareResult["fromStart"] = {};
  const evalKeys = COMPARE_COLUMNS.filter((c) => c.group === "eval").map((c) => c.key);
  if (start.length) {
    for (const m of methods) {
      const mine = runs.filter((r) => r.method === m);
      fromStart[m] = Object.fromEntries(evalKeys.map((key) => [key, pairedDifference(bySeed(mine, key), bySeed(start, key))]));
    }
  }
  const cols: Record<string, unknown[]> = {
    method: rows.map((r) => r.method),
    seeds: rows.map((r) => r.runs.length),
    seed_list: rows.map((r) => r.runs.map((x) => x.seed).join(" ")),
  };
  for (const { key } of COMPARE_COLUMNS) {
    const stats = rows.map((r) => meanCi95(r.runs.map((x) => x[key])));
    cols[`${key}_mean`] = stats.map((s) => s.mean);
    cols[`${key}_ci95`] = stats.map((s) => s.ci95);
  }
  for (const { key } of COMPARE_COLUMNS) {
    cols[`${key}_diff`] = rows.map((r) => differences[r.method]?.[key]?.mean ?? NaN);
    cols[`${key}_diff_ci95`] = rows.map((r) => differences[r.method]?.[key]?.ci95 ?? NaN);
  }
  if (start.length) {
    for (const key of evalKeys) {
      cols[`${key}_vs_start`] = rows.map((r) => fromStart[r.method]?.[key]?.mean ?? NaN);
      cols[`${key}_vs_start_ci95`] = rows.map((r) => fromStart[r.method]?.[key]?.ci95 ?? NaN);
    }
  }
  const table = aq.table(cols);
  return { runs, baseline, table, differences, fromStart, csv: toCsv(table), markdown: toMarkdown(table, baseline, differences, fromStart, options.start?.note) };
}

/**
 * Loads each run directory and compares them; `names[i]` is the method of `dirs[i]`, and runs
 * that share a name are seeds of one method.
 * @example
 *   const { markdown, csv } = await compareRuns(["runs/grpo-s1", "runs/grpo-s2", "runs/sspo-s1", "runs/sspo-s2"], ["grpo", "grpo", "sspo", "sspo"]);
 */
export async function compareRuns(dirs: string[], names: string[] = [], options: CompareOptions = {}): Promise<CompareResult> {
  if (names.length !== 0 && names.length !== dirs.length) {
    throw new Error(`compareRuns: ${dirs.length} run directories but ${names.length} names (give one name per directory, or none)`);
  }
  const summaries: RunSummary[] = [];
  for (let i = 0; i < dirs.length; i++) {
    const run = await loadRun(dirs[i]!);
    summaries.push(summarizeRun(run, names[i] ?? run.info.name));
  }
  const startRuns: RunSummary[] = [];
  for (const d of options.start?.dirs ?? []) startRuns.push(summarizeStart(await loadRun(d, { rollouts: false })));
  return compareSummaries(summaries, { ...options, startRuns });
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

/** "0.620 ± 0.030" (mean ± 95% half-width), "0.620" for a single seed, "—" when not recorded. */
export function formatMeanCi(mean: number, ci95: number, digits: number): string {
  if (!Number.isFinite(mean)) return "—";
  return Number.isFinite(ci95) ? `${mean.toFixed(digits)} ± ${ci95.toFixed(digits)}` : mean.toFixed(digits);
}

/** A paired difference: "+0.120 ± 0.050", bold when its interval excludes 0, "—" when none. */
export function formatDifference(d: PairedDifference | undefined, digits: number): string {
  if (!d || !Number.isFinite(d.mean)) return "—";
  const sign = (x: number) => (x > 0 ? "+" : x < 0 ? "−" : "");
  const m = `${sign(d.mean)}${Math.abs(d.mean).toFixed(digits)}`;
  const s = Number.isFinite(d.ci95) ? `${m} ± ${d.ci95.toFixed(digits)}` : m;
  return d.significant ? `**${s}**` : s;
}

function mdTable(head: string[], body: string[][]): string[] {
  return [`| ${head.join(" | ")} |`, `|${head.map((_, i) => (i === 0 ? ":--" : i === 1 ? ":--" : "--:")).join("|")}|`, ...body.map((c) => `| ${c.join(" | ")} |`)];
}

function toMarkdown(t: ColumnTable, baseline: string, differences: CompareResult["differences"], fromStart: CompareResult["fromStart"], startNote?: string): string {
  const rows = t.objects() as Record<string, unknown>[];
  const seedCell = (r: Record<string, unknown>) => String(r.seed_list).split(" ").join(", ");
  const out: string[] = [
    "Each cell: mean ± half-width of the 95% confidence interval over seeds (Student t, n − 1 degrees of freedom); one seed shows the mean alone; — where not recorded.",
  ];
  if (rows.some((r) => r.method === START_ROW)) out.push(`Row \`${START_ROW}\`: the first evaluation of the model every method started from${startNote ? `: ${startNote}` : ""}.`);
  for (const group of ["eval", "credit", "cost"] as const) {
    const cols = COMPARE_COLUMNS.filter((c) => c.group === group);
    const mine = rows.filter((r) => cols.some((c) => Number.isFinite(r[`${c.key}_mean`] as number)));
    if (mine.length === 0) continue;
    out.push("", `### ${GROUP_TITLES[group]}`, "");
    out.push(...mdTable(["method", "seeds", ...cols.map((c) => c.heading)], mine.map((r) => [String(r.method), seedCell(r), ...cols.map((c) => formatMeanCi(r[`${c.key}_mean`] as number, r[`${c.key}_ci95`] as number, c.digits))])));
  }
  const others = Object.keys(differences);
  if (others.length > 0) {
    const cols = COMPARE_COLUMNS.filter((c) => c.group !== "cost" && others.some((m) => Number.isFinite(differences[m]![c.key]?.mean ?? NaN)));
    out.push("", `### Paired difference against ${baseline} (method − ${baseline} on the same seeds)`, "");
    out.push("Bold: the 95% interval of the difference excludes 0.", "");
    out.push(...mdTable(["method", "seeds", ...cols.map((c) => c.heading)], others.map((m) => {
      const seeds = Object.values(differences[m]!).reduce<number[]>((a, d) => (d && d.seeds.length > a.length ? d.seeds : a), []);
      return [m, seeds.join(", "), ...cols.map((c) => formatDifference(differences[m]![c.key], c.digits))];
    })));
  }
  const started = Object.keys(fromStart);
  if (started.length > 0) {
    const cols = COMPARE_COLUMNS.filter((c) => c.group === "eval");
    out.push("", `### Change from the ${START_ROW} (method − ${START_ROW} on the same seeds)`, "");
    out.push("Bold: the 95% interval of the change excludes 0.", "");
    out.push(...mdTable(["method", "seeds", ...cols.map((c) => c.heading)], started.map((m) => {
      const seeds = Object.values(fromStart[m]!).reduce<number[]>((a, d) => (d && d.seeds.length > a.length ? d.seeds : a), []);
      return [m, seeds.join(", "), ...cols.map((c) => formatDifference(fromStart[m]![c.key], c.digits))];
    })));
  }
  return out.join("\n") + "\n";
}

export type { MeanCi, PairedDifference };
