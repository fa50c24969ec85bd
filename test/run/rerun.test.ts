/**
 * Running a plan again, as a notebook cell is (src/run/rerun.ts, through `sw.run` = liveRun):
 * with the real runner on a tiny plan, in a temporary runs folder.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { compile } from "../../dsl/index.js";
import { liveRun } from "../../src/display/live-run.js";
import { registerSink } from "../../src/display/sink.js";
import { planDifference } from "../../src/run/plan-match.js";
import { CALL_SPELLING, decideRerun, refusalMessage, RunError } from "../../src/run/rerun.js";
import type { MetricsRow } from "../../src/run/types.js";
import { tinyPlan, tinyWorldSpec } from "../helpers/plans.js";

const tmpOut = (tag: string) => fs.mkdtempSync(path.join(os.tmpdir(), `stepwise-rerun-${tag}-`));
const read = (dir: string, file: string) => fs.readFileSync(path.join(dir, file), "utf8");
const rows = (dir: string): MetricsRow[] => read(dir, "metrics.jsonl").trim().split("\n").map((l) => JSON.parse(l) as MetricsRow);
/** What a run directory holds, byte for byte (checkpoints by their weights' mtime: re-writing them would change it). */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of ["plan.json", "run.json", "metrics.jsonl", "steps.jsonl"]) out[f] = read(dir, f);
  out.final = String(fs.statSync(path.join(dir, "checkpoints", "final", "model.safetensors")).mtimeMs);
  return out;
}
const changed = () => {
  const p = tinyPlan();
  return { ...p, train: [p.train[0]!, { ...(p.train[1] as Extract<(typeof p.train)[number], { kind: "rl" }>), iterations: 4 }] };
};

test("plans are compared as data: whitespace, comments and setting order do not matter, a value does", () => {
  const spec = (rl: string) => `experiment "same"\n${tinyWorldSpec(5)}reward r = outcome\nuse grpo\ntrain { rl { ${rl} } }\n`;
  const a = compile(spec("iterations 2, prompts 2, group 4, lr 1e-3"));
  const b = compile(spec("lr 1e-3,   group 4,  # reordered, with a comment\n  prompts 2, iterations 2\n"));
  const c = compile(spec("iterations 3, prompts 2, group 4, lr 1e-3"));
  assert.deepEqual([a.diagnostics, b.diagnostics, c.diagnostics], [[], [], []]);
  assert.equal(planDifference(a.plan!, b.plan!), null);
  assert.equal(planDifference(a.plan!, { ...a.plan!, name: "other" }), null, "the name is the run directory's, not the plan's");
  assert.equal(planDifference(a.plan!, c.plan!), "train[0].iterations: 2 in the run, 3 in this spec");
  assert.equal(planDifference(a.plan!, { ...a.plan!, probes: [...a.plan!.probes, { name: "p" } as never] }), 'probes[0]: absent in the run, {"name":"p"} in this spec');
});

test("run again: the same plan is shown without training, a changed one refused, overwrite and suffix get past", async () => {
  const out = tmpOut("cycle");
  const dir = path.join(out, "tiny");
  const first = await liveRun(tinyPlan(), { out });
  assert.equal(first.status, "finished", first.message);
  assert.equal(first.origin, "trained");
  assert.equal(first.dir, dir);
  const before = snapshot(dir);

  // the same plan again: the finished run, from its records; nothing written
  const again = await liveRun(tinyPlan(), { out });
  assert.deepEqual({ ...again, evals: again.evals.length }, { dir, status: "finished", evals: first.evals.length, backend: first.backend, origin: "recorded" });
  assert.deepEqual(again.evals, JSON.parse(JSON.stringify(first.evals)), "the evaluations as metrics.jsonl holds them");
  assert.deepEqual(snapshot(dir), before);

  // a changed plan: refused, in sw.run's words, and nothing written
  await assert.rejects(liveRun(changed(), { out }), (e: unknown) => {
    assert.ok(e instanceof RunError);
    assert.equal(
      e.message,
      `${dir} holds a run of a different spec (train[1].iterations: 3 in the run, 4 in this spec). Add \`overwrite: true\` to sw.run's options to delete that run and train this spec, ` +
        `or \`suffix: "NAME"\` to keep both (this one then runs in ${dir}-NAME); or put back the spec that run was made with (${dir}/spec.sw).`,
    );
    return true;
  });
  assert.deepEqual(snapshot(dir), before);

  // suffix: both runs kept; the new one is named after its directory, and is itself shown when run again
  const suffixed = await liveRun(changed(), { out, suffix: "long" });
  assert.equal(suffixed.origin, "trained");
  assert.equal(suffixed.dir, `${dir}-long`);
  assert.equal(JSON.parse(read(suffixed.dir, "run.json")).name, "tiny-long");
  assert.equal(rows(suffixed.dir).filter((r) => r.stage === "rl").length, 4);
  assert.deepEqual(snapshot(dir), before);
  assert.equal((await liveRun(changed(), { out, suffix: "long" })).origin, "recorded");

  // overwrite: the run in the plain directory is replaced by the changed plan's
  const replaced = await liveRun(changed(), { out, overwrite: true });
  assert.equal(replaced.origin, "trained");
  assert.equal(rows(dir).filter((r) => r.stage === "rl").length, 4);
  assert.equal(JSON.parse(read(dir, "plan.json")).train[1].iterations, 4);
  // and overwrite again trains again (it never shows)
  const t0 = fs.statSync(path.join(dir, "run.json")).mtimeMs;
  assert.equal((await liveRun(changed(), { out, overwrite: true })).origin, "trained");
  assert.ok(fs.statSync(path.join(dir, "run.json")).mtimeMs > t0);
});

