/**
 * `%%stepwise run`: the hook between a DSL cell and the runner. The live view and `liveRun` are
 * src/display/live-run.ts (also what a re-run of the cell does, src/run/rerun.ts); the runner is
 * src/run/runner.ts's runPlan unless the kernel was started with a stand-in (kernel/serve.ts,
 * for the kernel's own tests).
 */
import type { ExperimentPlan } from "../dsl/plan.js";
import { liveRun, type LiveRunResult, type RunPlanFn } from "../src/display/live-run.js";
import { MAGIC_SPELLING, type RunCellOptions } from "./dsl-cell.js";

/** Runs a compiled plan from a `%%stepwise run` cell, with a live display; a refusal names the magic line's options. */
export async function runPlanInCell(plan: ExperimentPlan, signal: AbortSignal, specText?: string, runner?: RunPlanFn, options: RunCellOptions = {}): Promise<LiveRunResult> {
  return await liveRun(plan, { ...options, signal, specText, display: true, runner, spelling: MAGIC_SPELLING });
}
