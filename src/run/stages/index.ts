/** The Stage of each kind of plan stage (src/run/stage.ts); `iterations` overrides rl and step_dpo lengths. */
import type { StagePlan } from "../../../dsl/plan.js";
import type { Stage } from "../stage.js";
import { DpoStage } from "./dpo.js";
import { RejectionSftStage } from "./rejection-sft.js";
import { RlStage } from "./rl.js";
import { SftStage } from "./sft.js";
import { StepDpoStage } from "./step-dpo.js";

export function createStage(plan: StagePlan, index: number, iterations?: number): Stage {
  switch (plan.kind) {
    case "sft":
      return plan.onlyCorrect ? new RejectionSftStage(index, plan) : new SftStage(index, plan);
    case "rl":
      return new RlStage(index, plan, iterations ?? plan.iterations);
    case "dpo":
      return new DpoStage(index, plan, plan.steps);
    case "step_dpo":
      return new StepDpoStage(index, plan, iterations ?? plan.iterations);
  }
}
