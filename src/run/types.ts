/**
 * What a run writes to runs/<name>/ and emits as events. Analytics, the kernel and the CLI read
 * these files; nothing else is shared between them.
 *
 *   runs/<name>/spec.sw            the spec text
 *   runs/<name>/plan.json          the compiled ExperimentPlan
 *   runs/<name>/run.json           RunInfo
 *   runs/<name>/metrics.jsonl      one MetricsRow per line
 *   runs/<name>/steps.jsonl        one StepRecord per line
 *   runs/<name>/rollouts/iter-N.json   RolloutBatch (src/rl/batch.ts) of RL iteration N
 *   runs/<name>/rollouts/iter-N.advantages.json   {"advantages": [[…]]}: what the update used
 *   runs/<name>/checkpoints/<tag>/     config.json, model.safetensors, tokenizer.json, optimizer.safetensors, state.json
 */

export interface RunInfo {
  name: string;
  backend: string;
  started: string; // ISO time
  seed: number;
  status: "running" | "finished" | "interrupted" | "failed";
  message?: string;
  /** the run's command-line overrides (`--iterations`, `--backend`, …), reused by `--resume` */
  options?: RunOverrides;
  /** the folder the spec's relative paths resolve against (the spec file's), reused by `--resume` */
  specDir?: string;
}

/** What a run was told beyond its spec; recorded in run.json so that a resume continues the same run. */
export interface RunOverrides {
  iterations?: number;
  backend?: "tensorflow" | "wasm" | "cpu";
  checkpointEvery?: number;
}

/**
 * One line of metrics.jsonl. Training rows: stage ("sft", "rl", "dpo", "step_dpo") and iteration
 * (or step), plus namespaced metrics as TRL names them. Evaluation rows: stage "eval", after (the
 * stage just finished, or `rl@N`), accuracy, mean_tokens, mean_steps, redundant_step_frac, and as
 * iteration the steps of its stage done when it ran. Every row the runner writes carries
 * stage_index, the stage's index in the plan's train block (src/run/stage.ts).
 */
export interface MetricsFields {
  stage: string;
  stage_index?: number;
  iteration?: number;
  after?: string;
  [metric: string]: number | string | undefined;
}

export interface MetricsRow extends MetricsFields {
  time: number; // seconds since run start
}

/** Metric names used in training rows (TRL-style namespaces). */
export const METRIC = {
  accuracy: "reward/accuracy",
  rewardMean: "reward/mean",
  rewardStd: "reward/std",
  fracZeroStd: "reward/frac_zero_std",
  meanTokens: "completions/mean_length",
  maxTokens: "completions/max_length",
  meanSteps: "completions/mean_steps",
  truncated: "completions/clipped_ratio",
  entropy: "entropy",
  kl: "kl",
  clipRatio: "clip_ratio/region_mean",
  loss: "loss",
  gradNorm: "grad_norm",
  lr: "learning_rate",
  rolloutTps: "throughput/rollout_tokens_per_s",
  trainTps: "throughput/train_tokens_per_s",
  wall: "time/iteration_s",
  // Monte Carlo step values (sampler value_rollouts > 0): their sampling cost
  valueTokens: "values/sampled_tokens",
  valueRollouts: "values/rollouts",
  // credit assignment against the task's step labels (src/analytics/credit.ts); per label and
  // per probe: creditMetricName
  creditAucRedundant: creditMetricName("auc_redundant"),
  creditAucSlip: creditMetricName("auc_slip"),
  creditGapRedundant: creditMetricName("gap_redundant"),
} as const;

/**
 * A credit figure (src/analytics/credit.ts): the within-response AUCs, the redundant−essential
 * gap, and the mean per step label — of the advantage (`adv_essential`) or of a probe's change
 * over the step (`delta_essential`).
 */
export type CreditFigure = "auc_redundant" | "auc_slip" | "gap_redundant" | `adv_${string}` | `delta_${string}`;

/**
 * The metrics.jsonl name of a credit figure: of the advantage, `credit/auc_redundant`,
 * `credit/adv_redundant`; of a probe's step values, `credit/probe_belief/auc_redundant`.
 */
export function creditMetricName(figure: CreditFigure, probe?: string): string {
  return probe === undefined ? `credit/${figure}` : `credit/probe_${probe}/${figure}`;
}

/**
 * The metrics.jsonl name of the rms of term `i` of the advantage (when it is a sum of terms; the
 * term's source text is the plan's `advantageTerms[i]`): `adv/terms/0_rms`.
 */
export function advantageTermMetric(i: number): string {
  return `adv/terms/${i}_rms`;
}

/** One line of steps.jsonl: a step of a sampled response. */
export interface StepRecord {
  stage: string;
  /** the stage's index in the plan (added by the runner) */
  stage_index?: number;
  iteration: number;
  group: number;
  response: number; // index within the batch (group by group)
  step: number; // step index within the response
  tokens: number;
  text: string;
  label?: string;
  advantage: number; // the step's mean token advantage
  outcome: number;
  probes: Record<string, number>; // each probe's value before this step
}

export type RunEvent =
  | { type: "stage"; stage: string; total: number }
  | { type: "progress"; stage: string; done: number; total: number; metrics: Record<string, number> }
  | { type: "iteration"; row: MetricsRow; steps?: StepRecord[] }
  | { type: "eval"; row: MetricsRow; samples: { prompt: string; response: string; correct: boolean }[] }
  | { type: "checkpoint"; path: string }
  | { type: "warning"; message: string }
  | { type: "finished"; summary: Record<string, number | string> }
  | { type: "interrupted"; checkpoint: string }
  | { type: "failed"; message: string; checkpoint?: string };
