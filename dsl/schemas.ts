/**
 * The forms of each declaration and the metric names `track` knows. The settings of each block,
 * with their types, ranges and defaults, are the one schema of dsl/settings.ts (re-exported here
 * for the kernel's completion and inspection).
 */
import type { ComponentKeyword } from "./ast.js";
import {
  EVAL, MODEL_GPT, OBJECTIVE_CLIPPED, OBJECTIVE_STEP_DPO, PROBE, SAMPLER_STANDARD, SAMPLER_TREE, STEPS, TASK_ARITHMETIC, TASK_JSONL,
  type SettingSpec,
} from "./settings.js";

export { EVAL, MODEL_GPT, OBJECTIVE_CLIPPED, OBJECTIVE_STEP_DPO, PROBE, SAMPLER_STANDARD, SAMPLER_TREE, STAGES, STEPS, TASK_ARITHMETIC, TASK_JSONL } from "./settings.js";

/** Metric names `track` knows beyond the spec's own probes, rewards and lets. */
export const METRICS = [
  "accuracy", "length", "steps", "entropy", "kl", "reward", "loss", "clip_fraction", "grad_norm", "frac_zero_std",
  "step_value", "step_advantage", "step_length", "label", "advantage", "tokens_per_second",
];

/**
 * The forms of each component declaration: `model gpt { … }`, `task jsonl "PATH" { … }`, … —
 * each type with its settings block (null: the form takes no block). The compiler checks the
 * type against these; the kernel's completion and inspection read them.
 */
export const COMPONENTS: Record<ComponentKeyword, Record<string, Record<string, SettingSpec> | null>> = {
  model: { gpt: MODEL_GPT, llama: MODEL_GPT, load: null },
  tokenizer: { chars: null, load: null },
  task: { arithmetic: TASK_ARITHMETIC, jsonl: TASK_JSONL },
  steps: { split: STEPS, every: STEPS },
  objective: { clipped: OBJECTIVE_CLIPPED, step_dpo: OBJECTIVE_STEP_DPO },
  sampler: { standard: SAMPLER_STANDARD, tree: SAMPLER_TREE },
};

/** What each declaration keyword declares, with its form: the kernel's completion and inspection show these. */
export const DECLARATIONS: Record<string, { form: string; doc: string }> = {
  experiment: { form: 'experiment "NAME"', doc: "the run's name: its directory is runs/NAME" },
  seed: { form: "seed N", doc: "the seed every random draw of the run derives from" },
  backend: { form: "backend wasm|cpu|tensorflow", doc: "the TensorFlow.js backend (default: tensorflow if installed, else wasm)" },
  model: { form: 'model gpt { … } | model llama { … } | model load "PATH"', doc: "the policy: a fresh decoder, or a Hugging Face directory or Stepwise checkpoint" },
  tokenizer: { form: 'tokenizer chars | tokenizer load "PATH"', doc: "characters, or a Hugging Face tokenizer.json (a loaded model brings its own)" },
  task: { form: 'task arithmetic { … } | task jsonl "PATH" { … }', doc: "the problems: the labelled arithmetic world, or a JSONL file of questions and answers" },
  steps: { form: 'steps split "\\n" | steps split /REGEX/ | steps every N tokens', doc: "how a response is cut into steps" },
  probe: { form: 'probe NAME { prompt "…", score … }', doc: "a verbal value probe: the policy scores each step's prefix (a step-level quantity NAME)" },
  reward: { form: "reward NAME[: step] = FORMULA", doc: "a response-level (or, with `: step`, step-level) reward; `reward` is their sum" },
  let: { form: "let NAME = FORMULA", doc: "a named intermediate quantity of any granularity" },
  advantage: { form: "advantage = FORMULA", doc: "the token advantage the objective trains with (coarser values broadcast down)" },
  objective: { form: "objective clipped { … } | objective step_dpo { … }", doc: "the loss: the clipped policy-gradient objective, or step-level DPO" },
  sampler: { form: "sampler standard { … } | sampler tree { … }", doc: "how rollouts are sampled: G responses per prompt, or a tree of step continuations" },
  use: { form: "use METHOD(arg = value, …)", doc: "expands a method of the prelude (or of this spec) into its declarations" },
  train: { form: "train { sft { … } rl { … } dpo { … } step_dpo { … } }", doc: "the training stages, in order" },
  eval: { form: "eval { prompts N, max_tokens N, … }", doc: "held-out evaluation after every stage (and every eval_every RL iterations)" },
  track: { form: "track NAME, …", doc: "metrics shown in the live view and the report" },
  method: { form: "method NAME(param = default, …) { … }", doc: "defines a method: declarations with parameters, for `use`" },
};
