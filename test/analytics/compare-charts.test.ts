/**
 * Method-comparison charts: the bands are 95% Student-t intervals over seeds (by hand), the
 * legend swatches are solid, and each method draws at most one band per panel.
 */
import { strict as assert } from "node:assert";
import { test } from "node:test";
import * as aq from "arquero";
import * as M from "../../src/analytics/compare-charts.js";
import { chartToSVG } from "../../src/analytics/render.js";
import { stepsTable } from "../../src/analytics/tables.js";
import type { StepRecord } from "../../src/run/types.js";

const T2 = 4.302652729749464; // t_{0.975, 2}
const close = (a: number, b: number, what = "") => assert.ok(Math.abs(a - b) < 1e-12, `${what} ${a} ≠ ${b}`);

/** A run: eval at start (0.5) and after 2 RL iterations (`final`); credit steps with these advantages per iteration. */
function run(method: string, final: number, credit: [number, number][]) {
  const rows: Record<string, unknown>[] = [
    { stage: "eval", after: "start", time: 0, accuracy: 0.5, mean_tokens: 20, redundant_step_frac: 0.3 },
    { stage: "rl", iteration: 0, time: 1, "reward/accuracy": 0.4, entropy: 1 },
    { stage: "rl", iteration: 1, time: 2, "reward/accuracy": 0.6, entropy: 1 },
    { stage: "eval", after: "rl", time: 3, accuracy: final, mean_tokens: 18, redundant_step_frac: 0.2 },
  ];
  const names = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const metrics = aq.table(Object.fromEntries(names.map((n) => [n, rows.map((r) => r[n] ?? null)])));
  const records: StepRecord[] = credit.flatMap(([ess, red], iteration) =>
    (["essential", "redundant"] as const).map((label, step) => ({ stage: "rl", iteration, group: 0, response: 0, step, tokens: 2, text: "", label, advantage: label === "essential" ? ess : red, outcome: 1, probes: {} })),
  );
  return { method, metrics, steps: stepsTable(records) };
}

const runs = [
  run("grpo", 0.5, [[1, 1], [0, 0]]),
  run("grpo", 0.6, [[1, 1], [0, 0]]),
  run("grpo", 0.7, [[1, 1], [0, 0]]),
  run("sspo", 0.8, [[1, -1], [1, -1]]),
  run("sspo", 0.8, [[1, -1], [-1, 1]]),
  run("sspo", 0.9, [[1, -1], [1, -1]]),
];

type Panel = { title: string; data: { values: Record<string, number | string>[] } };
const panels = (spec: unknown) => (spec as { hconcat: Panel[] }).hconcat;

test("evalCurvesChart: mean and 95% band over seeds at each evaluation, by hand", () => {
  const acc = panels(M.evalCurvesChart(runs)).find((p) => p.title === "accuracy")!.data.values;
  const g = acc.find((r) => r.method === "grpo" && r.x === 2)!; // eval after 2 iterations: {0.5, 0.6, 0.7}
  close(g.mean as number, 0.6);
  close(g.hi as number, 0.6 + (T2 * 0.1) / Math.sqrt(3), "upper");
  close(g.lo as number, 0.6 - (T2 * 0.1) / Math.sqrt(3), "lower");
  assert.equal(g.n, 3);
  const start = acc.find((r) => r.method === "sspo" && r.x === 0)!;
  assert.deepEqual([start.mean, start.lo, start.hi], [0.5, 0.5, 0.5]);
});

test("creditCurvesChart: GRPO's curve sits at 0.5; SSPO's per-iteration AUC averages its seeds", () => {
  const v = panels(M.creditCurvesChart(runs))[0]!.data.values;
  for (const r of v.filter((r) => r.method === "grpo")) assert.deepEqual([r.mean, r.lo, r.hi], [0.5, 0.5, 0.5]);
  const s1 = v.find((r) => r.method === "sspo" && r.x === 1)!; // AUC {1, 0, 1}: mean 2/3, s = 1/√3
  close(s1.mean as number, 2 / 3);
  close((s1.hi as number) - (s1.mean as number), (T2 * Math.sqrt(1 / 3)) / Math.sqrt(3));
});

test("advantageByLabelChart: per run mean advantage of a label, then over seeds", () => {
  const v = (M.advantageByLabelChart(runs) as unknown as { data: { values: Record<string, number | string>[] } }).data.values;
  const red = v.find((r) => r.method === "sspo" && r.series === "redundant")!; // per run {−1, 0, −1}
  close(red.mean as number, -2 / 3);
  assert.equal(red.n, 3);
  const ess = v.find((r) => r.method === "grpo" && r.series === "essential")!; // per run {0.5, 0.5, 0.5}
  assert.deepEqual([ess.mean, ess.lo, ess.hi], [0.5, 0.5, 0.5]);
});

test("rendered: legend swatches solid, at most one band per colour in a panel, axis titles", async () => {
  for (const spec of [M.evalCurvesChart(runs), M.creditCurvesChart(runs), M.methodComparisonChart(runs), M.advantageByLabelChart(runs)]) {
    const svg = await chartToSVG(spec);
    const swatches = [...svg.matchAll(/role-legend-symbol[^>]*>(<path[^>]*>)+/g)].flatMap((m) => [...m[0].matchAll(/opacity="([\d.]+)"/g)].map((o) => Number(o[1])));
    assert.ok(swatches.length >= 2, "a legend entry per method");
    assert.ok(swatches.every((o) => o === 1), `solid swatches: ${swatches.join(", ")}`);
    // each area mark group is one panel's bands: one path per colour
    for (const group of svg.split('class="mark-area').slice(1)) {
      const fills = [...group.split("</g>")[0]!.matchAll(/fill="(#[0-9a-f]{6})"/g)].map((m) => m[1]);
      assert.equal(new Set(fills).size, fills.length, `one band per colour: ${fills.join(", ")}`);
    }
    assert.ok(!/aria-label="[XY]-axis for/.test(svg), "every axis has a title");
  }
});
