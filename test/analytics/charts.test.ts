import { strict as assert } from "node:assert";
import { describe, test } from "node:test";
import * as vl from "vega-lite";
import * as C from "../../src/analytics/charts.js";
import * as M from "../../src/analytics/compare-charts.js";
import { creditChart } from "../../src/analytics/credit-chart.js";
import { loadRun, metricsTable, stepsTable } from "../../src/analytics/tables.js";
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
    stepAdvantage: C.stepAdvantageChart(run.steps),
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

  /** The panels' rows of a stage-faceted chart: metric → its y title, its values, its facet. */
  const stageRows = (spec: C.ChartSpec) =>
    (spec as { vconcat: { data: { values: Record<string, unknown>[] }; facet: any; resolve: any; spec: any }[] }).vconcat;

  test("accuracyTokens: training batches and held-out evaluations, y titles, a legend that says what was measured", () => {
    const [acc, tokens] = stageRows(specs.accuracyTokens!);
    assert.equal(acc!.spec.encoding.y.title, "accuracy");
    assert.deepEqual(acc!.spec.encoding.y.scale, { domain: [0, 1] });
    assert.equal(tokens!.spec.encoding.y.title, "mean response tokens");
    assert.equal(acc!.spec.encoding.color.title, "measured on");
    const ev = acc!.data.values.filter((r) => r.source === "held-out evaluation").map((r) => [r.phase, r.iteration, r.value]);
    assert.deepEqual(ev, [["RL iteration", 0, 0.5], ["RL iteration", 3, 0.75]]);
    const tr = tokens!.data.values.filter((r) => r.source === "training batches").map((r) => r.iteration);
    assert.deepEqual(tr, [0, 1, 2]);
  });

  test("accuracyTokens: SFT steps and RL iterations on their own x axes; a one-series chart has no legend", () => {
    const rows = [
      { stage: "eval", after: "init", accuracy: 0.1, mean_tokens: 30 },
      ...Array.from({ length: 40 }, (_, i) => ({ stage: "sft", iteration: i, loss: 2 - i / 40 })),
      { stage: "eval", after: "sft", accuracy: 0.6, mean_tokens: 28 },
      ...Array.from({ length: 3 }, (_, i) => ({ stage: "rl", iteration: i, "reward/accuracy": 0.5 + i / 10, "completions/mean_length": 25 - i, entropy: 0.4, kl: 0.01 * i })),
      { stage: "eval", after: "rl", accuracy: 0.7, mean_tokens: 22 },
    ];
    const metrics = metricsTable(rows as never);
    const spec = C.accuracyTokensChart(metrics);
    assert.deepEqual(compileStrict(spec).warnings, []);
    const [acc] = stageRows(spec);
    assert.deepEqual(acc!.facet.column.sort, ["SFT step", "RL iteration"]);
    assert.deepEqual(acc!.resolve, { scale: { x: "independent" } });
    const ev = acc!.data.values.filter((r) => r.source === "held-out evaluation").map((r) => [r.phase, r.iteration, r.value]);
    assert.deepEqual(ev, [["SFT step", 0, 0.1], ["SFT step", 40, 0.6], ["RL iteration", 3, 0.7]]);
    const evalOnly = C.accuracyTokensChart(metricsTable(rows.filter((r) => r.stage !== "rl") as never));
    assert.equal(stageRows(evalOnly)[0]!.spec.encoding.color.legend, null);
  });

  test("entropyKl: entropy and KL values from the training rows, each with its y title, no one-entry legend", () => {
    const [ent, kl] = stageRows(specs.entropyKl!);
    assert.deepEqual(kl!.data.values.map((r) => r.value), [0, 0.01, 0.02]);
    assert.equal(ent!.data.values.length, 3);
    assert.equal(ent!.spec.encoding.y.title, "entropy (nats per token)");
    assert.equal(kl!.spec.encoding.y.title, "KL to the reference");
    assert.equal(ent!.spec.encoding.color, undefined);
  });

  test("entropyKl from live rows whose first row is an SFT row (no entropy column there) still has its columns", () => {
    const rows = [
      { stage: "sft", iteration: 0, loss: 2.1 },
      { stage: "sft", iteration: 1, loss: 1.9 },
      { stage: "rl", iteration: 0, entropy: 0.5, kl: 0 },
      { stage: "rl", iteration: 1, entropy: 0.45, kl: 0.003 },
    ];
    const t = metricsTable(rows as never);
    assert.ok(t.columnNames().includes("entropy") && t.columnNames().includes("kl"), t.columnNames().join(","));
    assert.deepEqual(aq.from(rows).columnNames(), ["stage", "iteration", "loss"]); // what the live view used to build
    const [ent, kl] = stageRows(C.entropyKlChart(t));
    assert.deepEqual(ent!.data.values.map((r) => [r.phase, r.iteration, r.value]), [["RL iteration", 0, 0.5], ["RL iteration", 1, 0.45]]);
    assert.deepEqual(kl!.data.values.map((r) => r.value), [0, 0.003]);
  });

  test("rewardAdvantage: a 0/1 reward gets one bar per value, not a ten-tick binned axis", () => {
    const rollouts = aq.table({ reward: [0, 1, 1, 0, 1], iteration: [0, 0, 0, 1, 1] });
    const spec = C.rewardAdvantageChart(rollouts, stepsTable([])) as any;
    assert.deepEqual(compileStrict(spec).warnings, []);
    const x = spec.hconcat[0].encoding.x;
    assert.equal(x.type, "ordinal");
    assert.deepEqual(x.sort, [0, 1]);
    assert.equal(x.bin, undefined);
    assert.equal(spec.hconcat[0].encoding.y.title, "responses");
  });

  test("stepAdvantage: mean advantage per (iteration, step) with its count, for a run without probes", () => {
    const spec = C.stepAdvantageChart(run.steps) as any;
    const steps = (run.steps.objects() as Record<string, number>[]).filter((s) => s.iteration === 1 && s.step === 0);
    const p = spec.data.values.find((r: any) => r.iteration === 1 && r.step === 0);
    assert.ok(Math.abs(p.value - steps.reduce((a, s) => a + s.advantage!, 0) / steps.length) < 1e-12);
    assert.equal(p.n, steps.length);
    assert.equal(spec.layer[1].encoding.size.field, "n");
    assert.equal(spec.layer[1].encoding.size.title, "steps averaged");
    assert.deepEqual(compileStrict(spec).warnings, []);
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
      C.stepAdvantageChart(empty),
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
