/** The `step_dpo` stage: step-level DPO on tree-sampled sibling steps (src/run/preference-stages.ts). */
import type { StagePlan } from "../../../dsl/plan.js";
import { runStepDpoStage } from "../preference-stages.js";
import type { StageEnv, StageStep } from "../stage.js";
import { AgainstReferenceStage } from "./against-reference.js";

export class StepDpoStage extends AgainstReferenceStage<Extract<StagePlan, { kind: "step_dpo" }>> {
  readonly label = "step_dpo";

  async run(env: StageEnv, step: number): Promise<StageStep> {
    const res = await runStepDpoStage(env.ctx, env.reference!, env.optimizer, env.plan, this.plan, step, env.seed, env.lr);
    return { row: res.row };
  }
}
