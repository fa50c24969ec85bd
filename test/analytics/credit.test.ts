/**
 * Credit metrics (src/analytics/credit.ts): hand-made batches with known answers, and real
 * rollouts of the committed warm start, where GRPO must give exactly 0.5 and SSPO must not.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { compile } from "../../dsl/index.js";
import { advantageScores, creditFigures, creditMetrics, probeDeltaScores, type CreditStepRecord } from "../../src/analytics/credit.js";
import { creditChart } from "../../src/analytics/credit-chart.js";
import { chartToSVG } from "../../src/analytics/render.js";
import { stepsTable } from "../../src/analytics/tables.js";
import { registerSink } from "../../src/display/index.js";
import { LiveRunView } from "../../src/display/live-run.js";
import { runPlan } from "../../src/run/runner.js";
import { METRIC, type MetricsRow, type StepRecord } from "../../src/run/types.js";

const close = (a: number, b: number, what = "") => assert.ok(Math.abs(a - b) < 1e-12, `${what} ${a} ≠ ${b}`);

/** Steps of one response from [label, advantage] pairs (and optional probe values). */
function response(id: number, steps: [string, number, number?][], iteration = 0): CreditStepRecord[] {
  return steps.map(([label, advantage, belief], step) => ({
    stage: "rl",
    iteration,
    response: id,
    step,
    label,
    advantage,
    probes: belief === undefined ? {} : { belief },
  }));
}

test("credit: −1 on redundant and +1 on essential steps gives AUC 1 and gap −2; the reverse AUC 0", () => {
  const steps = [
    ...response(0, [["essential", 1], ["redundant", -1], ["essential", 1], ["answer", 1]]),
    ...response(1, [["redundant", -1], ["essential", 1], ["answer", 1]]),
  ];
  const f = creditFigures(advantageScores(steps));
  assert.equal(f.auc_redundant, 1);
  assert.equal(f.gap_redundant, -2);
  assert.equal(f.responses_redundant, 2);
  assert.ok(Number.isNaN(f.auc_slip), "no slip steps: no AUC");
  assert.deepEqual(f.by_label, { essential: 1, redundant: -1, answer: 1 });
  const m = creditMetrics(steps);
  assert.equal(m[METRIC.creditAucRedundant], 1);
  assert.equal(m[METRIC.creditGapRedundant], -2);
  assert.equal(m["credit/adv_redundant"], -1);
  assert.equal(m["credit/adv_essential"], 1);
  assert.ok(!(METRIC.creditAucSlip in m), "an AUC that cannot be computed is left out");
  const reversed = steps.map((s) => ({ ...s, advantage: -s.advantage }));
  assert.equal(creditFigures(advantageScores(reversed)).auc_redundant, 0);
});

test("credit: one advantage per response (GRPO) ties every pair: AUC exactly 0.5, gap 0", () => {
  const steps = [
    ...response(0, [["essential", 0.7071067690849304], ["redundant", 0.7071067690849304], ["slip", 0.7071067690849304], ["answer", 0.7071067690849304]]),
    ...response(1, [["essential", -1.4142135381698608], ["redundant", -1.4142135381698608], ["answer", -1.4142135381698608]]),
  ];
  const f = creditFigures(advantageScores(steps));
  assert.equal(f.auc_redundant, 0.5);
  assert.equal(f.auc_slip, 0.5);
  assert.equal(f.gap_redundant, 0);
});

