import { strict as assert } from "node:assert";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { compareRuns, formatDifference, formatMeanCi } from "../../src/analytics/compare.js";
import { meanCi95, pairedDifference, studentTQuantile } from "../../src/analytics/stats.js";
import type { RolloutBatch } from "../../src/rl/batch.js";

const tmp = mkdtempSync(join(tmpdir(), "stepwise-compare-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-9, `${a} ≠ ${b}`);

/** A minimal run: two RL rows, one eval row, one rollout batch whose responses have `lengths` tokens. */
function makeRun(
  name: string,
  seed: number,
  r: { acc: number; tokens: number; steps: number; red: number; entropy: number; wall: number; lengths: number[]; credit?: [number, number][] },
): string {
  const dir = join(tmp, `${name}-s${seed}`);
  mkdirSync(join(dir, "rollouts"), { recursive: true });
  writeFileSync(join(dir, "run.json"), JSON.stringify({ name, backend: "cpu", started: "2025-01-01T00:00:00Z", seed, status: "finished" }));
  const rows = [
    { stage: "rl", iteration: 0, time: 1, entropy: 9, "reward/accuracy": 0.1 },
    { stage: "rl", iteration: 1, time: r.wall - 1, entropy: r.entropy, "reward/accuracy": 0.2 },
    { stage: "eval", after: "rl", time: r.wall, accuracy: r.acc, mean_tokens: r.tokens, mean_steps: r.steps, redundant_step_frac: r.red },
  ];
  rows.unshift({ stage: "eval", after: "start", time: 0, accuracy: 0.25, mean_tokens: 40, mean_steps: 5, redundant_step_frac: 0.5 } as (typeof rows)[number]);
  writeFileSync(join(dir, "metrics.jsonl"), rows.map((x) => JSON.stringify(x)).join("\n") + "\n");
  // per RL iteration, one response with an essential and a redundant step of these advantages
  const steps = (r.credit ?? []).flatMap(([ess, red], iteration) =>
    [["essential", ess], ["redundant", red]].map(([label, advantage], step) => ({ stage: "rl", iteration, group: 0, response: 0, step, tokens: 3, text: "", label, advantage, outcome: 1, probes: {} })),
  );
  writeFileSync(join(dir, "steps.jsonl"), steps.map((x) => JSON.stringify(x)).join("\n") + (steps.length ? "\n" : ""));
  const resp = (T: number) => ({ text: "", token_logp: Array(T).fill(0), token_logp_ref: Array(T).fill(0), token_entropy: Array(T).fill(0), step_ends: [T], outcome: 1 });
  const batch: RolloutBatch = { groups: [{ prompt: "p", reference: "r", responses: r.lengths.map(resp) }] };
  writeFileSync(join(dir, "rollouts", "iter-0.json"), JSON.stringify(batch));
  return dir;
}

const T2 = 4.302652729749464; // t_{0.975, 2}: (2p − 1) / sqrt(2p(1 − p)) at p = 0.975, the closed form for 2 degrees of freedom

test("studentTQuantile: closed forms and table values", () => {
  close(studentTQuantile(0.975, 1), Math.tan(Math.PI * (0.975 - 0.5))); // Cauchy: tan(π(p − ½))
  close(studentTQuantile(0.975, 2), 0.95 / Math.sqrt(2 * 0.975 * 0.025));
  close(studentTQuantile(0.975, 2), T2);
  assert.ok(Math.abs(studentTQuantile(0.975, 4) - 2.776445105) < 1e-8);
  assert.ok(Math.abs(studentTQuantile(0.975, 29) - 2.045229642) < 1e-8);
  assert.equal(studentTQuantile(0.5, 3), 0);
  close(studentTQuantile(0.025, 2), -T2);
});

test("meanCi95 and pairedDifference over three seeds, by hand", () => {
  // {0.5, 0.6, 0.7}: mean 0.6, s = sqrt((0.01 + 0 + 0.01) / 2) = 0.1, half-width t · 0.1 / √3
  const c = meanCi95([0.5, 0.6, 0.7]);
  close(c.mean, 0.6);
  close(c.std, 0.1);
  close(c.ci95, (T2 * 0.1) / Math.sqrt(3));
  assert.ok(Number.isNaN(meanCi95([3]).ci95));
  assert.equal(meanCi95([NaN, 1, 3]).n, 2);
  // x − y on seeds 1..3: {0.2, 0.2, 0.22}: mean 0.20667, s = sqrt((2·(0.02/3)² + (0.04/3)²) / 2) = 0.011547
  const x = new Map([[1, 0.7], [2, 0.8], [3, 0.92], [4, 0.1]]); // seed 4 has no partner: left out
  const y = new Map([[1, 0.5], [2, 0.6], [3, 0.7]]);
  const d = pairedDifference(x, y);
  assert.deepEqual(d.seeds, [1, 2, 3]);
  close(d.mean, 0.62 / 3);
  const s = Math.sqrt((2 * (0.02 / 3) ** 2 + (0.04 / 3) ** 2) / 2);
  close(d.ci95, (T2 * s) / Math.sqrt(3));
  assert.equal(d.significant, true); // 0.2067 ± 0.0287 excludes 0
  // {0.2, 0.05, 0.2}: mean 0.15, s = sqrt(0.015 / 2), half-width t · s / √3 = 0.215 > 0.15
  const e = pairedDifference(new Map([[1, 0.7], [2, 0.65], [3, 0.9]]), y);
  close(e.ci95, (T2 * Math.sqrt(0.0075)) / Math.sqrt(3));
  assert.equal(e.significant, false);
  assert.equal(formatMeanCi(0.6, 0.1414213, 3), "0.600 ± 0.141");
  assert.equal(formatMeanCi(0.6, NaN, 3), "0.600");
  assert.equal(formatMeanCi(NaN, NaN, 3), "—");
  assert.equal(formatDifference(d, 3), "**+0.207 ± 0.029**");
  assert.equal(formatDifference({ ...e, mean: -e.mean }, 3), "−0.150 ± 0.215");
});

test("compareRuns: mean and 95% interval per method, paired differences against the baseline, credit columns, start row", async () => {
  const grpo = [
    makeRun("grpo", 1, { acc: 0.5, tokens: 30, steps: 4, red: 0.3, entropy: 1.0, wall: 10, lengths: [10, 20], credit: [[1, 1], [0.5, 0.5]] }),
    makeRun("grpo", 2, { acc: 0.6, tokens: 34, steps: 5, red: 0.1, entropy: 0.8, wall: 14, lengths: [30], credit: [[-1, -1]] }),
    makeRun("grpo", 3, { acc: 0.7, tokens: 32, steps: 5, red: 0.2, entropy: 0.9, wall: 12, lengths: [30], credit: [[0, 0]] }),
  ];
  const sspo = [
    makeRun("sspo", 1, { acc: 0.7, tokens: 20, steps: 3, red: 0.05, entropy: 1.2, wall: 12, lengths: [5, 5, 5], credit: [[1, -1], [-1, 1]] }),
    makeRun("sspo", 2, { acc: 0.8, tokens: 22, steps: 3, red: 0.05, entropy: 1.2, wall: 12, lengths: [5], credit: [[1, -1]] }),
    makeRun("sspo", 3, { acc: 0.92, tokens: 21, steps: 3, red: 0.05, entropy: 1.2, wall: 12, lengths: [5], credit: [[2, 0]] }),
  ];
  const { runs, table, csv, markdown, differences, baseline } = await compareRuns([...grpo, ...sspo], ["grpo", "grpo", "grpo", "sspo", "sspo", "sspo"], { start: { dirs: grpo, note: "checkpoint x" } });
  assert.equal(baseline, "grpo");
  assert.equal(runs.length, 6);
  assert.equal(runs[0]!.final_entropy, 1.0); // the last training row's, not the first
  assert.equal(runs[0]!.tokens_sampled, 30);
  assert.equal(runs[0]!.credit_auc_redundant, 0.5); // ties in both iterations
  assert.equal(runs[0]!.credit_gap_redundant, 0);
  assert.equal(runs[3]!.credit_auc_redundant, 0.5); // iteration 0: AUC 1, iteration 1: AUC 0 → mean 0.5
  assert.equal(runs[3]!.credit_gap_redundant, 0); // −2 and +2
  assert.equal(runs[4]!.credit_auc_redundant, 1);
  assert.equal(runs[4]!.credit_gap_redundant, -2);
  assert.deepEqual(table.array("method"), ["warm start", "grpo", "sspo"]);
  assert.deepEqual(table.array("seeds"), [3, 3, 3]);
  assert.deepEqual(table.array("seed_list"), ["1 2 3", "1 2 3", "1 2 3"]);
  const [st, g, s] = table.objects() as Record<string, number>[];
  close(st!.accuracy_mean!, 0.25); // the first evaluation of the baseline's runs
  assert.ok(Number.isNaN(st!.credit_auc_redundant_mean!));
  close(g!.accuracy_mean!, 0.6);
  close(g!.accuracy_ci95!, (T2 * 0.1) / Math.sqrt(3));
  close(g!.mean_tokens_mean!, 32);
  close(g!.mean_tokens_ci95!, (T2 * 2) / Math.sqrt(3)); // {30, 34, 32}: s = 2
  close(g!.redundant_fraction_mean!, 0.2);
  assert.equal(g!.credit_auc_redundant_mean, 0.5);
  assert.equal(g!.credit_auc_redundant_ci95, 0);
  close(s!.credit_auc_redundant_mean!, 2.5 / 3); // {0.5, 1, 1}
  assert.ok(Number.isNaN(g!.accuracy_diff!), "no difference for the baseline itself");
  close(s!.accuracy_diff!, 0.62 / 3);
  close(s!.accuracy_diff_ci95!, (T2 * Math.sqrt((2 * (0.02 / 3) ** 2 + (0.04 / 3) ** 2) / 2)) / Math.sqrt(3));
  assert.equal(differences.sspo!.accuracy!.significant, true);
  close(s!.mean_tokens_diff!, -11); // {−10, −12, −11}
  const lines = csv.trim().split("\n");
  assert.match(lines[0]!, /^method,seeds,seed_list,accuracy_mean,accuracy_ci95,mean_tokens_mean,mean_tokens_ci95,mean_steps_mean,mean_steps_ci95,redundant_fraction_mean,redundant_fraction_ci95,credit_auc_redundant_mean,credit_auc_redundant_ci95,credit_auc_slip_mean/);
  assert.match(lines[0]!, /,accuracy_diff,accuracy_diff_ci95,/);
  assert.match(lines[1]!, /^warm start,3,1 2 3,0\.25,0,40,0,/);
  assert.match(markdown, /95% confidence interval over seeds \(Student t/);
  assert.match(markdown, /\| grpo \| 1, 2, 3 \| 0\.600 ± 0\.248 \| 32\.0 ± 5\.0 \| 4\.67 ± 1\.43 \| 0\.200 ± 0\.248 \|/);
  assert.match(markdown, /\| warm start \| 1, 2, 3 \| 0\.250 ± 0\.000 \|/);
  // the change from the warm start, seed by seed: grpo {0.5, 0.6, 0.7} − 0.25 → mean 0.35, s 0.1; tokens {30, 34, 32} − 40 → −8
  const { fromStart } = await compareRuns([...grpo, ...sspo], ["grpo", "grpo", "grpo", "sspo", "sspo", "sspo"], { start: { dirs: grpo } });
  close(fromStart.grpo!.accuracy!.mean, 0.35);
  close(fromStart.grpo!.accuracy!.ci95, (T2 * 0.1) / Math.sqrt(3));
  close(fromStart.grpo!.mean_tokens!.mean, -8);
  close(fromStart.sspo!.accuracy!.mean, (0.45 + 0.55 + 0.67) / 3);
  close(g!.accuracy_vs_start!, 0.35);
  assert.ok(Number.isNaN(st!.accuracy_vs_start!), "no change for the warm start row itself");
  assert.match(lines[0]!, /,accuracy_vs_start,accuracy_vs_start_ci95,/);
  assert.match(markdown, /### Change from the warm start \(method − warm start on the same seeds\)/);
  assert.match(markdown, /\| grpo \| 1, 2, 3 \| \*\*\+0\.350 ± 0\.248\*\* \| \*\*−8\.0 ± 5\.0\*\* \|/);
  assert.deepEqual((await compareRuns(grpo, ["grpo", "grpo", "grpo"])).fromStart, {}, "no start row, no change from it");
  assert.match(markdown, /checkpoint x/);
  assert.match(markdown, /### Paired difference against grpo/);
  assert.match(markdown, /\| sspo \| 1, 2, 3 \| \*\*\+0\.207 ± 0\.029\*\* \| \*\*−11\.0 ± 2\.5\*\* \|/);
  await assert.rejects(compareRuns(grpo, [], { baseline: "nope" }), /no method "nope" to use as the baseline \(methods: grpo\)/);
});

test("compareRuns: names default to run names; a count mismatch is an error", async () => {
  const d = makeRun("spro", 3, { acc: 0.4, tokens: 10, steps: 2, red: 0, entropy: 1, wall: 5, lengths: [1] });
  assert.deepEqual((await compareRuns([d])).table.array("method"), ["spro"]);
  await assert.rejects(compareRuns([d, d], ["a"]), /2 run directories but 1 names/);
});
