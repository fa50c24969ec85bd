/**
 * `%%stepwise run`: the hook between a DSL cell and the runner. The live view and `liveRun` are
 * src/display/live-run.ts; the runner is src/run/runner.ts's runPlan unless the kernel was
 * started with a stand-in (kernel/serve.ts, for the kernel's own tests).
 */
import type { ExperimentPlan } from "../dsl/plan.js";
import { liveRun, type RunPlanFn } from "../src/display/live-run.js";

/** Runs a compiled plan from a `%%stepwise run` cell, with a live display. */
export async function runPlanInCell(plan: ExperimentPlan, signal: AbortSignal, specText?: string, runner?: RunPlanFn): Promise<unknown> {
  return await liveRun(plan, { signal, specText, display: true, runner });
}