test("credit: pairs pooled within responses, never across them (by hand)", () => {
  // response 0: essential 3, 1; redundant 2 → pairs (3>2) 1, (1<2) 0 → U 1 of 2
  // response 1: essential 0; redundant 0, −1 → pairs (0=0) ½, (0>−1) 1 → U 1.5 of 2
  // pooled AUC = (1 + 1.5) / 4 = 0.625. Pooled across responses it would differ: essential 0 of
  // response 1 against redundant 2 of response 0 is a pair that must not count.
  // gap: response 0: 2 − 2 = 0; response 1: −0.5 − 0 = −0.5 → mean −0.25
  const steps = [
    ...response(0, [["essential", 3], ["redundant", 2], ["essential", 1]]),
    ...response(1, [["essential", 0], ["redundant", 0], ["redundant", -1]]),
    ...response(2, [["redundant", 5], ["answer", 5]]), // no essential step: not in the AUC or gap
  ];
  const f = creditFigures(advantageScores(steps));
  close(f.auc_redundant, 0.625, "auc");
  close(f.gap_redundant, -0.25, "gap");
  assert.equal(f.responses_redundant, 2);
  close(f.by_label.redundant!, (2 + 0 - 1 + 5) / 4, "mean redundant");
  // the same response index in another iteration is another response
  const two = [...response(0, [["essential", 1], ["redundant", 0]], 0), ...response(0, [["essential", 0], ["redundant", 1]], 1)];
  assert.equal(creditFigures(advantageScores(two)).auc_redundant, 0.5);
  assert.equal(creditFigures(advantageScores(two)).responses_redundant, 2);
});

test("credit: a probe's figures score its change over each step; the last step is left out", () => {
  // belief before each step: 0.2, 0.6, 0.6, 0.9 → deltas essential +0.4, redundant 0, essential +0.3, answer —
  const steps = response(0, [["essential", 0, 0.2], ["redundant", 0, 0.6], ["essential", 0, 0.6], ["answer", 0, 0.9]]);
  const scored = probeDeltaScores(steps, "belief");
  assert.deepEqual(scored.map((s) => s.label), ["essential", "redundant", "essential"]);
  const m = creditMetrics(steps);
  assert.equal(m["credit/probe_belief/auc_redundant"], 1);
  close(m["credit/probe_belief/gap_redundant"]!, 0 - 0.35, "probe gap");
  close(m["credit/probe_belief/delta_essential"]!, 0.35, "probe essential delta");
  assert.equal(m[METRIC.creditAucRedundant], 0.5, "the advantage (all 0) ties");
});

test("creditChart: the advantage's and the probe's AUC per iteration side by side, and the mean advantage per label", async () => {
  // iteration 0: advantage favours essential (AUC 1), the probe does not (deltas 0 and +0.4: AUC 0)
  // iteration 1: advantage ties (0.5), the probe favours essential (AUC 1)
  const records = [
    ...response(0, [["essential", 1, 0.5], ["redundant", -1, 0.5], ["answer", 0, 0.9]], 0),
    ...response(0, [["essential", 0, 0.1], ["redundant", 0, 0.6], ["answer", 0, 0.6]], 1),
  ];
  for (const steps of [records, stepsTable(records as StepRecord[])]) {
    const spec = creditChart(steps) as unknown as { hconcat: { data: { values: Record<string, unknown>[] } }[] };
    const auc = spec.hconcat[0]!.data.values;
    const at = (series: string, iteration: number) => auc.find((r) => r.series === series && r.iteration === iteration)?.value;
    assert.equal(at("advantage: essential > redundant", 0), 1);
    assert.equal(at("advantage: essential > redundant", 1), 0.5);
    assert.equal(at("belief change: essential > redundant", 0), 0);
    assert.equal(at("belief change: essential > redundant", 1), 1);
    assert.deepEqual(spec.hconcat[1]!.data.values, [
      { label: "essential", value: 0.5 },
      { label: "redundant", value: -0.5 },
      { label: "answer", value: 0 },
    ]);
  }
  assert.match(await chartToSVG(creditChart(records)), /within-response AUC per iteration/);
});

