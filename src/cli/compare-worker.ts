/**
 * One run of `stepwise compare --jobs N` in a process of its own (child_process.fork): TensorFlow.js
 * runs one JavaScript thread per process, so N runs at once need N processes.
 *
 * Protocol over the IPC channel: the parent sends one `JobRequest` (compare-job.ts); the worker answers with
 * `{ type: "iteration" }` messages (each row, for the parent's progress bar), `{ type: "warning" }`
 * messages (a checkpoint repaired, a dead owner's lock taken over) and one
 * `{ type: "result" }`, then exits. Ctrl-C reaches the worker with the parent (one process group):
 * the run stops at its next safe point with a checkpoint, as `stepwise run` does.
 */
import type { RunResult } from "../run/runner.js";
import type { MetricsRow } from "../run/types.js";
import { runJobRequest, type JobRequest } from "./compare-job.js";

/** What the worker reports: each iteration's row (for the parent's progress bar), warnings, and the run's result. */
export type WorkerMessage =
  | { type: "iteration"; row: MetricsRow }
  | { type: "warning"; message: string }
  | { type: "result"; result: Pick<RunResult, "dir" | "status" | "message" | "backend"> };

const controller = new AbortController();
process.on("SIGINT", () => controller.abort());
// a parent that dies takes its runs with it (the runs keep their checkpoints)
process.on("disconnect", () => controller.abort());

process.once("message", (raw) => {
  const req = raw as JobRequest;
  const send = (m: WorkerMessage): void => {
    if (process.connected) process.send!(m);
  };
  void runJobRequest(req, controller.signal, (e) => {
    if (e.type === "iteration") send({ type: "iteration", row: e.row });
    else if (e.type === "warning") send({ type: "warning", message: e.message });
  })
    .then((r) => send({ type: "result", result: { dir: r.dir, status: r.status, message: r.message, backend: r.backend } }))
    .catch((e: unknown) => send({ type: "result", result: { dir: req.dir, status: "failed", message: e instanceof Error ? e.message : String(e), backend: "" } }))
    .finally(() => {
      // every file of the run is written synchronously by now; the wasm runtime would keep the process alive
      process.disconnect?.();
      process.exit(0);
    });
});
