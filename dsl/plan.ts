/**
 * ExperimentPlan: what the DSL compiler produces and the runner executes.
 * Plain data, JSON-serialisable, no tensors and no functions: a plan can be written to
 * runs/<x>/plan.json and read back.
 */
import type { ModelConfig } from "../src/model/types.js";

export type Granularity = "group" | "response" | "step" | "token";

/**
 * A typed formula in the IR that the formula compiler (src/rl/formula) turns into a tensor program.
 * `level` is the node's granularity as the checker inferred it; the evaluator broadcasts coarser
 * operands down to it.
 *
 * ref names (built-ins; anything else is a probe, reward or let name):
 *   token:    logp (rollout-time policy), logp_ref, logratio (= logp - logp_ref), entropy, position
 *   step:     index, tokens, label (code: essential 0, redundant 1, slip 2, fix 3, answer 4, unknown -1),
 *             step_reward (declared step-level rewards at their step + response-level reward on the last step),
 *             each probe NAME (its value before the step: u[k], k = 0..K-1)
 *   response: outcome, tokens, steps, truncated (0/1),
 *             reward (sum of declared rewards; outcome when none is declared)
 * unary fn:   neg, not, exp, log, abs, sigmoid, sqrt
 * binary fn:  + - * / ^ < <= > >= == != and or
 * call fn:
 *   math:       min(a,b) max(a,b) clip(x,lo,hi)
 *   reductions: sum mean last max min     opts.over = "step" | "response"   (one level up)
 *   group ops:  center zscore rank        opts.by = "position" | "step_index" (absent: all elements of the group at x's level)
 *   scans:      cumsum revcumsum (within a response, over its tokens or steps)
 *               discount(x, gamma)        sum_l gamma^l x[k+l]
 *               gae(reward, value, gamma, lambda)  step level, u[K] = 0 (SSPO)
 */
export type Formula =
  | { op: "num"; value: number; level: Granularity }
  | { op: "ref"; name: string; level: Granularity } // a built-in, probe, reward or let
  | { op: "unary"; fn: string; arg: Formula; level: Granularity } // neg, not, exp, log, abs, sigmoid, ...
  | { op: "binary"; fn: string; left: Formula; right: Formula; level: Granularity } // + - * / ^ < <= > >= == != and or
  | { op: "if"; cond: Formula; then: Formula; else: Formula; level: Granularity }
  | { op: "call"; fn: string; args: Formula[]; opts: Record<string, number | string>; level: Granularity };

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
  | { kind: "jsonl"; path: string; question: string; answer: string; onError: "skip" | "refuse"; heldOut: number };

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
    }
  | { kind: "step_dpo"; beta: number; gamma: number; marginSign: 1 | -1; threshold: number };

export type SamplerPlan =
  | { kind: "standard"; temperature: number; topP: number; topK: number; maxTokens: number }
  | { kind: "tree"; children: number; paths: number; temperature: number; maxTokens: number };

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
  objective?: ObjectivePlan;
  sampler?: SamplerPlan;
  /** the prelude method a `use` line expanded, with its resolved arguments */
  method?: { name: string; args: Record<string, number | string> };
  train: StagePlan[];
  /** held-out evaluation: greedy (temperature 0), or pass@1 averaged over `samples` sampled responses */
  eval: { prompts: number; maxTokens: number; temperature?: number; samples?: number };
  track: string[];
}
