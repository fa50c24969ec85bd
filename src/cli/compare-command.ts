/**
 * `stepwise compare SPEC... [--seeds N] [--baseline NAME] [--name NAME] [--out DIR] [--iterations N]
 * [--backend B]`: runs several methods on the same seeds, from the same starting checkpoint, with
 * the same sampling budget, and writes under <out>/compare-<name>/ a results table (results.csv,
 * results.md: mean and 95% interval over seeds, paired differences against the baseline) and
 * charts (held-out evaluation curves, credit AUC, advantage by step label, training batches).
 *
 * Same start: when the specs share their model, task and warm-up stages (the SFT stages before
 * the first RL or preference stage), the warm start runs once per seed and every method starts
 * from its checkpoint; otherwise each spec runs whole.
 */
import * as fs from "node:fs";
import * as path from "node:path";
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
import { runPlan, type RunResult } from "../run/runner.js";
import type { RunEvent } from "../run/types.js";
import { METRIC } from "../run/types.js";
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
  fs.mkdirSync(root, { recursive: true });
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
    if (e.type === "iteration") {
      done++;
      bar.update(done, { run: label, acc: e.row[METRIC.accuracy] as number | undefined, tokens: e.row[METRIC.meanTokens] as number | undefined });
    }
  };
  const dirs: string[] = [];
  const names: string[] = [];
  const wall: Record<string, number> = {};
  try {
    for (const seed of seeds) {
      let warmCkpt: string | undefined;
      if (shared) {
        const base = methods[0]!.plan;
        const warmDir = path.join(root, "warmstart", `seed-${seed}`);
        const r = await runPlan({ ...base, name: "warmstart", seed, train: warmupStages(base) }, {
          dir: warmDir,
          overwrite: true, // a comparison owns its folder: a rerun replaces its runs
          backend: opts.backend as "wasm" | undefined,
          signal: controller.signal,
          specText: methods[0]!.text,
          specFile: methods[0]!.file,
          onEvent: listen(`warmstart s${seed}`),
        });
        if (r.status !== "finished") return fail(r, bar);
        warmCkpt = path.join(warmDir, "checkpoints", "final");
      }
      for (const m of methods) {
        const plan: ExperimentPlan = warmCkpt
          ? { ...m.plan, seed, model: { kind: "load", path: warmCkpt }, train: m.plan.train.slice(warmupStages(m.plan).length) }
          : { ...m.plan, seed };
        const dir = path.join(root, m.name, `seed-${seed}`);
        const t0 = Date.now();
        const r = await runPlan(plan, {
          dir,
          overwrite: true,
          iterations: opts.iterations,
          backend: opts.backend as "wasm" | undefined,
          signal: controller.signal,
          specText: m.text,
          specFile: m.file,
          onEvent: listen(`${m.name} s${seed}`),
        });
        wall[`${m.name}/${seed}`] = (Date.now() - t0) / 1000;
        if (r.status !== "finished") return fail(r, bar);
        dirs.push(dir);
        names.push(m.name);
      }
    }
  } finally {
    process.off("SIGINT", onSigint);
    bar.done();
  }

  // the results table and charts
  const start = startNote(methods, shared);
  const startDirs = start.common ? dirs.filter((_, i) => names[i] === baseline) : [];
  const result = await compareRuns(dirs, names, { baseline, start: startDirs.length ? { dirs: startDirs, note: start.text } : undefined });
  fs.writeFileSync(path.join(root, "results.csv"), result.csv);
  const command = `stepwise compare ${specs.join(" ")} --seeds ${seeds.length}${opts.baseline ? ` --baseline ${opts.baseline}` : ""}${opts.iterations ? ` --iterations ${opts.iterations}` : ""}${opts.name ? ` --name ${opts.name}` : ""}`;
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
  process.stdout.write(`\n${result.markdown}\nwritten: ${root}/results.{csv,md}, ${Object.keys(charts).map((c) => `${c}.png`).join(", ")}\n`);
  return 0;
}

/**
 * How the methods started: a shared warm start, one checkpoint they all load, or each its own;
 * `common` when every method of a seed started from one model (the table then has a start row).
 */
function startNote(methods: Method[], shared: boolean): { text: string; common: boolean } {
  if (shared) return { text: "one shared warm start per seed", common: true };
  const models = new Set(methods.map((m) => JSON.stringify(m.plan.model)));
  const first = methods[0]!.plan.model;
  if (models.size === 1 && first?.kind === "load") return { text: `every method starts from the same checkpoint (${first.path})`, common: true };
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
