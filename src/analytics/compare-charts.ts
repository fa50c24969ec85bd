/**
 * Charts of a method comparison (several methods × seeds): held-out evaluation curves, credit
 * AUC over iterations, advantage by step label, and the noisier training-batch curves on their
 * own titled chart. Every curve is the mean over a method's seeds with its 95% Student-t band
 * (src/analytics/stats.ts): one band per method, drawn pale; the legend reads the solid lines.
 * Each panel has its own axis titles; methods keep one colour across panels.
 */
import type { ColumnTable } from "arquero";
import { METRIC } from "../run/types.js";
import { type ChartOptions, type ChartSpec, LABEL_ORDER, type Row, base, intAxis, num, iterationX } from "./charts.js";
import { type CreditStepRecord, creditByIteration } from "./credit.js";
import { meanCi95 } from "./stats.js";
import { evalRows, stepValues, trainRows } from "./tables.js";

/** One run of a comparison: its method name (runs with the same name are seeds) and records. */
export interface MethodRun {
  method: string;
  metrics: ColumnTable;
  steps?: ColumnTable;
}

/** The training-row series a comparison can show, and the metric each reads. */
export const COMPARE_SERIES = {
  accuracy: METRIC.accuracy,
  "mean tokens": METRIC.meanTokens,
  entropy: METRIC.entropy,
  "mean steps": METRIC.meanSteps,
} as const;

/** The held-out evaluation series, and the eval-row field each reads. */
export const EVAL_SERIES = {
  accuracy: "accuracy",
  "mean tokens": "mean_tokens",
  "mean steps": "mean_steps",
  "redundant fraction": "redundant_step_frac",
} as const;

/** A value of one run: method, panel (series), x, value. */
interface Point {
  method: string;
  series: string;
  x: number;
  value: number;
}

/** Each run's value of each series (`fields[series]` of the rows `rowsOf` picks) at each iteration. */
function metricPoints<S extends string>(runs: MethodRun[], rowsOf: (metrics: ColumnTable) => ColumnTable, series: S[], fields: Record<S, string>): Point[] {
  const points: Point[] = [];
  for (const run of runs) {
    for (const r of rowsOf(run.metrics).objects() as Row[]) {
      const it = num(r.iteration);
      if (it === null) continue;
      for (const s of series) {
        const v = num(r[fields[s]]);
        if (v !== null) points.push({ method: run.method, series: s, x: it, value: v });
      }
    }
  }
  return points;
}

/** Mean, 95% band and seed count per (method, series, x): the rows the charts plot. */
export function aggregateOverSeeds(points: Point[]): Row[] {
  const groups = new Map<string, Point[]>();
  for (const p of points) {
    const k = JSON.stringify([p.method, p.series, p.x]);
    let g = groups.get(k);
    if (!g) groups.set(k, (g = []));
    g.push(p);
  }
  return [...groups.values()].map((g) => {
    const s = meanCi95(g.map((p) => p.value));
    const h = Number.isFinite(s.ci95) ? s.ci95 : 0;
    return { method: g[0]!.method, series: g[0]!.series, x: g[0]!.x, mean: s.mean, lo: s.mean - h, hi: s.mean + h, n: s.n };
  });
}

const METHOD_COLOR = (methods: string[]) => ({ field: "method", type: "nominal" as const, title: "method", sort: methods });

/** Legend symbols drawn solid, whatever layer they come from (not in the band's pale colour). */
const SOLID_LEGEND = { symbolOpacity: 1, symbolStrokeWidth: 2 };

/**
 * One panel per series, side by side: each method's mean line (with points) over a pale band of
 * its 95% interval; `rule` draws a reference line (0.5 for an AUC).
 */
