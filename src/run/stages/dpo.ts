/** The `dpo` stage: trajectory DPO on correct vs incorrect samples (src/run/preference-stages.ts). */
import type { StagePlan } from "../../../dsl/plan.js";
import { runDpoStage } from "../preference-stages.js";
import type { StageEnv, StageStep } from "../stage.js";
import { AgainstReferenceStage } from "./against-reference.js";

export class DpoStage extends AgainstReferenceStage<Extract<StagePlan, { kind: "dpo" }>> {
  readonly label = "dpo";

  async run(env: StageEnv, step: number): Promise<StageStep> {
    return { row: await runDpoStage(env.ctx, env.reference!, env.optimizer, env.plan, this.plan, step, env.seed, env.lr) };
  }
}
