/** The `dpo` stage: trajectory DPO on correct vs incorrect samples (src/run/preference-stages.ts). */
import type { StagePlan } from "../../../dsl/plan.js";
import { runDpoStage } from "../preference-stages.js";
import type { Stage, StageEnv, StageStep } from "../stage.js";

type DpoPlan = Extract<StagePlan, { kind: "dpo" }>;

export class DpoStage implements Stage {
  readonly label = "dpo";
  readonly usesReference = true;
  readonly weightDecay = 0;
  readonly total: number;

  constructor(
    readonly index: number,
    readonly plan: DpoPlan,
  ) {
    this.total = plan.steps;
  }

  lr(): number {
    return this.plan.lr;
  }

  async run(env: StageEnv, step: number): Promise<StageStep> {
    return { row: await runDpoStage(env.ctx, env.reference!, env.optimizer, env.plan, this.plan, step, env.seed, env.lr) };
  }

  evalAfter(): string | null {
    return null;
  }

  checkpointAfter(done: number, every: number): boolean {
    return done % every === 0;
  }
}