function bandPanels(
  title: string,
  options: ChartOptions,
  rows: Row[],
  series: string[],
  xTitle: string,
  yTitles: Record<string, string>,
  extra: { rule?: number; domain?: [number, number] } = {},
): ChartSpec {
  const { rule, domain } = extra;
  const scale = domain ? { scale: { domain } } : {};
  const methods = [...new Set(rows.map((r) => r.method as string))];
  const panels = series.map((s) => {
    const values = rows.filter((r) => r.series === s);
    const x = { ...iterationX(values.map((r) => ({ iteration: r.x }))), field: "x", title: xTitle };
    const color = METHOD_COLOR(methods);
    return {
      title: s,
      width: options.width ?? 260,
      height: options.height ?? 180,
      data: { values },
      layer: [
        {
          mark: { type: "area" as const, opacity: 0.15, clip: true },
          encoding: { x, y: { field: "lo", type: "quantitative" as const, title: yTitles[s] ?? s, ...scale }, y2: { field: "hi" }, color: { ...color, legend: SOLID_LEGEND } },
        },
        {
          mark: { type: "line" as const, point: true, clip: true },
          encoding: {
            x,
            y: { field: "mean", type: "quantitative" as const, title: yTitles[s] ?? s, ...scale },
            color: { ...color, legend: SOLID_LEGEND },
            tooltip: [
              { field: "method", type: "nominal" as const },
              { field: "x", type: "quantitative" as const, title: xTitle },
              { field: "mean", type: "quantitative" as const, format: ".3f" },
              { field: "lo", type: "quantitative" as const, format: ".3f", title: "95% low" },
              { field: "hi", type: "quantitative" as const, format: ".3f", title: "95% high" },
              { field: "n", type: "quantitative" as const, title: "seeds" },
            ],
          },
        },
        ...(rule === undefined ? [] : [{ data: { values: [{ y: rule }] }, mark: { type: "rule" as const, color: "#888", strokeDash: [4, 4] }, encoding: { y: { field: "y", type: "quantitative" as const } } }]),
      ],
    };
  });
  return { ...base(title, options), hconcat: panels, resolve: { scale: { color: "shared" } } } as ChartSpec;
}

/**
 * Held-out evaluation per method over training iterations (evaluation rows sit at the iterations
 * done before them: 0 is the start), mean and 95% band over seeds; one panel per series.
 * @example evalCurvesChart(runs, { series: ["accuracy", "mean tokens"] })
 */
export function evalCurvesChart(runs: MethodRun[], options: ChartOptions & { series?: (keyof typeof EVAL_SERIES)[] } = {}): ChartSpec {
  const series = options.series ?? ["accuracy", "mean tokens", "redundant fraction"];
  const points = metricPoints(runs, evalRows, series, EVAL_SERIES);
  const yTitles = { accuracy: "held-out accuracy", "mean tokens": "mean response tokens", "mean steps": "mean steps", "redundant fraction": "redundant-step fraction" };
  return bandPanels("Held-out evaluation per method (mean over seeds, 95% band)", options, aggregateOverSeeds(points), series, "RL iterations done", yTitles);
}

/**
 * Training-batch metrics per method over iterations (the iteration's own sampled prompts, not
 * held out: noisy), mean and 95% band over seeds; one panel per series.
 * @example methodComparisonChart([{ method: "grpo", metrics: a.metrics }, { method: "sspo", metrics: b.metrics }])
 */
export function methodComparisonChart(runs: MethodRun[], options: ChartOptions & { series?: (keyof typeof COMPARE_SERIES)[] } = {}): ChartSpec {
  const series = options.series ?? ["accuracy", "mean tokens"];
  const points = metricPoints(runs, (m) => trainRows(m), series, COMPARE_SERIES);
  const yTitles = { accuracy: "batch accuracy (training prompts)", "mean tokens": "batch mean tokens", entropy: "entropy (nats per token)", "mean steps": "batch mean steps" };
  return bandPanels(options.title ?? "Training batches per method (sampled training prompts, not held out)", options, aggregateOverSeeds(points), series, "iteration", yTitles);
}

/** The credit series: the advantage's within-response AUCs (src/analytics/credit.ts). */
const CREDIT_SERIES = { "essential vs redundant": "auc_redundant", "essential vs slip": "auc_slip" } as const;

/**
 * Credit AUC over RL iterations per method: the probability that an essential step's advantage
 * beats a redundant (slip) step's of the same response; 0.5 (dashed) is no step credit (GRPO).
 * @example creditCurvesChart(runs)
 */
export function creditCurvesChart(runs: MethodRun[], options: ChartOptions = {}): ChartSpec {
  const points: Point[] = [];
  for (const run of runs) {
    if (!run.steps) continue;
    for (const c of creditByIteration(run.steps.objects() as CreditStepRecord[])) {
      for (const [s, key] of Object.entries(CREDIT_SERIES)) if (Number.isFinite(c[key])) points.push({ method: run.method, series: s, x: c.iteration, value: c[key] });
    }
  }
  const series = Object.keys(CREDIT_SERIES).filter((s) => points.some((p) => p.series === s));
  const yTitles = { "essential vs redundant": "AUC: essential > redundant", "essential vs slip": "AUC: essential > slip" };
  return bandPanels("Credit AUC per method (0.5: no step-level credit)", options, aggregateOverSeeds(points), series.length ? series : ["essential vs redundant"], "iteration", yTitles, {
    rule: 0.5,
    domain: [0, 1],
  });
}

