/**
 * One run of `stepwise compare --jobs N` in a process of its own (child_process.fork): TensorFlow.js
 * runs one JavaScript thread per process, so N runs at once need N processes.
 *
 * Protocol over the IPC channel: the parent sends one `WorkerRequest`; the worker answers with
 * `{ type: "event" }` messages (iterations, for the parent's progress bar) and one
 * `{ type: "result" }`, then exits. Ctrl-C reaches the worker with the parent (one process group):
 * the run stops at its next safe point with a checkpoint, as `stepwise run` does.
 */
import type { ExperimentPlan } from "../../dsl/plan.js";
import { runPlan, type RunResult } from "../run/runner.js";
import { METRIC } from "../run/types.js";

export interface WorkerRequest {
  plan: ExperimentPlan;
  dir: string;
  resume: boolean;
  iterations?: number;
  backend?: string;
  specText: string;
  specFile: string;
}

/** What the worker reports: progress (the two figures the bar shows) and the run's result. */
export type WorkerMessage =
  | { type: "event"; accuracy?: number; tokens?: number }
  | { type: "result"; result: Pick<RunResult, "dir" | "status" | "message" | "backend"> };

const controller = new AbortController();
process.on("SIGINT", () => controller.abort());
// a parent that dies takes its runs with it (the runs keep their checkpoints)
process.on("disconnect", () => controller.abort());

process.once("message", (raw) => {
  const req = raw as WorkerRequest;
  const send = (m: WorkerMessage): void => {
    if (process.connected) process.send!(m);
  };
  void runPlan(req.plan, {
    dir: req.dir,
    resume: req.resume,
    overwrite: !req.resume,
    iterations: req.iterations,
    backend: req.backend as "wasm" | undefined,
    signal: controller.signal,
    specText: req.specText,
    specFile: req.specFile,
    onEvent: (e) => {
      if (e.type === "iteration") send({ type: "event", accuracy: e.row[METRIC.accuracy] as number | undefined, tokens: e.row[METRIC.meanTokens] as number | undefined });
    },
  })
    .then((r) => send({ type: "result", result: { dir: r.dir, status: r.status, message: r.message, backend: r.backend } }))
    .catch((e: unknown) => send({ type: "result", result: { dir: req.dir, status: "failed", message: e instanceof Error ? e.message : String(e), backend: "" } }))
    .finally(() => {
      // every file of the run is written synchronously by now; the wasm runtime would keep the process alive
      process.disconnect?.();
      process.exit(0);
    });
});
