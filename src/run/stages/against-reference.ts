/**
 * What the rl, dpo and step_dpo stages share: they train against the frozen model as the stage
 * began, at the stage's constant learning rate without weight decay (TRL's GRPOTrainer and
 * DPOTrainer defaults), and checkpoint every N iterations.
 */
import type { StagePlan } from "../../../dsl/plan.js";
import type { Stage, StageEnv, StageStep } from "../stage.js";

export abstract class AgainstReferenceStage<P extends Extract<StagePlan, { kind: "rl" | "dpo" | "step_dpo" }>> implements Stage {
  abstract readonly label: string;
  readonly usesReference = true;
  readonly weightDecay = 0;

  constructor(
    readonly index: number,
    readonly plan: P,
    /** steps or iterations (the run's `iterations` override applied) */
    readonly total: number,
  ) {}

  lr(): number {
    return this.plan.lr;
  }

  abstract run(env: StageEnv, step: number): Promise<StageStep>;

  evalAfter(_done: number): string | null {
    return null;
  }

  checkpointAfter(done: number, every: number): boolean {
    return done % every === 0;
  }
}