test("run again after an interrupt or a failure: the run continues from its checkpoint to what one uninterrupted run writes", async () => {
  const out = tmpOut("continue");
  const whole = await liveRun(tinyPlan({ name: "whole" }), { out });
  const dir = path.join(out, "tiny");
  const controller = new AbortController();
  const cut = await liveRun(tinyPlan(), {
    out,
    signal: controller.signal,
    beforeIteration: (stage, it) => {
      if (stage === "rl" && it === 1) controller.abort();
    },
  });
  assert.equal(cut.status, "interrupted");
  const resumed = await liveRun(tinyPlan(), { out });
  assert.equal(resumed.origin, "continued");
  assert.equal(resumed.status, "finished", resumed.message);
  const strip = (rs: MetricsRow[]) => rs.map(({ time, ...r }) => Object.fromEntries(Object.entries(r).filter(([k]) => !k.startsWith("throughput/") && !k.startsWith("time/"))));
  assert.deepEqual(strip(rows(dir)), strip(rows(whole.dir)));

  // a failed run (a planted NaN) throws, with the runner's result; run again, it continues and finishes
  const failing = tinyPlan({ name: "nan" });
  await assert.rejects(
    liveRun(failing, {
      out,
      checkpointEvery: 1,
      beforeIteration: (stage, it, ctx) => {
        if (stage === "rl" && it === 2) for (const v of ctx.model.params.values()) v.assign(tf.fill(v.shape, NaN));
      },
    }),
    (e: unknown) => e instanceof RunError && /NaN/.test(e.message) && (e.result as { status: string; message: string }).message === e.message,
  );
  const after = await liveRun(failing, { out, checkpointEvery: 1 });
  assert.deepEqual([after.origin, after.status], ["continued", "finished"]);
  assert.deepEqual(rows(after.dir).filter((r) => r.stage === "rl").map((r) => r.iteration), [0, 1, 2]);
  // the overrides are part of the run: another checkpointEvery is another run
  await assert.rejects(liveRun(failing, { out }), /holds a run started with other options \(checkpointEvery: 1 in the run, not given now\)\. .*or give the options that run was started with\.$/);
});

test("resume insists on a run; overwrite and resume together, a suffix with dir, a bad suffix: refused before anything is written", () => {
  const out = tmpOut("refusals");
  const plan = tinyPlan();
  const refusal = (opts: Parameters<typeof decideRerun>[1]) => {
    const d = decideRerun(plan, opts);
    assert.equal(d.action, "refuse");
    return refusalMessage((d as Extract<typeof d, { action: "refuse" }>).refusal, CALL_SPELLING);
  };
  assert.equal(refusal({ out, resume: true }), `nothing to resume: ${path.join(out, "tiny")} holds no run. Leave out \`resume: true\` to start one.`);
  assert.match(refusal({ out, overwrite: true, resume: true }), /^overwrite and resume contradict each other/);
  assert.match(refusal({ out, suffix: "x", dir: path.join(out, "d") }), /^a suffix names the run directory, and so does dir/);
  assert.match(refusal({ out, suffix: "../up" }), /^suffix "\.\.\/up": experiment name "tiny-\.\.\/up" is a path/);
  assert.deepEqual(fs.readdirSync(out), []);
  assert.deepEqual(decideRerun(plan, { out }), { action: "start", plan, dir: path.join(out, "tiny"), overwrite: false });
});

test("a finished run shown again has its live view as it ended: the bar full, its charts, and where it came from", async () => {
  const out = tmpOut("view");
  await liveRun(tinyPlan(), { out });
  const sent: [string, Record<string, any>][] = [];
  registerSink({ kind: "stepwise", send: (t, c) => sent.push([t, c]) });
  try {
    const r = await liveRun(tinyPlan(), { out, display: true });
    assert.equal(r.origin, "recorded");
  } finally {
    registerSink(null);
  }
  const last = sent.at(-1)![1].data as Record<string, string>;
  const text = last["text/plain"]!;
  assert.match(text, /^tiny · rl 3\/3 · finished\n\[#{30}\]\nshown from \S+tiny: a finished run of this same spec \(not trained again\)\n/);
  assert.match(text, /eval\/accuracy/);
  const titles = /\n\[charts: (.*)\]$/.exec(text)![1]!.split("; ");
  assert.match(titles[0]!, /^Step advantage by step index/);
  assert.match(titles.at(-1)!, /^Entropy and KL/);
  assert.equal(last["text/html"]!.match(/<img /g)?.length, titles.length);
});
