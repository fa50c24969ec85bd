/** The `rl` stage: one RL iteration per step (src/rl/iteration.ts), its rollouts and steps recorded. */
import type { StagePlan } from "../../../dsl/plan.js";
import { faultPoint } from "../../faults.js";
import { rlIteration } from "../../rl/iteration.js";
import type { Stage, StageEnv, StageStep } from "../stage.js";

type RlPlan = Extract<StagePlan, { kind: "rl" }>;

export class RlStage implements Stage {
  readonly label = "rl";
  readonly usesReference = true;
  readonly weightDecay = 0;

  constructor(
    readonly index: number,
    readonly plan: RlPlan,
    /** the run's `iterations` override, else the spec's */
    readonly total: number,
  ) {}

  lr(): number {
    return this.plan.lr;
  }

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

  evalAfter(done: number): string | null {
    const every = this.plan.evalEvery;
    return every > 0 && done % every === 0 && done < this.total ? `rl@${done}` : null;
  }

  checkpointAfter(done: number, every: number): boolean {
    return done % every === 0;
  }
}
