/** The `rl` stage: one RL iteration per step (src/rl/iteration.ts), its rollouts and steps recorded. */
import type { StagePlan } from "../../../dsl/plan.js";
import { faultPoint } from "../../faults.js";
import { rlIteration } from "../../rl/iteration.js";
import type { StageEnv, StageStep } from "../stage.js";
import { AgainstReferenceStage } from "./against-reference.js";

export class RlStage extends AgainstReferenceStage<Extract<StagePlan, { kind: "rl" }>> {
  readonly label = "rl";

  async run(env: StageEnv, step: number): Promise<StageStep> {
    const problems = env.ctx.task.train(this.plan.prompts, step * this.plan.prompts);
    const res = await rlIteration(env.ctx, env.reference!, env.optimizer, problems, {
      plan: env.plan,
      iteration: step,
      group: this.plan.group,
      epochs: this.plan.epochs,
      minibatch: this.plan.minibatch,
      lr: env.lr,
      seed: env.seed,
    });
    env.store.writeRollouts(step, res.batch);
    env.store.writeAdvantages(step, res.advantages);
    faultPoint("rollouts");
    return { row: res.row, steps: res.steps };
  }

  /** `eval_every N`: an evaluation after every N iterations (the stage's end has its own). */
  override evalAfter(done: number): string | null {
    const every = this.plan.evalEvery;
    return every > 0 && done % every === 0 && done < this.total ? `rl@${done}` : null;
  }
}
