/**
 * `stepwise compare SPEC... [--seeds N] [--baseline NAME] [--name NAME] [--out DIR] [--iterations N]
 * [--backend B] [--jobs N] [--resume] [--results DIR]`: runs several methods on the same seeds, from the same starting checkpoint, with
 * the same sampling budget, and writes under <out>/compare-<name>/ a results table (results.csv,
 * results.md: mean and 95% interval over seeds, paired differences against the baseline) and
 * charts (held-out evaluation curves, credit AUC, advantage by step label, training batches).
 *
 * Same start: when the specs share their model, task and warm-up stages (the SFT stages before
 * the first RL or preference stage), the warm start runs once per seed and every method starts
 * from its checkpoint; otherwise each spec runs whole.
 */
import { fork } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import type { ExperimentPlan, StagePlan } from "../../dsl/plan.js";
import { compareRuns } from "../analytics/compare.js";
import type { ChartSpec } from "../analytics/charts.js";
import {
  type MethodRun,
  advantageByLabelChart,
  creditCurvesChart,
  evalCurvesChart,
  hasStepLabels,
  methodComparisonChart,
  stepValueByMethodChart,
} from "../analytics/compare-charts.js";
import { chartToSVG, svgToPNG } from "../analytics/render.js";
import { loadRun } from "../analytics/tables.js";
import type { RunResult } from "../run/runner.js";
import type { RunEvent, RunInfo } from "../run/types.js";
import { METRIC } from "../run/types.js";
import { lockDir, type DirLock } from "../run/run-lock.js";
import { runJobRequest, type JobRequest } from "./compare-job.js";
import type { WorkerMessage } from "./compare-worker.js";
import { ProgressBar } from "./progress.js";
import { compileSpecFile } from "./spec.js";

export interface CompareOptions {
  seeds: number;
  out?: string;
  iterations?: number;
  backend?: string;
  /** name of the comparison directory compare-<name> (default: the method names joined by "-vs-") */
  name?: string;
  /** the method the others are paired against (default: the first spec's) */
  baseline?: string;
  /** runs at once, each in a process of its own (default 1: one after another, in this process) */
  jobs?: number;
  /** continue the comparison in its folder: finished runs are kept, interrupted ones resume */
  resume?: boolean;
  /** also copy the table and the charts (not the run directories) to this folder, to commit them */
  results?: string;
}

interface Method {
  name: string;
  plan: ExperimentPlan;
  text: string;
  file: string;
}

/** The stages before the first RL or preference stage: what a shared warm start runs. */
export function warmupStages(plan: ExperimentPlan): StagePlan[] {
  const i = plan.train.findIndex((s) => s.kind !== "sft");
  return i < 0 ? plan.train : plan.train.slice(0, i);
}

/** What must be equal for methods to share one warm start. */
function warmKey(plan: ExperimentPlan): string {
  return JSON.stringify({ model: plan.model, tokenizer: plan.tokenizer, task: plan.task, seed: plan.seed, warm: warmupStages(plan), eval: plan.eval, steps: plan.steps });
}

function stageCost(plan: ExperimentPlan, iterations?: number): number {
  return plan.train.reduce((a, s) => a + (s.kind === "sft" || s.kind === "dpo" ? s.steps : (iterations ?? s.iterations)), 0);
}

export async function compareCommand(specs: string[], opts: CompareOptions): Promise<number> {
  const methods: Method[] = [];
  for (const file of specs) {
    const c = compileSpecFile(file, "run");
    if (!c.plan) return 1;
    methods.push({ name: c.plan.method?.name ?? c.plan.name, plan: c.plan, text: c.text, file });
  }
  // names must be unique: a method used twice is told apart by its experiment name
  const counts = new Map<string, number>();
  for (const m of methods) counts.set(m.name, (counts.get(m.name) ?? 0) + 1);
  for (const m of methods) if ((counts.get(m.name) ?? 0) > 1) m.name = m.plan.name;

  const baseline = opts.baseline ?? methods[0]!.name;
  if (!methods.some((m) => m.name === baseline)) {
    process.stderr.write(`stepwise compare: --baseline ${baseline}: no such method (methods: ${methods.map((m) => m.name).join(", ")})\n`);
    return 2;
  }
  const name = opts.name ?? defaultName(methods);
  const root = path.resolve(opts.out ?? "runs", `compare-${name}`);
  // one comparison at a time in a folder (src/run/run-lock.ts); each run also locks its own directory
  let lock: DirLock;
  try {
    lock = lockDir(root);
  } catch (e) {
    process.stderr.write(`stepwise compare: ${(e as Error).message}\n`);
    return 1;
  }
  if (lock.tookOver) process.stderr.write(`warning: ${lock.tookOver}\n`);
  try {
    return await compareIn(root, name, methods, baseline, specs, opts);
  } finally {
    lock.release();
  }
}

