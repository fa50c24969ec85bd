/**
 * What each engine can express, and how a plan maps onto its trainer's settings. The checks name
 * the construct a target cannot express; the mappings are the one place the spec's settings meet
 * TRL's GRPOConfig and verl's PPO config (docs/engines.md quotes them).
 */
import type { ExperimentPlan, StagePlan } from "../../dsl/plan.js";
import { refsOf } from "../../dsl/refs.js";
import { effectiveClipped, effectiveStandard, stageOrDefaults } from "../../dsl/settings.js";

export { refsOf };

export type Target = "trl" | "verl";
export const TARGETS: readonly Target[] = ["trl", "verl"];

type Clipped = Extract<NonNullable<ExperimentPlan["objective"]>, { kind: "clipped" }>;
type Rl = Extract<StagePlan, { kind: "rl" }>;

/**
 * What `target` cannot express in `plan`, one message per construct (empty: it compiles). The tree
 * sampler and the step-level DPO objective (Step-DPO, SPPD) are refused: neither TRL's GRPOTrainer
 * nor verl's PPO trainer samples trees or trains on step pairs.
 */
export function refusals(plan: ExperimentPlan, target: Target): string[] {
  const out: string[] = [];
  const engine = target === "trl" ? "TRL's GRPOTrainer" : "verl's PPO trainer";
  if (plan.sampler?.kind === "tree") out.push(`\`sampler tree\`: ${engine} samples G independent responses per prompt, not a tree of steps; use \`sampler standard\` (or train this spec with \`stepwise run\`)`);
  if (plan.objective?.kind === "step_dpo") out.push(`\`objective step_dpo\` (Step-DPO / SPPD): ${engine} trains the clipped policy objective, not step preference pairs; use \`objective clipped\` with an advantage (or train this spec with \`stepwise run\`)`);
  if (!plan.advantage && plan.objective?.kind !== "step_dpo") out.push("the spec declares no advantage: add `advantage = …` or `use grpo` (or another method)");
  const stages = plan.train.filter((s) => s.kind !== "rl");
  for (const s of stages) out.push(`the \`${s.kind}\` stage: only \`rl\` stages compile to ${target}; run the warm start with \`stepwise run\`, export it with \`stepwise export\`, and \`model load\` the export`);
  if (plan.train.filter((s) => s.kind === "rl").length > 1) out.push(`more than one \`rl\` stage: a compiled package trains one; split the spec`);
  if (plan.objective?.kind === "clipped" && plan.objective.entropy !== 0) out.push(`\`entropy ${plan.objective.entropy}\` in \`objective clipped\`: ${engine} has no entropy bonus in its GRPO loss; drop it`);
  if (!plan.task) out.push("the spec declares no task: add `task arithmetic { … }` or `task jsonl \"FILE\"`");
  const refs = new Set<string>();
  for (const f of [plan.advantage, ...plan.rewards.map((r) => r.formula), ...plan.lets.map((l) => l.formula)]) refsOf(f, refs);
  if (target === "verl" && plan.probes.length > 0) out.push(`probe \`${plan.probes[0]!.name}\`: verl calls an advantage estimator without the policy, which probes need; use \`--target trl\``);
  if (target === "verl" && refs.has("builtin:entropy")) out.push("`entropy` (per token): verl's trainer drops the entropies before the advantage; use `--target trl`");
  if (refs.has("builtin:mc_value") || (plan.sampler?.kind === "standard" && (plan.sampler.valueRollouts ?? 0) > 0)) {
    out.push(`\`mc_value\` (Monte Carlo step values, VinePPO): ${engine} samples no completions from step prefixes; train this spec with \`stepwise run\``);
  }
  if (refs.has("builtin:label")) out.push("`label` (ground-truth step labels): the compiled task verifies answers but does not label steps; drop `label` from the formulas");
  return out;
}

/** The plan's rl stage (or the schema's defaults, dsl/settings.ts). */
export function rlStage(plan: ExperimentPlan): Rl {
  return stageOrDefaults(plan, "rl");
}

/** The plan's clipped objective with the schema's defaults where it says nothing. */
export function clippedObjective(plan: ExperimentPlan): Clipped {
  return effectiveClipped(plan);
}

/**
 * The spec's normalisation Z as TRL's loss_type (ALGORITHMS.md, "The shared policy loss"):
 * response (per-response length, GRPO) → "grpo"; token (over the batch's tokens, DAPO) → "dapo";
 * constant (N × the maximum length, Dr. GRPO) → "dr_grpo". verl's loss_agg_mode likewise.
 */
export const TRL_LOSS_TYPE = { response: "grpo", token: "dapo", constant: "dr_grpo" } as const;
export const VERL_LOSS_AGG = { response: "seq-mean-token-mean", token: "token-mean", constant: "seq-mean-token-sum-norm" } as const;

/** The largest divisor of n that is at most cap: the per-device batch that splits a generation batch evenly. */
export function divisorAtMost(n: number, cap: number): number {
  for (let d = Math.min(n, Math.max(1, cap)); d >= 1; d--) if (n % d === 0) return d;
  return 1;
}

/** The GRPOConfig keyword arguments of a plan (TRL 1.16). */
export function grpoConfig(plan: ExperimentPlan): Record<string, number | string | boolean> {
  const rl = rlStage(plan);
  const o = clippedObjective(plan);
  const s = effectiveStandard(plan);
  const rows = rl.prompts * rl.group; // one generation batch: `prompts` prompts × G responses
  const perDevice = divisorAtMost(rows, rl.minibatch);
  const stepsPerGeneration = rows / perDevice;
  return {
    num_generations: rl.group,
    generation_batch_size: rows,
    per_device_train_batch_size: perDevice,
    gradient_accumulation_steps: 1,
    num_iterations: rl.epochs, // μ: policy updates per generation batch
    max_steps: rl.iterations * stepsPerGeneration * rl.epochs, // optimizer steps
    learning_rate: rl.lr,
    lr_scheduler_type: "constant",
    epsilon: o.clip,
    epsilon_high: o.clipHigh,
    beta: o.kl, // k3 KL to the reference, as Stepwise
    loss_type: TRL_LOSS_TYPE[o.norm],
    mask_truncated_completions: o.maskTruncated,
    scale_rewards: "none", // TRL's own outcome advantage is replaced by the compiled one
    temperature: s.temperature,
    top_p: s.topP,
    top_k: s.topK,
    max_completion_length: s.maxTokens,
    seed: plan.seed,
  };
}
