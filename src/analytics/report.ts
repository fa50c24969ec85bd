/**
 * The run report: one self-contained `report.html` (inline SVG charts, inline CSS, tables, run
 * summary; no scripts, no external URLs), readable offline and attachable anywhere.
 * `stepwise report RUN_DIR` writes it next to the run's files.
 */
import { rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { ColumnTable } from "arquero";
import { escapeHtml } from "../display/bundles.js";
import { lockDir } from "../run/run-lock.js";
import { stepLabelAuc } from "./auc.js";
import {
  type ChartSpec,
  accuracyTokensChart,
  entropyKlChart,
  rewardAdvantageChart,
  stepAdvantageChart,
  stepValueByLabelChart,
  stepValueChart,
} from "./charts.js";
import { creditChart } from "./credit-chart.js";
import { creditByIteration, hasCreditLabels, recordsOfStepsTable } from "./credit.js";
import { tableToHTML } from "./format.js";
import { chartToSVG } from "./render.js";
import { type Run, loadRun, stepAdvantages } from "./tables.js";

export interface ReportOptions {
  /** most rows of each table (default 200) */
  limit?: number;
}

const CSS = `
body { font-family: "DejaVu Sans", system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0; }
th, td { border-bottom: 1px solid #eee; padding: 2px 8px; } th { background: #f6f6f6; }
dl.summary { display: grid; grid-template-columns: max-content auto; gap: 2px 16px; }
dl.summary dt { font-weight: bold; } dl.summary dd { margin: 0; }
figure { margin: 1em 0; } .chart svg { max-width: 100%; height: auto; }
.stepwise-table { overflow-x: auto; max-width: 100%; }
.note { color: #666; font-size: 0.9em; }
`;

/** Columns of the training-metrics table in the report, when present. */
const TRAIN_COLUMNS = [
  "stage",
  "iteration",
  "time",
  "reward/accuracy",
  "reward/mean",
  "reward/std",
  "completions/mean_length",
  "completions/mean_steps",
  "entropy",
  "kl",
  "loss",
  "grad_norm",
  "time/iteration_s",
];
const EVAL_COLUMNS = ["after", "iteration", "time", "accuracy", "mean_tokens", "mean_steps", "redundant_step_frac"];

function pick(t: ColumnTable, names: string[]): ColumnTable {
  const have = t.columnNames();
  return t.select(names.filter((n) => have.includes(n)));
}

/** The charts a run's records support, with their section titles. */
export function reportCharts(run: Run): { title: string; spec: ChartSpec }[] {
  const charts: { title: string; spec: ChartSpec }[] = [];
  const train = run.trainRows();
  if (train.numRows() > 0 || run.evalRows().numRows() > 0) charts.push({ title: "Accuracy and length", spec: accuracyTokensChart(run.metrics) });
  const cols = run.metrics.columnNames();
  if (train.numRows() > 0 && (cols.includes("entropy") || cols.includes("kl"))) charts.push({ title: "Entropy and KL", spec: entropyKlChart(run.metrics) });
  if (stepAdvantages(run.steps).numRows() > 0) charts.push({ title: "Step advantage", spec: stepAdvantageChart(run.steps) });
  if (run.steps.numRows() > 0) {
    for (const probe of run.probeNames()) {
      charts.push({ title: `Step value: ${probe}`, spec: stepValueChart(run.steps, { probe }) });
      if ((run.steps.array("label") as unknown[]).some((l) => typeof l === "string" && l !== "unknown")) {
        charts.push({ title: `Step value by label: ${probe}`, spec: stepValueByLabelChart(run.steps, { probe }) });
      }
    }
  }
  if (hasCreditLabels(recordsOfStepsTable(run.steps))) charts.push({ title: "Credit assignment against the step labels", spec: creditChart(run.steps) });
  if (run.rollouts.numRows() > 0 || run.steps.numRows() > 0) {
    charts.push({ title: "Rewards and advantages", spec: rewardAdvantageChart(run.rollouts, run.steps) });
  }
  return charts;
}

/**
 * The report's HTML for a loaded run.
 * @example writeFileSync("r.html", await renderReport(await loadRun("runs/x")))
 */
export async function renderReport(run: Run, options: ReportOptions = {}): Promise<string> {
  const limit = options.limit ?? 200;
  const { info, plan } = run;
  const final = run.finalEval();
  const train = run.trainRows();
  const lastTrain = (train.objects() as Record<string, unknown>[]).at(-1);
  const fmt = (v: unknown) => (typeof v === "number" ? (Number.isInteger(v) ? String(v) : v.toFixed(4)) : String(v ?? "—"));

  // 1) summary
  const summary: [string, unknown][] = [
    ["status", info.status + (info.message ? ` (${info.message})` : "")],
    ["backend", info.backend],
    ["seed", info.seed],
    ["started", info.started],
  ];
  if (plan?.method) summary.push(["method", `${plan.method.name}(${Object.entries(plan.method.args).map(([k, v]) => `${k} = ${v}`).join(", ")})`]);
  if (plan) summary.push(["stages", plan.train.map((s) => s.kind).join(" → ") || "none"]);
  if (plan?.probes.length) summary.push(["probes", plan.probes.map((p) => p.name).join(", ")]);
  summary.push(["training rows", train.numRows()], ["wall time (s)", Math.max(0, ...(run.metrics.array("time") as number[]))]);
  if (final) {
    summary.push(
      [`final eval (after ${final.after ?? "?"}): accuracy`, final.accuracy],
      ["final eval: mean tokens", final.mean_tokens],
      ["final eval: mean steps", final.mean_steps],
      ["final eval: redundant-step fraction", final.redundant_step_frac],
    );
  }
  if (lastTrain && typeof lastTrain.entropy === "number") summary.push(["final entropy", lastTrain.entropy]);
  if (run.rollouts.numRows() > 0) summary.push(["tokens sampled (RL)", run.rollouts.rollup({ t: "sum(d.tokens)" }).get("t", 0)]);
  const credit = creditByIteration(recordsOfStepsTable(run.steps)).filter((c) => Number.isFinite(c.auc_redundant));
  if (credit.length > 0) summary.push(["credit AUC essential > redundant (mean over RL iterations)", credit.reduce((a, c) => a + c.auc_redundant, 0) / credit.length]);
  for (const probe of run.probeNames()) {
    const { auc } = stepLabelAuc(run.steps, { probe, positive: ["essential"] });
    if (Number.isFinite(auc)) summary.push([`AUC of ${probe} change (essential vs other)`, auc]);
  }

  // 2) charts, rendered to inline SVG
  const figures: string[] = [];
  for (const { title, spec } of reportCharts(run)) {
    figures.push(`<h2>${escapeHtml(title)}</h2>\n<figure class="chart">${await chartToSVG(spec)}</figure>`);
  }

  // 3) tables
  const tables = [
    `<h2>Evaluations</h2>${tableToHTML(pick(run.evalRows(), EVAL_COLUMNS), { limit })}`,
    `<h2>Training metrics</h2>${tableToHTML(pick(train, TRAIN_COLUMNS), { limit })}`,
  ];

  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Stepwise report: ${escapeHtml(info.name)}</title>
<style>${CSS}</style>
</head>
<body>
<h1>Stepwise run: ${escapeHtml(info.name)}</h1>
<p class="note">${escapeHtml(run.dir)}</p>
<dl class="summary">
${summary.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(fmt(v))}</dd>`).join("\n")}
</dl>
${figures.join("\n")}
${tables.join("\n")}
</body>
</html>
`;
}

/**
 * Writes `report.html` into a run directory and returns its path. Reading the run needs no lock;
 * the write does (src/run/run-lock.ts): a run that a live process is writing is refused (throws,
 * naming it) with nothing written, and the file is swapped into place whole.
 * @example const path = await writeReport("runs/spro-arith"); // "runs/spro-arith/report.html"
 */
export async function writeReport(runDir: string, options: ReportOptions = {}): Promise<string> {
  const run = await loadRun(runDir);
  const html = await renderReport(run, options);
  const path = join(runDir, "report.html");
  const lock = lockDir(runDir);
  if (lock.tookOver) process.stderr.write(`warning: ${lock.tookOver}\n`);
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    await writeFile(tmp, html);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  } finally {
    lock.release();
  }
  return path;
}