/** The comparison in its folder `root`, which this process owns. */
async function compareIn(root: string, name: string, methods: Method[], baseline: string, specs: string[], opts: CompareOptions): Promise<number> {
  const shared = methods.every((m) => warmKey(m.plan) === warmKey(methods[0]!.plan)) && warmupStages(methods[0]!.plan).length > 0;

  const seeds = Array.from({ length: Math.max(1, opts.seeds) }, (_, s) => methods[0]!.plan.seed + s);
  const warmCost = shared ? stageCost({ ...methods[0]!.plan, train: warmupStages(methods[0]!.plan) }) : 0;
  const total = seeds.length * (warmCost + methods.reduce((a, m) => a + stageCost(shared ? { ...m.plan, train: m.plan.train.slice(warmupStages(m.plan).length) } : m.plan, opts.iterations), 0));
  const bar = new ProgressBar("compare", total);
  let done = 0;
  const controller = new AbortController();
  const onSigint = (): void => controller.abort();
  process.on("SIGINT", onSigint);
  const listen = (label: string) => (e: RunEvent) => {
    if (e.type === "warning") {
      bar.done();
      process.stderr.write(`warning: ${label}: ${e.message}\n`);
    } else if (e.type === "iteration") {
      done++;
      bar.update(done, { run: label, acc: e.row[METRIC.accuracy] as number | undefined, tokens: e.row[METRIC.meanTokens] as number | undefined });
    }
  };
  // the runs, in order: per seed its warm start (when shared), then every method from it
  interface Job {
    label: string;
    req: JobRequest;
    after?: Job;
    method?: string;
  }
  const jobs: Job[] = [];
  for (const seed of seeds) {
    let warm: Job | undefined;
    let warmCkpt: string | undefined;
    if (shared) {
      const base = methods[0]!.plan;
      const warmDir = path.join(root, "warmstart", `seed-${seed}`);
      warm = { label: `warmstart s${seed}`, req: { plan: { ...base, name: "warmstart", seed, train: warmupStages(base) }, dir: warmDir, resume: false, backend: opts.backend, specText: methods[0]!.text, specFile: methods[0]!.file } };
      jobs.push(warm);
      warmCkpt = path.join(warmDir, "checkpoints", "final");
    }
    for (const m of methods) {
      const plan: ExperimentPlan = warmCkpt
        ? { ...m.plan, seed, model: { kind: "load", path: warmCkpt }, train: m.plan.train.slice(warmupStages(m.plan).length) }
        : { ...m.plan, seed };
      const dir = path.join(root, m.name, `seed-${seed}`);
      jobs.push({ label: `${m.name} s${seed}`, method: m.name, after: warm, req: { plan, dir, resume: false, iterations: opts.iterations, backend: opts.backend, specText: m.text, specFile: m.file } });
    }
  }
  // --resume: a run that exists continues from its checkpoint (a finished one is kept as it is);
  // without it a comparison owns its folder and a rerun replaces its runs
  for (const j of jobs) j.req.resume = opts.resume === true && fs.existsSync(path.join(j.req.dir, "run.json"));

  const parallel = Math.max(1, Math.min(opts.jobs ?? 1, jobs.length));
  const runJob = parallel > 1 ? forkedRunner(parallel, controller.signal) : inProcessRunner(controller.signal);
  const outcome = new Map<Job, Promise<RunResult>>();
  let failure: RunResult | undefined;
  const slots = new Set<Promise<void>>();
  try {
    for (const j of jobs) {
      while (slots.size >= parallel) await Promise.race(slots);
      if (failure || controller.signal.aborted) break;
      const dep = j.after ? outcome.get(j.after) : undefined;
      const p = (async (): Promise<RunResult> => {
        const before = dep ? await dep : undefined;
        if (before && before.status !== "finished") return before;
        if (j.req.resume && finishedAlready(j.req)) return { dir: j.req.dir, status: "finished", evals: [], backend: "" };
        return runJob(j.req, listen(j.label));
      })();
      outcome.set(j, p);
      const slot: Promise<void> = p.then((r) => {
        if (r.status !== "finished") failure ??= r;
      }).finally(() => slots.delete(slot));
      slots.add(slot);
    }
    await Promise.all(slots);
  } finally {
    process.off("SIGINT", onSigint);
    bar.done();
  }
  if (failure) return fail(failure, bar);
  if (controller.signal.aborted) return fail({ dir: root, status: "interrupted", message: "resume with --resume", evals: [], backend: "" }, bar);
  const dirs = jobs.filter((j) => j.method).map((j) => j.req.dir);
  const names = jobs.filter((j) => j.method).map((j) => j.method!);

  // the results table and charts
  const start = startNote(methods, shared);
  const startDirs = start.common ? dirs.filter((_, i) => names[i] === baseline) : [];
  const result = await compareRuns(dirs, names, { baseline, start: startDirs.length ? { dirs: startDirs, note: start.text } : undefined });
  fs.writeFileSync(path.join(root, "results.csv"), result.csv);
  const command = `stepwise compare ${specs.join(" ")} --seeds ${seeds.length}${opts.baseline ? ` --baseline ${opts.baseline}` : ""}${opts.iterations ? ` --iterations ${opts.iterations}` : ""}${opts.name ? ` --name ${opts.name}` : ""}${opts.jobs && opts.jobs > 1 ? ` --jobs ${opts.jobs}` : ""}`;
  const header = `# Comparison ${name}\n\nMethods: ${methods.map((m) => m.name).join(", ")} (baseline ${baseline}); seeds ${seeds.join(", ")}, the same for every method; ${start.text}.\nCommand: ${command}\n\n`;
  fs.writeFileSync(path.join(root, "results.md"), header + result.markdown);
  const runs: MethodRun[] = [];
  for (let i = 0; i < dirs.length; i++) {
    const r = await loadRun(dirs[i]!, { rollouts: false });
    runs.push({ method: names[i]!, metrics: r.metrics, steps: r.steps });
  }
  const charts: Record<string, ChartSpec> = { "eval-curves": evalCurvesChart(runs) };
  if (hasStepLabels(runs)) {
    charts["credit-auc"] = creditCurvesChart(runs);
    charts["advantage-by-label"] = advantageByLabelChart(runs);
  }
  charts["training"] = methodComparisonChart(runs, { series: ["accuracy", "mean tokens", "entropy"] });
  if (runs.some((r) => r.steps && r.steps.numRows() > 0 && r.steps.columnNames().some((c) => c.startsWith("probe_")))) charts["step-values"] = stepValueByMethodChart(runs);
  for (const [file, spec] of Object.entries(charts)) {
    const svg = await chartToSVG(spec);
    fs.writeFileSync(path.join(root, `${file}.svg`), svg);
    fs.writeFileSync(path.join(root, `${file}.png`), svgToPNG(svg));
  }
  const written = ["results.csv", "results.md", ...Object.keys(charts).map((c) => `${c}.png`)];
  if (opts.results) {
    fs.mkdirSync(opts.results, { recursive: true });
    for (const f of written) fs.copyFileSync(path.join(root, f), path.join(opts.results, f));
  }
  process.stdout.write(`\n${result.markdown}\nwritten: ${root}/results.{csv,md}, ${Object.keys(charts).map((c) => `${c}.png`).join(", ")}${opts.results ? `; copied to ${opts.results}` : ""}\n`);
  return 0;
}

