/**
 * One run of `stepwise compare`: what it is (a plan, its directory, whether it resumes) and how it
 * runs, the same in the comparison's own process (`--jobs 1`) and in a child (compare-worker.ts).
 */
import type { ExperimentPlan } from "../../dsl/plan.js";
import { runPlan, type RunResult } from "../run/runner.js";
import type { RunEvent } from "../run/types.js";

export interface JobRequest {
  plan: ExperimentPlan;
  dir: string;
  /** continue the run in `dir` (else a fresh run replaces what the comparison left there) */
  resume: boolean;
  iterations?: number;
  backend?: string;
  specText: string;
  specFile: string;
}

/** Runs one job: a fresh run overwrites its directory (a comparison owns its folder), a resume continues it. */
export function runJobRequest(req: JobRequest, signal: AbortSignal, onEvent: (e: RunEvent) => void): Promise<RunResult> {
  return runPlan(req.plan, {
    dir: req.dir,
    resume: req.resume,
    overwrite: !req.resume,
    iterations: req.iterations,
    backend: req.backend as "wasm" | undefined,
    signal,
    specText: req.specText,
    specFile: req.specFile,
    onEvent,
  });
}
