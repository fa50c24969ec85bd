/**
 * vega-lite chart builders: pure functions from run tables to vega-lite 5 specs with the data
 * inlined (aggregated first, so specs stay small). Every spec carries a v5 `$schema`: JupyterLab
 * and VS Code render `application/vnd.vegalite.v5+json`, and there is no v6 renderer.
 * Render them with render.ts (SVG, PNG, MIME bundles).
 */
import type { ColumnTable } from "arquero";
import type { TopLevelSpec } from "vega-lite";
import { METRIC } from "../run/types.js";
import { VEGALITE_V5_SCHEMA } from "../display/bundles.js";
import { stepLabelAuc } from "./auc.js";
import { PROBE_PREFIX, evalRows, probeNames, stepValues, trainRows } from "./tables.js";

export type ChartSpec = TopLevelSpec;

/** The vega-lite schema every chart carries: src/display's, the one version notebooks render. */
export const VEGA_LITE_SCHEMA = VEGALITE_V5_SCHEMA;

/** The font every chart asks for; render.ts hands resvg DejaVu Sans for it. */
export const CHART_FONT = "DejaVu Sans, sans-serif";

export interface ChartOptions {
  title?: string;
  /** width of one panel in pixels (default 360) */
  width?: number;
  /** height of one panel in pixels (default 200) */
  height?: number;
}

export type Row = Record<string, unknown>;

/** Step labels in the order a reader expects them (src/task/types.ts StepLabel). */
export const LABEL_ORDER = ["essential", "redundant", "slip", "fix", "answer", "unknown"];

/** The fields every chart starts with: schema, title, white background, the font. */
export function base(title: string, o: ChartOptions) {
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: o.title ?? title,
    background: "white",
    config: { font: CHART_FONT, view: { stroke: "#ddd" } },
  } as const;
}

/** One panel of a faceted chart (vega-lite's facet `spec`, a unit or a layer). */
type FacetPanel = Extract<ChartSpec, { facet: unknown }>["spec"];

/** The x encoding of every chart over iterations: integer ticks at the iterations present. */
export function iterationX(values: Row[]) {
  return { field: "iteration", type: "quantitative" as const, title: "iteration", axis: intAxis(values, "iteration") };
}

/** The y encoding of a metric panel: the panel's own scale, the facet header names it. */
const VALUE_Y = { field: "value", type: "quantitative" as const, title: null };

/**
 * Values over iterations as one panel per metric (a `row` or `column` facet in `order`), each
 * panel with its own y scale; `panel` is the mark and encoding (or layers) of one panel.
 */
function metricPanels(
  title: string,
  options: ChartOptions,
  values: Row[],
  facet: "row" | "column",
  order: string[],
  size: { width: number; height: number },
  panel: FacetPanel,
): ChartSpec {
  return {
    ...base(title, options),
    data: { values },
    facet: { [facet]: { field: "metric", type: "nominal" as const, title: null, sort: order } },
    resolve: { scale: { y: "independent" } },
    spec: { width: options.width ?? size.width, height: options.height ?? size.height, ...panel },
  };
}

export const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);

/** An axis with integer ticks only (iterations, step indices): at most ~10 of them. */
export function intAxis(values: Row[], field: string) {
  const xs = values.map((r) => r[field]).filter((v): v is number => typeof v === "number");
  const lo = xs.length ? Math.min(...xs) : 0;
  const hi = xs.length ? Math.max(...xs) : 1;
  const every = Math.max(1, Math.ceil((hi - lo) / 10));
  const ticks: number[] = [];
  for (let v = Math.ceil(lo); v <= hi; v += every) ticks.push(v);
  return { values: ticks, format: "d" };
}

/** Colour by iteration: distinct colours for a few iterations, a gradient for many. */
function iterationColor(values: Row[]) {
  const n = new Set(values.map((r) => r.iteration)).size;
  return n <= 12
    ? { field: "iteration", type: "ordinal" as const, title: "iteration", scale: { scheme: "viridis" } }
    : { field: "iteration", type: "quantitative" as const, title: "iteration", scale: { scheme: "viridis" }, legend: { type: "gradient" as const, format: "d" } };
}

/**
 * Step value by step index, one line per RL iteration: the SSPO/SPPD view of how a probe's
 * value evolves along the reasoning chain (mean over the iteration's responses).
 * @example
 *   const spec = stepValueChart(run.steps, { probe: "belief" });
 *   display(await renderChartBundle(spec));
 */
export function stepValueChart(steps: ColumnTable, options: ChartOptions & { probe?: string } = {}): ChartSpec {
  const probe = options.probe ?? probeNames(steps)[0] ?? "value";
  const values = stepValues(steps, options.probe).objects() as Row[];
  return {
    ...base(`Step value (${probe}) by step index, per iteration`, options),
    width: options.width ?? 360,
    height: options.height ?? 200,
    data: { values },
    mark: { type: "line", point: true },
    encoding: {
      x: { field: "step", type: "quantitative", title: "step index", axis: intAxis(values, "step") },
      y: { field: "value", type: "quantitative", title: `${probe} (mean before step)` },
      color: iterationColor(values),
      detail: { field: "iteration", type: "nominal" },
      tooltip: [
        { field: "iteration", type: "quantitative" },
        { field: "step", type: "quantitative" },
        { field: "value", type: "quantitative", format: ".3f" },
        { field: "n", type: "quantitative", title: "steps averaged" },
      ],
    },
  };
}

/**
 * Entropy and KL to the reference over training iterations, one panel each.
 * @example entropyKlChart(run.metrics)
 */