/**
 * How the methods started: a shared warm start, one checkpoint they all load, or each its own;
 * `common` when every method of a seed started from one model (the table then has a start row).
 */
function startNote(methods: Method[], shared: boolean): { text: string; common: boolean } {
  if (shared) return { text: "one shared warm start per seed", common: true };
  // one checkpoint, however each spec spells its path (relative to the spec's own folder)
  const checkpoint = (m: Method): string | undefined => (m.plan.model?.kind === "load" ? path.resolve(path.dirname(m.file), m.plan.model.path) : undefined);
  const first = checkpoint(methods[0]!);
  if (first && methods.every((m) => checkpoint(m) === first)) return { text: `every method starts from the same checkpoint (${path.relative(process.cwd(), first)})`, common: true };
  return { text: "each spec run whole", common: false };
}

/** The comparison's default name: its method names, "grpo-vs-sspo" (file-name safe). */
export function defaultName(methods: { name: string }[]): string {
  return methods.map((m) => m.name.replace(/[^A-Za-z0-9_.-]+/g, "_")).join("-vs-");
}

function fail(r: RunResult, bar: ProgressBar): number {
  bar.done();
  process.stderr.write(`stepwise compare: ${r.dir}: ${r.status}${r.message ? `: ${r.message}` : ""}\n`);
  return r.status === "interrupted" ? 130 : 1;
}

