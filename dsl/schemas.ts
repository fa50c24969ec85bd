/**
 * The settings each block accepts, with types, ranges and a one-line reason for each default.
 * The compiler reads blocks against these; `dsl/README.md` documents the same table.
 */
import type { ComponentKeyword } from "./ast.js";
import type { SettingSpec } from "./checker.js";
import { ARITHMETIC_PRESET_NAMES } from "../src/task/arithmetic-presets.js";

const num = (doc: string, min?: number, max?: number, o: { minOpen?: boolean; maxOpen?: boolean; int?: boolean } = {}): SettingSpec => ({
  type: { t: "number", ...(min !== undefined ? { min } : {}), ...(max !== undefined ? { max } : {}), ...o },
  doc,
});
const int = (doc: string, min = 0, max?: number): SettingSpec => num(doc, min, max, { int: true });
const pos = (doc: string): SettingSpec => num(doc, 0, undefined, { minOpen: true });
const bool = (doc: string): SettingSpec => ({ type: { t: "bool" }, doc });
const str = (doc: string): SettingSpec => ({ type: { t: "string" }, doc });
const word = (doc: string, ...words: string[]): SettingSpec => ({ type: { t: "word", words }, doc });

export const MODEL_GPT: Record<string, SettingSpec> = {
  layers: int("transformer blocks, e.g. 4", 1, 256),
  width: int("hidden size d_model, e.g. 128", 1),
  heads: int("attention heads; width must divide by it", 1),
  kv_heads: int("key/value heads for grouped-query attention (= heads for plain attention)", 1),
  ffn_width: int("MLP inner width (default 4 × width)", 1),
  context: int("maximum sequence length, prompt + response", 8),
  norm_eps: pos("LayerNorm/RMSNorm epsilon"),
  rope_theta: pos("RoPE base (llama family)"),
  qkv_bias: bool("bias on q, k, v projections (Qwen2)"),
  tie_embeddings: bool("output head shares the token embedding"),
  seed: int("initialisation seed"),
};

export const TASK_ARITHMETIC: Record<string, SettingSpec> = {
  preset: word("a named world (src/task/arithmetic-presets.ts); the block's other settings override it", ...ARITHMETIC_PRESET_NAMES),
  operands: { type: { t: "range", min: 2, max: 12 }, doc: "operands per expression, e.g. `operands 3..5`" },
  values: { type: { t: "range", min: 0 }, doc: "operand values, e.g. `values 1..9`" },
  operators: str('operators to draw from, e.g. "+-*"'),
  verbosity: num("probability of a redundant step after each essential step", 0, 1),
  slips: num("probability of a slip (then its fix) at each essential step", 0, 1),
};

export const TASK_JSONL: Record<string, SettingSpec> = {
  question: str('the field holding the question, e.g. "question"'),
  answer: str('the field holding the reference answer, e.g. "answer"'),
  on_error: word("what to do with a malformed line", "skip", "refuse"),
  held_out: int("lines kept back for evaluation"),
  thinking: word("a reasoning model's chat template (Qwen3's enable_thinking): on = reason in <think>…</think> first, off = answer directly", "on", "off"),
};

export const STEPS: Record<string, SettingSpec> = {
  min_tokens: int("a shorter step merges into the next", 1),
  max_steps: int("later steps merge into the last", 1),
};

export const PROBE: Record<string, SettingSpec> = {
  prompt: str("template with {question}, {steps}, {step}, {reference}"),
  score: { type: { t: "expr" }, doc: 'yes_no(" Yes", " No"), likelihood(reference) or confidence' },
};

