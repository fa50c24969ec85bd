import { test } from "node:test";
import assert from "node:assert/strict";
import { runPlanInCell } from "../../kernel/run-cell.js";
import { LiveRunView, liveRun, type RunPlanFn } from "../../src/display/live-run.js";
import { registerSink } from "../../src/display/index.js";
import { compile } from "./fixtures/fake-dsl.js";

test("a run cell's runner gets the plan, the signal and an event sink that drives one live display", async () => {
  const sent: [string, Record<string, any>][] = [];
  registerSink({ kind: "stepwise", send: (t, c) => sent.push([t, c]) });
  const { plan } = compile("experiment live\niterations 3");
  const controller = new AbortController();
  const runner: RunPlanFn = async (p, { onEvent, signal }) => {
    assert.equal(p.name, "live");
    assert.equal(signal, controller.signal);
    onEvent!({ type: "stage", stage: "rl", total: 3 });
    for (let i = 1; i <= 3; i++) onEvent!({ type: "progress", stage: "rl", done: i, total: 3, metrics: { "reward/mean": i / 4 } });
    onEvent!({ type: "finished", summary: {} });
    return { dir: "d", status: "finished", evals: [], backend: "cpu" };
  };
  try {
    assert.deepEqual(await runPlanInCell(plan!, controller.signal, undefined, runner), { dir: "d", status: "finished", evals: [], backend: "cpu", origin: "trained" });
  } finally {
    registerSink(null);
  }
  const [first, ...rest] = sent;
  assert.equal(first![0], "display_data");
  const id = first![1].transient.display_id;
  assert.ok(rest.length >= 1 && rest.every(([t, c]) => t === "update_display_data" && c.transient.display_id === id));
  const last = rest.at(-1)![1].data["text/plain"] as string;
  assert.match(last, /^live · rl 3\/3 · finished\n\[#{30}\]/);
  assert.match(last, /reward\/mean\s+0\.75/);
});

test("the live view shows an interruption with its checkpoint", () => {
  const view = new LiveRunView("x");
  view.onEvent({ type: "stage", stage: "sft", total: 10 });
  view.onEvent({ type: "progress", stage: "sft", done: 5, total: 10, metrics: { loss: 1.5 } });
  view.onEvent({ type: "interrupted", checkpoint: "runs/x/checkpoints/sft-5" });
  const text = view.bundle()["text/plain"] as string;
  assert.match(text, /^x · sft 5\/10 · interrupted \(checkpoint runs\/x\/checkpoints\/sft-5\)\n\[#{15}\.{15}\]/);
});

// ---------------------------------------------------------------------------------------------
// The live view's charts: accumulated from iteration events, redrawn at most once a second

import type { MetricsRow, StepRecord } from "../../src/run/types.js";
import type { Clock } from "../../src/display/index.js";

function fakeClock(): Clock & { t: number; timers: { at: number; fn: () => void }[]; advance(ms: number): void } {
  const c = {
    t: 0,
    timers: [] as { at: number; fn: () => void }[],
    now: () => c.t,
    setTimeout: (fn: () => void, ms: number) => {
      const h = { at: c.t + ms, fn };
      c.timers.push(h);
      return h;
    },
    clearTimeout: (h: unknown) => {
      c.timers = c.timers.filter((x) => x !== h);
    },
    advance(ms: number) {
      c.t += ms;
      const due = c.timers.filter((x) => x.at <= c.t);
      c.timers = c.timers.filter((x) => x.at > c.t);
      for (const d of due) d.fn();
    },
  };
  return c;
}

const row = (iteration: number): MetricsRow => ({ stage: "rl", iteration, time: iteration, entropy: 1 - iteration / 10, kl: iteration / 100, "reward/mean": iteration / 4 });
const stepsOf = (iteration: number): StepRecord[] =>
  [0, 1, 2].map((step) => ({ stage: "rl", iteration, group: 0, response: 0, step, tokens: 3, text: "1+2=3", label: "essential", advantage: step - 1, outcome: 1, probes: { belief: 0.2 * step + 0.1 * iteration } }));

test("the live view redraws its charts at most once a second, and once more at the end", async () => {
  const sent: [string, Record<string, any>][] = [];
  registerSink({ kind: "stepwise", send: (t, c) => sent.push([t, c]) });
  const clock = fakeClock();
  const rendered: string[][] = [];
  try {
    const view = new LiveRunView("charts", {
      clock,
      renderChart: async (spec) => {
        const data = (spec as any).data?.values ?? (spec as any).vconcat.flatMap((r: any) => r.data.values);
        const values = (data as Record<string, unknown>[]).map((v) => String(v.iteration));
        rendered.push([String((spec as any).title), ...new Set(values)]);
        return "UE5H"; // base64 stand-in
      },
    });
    view.onEvent({ type: "stage", stage: "rl", total: 10 });
    for (let it = 0; it < 5; it++) {
      clock.advance(300); // 300 ms per iteration: iterations 0 (at 300 ms) and 4 (at 1500 ms, ≥ 1 s later) redraw
      view.onEvent({ type: "iteration", row: row(it), steps: stepsOf(it) });
      view.onEvent({ type: "progress", stage: "rl", done: it + 1, total: 10, metrics: {} });
      await view.idle();
    }
    // two redraws of two charts each: after iteration 0 and after iteration 4
    assert.equal(rendered.length, 4);
    assert.match(rendered[0]![0]!, /^Step value \(belief\)/);
    assert.match(rendered[1]![0]!, /^Entropy and KL/);
    assert.deepEqual(rendered[2]!.slice(1), ["0", "1", "2", "3", "4"]);
    view.onEvent({ type: "iteration", row: row(5), steps: stepsOf(5) });
    view.onEvent({ type: "progress", stage: "rl", done: 6, total: 10, metrics: {} });
    view.onEvent({ type: "stage", stage: "eval after rl", total: 16 });
    assert.match(view.bundle()["text/plain"] as string, /^charts · rl 6\/10 · ETA \d+ s · eval after rl · running/);
    view.onEvent({ type: "eval", row: { stage: "eval", after: "rl", time: 9, accuracy: 0.5 }, samples: [] });
    view.onEvent({ type: "finished", summary: {} });
    await view.finish();
    assert.equal(rendered.length, 6); // the final redraw has iteration 5
    assert.deepEqual(rendered[4]!.slice(1), ["0", "1", "2", "3", "4", "5"]);
    const html = sent.at(-1)![1].data["text/html"] as string;
    assert.equal(html.match(/<img /g)?.length, 2);
    assert.match(html, /src="data:image\/png;base64,UE5H"/);
    const text = sent.at(-1)![1].data["text/plain"] as string;
    assert.match(text, /^charts · rl 6\/10 · finished/);
    assert.match(text, /eval\/accuracy\s+0\.5/);
    assert.match(text, /\[charts: Step value \(belief\)[^;]*; Entropy and KL to the reference over training\]/);
    assert.match(text, /reward\/mean\s+1\.25/);
    // every message after the first is an update of the first one's id
    const id = sent[0]![1].transient.display_id;
    assert.ok(sent.slice(1).every(([t, c]) => t === "update_display_data" && c.transient.display_id === id));
  } finally {
    registerSink(null);
  }
});

test("the live view's ETA comes from the stage's pace", () => {
  registerSink({ kind: "stepwise", send: () => {} });
  try {
    const clock = fakeClock();
    const view = new LiveRunView("eta", { clock, charts: false });
    view.onEvent({ type: "stage", stage: "sft", total: 100 });
    clock.advance(20_000);
    view.onEvent({ type: "progress", stage: "sft", done: 25, total: 100, metrics: { loss: 2 } });
    assert.equal(view.eta(), 60); // 20 s for 25 steps → 75 steps in 60 s
    assert.match(view.bundle()["text/plain"] as string, /^eta · sft 25\/100 · ETA 1 min 0 s · running/);
  } finally {
    registerSink(null);
  }
});

test("with no probe, the live view charts the step advantage; real PNGs of the expected size", async () => {
  const sent: [string, Record<string, any>][] = [];
  registerSink({ kind: "stepwise", send: (t, c) => sent.push([t, c]) });
  try {
    const view = new LiveRunView("png");
    view.onEvent({ type: "stage", stage: "rl", total: 2 });
    for (let it = 0; it < 2; it++) view.onEvent({ type: "iteration", row: row(it), steps: stepsOf(it).map((s) => ({ ...s, probes: {} })) });
    view.onEvent({ type: "finished", summary: {} });
    await view.finish();
    const html = sent.at(-1)![1].data["text/html"] as string;
    const { pngSize } = await import("../../src/analytics/index.js");
    const pngs = [...html.matchAll(/base64,([A-Za-z0-9+/=]+)"/g)].map((m) => Buffer.from(m[1]!, "base64"));
    assert.equal(pngs.length, 2);
    for (const png of pngs) {
      const { width, height } = pngSize(png);
      assert.ok(width > 300 && width < 700 && height > 150 && height < 600, `${width}×${height}`);
    }
    assert.match(sent.at(-1)![1].data["text/plain"] as string, /\[charts: Step advantage by step index/);
  } finally {
    registerSink(null);
  }
});

test("liveRun outside a kernel is the runner with no display; its events reach the caller", async () => {
  const seen: string[] = [];
  const runner: RunPlanFn = async (_p, { onEvent, signal }) => {
    assert.ok(signal instanceof AbortSignal); // the cell's signal by default
    onEvent!({ type: "finished", summary: {} });
    return { dir: "d", status: "finished", evals: [], backend: "cpu" };
  };
  const out: string[] = [];
  const write = process.stdout.write;
  process.stdout.write = ((s: string) => (out.push(String(s)), true)) as typeof process.stdout.write;
  try {
    const { plan } = compile("experiment quiet\niterations 1");
    const r = await liveRun(plan!, { runner, onEvent: (e) => seen.push(e.type) });
    assert.equal(r.status, "finished");
  } finally {
    process.stdout.write = write;
  }
  assert.deepEqual(seen, ["finished"]);
  assert.deepEqual(out, []);
});
