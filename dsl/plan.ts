/**
 * ExperimentPlan: what the DSL compiler produces and the runner executes.
 * Plain data, JSON-serialisable, no tensors and no functions: a plan can be written to
 * runs/<x>/plan.json and read back.
 */
import type { ModelConfig } from "../src/model/types.js";
import type { BinaryFn, BuiltinName, GroupBy, GroupFn, MathFn, ReduceFn, ReduceOver, ScanFn, UnaryFn } from "./ops.js";

export type Granularity = "group" | "response" | "step" | "token";

/**
 * A typed formula in the IR: what the checker emits, and what every backend (the TF.js evaluator
 * src/rl/formula, the Python code generator src/compile) implements with an exhaustive switch on
 * `op`. The names each node may carry (`fn`, built-ins, `over`, `by`) are the op registry's
 * (dsl/ops.ts), which says what each one means. `level` is the node's granularity as the checker
 * inferred it; backends broadcast coarser operands down to it.
 *
 *   num      a constant (level group)
 *   ref      a name, with where it comes from: a built-in quantity (ops.ts BUILTINS), a probe
 *            (step level: its value before the step, u[k], k = 0..K-1), or a declared reward or let
 *   unary    neg not exp log … (ops.ts UNARY_FNS)          binary  + - * / ^ comparisons and or
 *   if       where(cond != 0, then, else)                  math    min(a,b) max(a,b) clip(x,lo,hi)
 *   reduce   sum mean last max min, `over` step or response (one level up)
 *   group    center zscore rank within the group, optionally `by` position or step_index
 *   scan     cumsum revcumsum discount along a response's tokens or steps (gamma: the discount)
 *   gae      gae(reward, value, gamma, lambda) over steps, u[K] = 0 (SSPO)
 */
export type Formula =
  | { op: "num"; value: number; level: Granularity }
  | RefFormula
  | { op: "unary"; fn: UnaryFn; arg: Formula; level: Granularity }
  | { op: "binary"; fn: BinaryFn; left: Formula; right: Formula; level: Granularity }
  | { op: "if"; cond: Formula; then: Formula; else: Formula; level: Granularity }
  | { op: "math"; fn: MathFn; args: Formula[]; level: Granularity }
  | { op: "reduce"; fn: ReduceFn; over: ReduceOver; arg: Formula; level: Granularity }
  | { op: "group"; fn: GroupFn; by?: GroupBy; arg: Formula; level: Granularity }
  | { op: "scan"; fn: ScanFn; gamma: number; arg: Formula; level: Granularity }
  | { op: "gae"; reward: Formula; value: Formula; gamma: number; lambda: number; level: Granularity };

export type RefFormula =
  | { op: "ref"; source: "builtin"; name: BuiltinName; level: Granularity }
  | { op: "ref"; source: "probe" | "reward" | "let"; name: string; level: Granularity };

export type ModelPlan =
  | { kind: "gpt"; config: Partial<ModelConfig> }
  | { kind: "load"; path: string };

export type TokenizerPlan = { kind: "chars" } | { kind: "hf"; path: string };

export interface ArithmeticSettings {
  operandsMin: number;
  operandsMax: number;
  valueMin: number;
  valueMax: number;
  operators: string; // e.g. "+-*"
  /** probability of a redundant step after each essential step */
  verbosity: number;
  /** probability of a slip (followed by its fix) at each essential step */
  slips: number;
}

export type TaskPlan =
  /** preset: the named world the settings started from (src/task/arithmetic-presets.ts), for the record */
  | { kind: "arithmetic"; preset?: string; settings: ArithmeticSettings }
  | {
      kind: "jsonl"; path: string; question: string; answer: string; onError: "skip" | "refuse"; heldOut: number;
      /** the chat template's enable_thinking (Qwen3); absent = the template's default */
      thinking?: boolean;
    };

export type SegmentationPlan = (
  | { kind: "split"; delimiter: string }
  | { kind: "regex"; pattern: string; flags: string }
  | { kind: "every"; tokens: number }
) & { minTokens: number; maxSteps: number };

