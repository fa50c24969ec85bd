/**
 * Rejection-sampled SFT (`sft { only_correct true }`, SPPD's curriculum stage 1): the current
 * model's own correct samples (src/run/preference-stages.ts sampleCorrectSolutions) as the SFT rows.
 */
import { sampleCorrectSolutions } from "../preference-stages.js";
import type { StageEnv, StageStep } from "../stage.js";
import { SftStage } from "./sft.js";

export class RejectionSftStage extends SftStage {
  override async run(env: StageEnv, step: number): Promise<StageStep> {
    return this.update(env, step, await sampleCorrectSolutions(env.ctx, this.problems(env, step), env.seed, env.plan));
  }
}
