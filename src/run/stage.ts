/**
 * The stage protocol: every training stage of a plan (sft, rejection-sampled sft, rl, dpo,
 * step_dpo; one module each under src/run/stages/) is a `Stage`, and the runner
 * (src/run/runner.ts) is one loop over them. The runner owns everything a stage shares:
 * optimizer, frozen reference, checkpoints, evaluations, rows, resume; a stage only says how long
 * it is and does one step.
 *
 * Positions: a stage is known by its index in `plan.train`, a step by its index in the stage.
 * Every row the runner writes carries `stage_index`, and truncation and resume key on
 * (stage_index, iteration), never on a stage-kind string (a plan may hold two stages of a kind).
 */
import type { ExperimentPlan, StagePlan } from "../../dsl/plan.js";
import type { Transformer } from "../model/transformer.js";
import type { TrainContext } from "../train/context.js";
import type { AdamW } from "../train/optimizer.js";
import type { RunStore } from "./store.js";
import type { MetricsFields, StepRecord } from "./types.js";

/** What a stage's step works with; the runner builds it. */
export interface StageEnv {
  ctx: TrainContext;
  plan: ExperimentPlan;
  optimizer: AdamW;
  /** the model as the stage began (frozen), for stages with `usesReference` */
  reference: Transformer | null;
  store: RunStore;
  /** the step's seed (runner.ts stepSeed of (plan seed, stage index, step)): every random draw derives from it */
  seed: number;
  /** the step's learning rate (Stage.lr) */
  lr: number;
}

export interface StageStep {
  /** the step's metrics row, without time and stage index (the runner adds them) */
  row: MetricsFields;
  /** step records for steps.jsonl (rl) */
  steps?: StepRecord[];
}

export interface Stage {
  /** index in plan.train */
  readonly index: number;
  readonly plan: StagePlan;
  /** what the progress bar and the evaluation rows call it ("sft", "rl", …) */
  readonly label: string;
  /** steps (sft, dpo) or iterations (rl, step_dpo) */
  readonly total: number;
  /** trains against a frozen copy of the model as the stage began */
  readonly usesReference: boolean;
  /** AdamW weight decay: 0.1 for SFT (nanoGPT's default), 0 for RL and preference stages (TRL's) */
  readonly weightDecay: number;
  lr(step: number): number;
  /** one step (an SFT update, an RL iteration, …); writes its own artefacts (rollouts) */
  run(env: StageEnv, step: number): Promise<StageStep>;
  /** the label of an evaluation due after `done` steps inside the stage (rl eval_every), else null */
  evalAfter(done: number): string | null;
  /** whether to checkpoint "last" after `done` steps (the stage's end always is) */
  checkpointAfter(done: number, every: number): boolean;
}
