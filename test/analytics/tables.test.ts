import { strict as assert } from "node:assert";
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import type { RolloutBatch } from "../../src/rl/batch.js";
import { RunDirError } from "../../src/analytics/errors.js";
import { evalRows, finalEval, loadRun, stepValues, stepsTable, trainRows } from "../../src/analytics/tables.js";
import { FIXTURE_DIR, GROUP, ITERATIONS, PROMPTS, makeFixture } from "./make-fixture.js";

const tmp = mkdtempSync(join(tmpdir(), "stepwise-tables-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** A writable copy of the fixture run. */
function copyFixture(name: string): string {
  const dir = join(tmp, name);
  cpSync(FIXTURE_DIR, dir, { recursive: true });
  return dir;
}

describe("fixture", () => {
  test("the committed fixture is what the generator writes", () => {
    const dir = join(tmp, "regenerated");
    makeFixture(dir);
    const files = (d: string): string[] => readdirSync(d, { recursive: true, withFileTypes: false }) as string[];
    assert.deepEqual(files(dir).sort(), files(FIXTURE_DIR).filter((f) => f !== "report.html").sort());
    for (const f of ["metrics.jsonl", "steps.jsonl", "run.json", "plan.json", "rollouts/iter-2.json"]) {
      assert.equal(readFileSync(join(dir, f), "utf8"), readFileSync(join(FIXTURE_DIR, f), "utf8"), f);
    }
  });
});

describe("loadRun", async () => {
  const run = await loadRun(FIXTURE_DIR);

  test("reads info and plan", () => {
    assert.equal(run.info.name, "sample");
    assert.equal(run.info.status, "finished");
    assert.equal(run.plan?.method?.name, "sspo");
  });

  test("metrics: one row per line, union of columns", () => {
    assert.equal(run.metrics.numRows(), 2 + ITERATIONS);
    assert.deepEqual(run.metrics.array("stage"), ["eval", "rl", "rl", "rl", "eval"]);
    assert.deepEqual(run.metrics.columnNames().slice(0, 4), ["stage", "iteration", "after", "time"]);
    assert.ok(run.metrics.columnNames().includes("reward/accuracy"));
    assert.equal(run.metrics.get("accuracy", 4), 0.75);
    assert.equal(run.metrics.get("entropy", 0), null); // eval rows have no entropy
  });

  test("rollouts: one row per response, numbers from the batch files", () => {
    assert.equal(run.rollouts.numRows(), ITERATIONS * PROMPTS * GROUP);
    const batch = JSON.parse(readFileSync(join(FIXTURE_DIR, "rollouts/iter-1.json"), "utf8")) as RolloutBatch;
    const r = batch.groups[1]!.responses[2]!;
    const rows = run.rollouts.objects() as Record<string, unknown>[];
    const row = rows.find((x) => x.iteration === 1 && x.group === 1 && x.response === GROUP + 2)!;
    assert.equal(row.tokens, r.tokens!.length);
    assert.equal(row.tokens, r.step_ends.at(-1));
    assert.equal(row.steps, r.step_ends.length);
    assert.equal(row.outcome, r.outcome);
    assert.equal(row.reward, r.outcome); // no recorded reward: the outcome
    assert.equal(row.truncated, 0);
    assert.equal(row.text, r.text);
  });

  test("steps: one row per record, probes flattened", () => {
    const lines = readFileSync(join(FIXTURE_DIR, "steps.jsonl"), "utf8").trim().split("\n");
    assert.equal(run.steps.numRows(), lines.length);
    const first = JSON.parse(lines[0]!);
    assert.equal(run.steps.get("probe_belief", 0), first.probes.belief);
    assert.equal(run.steps.get("label", 0), first.label);
    // every response's steps sum to its token count
    const perResponse = run.steps
      .groupby("iteration", "response")
      .rollup({ tokens: "sum(d.tokens)" })
      .join(run.rollouts.select("iteration", "response", "tokens").rename({ tokens: "expected" }));
    for (const r of perResponse.objects() as { tokens: number; expected: number }[]) assert.equal(r.tokens, r.expected);
  });

  test("evalRows sit at the iterations done before them; finalEval is the last", () => {
    assert.deepEqual(evalRows(run.metrics).array("iteration"), [0, ITERATIONS]);
    assert.deepEqual(trainRows(run.metrics, "rl").array("iteration"), [0, 1, 2]);
    assert.equal(finalEval(run.metrics)?.after, "rl");
    assert.equal(finalEval(run.metrics, "sft")?.accuracy, 0.5);
  });

  test("stepValues: mean probe value by (iteration, step), hand-computed", () => {
    const t = stepsTable([
      { stage: "rl", iteration: 0, group: 0, response: 0, step: 0, tokens: 2, text: "a", advantage: 0, outcome: 1, probes: { v: 0.2 } },
      { stage: "rl", iteration: 0, group: 0, response: 0, step: 1, tokens: 2, text: "b", advantage: 0, outcome: 1, probes: { v: 0.6 } },
      { stage: "rl", iteration: 0, group: 0, response: 1, step: 0, tokens: 2, text: "a", advantage: 0, outcome: 0, probes: { v: 0.4 } },
      { stage: "rl", iteration: 1, group: 0, response: 0, step: 0, tokens: 2, text: "a", advantage: 0, outcome: 0, probes: { v: 0.9 } },
    ]);
    const rows = stepValues(t, "v").objects() as { iteration: number; step: number; value: number; n: number }[];
    assert.equal(rows.length, 3);
    assert.deepEqual(rows.map((r) => [r.iteration, r.step, r.n]), [[0, 0, 2], [0, 1, 1], [1, 0, 1]]);
    assert.ok(Math.abs(rows[0]!.value - 0.3) < 1e-12);
    assert.equal(rows[1]!.value, 0.6);
    assert.throws(() => stepValues(t, "nope"), /no probe "nope".*probes: v/);
  });
});

describe("loadRun errors", () => {
  test("missing directory", async () => {
    await assert.rejects(loadRun(join(tmp, "absent")), /absent: no such run directory/);
  });

  test("missing metrics.jsonl names the file", async () => {
    const dir = copyFixture("no-metrics");
    rmSync(join(dir, "metrics.jsonl"));
    await assert.rejects(loadRun(dir), (e: unknown) => e instanceof RunDirError && /metrics\.jsonl: missing/.test(e.message));
  });

  test("a corrupt line names the file and line", async () => {
    const dir = copyFixture("corrupt");
    const lines = readFileSync(join(dir, "steps.jsonl"), "utf8").split("\n");
    lines[6] = "{not json";
    writeFileSync(join(dir, "steps.jsonl"), lines.join("\n"));
    await assert.rejects(loadRun(dir), (e: unknown) => e instanceof RunDirError && e.line === 7 && /steps\.jsonl:7: not valid JSON/.test(e.message));
  });

  test("a row of the wrong shape names the field", async () => {
    const dir = copyFixture("bad-row");
    writeFileSync(join(dir, "metrics.jsonl"), '{"stage":"rl","iteration":0,"time":1}\n{"iteration":1,"time":2}\n');
    await assert.rejects(loadRun(dir), /metrics\.jsonl:2: a metrics row needs a string "stage"/);
  });

  test("a corrupt rollout file names the file", async () => {
    const dir = copyFixture("bad-rollout");
    writeFileSync(join(dir, "rollouts/iter-1.json"), '{"groups": [{"responses": [{"text": "x"}]}]}');
    await assert.rejects(loadRun(dir), /iter-1\.json: group 0 response 0: needs token_logp, step_ends and outcome/);
  });

  test("an unfinished last line is skipped, running or not (a row being appended, or torn by a kill or a full disk); one that is not last is an error", async () => {
    const dir = copyFixture("live");
    const text = readFileSync(join(dir, "metrics.jsonl"), "utf8");
    writeFileSync(join(dir, "metrics.jsonl"), text + '{"stage":"rl","itera');
    assert.equal((await loadRun(dir)).metrics.numRows(), 5);
    const info = JSON.parse(readFileSync(join(dir, "run.json"), "utf8"));
    writeFileSync(join(dir, "run.json"), JSON.stringify({ ...info, status: "running" }));
    assert.equal((await loadRun(dir)).metrics.numRows(), 5);
    writeFileSync(join(dir, "metrics.jsonl"), text + '{"stage":"rl","itera\n');
    await assert.rejects(loadRun(dir), /metrics\.jsonl:6: not valid JSON/);
  });

  test("optional files absent: empty tables with their columns", async () => {
    const dir = copyFixture("minimal");
    rmSync(join(dir, "steps.jsonl"));
    rmSync(join(dir, "rollouts"), { recursive: true });
    rmSync(join(dir, "plan.json"));
    const run = await loadRun(dir);
    assert.equal(run.plan, null);
    assert.equal(run.steps.numRows(), 0);
    assert.equal(run.rollouts.numRows(), 0);
    assert.ok(run.rollouts.columnNames().includes("reward"));
    assert.equal(run.stepValues().numRows(), 0);
  });
});
