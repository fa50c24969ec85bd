import { strict as assert } from "node:assert";
import { describe, test } from "node:test";
import * as vl from "vega-lite";
import * as C from "../../src/analytics/charts.js";
import * as M from "../../src/analytics/compare-charts.js";
import { creditChart } from "../../src/analytics/credit-chart.js";
import { loadRun, stepsTable } from "../../src/analytics/tables.js";
import * as aq from "arquero";
import { FIXTURE_DIR } from "./make-fixture.js";

/** Compiles with vega-lite 5, collecting its warnings (a spec that compiles with warnings is wrong too). */
function compileStrict(spec: C.ChartSpec) {
  const warnings: string[] = [];
  const logger = {
    _level: 0,
    level(this: any, l?: number) { return l === undefined ? this._level : ((this._level = l), this); },
    error(this: any, ...a: unknown[]) { warnings.push(a.join(" ")); return this; },
    warn(this: any, ...a: unknown[]) { warnings.push(a.join(" ")); return this; },
    info(this: any) { return this; },
    debug(this: any) { return this; },
  };
  const out = vl.compile(spec, { logger: logger as never });
  return { vega: out.spec, warnings };
}

const values = (spec: C.ChartSpec) => (spec as { data: { values: Record<string, unknown>[] } }).data.values;

describe("chart specs", async () => {
  const run = await loadRun(FIXTURE_DIR);
  const runs = [
    { method: "grpo", metrics: run.metrics, steps: run.steps },
    { method: "grpo", metrics: run.metrics, steps: run.steps },
    { method: "sspo", metrics: run.metrics, steps: run.steps },
  ];
  const specs: Record<string, C.ChartSpec> = {
    stepValue: C.stepValueChart(run.steps),
    entropyKl: C.entropyKlChart(run.metrics),
    accuracyTokens: C.accuracyTokensChart(run.metrics),
    rewardAdvantage: C.rewardAdvantageChart(run.rollouts, run.steps),
    stepValueByLabel: C.stepValueByLabelChart(run.steps, { probe: "belief" }),
    methodComparison: M.methodComparisonChart(runs),
    methodEntropy: M.methodComparisonChart(runs, { series: ["entropy"] }),
    stepValueByMethod: M.stepValueByMethodChart(runs),
    evalCurves: M.evalCurvesChart(runs),
    creditCurves: M.creditCurvesChart(runs),
    advantageByLabel: M.advantageByLabelChart(runs),
    credit: creditChart(run.steps),
  };

  for (const [name, spec] of Object.entries(specs)) {
    test(`${name}: v5 $schema, compiles with vega-lite 5 without warnings`, () => {
      assert.equal(spec.$schema, "https://vega.github.io/schema/vega-lite/v5.json");
      assert.match(vl.version, /^5\./);
      const { vega, warnings } = compileStrict(spec);
      assert.deepEqual(warnings, []);
      assert.ok(Array.isArray(vega.marks) && vega.marks.length > 0);
      assert.doesNotThrow(() => JSON.stringify(spec)); // plain data: a MIME bundle carries it as JSON
    });
  }

  test("the strict compile sees vega-lite's warnings (so the checks above can fail)", () => {
    const bad = { $schema: C.VEGA_LITE_SCHEMA, data: { values: [] }, mark: "bar", encoding: { shape: { field: "b", type: "nominal" } } };
    assert.deepEqual(compileStrict(bad as C.ChartSpec).warnings, ['shape dropped as it is incompatible with "bar".']);
  });

  test("stepValue: one point per (iteration, step), mean of the probe", () => {
    const v = values(specs.stepValue!);
    const steps = run.steps.objects() as Record<string, number>[];
    const sel = steps.filter((s) => s.iteration === 2 && s.step === 1);
    const mean = sel.reduce((a, s) => a + s.probe_belief!, 0) / sel.length;
    const p = v.find((r) => r.iteration === 2 && r.step === 1)!;
    assert.ok(Math.abs((p.value as number) - mean) < 1e-12);
    assert.equal(p.n, sel.length);
  });

  test("accuracyTokens: training and eval rows on one iteration axis", () => {
    const v = values(specs.accuracyTokens!);
    const ev = v.filter((r) => r.source === "eval" && r.metric === "accuracy").map((r) => [r.iteration, r.value]);
    assert.deepEqual(ev, [[0, 0.5], [3, 0.75]]);
    const tr = v.filter((r) => r.source === "train (rl)" && r.metric === "mean tokens").map((r) => r.iteration);
    assert.deepEqual(tr, [0, 1, 2]);
  });

  test("entropyKl: entropy and KL values from the training rows", () => {
    const v = values(specs.entropyKl!);
    assert.deepEqual(v.filter((r) => r.metric === "KL").map((r) => r.value), [0, 0.01, 0.02]);
    assert.equal(v.filter((r) => r.metric === "entropy").length, 3);
  });

  test("methodComparison: one row per method and iteration in each series' panel", () => {
    const panels = (specs.methodComparison as { hconcat: { title: string; data: { values: Record<string, unknown>[] } }[] }).hconcat;
    assert.deepEqual(panels.map((p) => p.title), ["accuracy", "mean tokens"]);
    for (const p of panels) assert.equal(p.data.values.length, 2 * 3); // 2 methods × 3 iterations
  });

  test("stepValueByLabel: subtitle carries the AUC; labels in reading order", () => {
    const title = (specs.stepValueByLabel as { title: { subtitle: string } }).title;
    assert.match(title.subtitle, /AUC .*: \d\.\d{3}/);
    const x = (specs.stepValueByLabel as any).encoding.x;
    assert.deepEqual(x.sort, ["essential", "redundant", "answer"]);
  });

  test("charts of an empty run still compile", () => {
    const empty = stepsTable([]);
    const metrics = aq.table({ stage: [], iteration: [], time: [] });
    for (const spec of [
      C.stepValueChart(empty),
      C.entropyKlChart(metrics),
      C.accuracyTokensChart(metrics),
      C.rewardAdvantageChart(aq.table({ reward: [] }), empty),
      C.stepValueByLabelChart(empty),
      M.methodComparisonChart([]),
      M.evalCurvesChart([]),
      M.creditCurvesChart([]),
      M.advantageByLabelChart([]),
    ]) {
      assert.ok(compileStrict(spec).vega.marks);
    }
  });
});