export const OBJECTIVE_CLIPPED: Record<string, SettingSpec> = {
  clip: num("eps_lo of the PPO clip (GRPO: 0.2)", 0, 1, { maxOpen: true }),
  clip_high: num("eps_hi, clip-higher (DAPO: 0.28); default = clip", 0, 10),
  kl: num("kl_coef on the k3 estimator (0 in SPRO and Dr. GRPO)", 0),
  entropy: num("entropy bonus coefficient", 0),
  norm: word("loss normalisation Z: per response (GRPO), all tokens (DAPO), constant (Dr. GRPO)", "response", "token", "constant"),
  mask_truncated: bool("drop responses cut off by the length limit from the loss"),
  ratio: word("importance ratio per token (PPO, GRPO) or per sequence (GSPO: exp of the mean token log-ratio; use clip 3e-4, clip_high 4e-4)", "token", "sequence"),
};

export const OBJECTIVE_STEP_DPO: Record<string, SettingSpec> = {
  beta: pos("DPO temperature (SPPD: 0.1, Step-DPO: 0.4)"),
  gamma: num("weight of the dynamic value margin; 0 is plain Step-DPO", 0),
  margin_sign: { type: { t: "sign" }, doc: "+1: the seed's step reward r = beta log pi*/pi_ref + V(s_t+1) - V(s_t), the value gap helps; -1: the Bellman form r = beta log pi*/pi_ref - V(s_t+1) + V(s_t), a gap the chosen step must beat" },
  margin: num("a fixed margin m subtracted inside the sigmoid, -log sigmoid(beta h + ... - m) (SPPD's fixed-margin ablation); 0 = none"),
  threshold: num("minimum value gap for a pair (SPPD: 0.5)", 0, 1),
};

export const SAMPLER_STANDARD: Record<string, SettingSpec> = {
  temperature: pos("sampling temperature"),
  top_p: num("nucleus sampling mass (1 = off)", 0, 1, { minOpen: true }),
  top_k: int("top-k sampling (0 = off)"),
  max_tokens: int("response length limit", 1),
  value_rollouts: int("Monte Carlo completions from every step boundary of every response, for `mc_value` (VinePPO); 0 = none", 0, 64),
};

export const SAMPLER_TREE: Record<string, SettingSpec> = {
  children: int("candidate next steps per node, C (SPPD: 2)", 2, 16),
  paths: int("root-to-leaf paths per question, K (SPPD: 64)", 1),
  temperature: pos("sampling temperature"),
  max_tokens: int("response length limit", 1),
  value_rollouts: int("Monte Carlo completions from every expanded step for its value (fraction correct); 0 = the fraction of correct leaves below", 0, 64),
};

export const STAGES: Record<string, Record<string, SettingSpec>> = {
  sft: {
    steps: int("optimiser steps", 1),
    lr: pos("learning rate"),
    batch: int("sequences per step", 1),
    warmup: int("linear warm-up steps"),
    only_correct: bool("rejection sampling: train on the model's own correct samples instead of the worked solutions"),
  },
  rl: {
    iterations: int("rollout-and-update iterations", 1),
    prompts: int("prompts per iteration", 1),
    group: int("responses per prompt, G in the GRPO paper (at least 2)", 2),
    lr: pos("learning rate"),
    epochs: int("passes over each rollout batch (μ in GRPO)", 1),
    minibatch: int("responses per gradient step", 1),
    eval_every: int("iterations between evaluations (0 = only at the end)"),
  },
  dpo: {
    steps: int("optimiser steps", 1),
    lr: pos("learning rate"),
    beta: pos("DPO temperature"),
    pairs: int("preference pairs per step", 1),
  },
  step_dpo: {
    iterations: int("tree-sample-and-update iterations", 1),
    prompts: int("questions per iteration", 1),
    lr: pos("learning rate"),
  },
};

export const EVAL: Record<string, SettingSpec> = {
  prompts: int("held-out prompts", 1),
  max_tokens: int("response length limit", 1),
  temperature: num("0 = greedy decoding; > 0 samples and reports pass@1 averaged over `samples` responses", 0),
  samples: int("responses per prompt when temperature > 0", 1, 64),
};

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
