/**
 * `stepwise world SPEC [--train N] [--heldout N]`: how far the spec's arithmetic world keeps its
 * held-out expressions from what training sees (src/task/arithmetic-overlap.ts). The training
 * draws default to the spec's SFT budget (steps × batch of its sft stages), else 32,000.
 */
import type { ExperimentPlan } from "../../dsl/plan.js";
import { createArithmeticTask } from "../task/arithmetic.js";
import { formatWorldOverlap, worldOverlap } from "../task/arithmetic-overlap.js";
import { compileSpecFile } from "./spec.js";

/** Worked solutions the spec's SFT stages read (steps × batch each, consecutive draws: src/run/stages/index.ts sftProblemOffsets). */
export function sftDraws(plan: ExperimentPlan): number {
  return plan.train.reduce((a, s) => a + (s.kind === "sft" && !s.onlyCorrect ? s.steps * s.batch : 0), 0);
}

export function worldCommand(spec: string, opts: { train?: number; heldOut?: number }): number {
  const { plan } = compileSpecFile(spec, "any");
  if (!plan) return 1;
  if (plan.task?.kind !== "arithmetic") {
    process.stderr.write(`${spec}: stepwise world needs \`task arithmetic { … }\` (found ${plan.task ? `task ${plan.task.kind}` : "no task"})\n`);
    return 1;
  }
  const task = createArithmeticTask(plan.task.settings, plan.seed);
  const train = opts.train ?? (sftDraws(plan) || 32_000);
  const report = worldOverlap(task, train, opts.heldOut ?? 1000);
  const preset = plan.task.preset ? ` (preset ${plan.task.preset})` : "";
  process.stdout.write(`${spec}: task arithmetic${preset}, seed ${plan.seed}\n${formatWorldOverlap(report)}\n`);
  return 0;
}
