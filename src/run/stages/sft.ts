/** The `sft` stage: supervised steps on the task's worked solutions (src/train/sft.ts). */
import type { StagePlan } from "../../../dsl/plan.js";
import { faultPoint } from "../../faults.js";
import { sftRows, sftSchedule, sftStep } from "../../train/sft.js";
import type { Stage, StageEnv, StageStep } from "../stage.js";

type SftPlan = Extract<StagePlan, { kind: "sft" }>;

export class SftStage implements Stage {
  readonly label = "sft";
  readonly usesReference = false;
  readonly weightDecay = 0.1;
  readonly total: number;
  private readonly schedule: (step: number) => number;

  constructor(
    readonly index: number,
    readonly plan: SftPlan,
    /** the index of this stage's first training problem (after earlier SFT stages' draws) */
    readonly firstProblem = 0,
  ) {
    this.total = plan.steps;
    this.schedule = sftSchedule(plan);
  }

  lr(step: number): number {
    return this.schedule(step);
  }

  async run(env: StageEnv, step: number): Promise<StageStep> {
    return this.update(env, step, sftRows(env.ctx, this.problems(env, step)));
  }

  /** The training problems of a step: the next `batch` after the ones earlier steps and stages drew. */
  protected problems(env: StageEnv, step: number) {
    return env.ctx.task.train(this.plan.batch, this.firstProblem + step * this.plan.batch);
  }

  protected update(env: StageEnv, step: number, rows: { prompts: number[][]; responses: number[][] }): StageStep {
    const res = rows.prompts.length > 0 ? sftStep(env.ctx, env.optimizer, rows, env.lr) : { loss: NaN, gradNorm: 0, tokens: 0 };
    faultPoint("sft-step");
    return { row: { stage: "sft", iteration: step, loss: res.loss, grad_norm: res.gradNorm, learning_rate: env.lr, tokens: res.tokens } };
  }

  evalAfter(): string | null {
    return null;
  }

  /** SFT steps are many and cheap: a checkpoint only at the stage's end. */
  checkpointAfter(): boolean {
    return false;
  }
}
