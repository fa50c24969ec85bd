/**
 * The credit panel of one run (the report, the notebook live view): the within-response credit
 * AUC per RL iteration — of the advantage, and of each probe's change over a step, side by side
 * ("does the probe see redundancy" and "does the advantage act on it") — and the mean step
 * advantage per ground-truth label. Figures from src/analytics/credit.ts, the same as the run's
 * `credit/*` metrics.
 */
import type { ColumnTable } from "arquero";
import { type ChartOptions, type ChartSpec, LABEL_ORDER, type Row, base, iterationX } from "./charts.js";
import { type CreditStepRecord, advantageScores, creditFigures, probeDeltaScores, recordProbes, recordsOfStepsTable } from "./credit.js";

/**
 * The credit panel of a run's step records (StepRecords or a steps table).
 * @example creditChart(run.steps)
 */
export function creditChart(steps: CreditStepRecord[] | ColumnTable, options: ChartOptions = {}): ChartSpec {
  const records = Array.isArray(steps) ? steps : recordsOfStepsTable(steps);
  const byIteration = new Map<string, CreditStepRecord[]>();
  for (const r of records) {
    const k = `${r.stage ?? ""}|${r.iteration ?? 0}`;
    let list = byIteration.get(k);
    if (!list) byIteration.set(k, (list = []));
    list.push(r);
  }
  const probes = recordProbes(records);
  const auc: Row[] = [];
  for (const list of byIteration.values()) {
    const iteration = list[0]!.iteration ?? 0;
    const adv = creditFigures(advantageScores(list));
    const put = (series: string, v: number) => Number.isFinite(v) && auc.push({ iteration, series, value: v });
    put("advantage: essential > redundant", adv.auc_redundant);
    put("advantage: essential > slip", adv.auc_slip);
    for (const p of probes) put(`${p} change: essential > redundant`, creditFigures(probeDeltaScores(list, p)).auc_redundant);
  }
  const byLabel = creditFigures(advantageScores(records)).by_label;
  const labels = [...LABEL_ORDER.filter((l) => l in byLabel), ...Object.keys(byLabel).filter((l) => !LABEL_ORDER.includes(l))];
  const bars = labels.map((label) => ({ label, value: byLabel[label]! }));
  const width = options.width ?? 300;
  const height = options.height ?? 180;
  return {
    ...base("Credit: do essential steps get more advantage than redundant or slip steps? (0.5: no)", options),
    hconcat: [
      {
        title: "within-response AUC per iteration",
        width,
        height,
        data: { values: auc },
        layer: [
          {
            mark: { type: "line", point: true },
            encoding: {
              x: iterationX(auc),
              y: { field: "value", type: "quantitative", title: "AUC", scale: { domain: [0, 1] } },
              color: { field: "series", type: "nominal", title: "scored by", legend: { orient: "bottom", direction: "vertical", labelLimit: 400 } },
              tooltip: [
                { field: "series", type: "nominal" },
                { field: "iteration", type: "quantitative" },
                { field: "value", type: "quantitative", format: ".3f", title: "AUC" },
              ],
            },
          },
          { data: { values: [{ y: 0.5 }] }, mark: { type: "rule", color: "#888", strokeDash: [4, 4] }, encoding: { y: { field: "y", type: "quantitative" } } },
        ],
      },
      {
        title: "mean step advantage by label",
        width: Math.max(160, 50 * labels.length),
        height,
        data: { values: bars },
        mark: { type: "bar" },
        encoding: {
          x: { field: "label", type: "nominal", title: "ground-truth step label", sort: labels, axis: { labelAngle: 0 } },
          y: { field: "value", type: "quantitative", title: "mean step advantage" },
          color: { field: "label", type: "nominal", legend: null, sort: labels, scale: { scheme: "set2" } },
          tooltip: [
            { field: "label", type: "nominal" },
            { field: "value", type: "quantitative", format: ".3f", title: "mean advantage" },
          ],
        },
      },
    ],
    resolve: { scale: { color: "independent" } },
  } as ChartSpec;
}
