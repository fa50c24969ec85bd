import { test } from "node:test";
import assert from "node:assert/strict";
import {
  assembleChartBundle,
  clearOutput,
  display,
  kernelKind,
  registerSink,
  rowsTableBundle,
  throttle,
  toWire,
  updateDisplay,
  VEGALITE_MIME,
  type Clock,
} from "../../src/display/index.js";

test("display/updateDisplay send display_data then update_display_data on one id", () => {
  const sent: [string, Record<string, any>][] = [];
  registerSink({ kind: "stepwise", send: (t, c) => sent.push([t, c]) });
  try {
    assert.equal(kernelKind(), "stepwise");
    const id = display({ "text/plain": "0" }, { id: true })!;
    assert.match(id, /^[0-9a-f]{16}$/);
    updateDisplay(id, { "text/plain": "1" });
    display({ "text/plain": "plain" });
    clearOutput(true);
    assert.deepEqual(sent, [
      ["display_data", { data: { "text/plain": "0" }, metadata: {}, transient: { display_id: id } }],
      ["update_display_data", { data: { "text/plain": "1" }, metadata: {}, transient: { display_id: id } }],
      ["display_data", { data: { "text/plain": "plain" }, metadata: {}, transient: {} }],
      ["clear_output", { wait: true }],
    ]);
  } finally {
    registerSink(null);
  }
  assert.equal(kernelKind(), "none");
});

test("stock tslab: the bundle goes whole through tslab's lastWriteDisplayData", async () => {
  const { createRequire } = await import("node:module");
  const jupyter = createRequire(import.meta.url)("tslab/dist/jupyter") as { lastWriteDisplayData: unknown };
  const calls: [Record<string, unknown>, boolean][] = [];
  jupyter.lastWriteDisplayData = (d: Record<string, unknown>, u: boolean) => calls.push([d, u]);
  try {
    assert.equal(kernelKind(), "tslab");
    display({ "text/html": "<b>x</b>", "text/plain": "x" }, { id: "abc" });
    updateDisplay("abc", { "text/plain": "y" });
    assert.deepEqual(calls, [
      [{ data: { "text/html": "<b>x</b>", "text/plain": "x" }, metadata: {}, transient: { display_id: "abc" } }, false],
      [{ data: { "text/plain": "y" }, metadata: {}, transient: { display_id: "abc" } }, true],
    ]);
  } finally {
    jupyter.lastWriteDisplayData = null;
  }
});

test("chart bundles: vega-lite v5 + png (base64 on the wire) + text; no svg, never text/html", () => {
  const b = assembleChartBundle({ spec: { title: "entropy", mark: "line" }, png: new Uint8Array([1, 2, 3]) });
  assert.deepEqual(Object.keys(b).sort(), ["application/vnd.vegalite.v5+json", "image/png", "text/plain"]);
  assert.equal((b[VEGALITE_MIME] as { $schema: string }).$schema, "https://vega.github.io/schema/vega-lite/v5.json");
  assert.equal(toWire(b)["image/png"], "AQID");
  assert.equal(b["text/plain"], "<entropy: vega-lite chart>");
  assert.throws(() => assembleChartBundle({ spec: { $schema: "https://vega.github.io/schema/vega-lite/v6.json" } }), /v5 only/);
});

test("table bundles: HTML with a limit and a rows × columns footer, aligned text", () => {
  const rows = Array.from({ length: 5 }, (_, i) => [i, i / 3, `r<${i}>`]);
  const b = rowsTableBundle(["i", "third", "name"], rows, { limit: 2 });
  const html = b["text/html"] as string;
  assert.equal((html.match(/<tr>/g) ?? []).length, 3); // header + 2 rows
  assert.match(html, /5 rows × 3 columns \(first 2 shown\)/);
  assert.match(html, /r&lt;0&gt;/);
  assert.equal(
    b["text/plain"],
    ["i  third   name", "-  ------  ----", "0  0       r<0>", "1  0.3333  r<1>", "5 rows × 3 columns (first 2 shown)"].join("\n"),
  );
});

test("throttle: at most one send per interval, always the latest value, flush sends the rest", () => {
  let now = 0;
  const timers: { at: number; fn: () => void; live: boolean }[] = [];
  const clock: Clock = {
    now: () => now,
    setTimeout: (fn, ms) => {
      const t = { at: now + ms, fn, live: true };
      timers.push(t);
      return t;
    },
    clearTimeout: (h) => {
      (h as { live: boolean }).live = false;
    },
  };
  const advance = (ms: number) => {
    now += ms;
    for (const t of timers) if (t.live && t.at <= now) (t.live = false), t.fn();
  };
  const sent: number[] = [];
  const th = throttle((v: number) => sent.push(v), 100, clock);
  th.push(1); // sent at once
  th.push(2);
  th.push(3); // 2 is superseded
  assert.deepEqual(sent, [1]);
  advance(99);
  assert.deepEqual(sent, [1]);
  advance(1); // the interval has passed: the latest pending value goes
  assert.deepEqual(sent, [1, 3]);
  advance(500);
  th.push(4); // idle for longer than the interval: at once
  th.push(5);
  th.flush();
  assert.deepEqual(sent, [1, 3, 4, 5]);
  th.push(6);
  th.cancel();
  advance(1000);
  assert.deepEqual(sent, [1, 3, 4, 5]); // 6 came within the interval after 5, and was cancelled
});

test("the live view shows each advantage term's rms and share, so a negligible process term is visible at once", async () => {
  const { LiveRunView } = await import("../../src/display/live-run.js");
  const view = new LiveRunView("terms", { charts: false, advantageTerms: ["zscore(reward)", "center(beta * cumsum(logratio), by position)"] });
  assert.equal(view.termsLine(), "", "nothing before the first iteration");
  view.onEvent({ type: "stage", stage: "rl", total: 2 });
  view.onEvent({ type: "iteration", row: { stage: "rl", iteration: 0, time: 1, "adv/terms/0_rms": 0.98, "adv/terms/1_rms": 0.02 } });
  const line = "advantage terms, rms (share): zscore(reward) 0.980 (98%) · center(beta * cumsum(logratio), by position) 0.0200 (2%)";
  assert.equal(view.termsLine(), line);
  assert.ok((view.bundle()["text/plain"] as string).includes(line));
  assert.ok((view.bundle()["text/html"] as string).includes("advantage terms, rms (share)"));
});
