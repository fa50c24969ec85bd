import { strict as assert } from "node:assert";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { compareRuns, formatMeanStd, meanStd } from "../../src/analytics/compare.js";
import type { RolloutBatch } from "../../src/rl/batch.js";

const tmp = mkdtempSync(join(tmpdir(), "stepwise-compare-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-9, `${a} ≠ ${b}`);

/** A minimal run: two RL rows, one eval row, one rollout batch whose responses have `lengths` tokens. */
function makeRun(name: string, seed: number, r: { acc: number; tokens: number; steps: number; red: number; entropy: number; wall: number; lengths: number[] }): string {
  const dir = join(tmp, `${name}-s${seed}`);
  mkdirSync(join(dir, "rollouts"), { recursive: true });
  writeFileSync(join(dir, "run.json"), JSON.stringify({ name, backend: "cpu", started: "2025-01-01T00:00:00Z", seed, status: "finished" }));
  const rows = [
    { stage: "rl", iteration: 0, time: 1, entropy: 9, "reward/accuracy": 0.1 },
    { stage: "rl", iteration: 1, time: r.wall - 1, entropy: r.entropy, "reward/accuracy": 0.2 },
    { stage: "eval", after: "rl", time: r.wall, accuracy: r.acc, mean_tokens: r.tokens, mean_steps: r.steps, redundant_step_frac: r.red },
  ];
  writeFileSync(join(dir, "metrics.jsonl"), rows.map((x) => JSON.stringify(x)).join("\n") + "\n");
  const resp = (T: number) => ({ text: "", token_logp: Array(T).fill(0), token_logp_ref: Array(T).fill(0), token_entropy: Array(T).fill(0), step_ends: [T], outcome: 1 });
  const batch: RolloutBatch = { groups: [{ prompt: "p", reference: "r", responses: r.lengths.map(resp) }] };
  writeFileSync(join(dir, "rollouts", "iter-0.json"), JSON.stringify(batch));
  return dir;
}

test("meanStd: sample standard deviation (n − 1), by hand", () => {
  const s = meanStd([2, 4, 4, 4, 5, 5, 7, 9]); // mean 5, squared deviations sum 32, /7
  close(s.mean, 5);
  close(s.std, Math.sqrt(32 / 7));
  assert.ok(Number.isNaN(meanStd([3]).std));
  assert.equal(meanStd([NaN, 1, 3]).n, 2);
  assert.equal(formatMeanStd(0.6, 0.1414213, 3), "0.600 ± 0.141");
  assert.equal(formatMeanStd(0.6, NaN, 3), "0.600");
  assert.equal(formatMeanStd(NaN, NaN, 3), "—");
});

test("compareRuns: mean ± std over seeds per method, as table, CSV and Markdown", async () => {
  const dirs = [
    makeRun("grpo", 1, { acc: 0.5, tokens: 30, steps: 4, red: 0.3, entropy: 1.0, wall: 10, lengths: [10, 20] }),
    makeRun("grpo", 2, { acc: 0.7, tokens: 34, steps: 5, red: 0.1, entropy: 0.8, wall: 14, lengths: [30] }),
    makeRun("sspo", 1, { acc: 0.8, tokens: 20, steps: 3, red: 0.05, entropy: 1.2, wall: 12, lengths: [5, 5, 5] }),
  ];
  const { runs, table, csv, markdown } = await compareRuns(dirs, ["grpo", "grpo", "sspo"]);
  assert.equal(runs.length, 3);
  assert.equal(runs[0]!.final_entropy, 1.0); // the last training row's, not the first
  assert.equal(runs[0]!.tokens_sampled, 30);
  assert.deepEqual(table.array("method"), ["grpo", "sspo"]);
  assert.deepEqual(table.array("seeds"), [2, 1]);
  const g = table.objects()[0] as Record<string, number>;
  // accuracy {0.5, 0.7}: mean 0.6, std sqrt((0.01 + 0.01) / 1) = 0.141421…
  close(g.accuracy_mean!, 0.6);
  close(g.accuracy_std!, Math.sqrt(0.02));
  close(g.mean_tokens_mean!, 32);
  close(g.mean_tokens_std!, Math.sqrt(8)); // {30, 34}: (4 + 4) / 1
  close(g.redundant_step_frac_mean!, 0.2);
  close(g.final_entropy_mean!, 0.9);
  close(g.wall_time_mean!, 12);
  close(g.tokens_sampled_mean!, 30); // {30, 30}
  assert.equal(g.tokens_sampled_std, 0);
  assert.ok(Number.isNaN((table.objects()[1] as Record<string, number>).accuracy_std!)); // one seed
  const md = markdown.trim().split("\n");
  assert.equal(md[0], "| method | seeds | accuracy | mean tokens | mean steps | redundant-step fraction | final entropy | wall time (s) | tokens sampled |");
  assert.equal(md[2], "| grpo | 2 | 0.600 ± 0.141 | 32.0 ± 2.8 | 4.50 ± 0.71 | 0.200 ± 0.141 | 0.900 ± 0.141 | 12.0 ± 2.8 | 30 ± 0 |");
  assert.equal(md[3], "| sspo | 1 | 0.800 | 20.0 | 3.00 | 0.050 | 1.200 | 12.0 | 15 |");
  const lines = csv.trim().split("\n");
  assert.match(lines[0]!, /^method,seeds,accuracy_mean,accuracy_std,mean_tokens_mean/);
  assert.match(lines[2]!, /^sspo,1,0\.8,,20,,/); // NaN std: empty cell
});

test("compareRuns: names default to run names; a count mismatch is an error", async () => {
  const d = makeRun("spro", 3, { acc: 0.4, tokens: 10, steps: 2, red: 0, entropy: 1, wall: 5, lengths: [1] });
  assert.deepEqual((await compareRuns([d])).table.array("method"), ["spro"]);
  await assert.rejects(compareRuns([d, d], ["a"]), /2 run directories but 1 names/);
});
