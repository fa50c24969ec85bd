/** The `step_dpo` stage: step-level DPO on tree-sampled sibling steps (src/run/preference-stages.ts). */
import type { StagePlan } from "../../../dsl/plan.js";
import { runStepDpoStage } from "../preference-stages.js";
import type { Stage, StageEnv, StageStep } from "../stage.js";

type StepDpoPlan = Extract<StagePlan, { kind: "step_dpo" }>;

export class StepDpoStage implements Stage {
  readonly label = "step_dpo";
  readonly usesReference = true;
  readonly weightDecay = 0;

  constructor(
    readonly index: number,
    readonly plan: StepDpoPlan,
    /** the run's `iterations` override, else the spec's */
    readonly total: number,
  ) {}

  lr(): number {
    return this.plan.lr;
  }

  async run(env: StageEnv, step: number): Promise<StageStep> {
    const res = await runStepDpoStage(env.ctx, env.reference!, env.optimizer, env.plan, this.plan, step, env.seed, env.lr);
    return { row: res.row };
  }

  evalAfter(): string | null {
    return null;
  }

  checkpointAfter(done: number, every: number): boolean {
    return done % every === 0;
  }
}