test("the notebook live view shows the credit panel for labelled steps", async () => {
  registerSink({ kind: "stepwise", send: () => {} });
  try {
    const titles: string[] = [];
    const view = new LiveRunView("credit", { renderChart: async (spec) => (titles.push(String((spec as { title: unknown }).title)), "UE5H") });
    view.onEvent({ type: "stage", stage: "rl", total: 1 });
    const steps = response(0, [["essential", 1], ["redundant", -1], ["answer", 0]]).map((s) => ({ ...s, group: 0, tokens: 2, text: "", outcome: 1 })) as StepRecord[];
    view.onEvent({ type: "iteration", row: { stage: "rl", iteration: 0, time: 1 }, steps });
    view.onEvent({ type: "finished", summary: {} });
    await view.finish();
    assert.ok(titles.some((t) => t.startsWith("Credit:")), titles.join("; "));
  } finally {
    registerSink(null);
  }
});

test("credit: nothing for unlabelled steps", () => {
  assert.deepEqual(creditMetrics([{ response: 0, step: 0, advantage: 1 }, { response: 0, step: 1, label: "unknown", advantage: 0 }]), {});
});

// ---------------------------------------------------------------------------------------------
// Real rollouts: the committed warm start on the arena's world, one RL iteration

const CHECKPOINT = path.resolve("examples/checkpoints/arith-sft");
const WORLD = `seed 11
backend wasm
model load "${CHECKPOINT}"
task arithmetic { operands 2..3, values 1..9, operators "+-", verbosity 0.9, slips 0.2 }
steps split "\\n"
eval { prompts 2, max_tokens 48 }
sampler standard { temperature 1.0, max_tokens 48 }
`;
const TRAIN = "train { rl { iterations 1, prompts 4, group 4, lr 1e-4 } }\n";

async function realRun(name: string, body: string): Promise<{ row: MetricsRow; steps: StepRecord[] }> {
  const { plan, diagnostics } = compile(`experiment "${name}"\n${WORLD}${body}${TRAIN}`, { file: `${name}.sw`, purpose: "run" });
  assert.ok(plan, diagnostics.map((d) => d.message).join("\n"));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `stepwise-credit-${name}-`));
  try {
    const res = await runPlan(plan, { dir });
    assert.equal(res.status, "finished", res.message);
    const rows = fs.readFileSync(path.join(dir, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as MetricsRow);
    const steps = fs.readFileSync(path.join(dir, "steps.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as StepRecord);
    return { row: rows.find((r) => r.stage === "rl")!, steps };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The within-response AUC by brute force over every (essential, redundant) pair. */
function bruteAuc(steps: StepRecord[]): number {
  let wins = 0;
  let pairs = 0;
  for (const e of steps.filter((s) => s.label === "essential")) {
    for (const r of steps.filter((s) => s.label === "redundant" && s.response === e.response && s.iteration === e.iteration)) {
      wins += e.advantage > r.advantage ? 1 : e.advantage === r.advantage ? 0.5 : 0;
      pairs++;
    }
  }
  return wins / pairs;
}

test("credit on real rollouts: GRPO exactly 0.5 and gap 0; SSPO's step advantages are not, and match the pairs by brute force", async () => {
  const grpo = await realRun("grpo", "use grpo\n");
  assert.ok(grpo.steps.some((s) => s.label === "redundant"), "the world makes redundant steps");
  assert.equal(grpo.row[METRIC.creditAucRedundant], 0.5);
  assert.equal(grpo.row[METRIC.creditGapRedundant], 0);
  assert.equal(typeof grpo.row["credit/adv_essential"], "number");

  const sspo = await realRun(
    "sspo",
    `probe belief { prompt "{question}\\n{steps}answer ", score likelihood(reference) }\nreward correct = outcome\nuse sspo(probe = belief, gamma = 1.0, lambda = 0.95)\n`,
  );
  const auc = sspo.row[METRIC.creditAucRedundant] as number;
  assert.equal(typeof auc, "number");
  assert.notEqual(auc, 0.5, "SSPO's advantage differs between steps of a response");
  close(auc, bruteAuc(sspo.steps), "SSPO AUC against brute force");
  assert.equal(typeof sspo.row["credit/probe_belief/auc_redundant"], "number");
});