export function entropyKlChart(metrics: ColumnTable, options: ChartOptions = {}): ChartSpec {
  const values: Row[] = [];
  for (const r of trainRows(metrics).objects() as Row[]) {
    const it = num(r.iteration);
    if (it === null) continue;
    for (const [metric, key] of [["entropy", METRIC.entropy], ["KL", METRIC.kl]] as const) {
      const v = num(r[key]);
      if (v !== null) values.push({ iteration: it, stage: r.stage, metric, value: v });
    }
  }
  return metricPanels("Entropy and KL over iterations", options, values, "row", ["entropy", "KL"], { width: 360, height: 140 }, {
    mark: { type: "line", point: true },
    encoding: { x: iterationX(values), y: VALUE_Y, color: { field: "stage", type: "nominal", title: "stage" } },
  });
}

/**
 * Accuracy and mean response tokens over iterations: training rows (reward/accuracy,
 * completions/mean_length) and evaluation rows (accuracy, mean_tokens), one panel per metric.
 * Evaluation rows sit at the number of iterations done before them (tables.ts evalRows).
 * @example accuracyTokensChart(run.metrics)
 */
export function accuracyTokensChart(metrics: ColumnTable, options: ChartOptions = {}): ChartSpec {
  const values: Row[] = [];
  const add = (iteration: unknown, source: string, metric: string, v: unknown) => {
    const it = num(iteration);
    const x = num(v);
    if (it !== null && x !== null) values.push({ iteration: it, source, metric, value: x });
  };
  for (const r of trainRows(metrics).objects() as Row[]) {
    add(r.iteration, `train (${r.stage})`, "accuracy", r[METRIC.accuracy]);
    add(r.iteration, `train (${r.stage})`, "mean tokens", r[METRIC.meanTokens]);
  }
  for (const r of evalRows(metrics).objects() as Row[]) {
    add(r.iteration, "eval", "accuracy", r.accuracy);
    add(r.iteration, "eval", "mean tokens", r.mean_tokens);
  }
  return metricPanels("Accuracy and mean tokens over iterations", options, values, "column", ["accuracy", "mean tokens"], { width: 280, height: 200 }, {
    mark: { type: "line", point: true },
    encoding: {
      x: iterationX(values),
      y: VALUE_Y,
      color: { field: "source", type: "nominal", title: "rows" },
      strokeDash: { field: "source", type: "nominal", title: "rows" },
    },
  });
}

/**
 * Distributions of response rewards (rollouts table) and step advantages (steps table),
 * side by side.
 * @example rewardAdvantageChart(run.rollouts, run.steps)
 */
export function rewardAdvantageChart(rollouts: ColumnTable, steps: ColumnTable, options: ChartOptions = {}): ChartSpec {
  const rewards = (rollouts.objects() as Row[]).filter((r) => num(r.reward) !== null).map((r) => ({ reward: r.reward, iteration: r.iteration }));
  const advantages = (steps.objects() as Row[]).filter((r) => num(r.advantage) !== null).map((r) => ({ advantage: r.advantage, iteration: r.iteration }));
  const panel = (field: string, title: string, values: Row[]) => ({
    title,
    width: options.width ?? 260,
    height: options.height ?? 180,
    data: { values },
    mark: { type: "bar" as const, tooltip: true },
    encoding: {
      x: { field, type: "quantitative" as const, bin: { maxbins: 20 }, title: field },
      y: { aggregate: "count" as const, type: "quantitative" as const, title: "count" },
    },
  });
  return {
    ...base("Reward and advantage distributions", options),
    hconcat: [panel("reward", "reward per response", rewards), panel("advantage", "mean advantage per step", advantages)],
  };
}

/**
 * A probe's step value against the task's ground-truth step label (box plot), titled with the
 * AUC of the value's change over a step at telling essential steps from the others.
 * @example stepValueByLabelChart(run.steps, { probe: "belief" })
 */
export function stepValueByLabelChart(steps: ColumnTable, options: ChartOptions & { probe?: string } = {}): ChartSpec {
  const probe = options.probe ?? probeNames(steps)[0];
  const col = PROBE_PREFIX + (probe ?? "");
  const values = (steps.objects() as Row[])
    .filter((r) => typeof r.label === "string" && num(r[col]) !== null)
    .map((r) => ({ label: r.label, value: r[col], iteration: r.iteration }));
  let subtitle: string | undefined;
  if (probe !== undefined && values.length > 0) {
    const { auc, positives, negatives } = stepLabelAuc(steps, { probe, positive: ["essential"], score: "delta" });
    if (Number.isFinite(auc)) subtitle = `AUC (value change, essential vs other): ${auc.toFixed(3)} over ${positives}+${negatives} steps`;
  }
  const present = LABEL_ORDER.filter((l) => values.some((v) => v.label === l));
  const extra = [...new Set(values.map((v) => v.label as string))].filter((l) => !LABEL_ORDER.includes(l));
  return {
    ...base(`Step value (${probe ?? "none"}) by ground-truth label`, options),
    ...(subtitle ? { title: { text: options.title ?? `Step value (${probe}) by ground-truth label`, subtitle } } : {}),
    width: options.width ?? 320,
    height: options.height ?? 200,
    data: { values },
    mark: { type: "boxplot", extent: 1.5 },
    encoding: {
      x: { field: "label", type: "nominal", title: "label", sort: [...present, ...extra], axis: { labelAngle: 0 } },
      y: { field: "value", type: "quantitative", title: `${probe ?? "value"} before step` },
      color: { field: "label", type: "nominal", legend: null, sort: [...present, ...extra] },
    },
  };
}