/**
 * Mean step advantage by ground-truth label per method (over all RL iterations of a run, then
 * mean and 95% interval over seeds): grouped bars with interval whiskers.
 * @example advantageByLabelChart(runs)
 */
export function advantageByLabelChart(runs: MethodRun[], options: ChartOptions = {}): ChartSpec {
  const points: Point[] = [];
  runs.forEach((run, i) => {
    if (!run.steps) return;
    const sums = new Map<string, { s: number; n: number }>();
    for (const r of run.steps.objects() as Row[]) {
      const a = num(r.advantage);
      if (typeof r.label !== "string" || r.label === "unknown" || a === null) continue;
      const e = sums.get(r.label) ?? { s: 0, n: 0 };
      sums.set(r.label, { s: e.s + a, n: e.n + 1 });
    }
    // x: the run index keeps each run's label means apart; series carries the label
    for (const [label, { s, n }] of sums) points.push({ method: run.method, series: label, x: i, value: s / n });
  });
  // one value per run and label; aggregate over the runs of a method
  const rows = aggregateOverSeeds(points.map((p) => ({ ...p, x: 0 })));
  const methods = [...new Set(rows.map((r) => r.method as string))];
  const present = LABEL_ORDER.filter((l) => rows.some((r) => r.series === l));
  const extra = [...new Set(rows.map((r) => r.series as string))].filter((l) => !LABEL_ORDER.includes(l));
  const labels = [...present, ...extra];
  const x = { field: "series", type: "nominal" as const, title: "ground-truth step label", sort: labels, axis: { labelAngle: 0 } };
  const xOffset = { field: "method", type: "nominal" as const, sort: methods };
  const color = METHOD_COLOR(methods);
  return {
    ...base("Mean step advantage by ground-truth label, per method (95% interval over seeds)", options),
    width: options.width ?? Math.max(320, 40 * labels.length * Math.max(1, methods.length)),
    height: options.height ?? 200,
    data: { values: rows },
    layer: [
      {
        mark: { type: "bar" },
        encoding: {
          x,
          xOffset,
          y: { field: "mean", type: "quantitative", title: "mean step advantage" },
          color: { ...color, legend: SOLID_LEGEND },
          tooltip: [
            { field: "method", type: "nominal" },
            { field: "series", type: "nominal", title: "label" },
            { field: "mean", type: "quantitative", format: ".3f" },
            { field: "lo", type: "quantitative", format: ".3f", title: "95% low" },
            { field: "hi", type: "quantitative", format: ".3f", title: "95% high" },
            { field: "n", type: "quantitative", title: "seeds" },
          ],
        },
      },
      { mark: { type: "rule", color: "#333" }, encoding: { x, xOffset, y: { field: "lo", type: "quantitative" }, y2: { field: "hi" } } },
    ],
  } as ChartSpec;
}

/**
 * Step value by step index per method (mean over each method's runs at their last RL iteration).
 * @example stepValueByMethodChart([{ method: "sspo", metrics: r.metrics, steps: r.steps }], { probe: "belief" })
 */
export function stepValueByMethodChart(runs: MethodRun[], options: ChartOptions & { probe?: string } = {}): ChartSpec {
  const values: Row[] = [];
  for (const run of runs) {
    if (!run.steps || run.steps.numRows() === 0) continue;
    const sv = stepValues(run.steps, options.probe).objects() as Row[];
    const last = Math.max(...sv.map((r) => r.iteration as number));
    for (const r of sv) if (r.iteration === last) values.push({ method: run.method, step: r.step, value: r.value });
  }
  return {
    ...base(`Step value (${options.probe ?? "first probe"}) by step index, last iteration, per method`, options),
    width: options.width ?? 360,
    height: options.height ?? 200,
    data: { values },
    mark: { type: "line", point: true },
    encoding: {
      x: { field: "step", type: "quantitative", title: "step index", axis: intAxis(values, "step") },
      y: { aggregate: "mean", field: "value", type: "quantitative", title: "value before step" },
      color: { field: "method", type: "nominal", title: "method", legend: SOLID_LEGEND },
    },
  };
}

/** Whether runs carry labelled steps (what the credit charts need). */
export function hasStepLabels(runs: MethodRun[]): boolean {
  return runs.some((r) => r.steps !== undefined && r.steps.numRows() > 0 && (r.steps.array("label") as unknown[]).some((l) => typeof l === "string" && l !== "unknown"));
}
