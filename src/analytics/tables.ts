/**
 * arquero tables over a run directory (layout in src/run/types.ts).
 *
 *   metrics   one row per metrics.jsonl line (training and evaluation rows, all metric columns)
 *   rollouts  one row per sampled response of rollouts/iter-N.json
 *   steps     one row per StepRecord of steps.jsonl, each probe flattened to a `probe_NAME` column
 *
 * Pure functions over tables (`trainRows(metrics)`), and the same functions as methods of the
 * loaded `Run` (`run.trainRows()`), the way arquero offers `derive(table, …)` and `table.derive(…)`.
 */
import { existsSync } from "node:fs";
import { readFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import * as aq from "arquero";
import type { ColumnTable } from "arquero";
import type { ExperimentPlan } from "../../dsl/plan.js";
import type { RolloutBatch } from "../rl/batch.js";
import type { MetricsRow, RunInfo, StepRecord } from "../run/types.js";
import { RunDirError } from "./errors.js";

export type { ColumnTable } from "arquero";

/** Columns of the rollouts table, in order. */
export const ROLLOUT_COLUMNS = [
  "iteration",
  "group",
  "response", // index within the batch, group by group (as in StepRecord.response)
  "tokens",
  "steps",
  "outcome",
  "truncated", // 0/1, as the DSL's `truncated`
  "reward", // the response's recorded `reward` when the runner stores one, else its outcome
  "mean_entropy", // mean token entropy of the response
  "prompt",
  "text",
] as const;

/** Fixed columns of the steps table; probe columns (`probe_NAME`) follow. */
export const STEP_COLUMNS = ["stage", "iteration", "group", "response", "step", "tokens", "text", "label", "advantage", "outcome"] as const;

/** Prefix of the flattened probe columns of the steps table. */
export const PROBE_PREFIX = "probe_";

export interface RunTables {
  dir: string;
  info: RunInfo;
  /** plan.json, or null when the run directory has none */
  plan: ExperimentPlan | null;
  metrics: ColumnTable;
  rollouts: ColumnTable;
  steps: ColumnTable;
}

export interface LoadOptions {
  /** skip reading rollouts/*.json (large runs; the rollouts table is then empty) */
  rollouts?: boolean;
}

// ---------------------------------------------------------------------------------------------
// Pure helpers

/**
 * Training rows (every stage but "eval"), optionally of one stage.
 * @example trainRows(run.metrics, "rl").select("iteration", "entropy", "kl")
 */
export function trainRows(metrics: ColumnTable, stage?: string): ColumnTable {
  return metrics.filter(aq.escape((d: Record<string, unknown>) => d.stage !== "eval" && (stage === undefined || d.stage === stage)));
}

/**
 * Evaluation rows, each with an `iteration`: the one it carries, else the number of training
 * iterations completed before it in the file (so "eval after sft" sits at the SFT step count and
 * "eval after rl" at the RL iteration count, on the x axis of the stage it followed), and a
 * `phase`: the training stage it followed (the first stage for an evaluation before training).
 * @example evalRows(run.metrics).select("after", "phase", "iteration", "accuracy", "mean_tokens")
 */
export function evalRows(metrics: ColumnTable): ColumnTable {
  const rows = metrics.objects() as Record<string, unknown>[];
  const at: number[] = [];
  const phase: (string | null)[] = [];
  let done = 0;
  let stage: string | null = null;
  for (const r of rows) {
    if (r.stage === "eval") {
      at.push(typeof r.iteration === "number" ? r.iteration : done);
      phase.push(stage);
    } else if (typeof r.iteration === "number") {
      stage = typeof r.stage === "string" ? r.stage : null;
      done = r.iteration + 1;
    }
  }
  const first = (rows.find((r) => r.stage !== "eval" && typeof r.stage === "string")?.stage as string | undefined) ?? null;
  const ev = metrics.filter((d: Record<string, unknown>) => d.stage === "eval");
  return ev.numRows() === 0 ? ev : ev.assign({ iteration: at, phase: phase.map((p) => p ?? first) });
}

/**
 * The last evaluation row (optionally the last one after a given stage), or undefined.
 * @example finalEval(run.metrics)?.accuracy
 */
export function finalEval(metrics: ColumnTable, after?: string): Record<string, unknown> | undefined {
  const ev = evalRows(metrics).objects() as Record<string, unknown>[];
  const pick = after === undefined ? ev : ev.filter((r) => r.after === after);
  return pick[pick.length - 1];
}

/** Names of the probes present in a steps table. @example probeNames(run.steps) // ["belief"] */
export function probeNames(steps: ColumnTable): string[] {
  return steps.columnNames().filter((c) => c.startsWith(PROBE_PREFIX)).map((c) => c.slice(PROBE_PREFIX.length));
}

/**
 * Mean probe value by (iteration, step index): the SSPO/SPPD "value along the chain" view.
 * Columns: iteration, step, value, n.
 * @example stepValues(run.steps, "belief").objects()
 */
export function stepValues(steps: ColumnTable, probe?: string): ColumnTable {
  const name = probe ?? probeNames(steps)[0];
  if (name === undefined) return aq.table({ iteration: [], step: [], value: [], n: [] });
  const col = PROBE_PREFIX + name;
  if (!steps.columnNames().includes(col)) {
    throw new Error(`no probe "${name}" in the steps table (probes: ${probeNames(steps).join(", ") || "none"})`);
  }
  return steps
    .filter(aq.escape((d: Record<string, unknown>) => typeof d[col] === "number"))
    .groupby("iteration", "step")
    .rollup({ value: aq.op.mean(col), n: aq.op.count() })
    .orderby("iteration", "step");
}

/**
 * Mean step advantage by (iteration, step index), over the RL stage's steps. Columns: iteration,
 * step, value, n.
 * @example stepAdvantages(run.steps).objects()
 */
export function stepAdvantages(steps: ColumnTable): ColumnTable {
  if (steps.numRows() === 0) return aq.table({ iteration: [], step: [], value: [], n: [] });
  return steps
    .filter(aq.escape((d: Record<string, unknown>) => typeof d.advantage === "number" && (d.stage === "rl" || d.stage === null || d.stage === undefined)))
    .groupby("iteration", "step")
    .rollup({ value: aq.op.mean("advantage"), n: aq.op.count() })
    .orderby("iteration", "step");
}

// ---------------------------------------------------------------------------------------------
// The fluent facade

/** A loaded run: its tables plus the helpers above as methods. */
export class Run implements RunTables {
  constructor(
    readonly dir: string,
    readonly info: RunInfo,
    readonly plan: ExperimentPlan | null,
    readonly metrics: ColumnTable,
    readonly rollouts: ColumnTable,
    readonly steps: ColumnTable,
  ) {}

  /** @example run.trainRows("rl").array("entropy") */
  trainRows(stage?: string): ColumnTable {
    return trainRows(this.metrics, stage);
  }
  /** @example run.evalRows().objects() */
  evalRows(): ColumnTable {
    return evalRows(this.metrics);
  }
  /** @example run.finalEval()?.accuracy */
  finalEval(after?: string): Record<string, unknown> | undefined {
    return finalEval(this.metrics, after);
  }
  /** @example run.probeNames() */
  probeNames(): string[] {
    return probeNames(this.steps);
  }
  /** @example run.stepValues("belief") */
  stepValues(probe?: string): ColumnTable {
    return stepValues(this.steps, probe);
  }
}

// ---------------------------------------------------------------------------------------------
// Loading

/**
 * Reads a run directory into tables. run.json and metrics.jsonl are required; plan.json,
 * steps.jsonl and rollouts/ are optional (empty tables when absent). A missing or corrupt file
 * throws a RunDirError naming the file and line. Reading never needs the run's lock: an
 * unfinished last line of a JSONL file (every row the store appends ends with its newline; one
 * still being appended, or torn by a kill or a full disk) is skipped, and while the run is still
 * writing (run.json status "running") so are the step records of an iteration whose metrics row
 * is not written yet (the runner appends an iteration's steps, then its row).
 * @example
 *   const run = await loadRun("runs/spro-arith");
 *   run.metrics.filter((d) => d.stage === "rl").select("iteration", "entropy").print();
 */
export async function loadRun(dir: string, options: LoadOptions = {}): Promise<Run> {
  if (!existsSync(dir)) throw new RunDirError(dir, "no such run directory");
  const info = await readJson<RunInfo>(join(dir, "run.json"), true);
  checkInfo(info!, join(dir, "run.json"));
  const plan = await readJson<ExperimentPlan>(join(dir, "plan.json"), false);
  const live = info!.status === "running";

  const metricsFile = join(dir, "metrics.jsonl");
  if (!existsSync(metricsFile)) throw new RunDirError(metricsFile, "missing (every run writes metrics.jsonl)");
  const metricRows = await readJsonl<MetricsRow>(metricsFile, checkMetricsRow);
  const metrics = metricsTable(metricRows);

  const stepsFile = join(dir, "steps.jsonl");
  const allSteps = existsSync(stepsFile) ? await readJsonl<StepRecord>(stepsFile, checkStepRecord) : [];
  const stepRecords = live ? withTheirRows(allSteps, metricRows) : allSteps;
  const steps = stepsTable(stepRecords);

  const rollouts = options.rollouts === false ? emptyTable(ROLLOUT_COLUMNS) : await rolloutsTable(join(dir, "rollouts"), live);
  return new Run(dir, info!, plan, metrics, rollouts, steps);
}

/** The step records whose iteration's metrics row is written (records without stage_index are all kept). */
function withTheirRows(steps: StepRecord[], rows: MetricsRow[]): StepRecord[] {
  const written = new Set(rows.filter((r) => r.stage !== "eval").map((r) => `${r.stage_index}/${r.iteration}`));
  return steps.filter((s) => typeof s.stage_index !== "number" || written.has(`${s.stage_index}/${s.iteration}`));
}

/** The steps table of a list of StepRecords (probes flattened to `probe_NAME` columns). */
export function stepsTable(records: StepRecord[]): ColumnTable {
  const probes: string[] = [];
  for (const r of records) for (const p of Object.keys(r.probes ?? {})) if (!probes.includes(p)) probes.push(p);
  const cols: Record<string, unknown[]> = {};
  for (const c of STEP_COLUMNS) cols[c] = records.map((r) => (r as unknown as Record<string, unknown>)[c] ?? null);
  for (const p of probes) cols[PROBE_PREFIX + p] = records.map((r) => r.probes?.[p] ?? null);
  return aq.table(cols);
}

/** The rollouts table of RolloutBatches, one per iteration (`batches[i]` is iteration `iterations[i]`). */
export function rolloutsTableOf(batches: RolloutBatch[], iterations: number[] = batches.map((_, i) => i)): ColumnTable {
  const cols: Record<string, unknown[]> = Object.fromEntries(ROLLOUT_COLUMNS.map((c) => [c, []]));
  const push = (c: (typeof ROLLOUT_COLUMNS)[number], v: unknown) => cols[c]!.push(v);
  batches.forEach((batch, b) => {
    let response = 0;
    batch.groups.forEach((group, g) => {
      for (const r of group.responses) {
        const T = r.tokens?.length ?? r.token_logp.length;
        const recorded = (r as { reward?: unknown }).reward;
        push("iteration", iterations[b]);
        push("group", g);
        push("response", response++);
        push("tokens", T);
        push("steps", r.step_ends.length);
        push("outcome", r.outcome);
        push("truncated", r.truncated ? 1 : 0);
        push("reward", typeof recorded === "number" ? recorded : r.outcome);
        push("mean_entropy", r.token_entropy.length ? r.token_entropy.reduce((s, x) => s + x, 0) / r.token_entropy.length : null);
        push("prompt", group.prompt);
        push("text", r.text);
      }
    });
  });
  return aq.table(cols);
}

async function rolloutsTable(dir: string, live: boolean): Promise<ColumnTable> {
  if (!existsSync(dir)) return emptyTable(ROLLOUT_COLUMNS);
  const files = (await readdir(dir))
    .map((f) => ({ f, m: /^iter-(\d+)\.json$/.exec(f) }))
    .filter((x): x is { f: string; m: RegExpExecArray } => x.m !== null)
    .map(({ f, m }) => ({ f, it: Number(m[1]) }))
    .sort((a, b) => a.it - b.it);
  const batches: RolloutBatch[] = [];
  const iterations: number[] = [];
  for (const { f, it } of files) {
    const path = join(dir, f);
    let batch: RolloutBatch;
    try {
      batch = JSON.parse(await readFile(path, "utf8")) as RolloutBatch;
    } catch (e) {
      // a live run may be writing its newest batch right now
      if (live && it === files[files.length - 1]!.it) continue;
      throw new RunDirError(path, `not valid JSON (${(e as Error).message})`);
    }
    checkBatch(batch, path);
    batches.push(batch);
    iterations.push(it);
  }
  return rolloutsTableOf(batches, iterations);
}

// ---------------------------------------------------------------------------------------------
// Reading and checking files

async function readJson<T>(path: string, required: boolean): Promise<T | null> {
  if (!existsSync(path)) {
    if (required) throw new RunDirError(path, "missing (is this a run directory? runs/<name>/ holds run.json)");
    return null;
  }
  try {
    return JSON.parse(await readFile(path, "utf8")) as T;
  } catch (e) {
    throw new RunDirError(path, `not valid JSON (${(e as Error).message})`);
  }
}

async function readJsonl<T>(path: string, check: (row: unknown) => string | null): Promise<T[]> {
  const text = await readFile(path, "utf8");
  const lines = text.split("\n");
  const rows: T[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === "") continue;
    const unfinished = i === lines.length - 1 && !text.endsWith("\n");
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch (e) {
      if (unfinished) break; // a row still being appended, or torn: not a row yet
      throw new RunDirError(path, `not valid JSON (${(e as Error).message})`, i + 1);
    }
    const problem = check(row);
    if (problem) throw new RunDirError(path, problem, i + 1);
    rows.push(row as T);
  }
  return rows;
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

function checkInfo(info: unknown, path: string): void {
  if (!isObject(info)) throw new RunDirError(path, "expected a JSON object (RunInfo)");
  for (const k of ["name", "status"] as const) {
    if (typeof info[k] !== "string") throw new RunDirError(path, `"${k}" must be a string`);
  }
}

function checkMetricsRow(row: unknown): string | null {
  if (!isObject(row)) return "expected a JSON object (a metrics row)";
  if (typeof row.stage !== "string") return 'a metrics row needs a string "stage"';
  if (typeof row.time !== "number") return 'a metrics row needs a numeric "time"';
  if (row.iteration !== undefined && typeof row.iteration !== "number") return '"iteration" must be a number';
  return null;
}

function checkStepRecord(row: unknown): string | null {
  if (!isObject(row)) return "expected a JSON object (a step record)";
  for (const k of ["iteration", "group", "response", "step", "tokens", "advantage", "outcome"]) {
    if (typeof row[k] !== "number") return `a step record needs a numeric "${k}"`;
  }
  if (row.probes !== undefined && !isObject(row.probes)) return '"probes" must be an object of numbers';
  return null;
}

function checkBatch(batch: unknown, path: string): void {
  if (!isObject(batch) || !Array.isArray(batch.groups)) throw new RunDirError(path, 'expected a RolloutBatch ({"groups": [...]})');
  batch.groups.forEach((g: unknown, gi: number) => {
    if (!isObject(g) || !Array.isArray(g.responses)) throw new RunDirError(path, `group ${gi} has no "responses" array`);
    g.responses.forEach((r: unknown, ri: number) => {
      if (!isObject(r) || !Array.isArray(r.token_logp) || !Array.isArray(r.step_ends) || typeof r.outcome !== "number") {
        throw new RunDirError(path, `group ${gi} response ${ri}: needs token_logp, step_ends and outcome`);
      }
    });
  });
}

/**
 * The metrics table of metrics rows: every column of every row (an SFT row has no entropy, an
 * eval row no loss; a column is null where its row lacks it). `aq.from(rows)` would take the
 * columns of the first row only.
 * @example entropyKlChart(metricsTable(liveRows))
 */
export function metricsTable(rows: MetricsRow[]): ColumnTable {
  return fromRows(rows, ["stage", "iteration", "after", "time"]);
}

/** A table whose columns are the union of the rows' keys: `first` in order, then first appearance. */
function fromRows(rows: object[], first: string[] = []): ColumnTable {
  const names = [...first];
  for (const r of rows) for (const k of Object.keys(r)) if (!names.includes(k)) names.push(k);
  const cols: Record<string, unknown[]> = {};
  for (const n of names) cols[n] = rows.map((r) => (r as Record<string, unknown>)[n] ?? null);
  return aq.table(cols);
}

function emptyTable(names: readonly string[]): ColumnTable {
  return aq.table(Object.fromEntries(names.map((n) => [n, []])));
}