/**
 * A run a resumed comparison keeps as it is: finished, from the same plan and overrides. (A
 * resume of it would reopen its files; anything else goes to runPlan's resume, which continues
 * an interrupted run and refuses one whose spec changed.)
 */
function finishedAlready(req: JobRequest): boolean {
  try {
    const info = JSON.parse(fs.readFileSync(path.join(req.dir, "run.json"), "utf8")) as RunInfo;
    const plan = JSON.parse(fs.readFileSync(path.join(req.dir, "plan.json"), "utf8")) as ExperimentPlan;
    // the same checkpoint counts as the same model however the spec spells its path (a spec moved to another folder)
    const model = (p: ExperimentPlan, dir: string | undefined) => (p.model?.kind === "load" && dir ? { ...p.model, path: path.resolve(dir, p.model.path) } : p.model);
    const same = (p: ExperimentPlan, dir: string | undefined) => JSON.stringify({ ...p, model: model(p, dir) });
    return info.status === "finished" && same(plan, info.specDir) === same(req.plan, path.dirname(path.resolve(req.specFile))) && info.options?.iterations === req.iterations;
  } catch {
    return false;
  }
}

type JobRunner = (req: JobRequest, onEvent: (e: RunEvent) => void) => Promise<RunResult>;

/** `--jobs 1`: the runs one after another in this process. */
function inProcessRunner(signal: AbortSignal): JobRunner {
  return (req, onEvent) => runJobRequest(req, signal, onEvent);
}

/**
 * `--jobs N`: each run in a child process (compare-worker), the machine's cores shared between
 * them for the BLAS (STEPWISE_THREADS). A run's numbers do not depend on N: every random draw
 * derives from (seed, stage, step), and the BLAS splits its products by rows, not by the sum.
 */
function forkedRunner(jobs: number, signal: AbortSignal): JobRunner {
  const here = fileURLToPath(import.meta.url);
  const worker = path.join(path.dirname(here), `compare-worker${path.extname(here)}`);
  const threads = String(Math.max(1, Math.floor(os.availableParallelism() / jobs)));
  return (req, onEvent) =>
    new Promise<RunResult>((resolve) => {
      const child = fork(worker, [], { env: { ...process.env, STEPWISE_THREADS: process.env.STEPWISE_THREADS ?? threads }, stdio: ["ignore", "ignore", "pipe", "ipc"] });
      let stderr = "";
      child.stderr!.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
      let result: RunResult | undefined;
      child.on("message", (raw) => {
        const m = raw as WorkerMessage;
        if (m.type === "iteration") onEvent({ type: "iteration", row: m.row });
        else if (m.type === "warning") onEvent({ type: "warning", message: m.message });
        else result = { ...m.result, evals: [] };
      });
      // Ctrl-C reaches the children with this process; an abort from elsewhere is passed on
      const stop = (): void => void child.kill("SIGINT");
      signal.addEventListener("abort", stop, { once: true });
      child.on("exit", (code, sig) => {
        signal.removeEventListener("abort", stop);
        resolve(result ?? { dir: req.dir, status: "failed", message: `the run's process ended (${sig ?? `exit ${code}`}) before it reported${stderr ? `: ${stderr.trim()}` : ""}`, evals: [], backend: "" });
      });
      child.send(req);
    });
}
