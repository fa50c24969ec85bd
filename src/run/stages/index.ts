/** The Stage of each kind of plan stage (src/run/stage.ts); `iterations` overrides rl and step_dpo lengths. */
import type { StagePlan } from "../../../dsl/plan.js";
import type { Stage } from "../stage.js";
import { DpoStage } from "./dpo.js";
import { RejectionSftStage } from "./rejection-sft.js";
import { RlStage } from "./rl.js";
import { SftStage } from "./sft.js";
import { StepDpoStage } from "./step-dpo.js";

/**
 * `firstProblem`: where an SFT stage starts drawing training problems. SFT stages continue after
 * the problems earlier SFT stages of the plan drew (sftProblemOffsets), so a second SFT stage
 * trains on new worked solutions, not on the first stage's again.
 */
export function createStage(plan: StagePlan, index: number, iterations?: number, firstProblem = 0): Stage {
  switch (plan.kind) {
    case "sft":
      return plan.onlyCorrect ? new RejectionSftStage(index, plan, firstProblem) : new SftStage(index, plan, firstProblem);
    case "rl":
      return new RlStage(index, plan, iterations ?? plan.iterations);
    case "dpo":
      return new DpoStage(index, plan, plan.steps);
    case "step_dpo":
      return new StepDpoStage(index, plan, iterations ?? plan.iterations);
  }
}

/** Per stage: the training problems the plan's SFT stages before it drew (steps × batch each). */
export function sftProblemOffsets(train: StagePlan[]): number[] {
  let drawn = 0;
  return train.map((s) => {
    const at = drawn;
    if (s.kind === "sft") drawn += s.steps * s.batch;
    return at;
  });
}
