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
import { PROBE_PREFIX, evalRows, probeNames, stepAdvantages, stepValues, trainRows } from "./tables.js";

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

/** How a training stage's x axis counts: SFT and the preference stages count optimizer steps, RL iterations. */
export const STAGE_AXIS: Record<string, string> = {
  sft: "SFT step",
  rl: "RL iteration",
  dpo: "DPO step",
  step_dpo: "Step-DPO step",
};

/** The header of a stage's column: "RL iteration" for rl, the stage's name for one not in STAGE_AXIS. */
export function stageAxis(stage: unknown): string {
  return typeof stage === "string" ? (STAGE_AXIS[stage] ?? stage) : "iteration";
}

/** One metric of a stage-faceted chart: its values' `metric`, its y-axis title, an optional fixed domain. */
interface MetricRow {
  metric: string;
  title: string;
  domain?: [number, number];
}

/**
 * Values over training as one row of panels per metric, one column per training stage, so that
 * SFT steps and RL iterations each get their own x axis (a run of 1,000 SFT steps and 80 RL
 * iterations on one axis squeezes RL into a sliver). Every panel has a y-axis title; the column's
 * label under its x axis says what x counts. `series` colours the lines (legend only when it has
 * two or more values). Values: { phase, iteration, metric, value, [series] }.
 */