export type ScorerPlan =
  | { kind: "yes_no"; yes: string; no: string }
  | { kind: "likelihood"; target: "reference" }
  | { kind: "confidence"; tokens: number };

export interface ProbePlan {
  name: string;
  /** template with {question}, {steps}, {step}, {reference} */
  prompt: string;
  scorer: ScorerPlan;
}

export type ObjectivePlan =
  | {
      kind: "clipped";
      clip: number; // eps_lo
      clipHigh: number; // eps_hi
      kl: number; // kl_coef (k3 estimator)
      entropy: number; // entropy bonus coefficient
      norm: "response" | "token" | "constant";
      maskTruncated: boolean;
      /** the importance ratio: per token (PPO, GRPO; the default when absent) or per sequence
       *  (GSPO, arXiv 2507.18071: exp of the response's mean token log-ratio, in its token form) */
      ratio?: "token" | "sequence";
    }
  /**
   * Step-DPO / SPPD: L = -log sigmoid(beta*h + marginSign*gamma*(V(s+a_w) - V(s+a_l)) - margin).
   * marginSign +1: the seed's step reward beta*log(pi* / pi_ref) + V(s_{t+1}) - V(s_t); -1: the
   * Bellman form beta*log(pi* / pi_ref) - V(s_{t+1}) + V(s_t), a value gap the chosen step must beat.
   * margin: a fixed margin (SPPD's "fixed" ablation), 0 = none.
   */
  | { kind: "step_dpo"; beta: number; gamma: number; marginSign: 1 | -1; margin: number; threshold: number };

/**
 * valueRollouts (K): Monte Carlo completions from each prefix for its value, the fraction correct
 * (src/rl/prefix-rollouts.ts). standard: from every step boundary of every response, the
 * step-level quantity `mc_value` (VinePPO); tree: for every expanded step. 0 or absent: none.
 */
export type SamplerPlan =
  | { kind: "standard"; temperature: number; topP: number; topK: number; maxTokens: number; valueRollouts?: number }
  | { kind: "tree"; children: number; paths: number; temperature: number; maxTokens: number; valueRollouts?: number };

export type StagePlan =
  /** onlyCorrect: rejection-sampled SFT (SPPD curriculum stage 1), training on the current model's own
   *  correct samples; false: on the task's worked solutions */
  | { kind: "sft"; steps: number; lr: number; batch: number; warmup: number; onlyCorrect: boolean }
  | {
      kind: "rl";
      iterations: number;
      prompts: number; // prompts per iteration
      group: number; // = G in the GRPO paper
      lr: number;
      epochs: number;
      minibatch: number;
      evalEvery: number;
    }
  | { kind: "dpo"; steps: number; lr: number; beta: number; pairs: number }
  | { kind: "step_dpo"; iterations: number; prompts: number; lr: number };

export interface ExperimentPlan {
  name: string;
  seed: number;
  backend?: "tensorflow" | "wasm" | "cpu";
  model?: ModelPlan;
  tokenizer?: TokenizerPlan;
  task?: TaskPlan;
  steps: SegmentationPlan;
  probes: ProbePlan[];
  rewards: { name: string; formula: Formula }[];
  lets: { name: string; formula: Formula }[];
  /** token-level advantage formula; absent when the objective is step_dpo */
  advantage?: Formula;
  /**
   * when the advantage is a sum of two or more terms: each term's source text (dsl/terms.ts), in
   * order; term i's rms per RL iteration is the metric `adv/terms/<i>_rms`
   */
  advantageTerms?: string[];
  objective?: ObjectivePlan;
  sampler?: SamplerPlan;
  /** the prelude method a `use` line expanded, with its resolved arguments */
  method?: { name: string; args: Record<string, number | string> };
  train: StagePlan[];
  /** held-out evaluation: greedy (temperature 0), or pass@1 averaged over `samples` sampled responses */
  eval: { prompts: number; maxTokens: number; temperature?: number; samples?: number };
  track: string[];
}
