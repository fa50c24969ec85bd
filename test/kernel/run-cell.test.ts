import { test } from "node:test";
import assert from "node:assert/strict";
import { findRunner, LiveRunView, RunnerUnavailableError, runPlanInCell, setRunner } from "../../kernel/run-cell.js";
import { registerSink } from "../../src/display/index.js";
import { compile } from "./fixtures/fake-dsl.js";

test("without a runner, a run cell says the runner is not available", async () => {
  const old = process.env.STEPWISE_KERNEL_RUNNER;
  process.env.STEPWISE_KERNEL_RUNNER = "/nonexistent/runner.ts";
  try {
    setRunner(null);
    await assert.rejects(findRunner(), (e: unknown) => e instanceof RunnerUnavailableError && /^runner not available/.test((e as Error).message));
  } finally {
    if (old === undefined) delete process.env.STEPWISE_KERNEL_RUNNER;
    else process.env.STEPWISE_KERNEL_RUNNER = old;
  }
});

test("a registered runner gets the plan, the signal and an event sink that drives one live display", async () => {
  const sent: [string, Record<string, any>][] = [];
  registerSink({ kind: "stepwise", send: (t, c) => sent.push([t, c]) });
  const { plan } = compile("experiment live\niterations 3");
  const controller = new AbortController();
  setRunner(async (p, { onEvent, signal }) => {
    assert.equal(p.name, "live");
    assert.equal(signal, controller.signal);
    onEvent({ type: "stage", stage: "rl", total: 3 });
    for (let i = 1; i <= 3; i++) onEvent({ type: "progress", stage: "rl", done: i, total: 3, metrics: { "reward/mean": i / 4 } });
    onEvent({ type: "finished", summary: {} });
    return { status: "finished" };
  });
  try {
    assert.deepEqual(await runPlanInCell(plan!, controller.signal), { status: "finished" });
  } finally {
    setRunner(null);
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