function stagePanels(
  title: string,
  options: ChartOptions,
  metricsTable: ColumnTable,
  values: Row[],
  metrics: MetricRow[],
  series?: { field: string; title: string },
): ChartSpec {
  // columns in the order the run trained its stages
  const trained = (trainRows(metricsTable).objects() as Row[]).map((r) => stageAxis(r.stage));
  const phases = [...new Set([...trained, ...values.map((v) => v.phase as string)])].filter((p) => values.some((v) => v.phase === p));
  const seriesValues = series ? [...new Set(values.map((v) => v[series.field]))] : [];
  const color = series
    ? { field: series.field, type: "nominal" as const, title: series.title, ...(seriesValues.length < 2 ? { legend: null } : {}) }
    : undefined;
  // the metrics with values (a run without evaluations has no eval accuracy…); all of them when
  // there are none at all, so that an empty run's chart still compiles
  const present = metrics.filter((m) => values.some((v) => v.metric === m.metric));
  const rows = (present.length > 0 ? present : metrics.slice(0, 1)).map((m) => ({
      data: { values: values.filter((v) => v.metric === m.metric) },
      facet: { column: { field: "phase", type: "nominal" as const, title: null, sort: phases, header: { labelOrient: "bottom" as const, labelFontSize: 11, labelPadding: 4 } } },
      resolve: { scale: { x: "independent" as const } },
      spec: {
        width: options.width ?? (phases.length > 1 ? 220 : 360),
        height: options.height ?? 140,
        mark: { type: "line" as const, point: true },
        encoding: {
          x: { field: "iteration", type: "quantitative" as const, title: null, axis: { format: "d", tickMinStep: 1 } },
          y: { field: "value", type: "quantitative" as const, title: m.title, scale: m.domain ? { domain: m.domain } : { zero: false } },
          // colour and dash on the same field and title: vega-lite draws one legend of both
          ...(color ? { color, strokeDash: color } : {}),
        },
      },
    }));
  return { ...base(title, options), vconcat: rows } as ChartSpec;
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
 * A per-step quantity by step index, one line per iteration, each point sized by the number of
 * steps it averages (late step indices are reached by few responses: their means are noisy).
 * Values: { iteration, step, value, n }.
 */
function byStepIndex(title: string, yTitle: string, values: Row[], options: ChartOptions): ChartSpec {
  const encoding = {
    x: { field: "step", type: "quantitative" as const, title: "step index (0 = first step)", axis: intAxis(values, "step") },
    y: { field: "value", type: "quantitative" as const, title: yTitle },
    color: iterationColor(values),
    detail: { field: "iteration", type: "nominal" as const },
  };
  return {
    ...base(title, options),
    width: options.width ?? 360,
    height: options.height ?? 200,
    data: { values },
    layer: [
      { mark: { type: "line" }, encoding },
      {
        mark: { type: "circle", opacity: 0.85 },
        encoding: {
          ...encoding,
          size: { field: "n", type: "quantitative", title: "steps averaged", scale: { zero: false, range: [12, 160] } },
          tooltip: [
            { field: "iteration", type: "quantitative" },
            { field: "step", type: "quantitative", title: "step index" },
            { field: "value", type: "quantitative", format: ".3f" },
            { field: "n", type: "quantitative", title: "steps averaged" },
          ],
        },
      },
    ],
  } as ChartSpec;
}

/**
 * Step value by step index, one line per RL iteration: the SSPO/SPPD view of how a probe's
 * value evolves along the reasoning chain (mean over the iteration's responses; point size: how
 * many steps the mean is over).
 * @example
 *   const spec = stepValueChart(run.steps, { probe: "belief" });
 *   display(await renderChartBundle(spec));
 */
export function stepValueChart(steps: ColumnTable, options: ChartOptions & { probe?: string } = {}): ChartSpec {
  const probe = options.probe ?? probeNames(steps)[0] ?? "value";
  const values = stepValues(steps, options.probe).objects() as Row[];
  return byStepIndex(`Step value (${probe}) by step index, per iteration`, `${probe} (mean before step)`, values, options);
}

/**
 * The advantage a step's tokens were trained with (the mean over its tokens, as steps.jsonl
 * records it) by step index, one line per RL iteration: where in the chain a method puts its
 * credit. Every RL run has it, with or without a probe.
 * @example stepAdvantageChart(run.steps)
 */
export function stepAdvantageChart(steps: ColumnTable, options: ChartOptions = {}): ChartSpec {
  const values = stepAdvantages(steps).objects() as Row[];
  return byStepIndex("Step advantage by step index, per iteration", "mean advantage of the step's tokens", values, options);
}

/**
 * Entropy and KL to the reference over training, one row of panels each, one column per training
 * stage that records them (RL; SFT has neither).
 * @example entropyKlChart(run.metrics)
 */
export function entropyKlChart(metrics: ColumnTable, options: ChartOptions = {}): ChartSpec {
  const values: Row[] = [];
  for (const r of trainRows(metrics).objects() as Row[]) {
    const it = num(r.iteration);
    if (it === null) continue;
    for (const [metric, key] of [["entropy", METRIC.entropy], ["KL", METRIC.kl]] as const) {
      const v = num(r[key]);
      if (v !== null) values.push({ iteration: it, phase: stageAxis(r.stage), metric, value: v });
    }
  }
  return stagePanels("Entropy and KL to the reference over training", options, metrics, values, [
    { metric: "entropy", title: "entropy (nats per token)" },
    { metric: "KL", title: "KL to the reference" },
  ]);
}

/**
 * Accuracy and mean response tokens over training: training batches (reward/accuracy,
 * completions/mean_length) and held-out evaluations (accuracy, mean_tokens), one row of panels per
 * metric, one column per training stage. An evaluation sits on the axis of the stage it followed,
 * at the iterations done before it (tables.ts evalRows).
 * @example accuracyTokensChart(run.metrics)
 */
export function accuracyTokensChart(metrics: ColumnTable, options: ChartOptions = {}): ChartSpec {
  const values: Row[] = [];
  const add = (phase: unknown, iteration: unknown, source: string, metric: string, v: unknown) => {
    const it = num(iteration);
    const x = num(v);
    if (it !== null && x !== null) values.push({ phase: stageAxis(phase), iteration: it, source, metric, value: x });
  };
  for (const r of trainRows(metrics).objects() as Row[]) {
    add(r.stage, r.iteration, "training batches", "accuracy", r[METRIC.accuracy]);
    add(r.stage, r.iteration, "training batches", "mean tokens", r[METRIC.meanTokens]);
  }
  for (const r of evalRows(metrics).objects() as Row[]) {
    add(r.phase, r.iteration, "held-out evaluation", "accuracy", r.accuracy);
    add(r.phase, r.iteration, "held-out evaluation", "mean tokens", r.mean_tokens);
  }
  return stagePanels(
    "Accuracy and mean tokens over training",
    options,
    metrics,
    values,
    [
      { metric: "accuracy", title: "accuracy", domain: [0, 1] },
      { metric: "mean tokens", title: "mean response tokens" },
    ],
    { field: "source", title: "measured on" },
  );
}

/**
 * Distributions of response rewards (rollouts table) and step advantages (steps table),
 * side by side.
 * @example rewardAdvantageChart(run.rollouts, run.steps)
 */
export function rewardAdvantageChart(rollouts: ColumnTable, steps: ColumnTable, options: ChartOptions = {}): ChartSpec {
  const rewards = (rollouts.objects() as Row[]).filter((r) => num(r.reward) !== null).map((r) => ({ reward: r.reward, iteration: r.iteration }));
  const advantages = (steps.objects() as Row[]).filter((r) => num(r.advantage) !== null).map((r) => ({ advantage: r.advantage, iteration: r.iteration }));
  const panel = (field: string, title: string, axisTitle: string, counted: string, values: Row[]) => {
    // a reward with a few values (the verifier's 0/1 outcome) gets one bar per value, not bins
    const distinct = [...new Set(values.map((v) => v[field] as number))].sort((a, b) => a - b);
    const x =
      distinct.length <= 8
        ? { field, type: "ordinal" as const, title: axisTitle, sort: distinct, axis: { labelAngle: 0 } }
        : { field, type: "quantitative" as const, bin: { maxbins: 20 }, title: axisTitle };
    return {
      title,
      width: options.width ?? 260,
      height: options.height ?? 180,
      data: { values },
      mark: { type: "bar" as const, tooltip: true },
      encoding: { x, y: { aggregate: "count" as const, type: "quantitative" as const, title: counted } },
    };
  };
  return {
    ...base("Reward and advantage distributions", options),
    hconcat: [panel("reward", "reward per response", "reward", "responses", rewards), panel("advantage", "mean advantage per step", "mean advantage of the step's tokens", "steps", advantages)],
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
