/**
 * The one settings schema: every setting of every component block (`sampler standard { … }`,
 * `objective clipped { … }`, …), of `eval` and of each training stage, with its type and range,
 * its default, a one-line doc and the paper's symbol where it has one. Everything that needs a
 * setting or its default reads it here: the checker (`readBlock`: types and ranges), the compiler
 * (`readInto`: the plan's fields), the engine (`effective…`: a plan built by hand gets the same
 * defaults `stepwise compile` gives), the compile targets, completion and inspection
 * (dsl/assist.ts) and the grammar reference's tables (dsl/README.md, tested equal to
 * `settingsTable`).
 *
 * A setting fills the plan field `field` (the camelCase of its name unless given); `toPlan`
 * converts a spec value where the plan stores another type (`thinking on` → true).
 */
import type { Expr } from "./ast.js";
import type { ArithmeticSettings, ExperimentPlan, ObjectivePlan, SamplerPlan, SegmentationPlan, StagePlan, TaskPlan } from "./plan.js";
import { ARITHMETIC_PRESET_NAMES } from "../src/task/arithmetic-presets.js";

export type SettingType =
  | { t: "number"; min?: number; max?: number; minOpen?: boolean; maxOpen?: boolean; int?: boolean }
  | { t: "bool" }
  | { t: "word"; words: string[] }
  | { t: "string" }
  | { t: "range"; min: number; max?: number }
  | { t: "sign" }
  | { t: "expr" }; // left to the caller (probe scorers)

export type SettingValue = number | string | boolean | [number, number] | Expr;

export interface SettingSpec {
  type: SettingType;
  doc: string;
  /** the value when the block does not set it (in the spec's terms: `"skip"`, `[2, 4]`); absent: none */
  default?: SettingValue;
  /** how the docs write a default that is not a constant ("= `clip`") */
  defaultText?: string;
  /** the paper's symbol, e.g. `ε_lo`, `G`, `β` */
  symbol?: string;
  /** the plan field the setting fills (default: the camelCase of its name) */
  field?: string;
  /** the spec's value as the plan stores it (default: as it is) */
  toPlan?: (v: never) => unknown;
}

export type Schema = Record<string, SettingSpec>;

// ---- builders: a type and range, then `{ ...int(…), default: 64, symbol: "L" }` ----

const num = (doc: string, min?: number, max?: number, o: { minOpen?: boolean; maxOpen?: boolean; int?: boolean } = {}): SettingSpec => ({
  type: { t: "number", ...(min !== undefined ? { min } : {}), ...(max !== undefined ? { max } : {}), ...o },
  doc,
});
const int = (doc: string, min = 0, max?: number): SettingSpec => num(doc, min, max, { int: true });
const pos = (doc: string): SettingSpec => num(doc, 0, undefined, { minOpen: true });
const bool = (doc: string): SettingSpec => ({ type: { t: "bool" }, doc });
const str = (doc: string): SettingSpec => ({ type: { t: "string" }, doc });
const word = (doc: string, ...words: string[]): SettingSpec => ({ type: { t: "word", words }, doc });

// ---- components ----

export const MODEL_GPT = {
  layers: { ...int("transformer blocks, e.g. 4", 1, 256), default: 4 },
  width: { ...int("hidden size d_model, e.g. 128", 1), default: 128, symbol: "d_model" },
  heads: { ...int("attention heads; width must divide by it", 1), default: 4 },
  kv_heads: int("key/value heads for grouped-query attention (= heads for plain attention)", 1),
  ffn_width: int("MLP inner width (default 4 × width)", 1),
  context: { ...int("maximum sequence length, prompt + response", 8), default: 128, field: "contextLength" },
  norm_eps: pos("LayerNorm/RMSNorm epsilon"),
  rope_theta: pos("RoPE base (llama family)"),
  qkv_bias: bool("bias on q, k, v projections (Qwen2)"),
  tie_embeddings: bool("output head shares the token embedding"),
  seed: int("initialisation seed"),
} satisfies Schema;

/** `operands` and `values` are ranges: the compiler splits them into the plan's Min/Max fields. */
export const TASK_ARITHMETIC = {
  preset: word("a named world (src/task/arithmetic-presets.ts); the block's other settings override it", ...ARITHMETIC_PRESET_NAMES),
  operands: { type: { t: "range", min: 2, max: 12 }, doc: "operands per expression, e.g. `operands 3..5`", default: [2, 4] as [number, number] },
  values: { type: { t: "range", min: 0 }, doc: "operand values, e.g. `values 1..9`", default: [1, 9] as [number, number] },
  operators: { ...str('operators to draw from, e.g. "+-*"'), default: "+-*" },
  verbosity: { ...num("probability of a redundant step after each essential step", 0, 1), default: 0.3 },
  slips: { ...num("probability of a slip (then its fix) at each essential step", 0, 1), default: 0.1 },
} satisfies Schema;

export const TASK_JSONL = {
  question: { ...str('the field holding the question, e.g. "question"'), default: "question" },
  answer: { ...str('the field holding the reference answer, e.g. "answer"'), default: "answer" },
  on_error: { ...word("what to do with a malformed line", "skip", "refuse"), default: "skip" },
  held_out: { ...int("lines kept back for evaluation"), default: 100 },
  thinking: {
    ...word("a reasoning model's chat template (Qwen3's enable_thinking): on = reason in <think>…</think> first, off = answer directly", "on", "off"),
    defaultText: "the template's own",
    toPlan: (v: string) => v === "on",
  },
} satisfies Schema;

export const STEPS = {
  min_tokens: { ...int("a shorter step merges into the next", 1), default: 1 },
  max_steps: { ...int("later steps merge into the last", 1), default: 64, symbol: "K_max" },
} satisfies Schema;

export const PROBE = {
  prompt: str("template with {question}, {steps}, {step}, {reference}"),
  score: { type: { t: "expr" }, doc: 'yes_no(" Yes", " No"), likelihood(reference) or confidence' },
} satisfies Schema;

/** `score confidence` without a count: the tokens whose probabilities it averages. */
export const CONFIDENCE_TOKENS = 8;

/** GRPO (arXiv 2402.03300): eps 0.2, no KL in the loss (Dr. GRPO and SPRO drop it too). */
export const OBJECTIVE_CLIPPED = {
  clip: { ...num("eps_lo of the PPO clip (GRPO: 0.2)", 0, 1, { maxOpen: true }), default: 0.2, symbol: "ε_lo" },
  clip_high: { ...num("eps_hi, clip-higher (DAPO: 0.28); default = clip", 0, 10), default: 0.2, defaultText: "= `clip`", symbol: "ε_hi" },
  kl: { ...num("kl_coef on the k3 estimator (0 in SPRO and Dr. GRPO)", 0), default: 0, symbol: "β_KL" },
  entropy: { ...num("entropy bonus coefficient", 0), default: 0 },
  norm: { ...word("loss normalisation Z: per response (GRPO), all tokens (DAPO), constant (Dr. GRPO)", "response", "token", "constant"), default: "response", symbol: "Z" },
  mask_truncated: { ...bool("drop responses cut off by the length limit from the loss"), default: false },
  ratio: { ...word("importance ratio per token (PPO, GRPO) or per sequence (GSPO: exp of the mean token log-ratio; use clip 3e-4, clip_high 4e-4)", "token", "sequence"), default: "token" },
} satisfies Schema;

/** SPPD (arXiv 2502.13516): beta 0.1, threshold 0.5; gamma 0 is plain Step-DPO. */
export const OBJECTIVE_STEP_DPO = {
  beta: { ...pos("DPO temperature (SPPD: 0.1, Step-DPO: 0.4)"), default: 0.1, symbol: "β" },
  gamma: { ...num("weight of the dynamic value margin; 0 is plain Step-DPO", 0), default: 0, symbol: "γ" },
  margin_sign: {
    type: { t: "sign" },
    doc: "+1: the seed's step reward r = beta log pi*/pi_ref + V(s_t+1) - V(s_t), the value gap helps; -1: the Bellman form r = beta log pi*/pi_ref - V(s_t+1) + V(s_t), a gap the chosen step must beat",
    default: 1,
  },
  margin: { ...num("a fixed margin m subtracted inside the sigmoid, -log sigmoid(beta h + ... - m) (SPPD's fixed-margin ablation); 0 = none"), default: 0, symbol: "m" },
  threshold: { ...num("minimum value gap for a pair (SPPD: 0.5)", 0, 1), default: 0.5 },
} satisfies Schema;

/** value_rollouts 0: Monte Carlo values cost K completions per prefix, so they are asked for. */
export const SAMPLER_STANDARD = {
  temperature: { ...pos("sampling temperature"), default: 1, symbol: "T" },
  top_p: { ...num("nucleus sampling mass (1 = off)", 0, 1, { minOpen: true }), default: 1, symbol: "p" },
  top_k: { ...int("top-k sampling (0 = off)"), default: 0, symbol: "k" },
  max_tokens: { ...int("response length limit", 1), default: 64 },
  value_rollouts: { ...int("Monte Carlo completions from every step boundary of every response, for `mc_value` (VinePPO); 0 = none", 0, 64), default: 0, symbol: "K" },
} satisfies Schema;

/** SPPD samples C = 2 children; K = 64 paths is the paper's, 16 fits a small machine. */
export const SAMPLER_TREE = {
  children: { ...int("candidate next steps per node, C (SPPD: 2)", 2, 16), default: 2, symbol: "C" },
  paths: { ...int("root-to-leaf paths per question, K (SPPD: 64)", 1), default: 16, symbol: "K" },
  temperature: { ...pos("sampling temperature"), default: 1, symbol: "T" },
  max_tokens: { ...int("response length limit", 1), default: 64 },
  value_rollouts: { ...int("Monte Carlo completions from every expanded step for its value (fraction correct); 0 = the fraction of correct leaves below", 0, 64), default: 0 },
} satisfies Schema;

export const EVAL = {
  prompts: { ...int("held-out prompts", 1), default: 64 },
  max_tokens: { ...int("response length limit", 1), default: 64 },
  temperature: { ...num("0 = greedy decoding; > 0 samples and reports pass@1 averaged over `samples` responses", 0), default: 0, symbol: "T" },
  samples: { ...int("responses per prompt when temperature > 0", 1, 64), default: 1 },
} satisfies Schema;

export const STAGE_SFT = {
  steps: { ...int("optimiser steps", 1), default: 300 },
  lr: { ...pos("learning rate"), default: 3e-3, symbol: "η" },
  batch: { ...int("sequences per step", 1), default: 32 },
  warmup: { ...int("linear warm-up steps"), default: 20 },
  only_correct: { ...bool("rejection sampling: train on the model's own correct samples instead of the worked solutions"), default: false },
} satisfies Schema;

export const STAGE_RL = {
  iterations: { ...int("rollout-and-update iterations", 1), default: 50 },
  prompts: { ...int("prompts per iteration", 1), default: 8 },
  group: { ...int("responses per prompt, G in the GRPO paper (at least 2)", 2), default: 8, symbol: "G" },
  lr: { ...pos("learning rate"), default: 5e-4, symbol: "η" },
  epochs: { ...int("passes over each rollout batch (μ in GRPO)", 1), default: 1, symbol: "μ" },
  minibatch: { ...int("responses per gradient step", 1), default: 64 },
  eval_every: { ...int("iterations between evaluations (0 = only at the end)"), default: 10 },
} satisfies Schema;

export const STAGE_DPO = {
  steps: { ...int("optimiser steps", 1), default: 100 },
  lr: { ...pos("learning rate"), default: 1e-4, symbol: "η" },
  beta: { ...pos("DPO temperature"), default: 0.1, symbol: "β" },
  pairs: { ...int("preference pairs per step", 1), default: 16 },
} satisfies Schema;

export const STAGE_STEP_DPO = {
  iterations: { ...int("tree-sample-and-update iterations", 1), default: 20 },
  prompts: { ...int("questions per iteration", 1), default: 8 },
  lr: { ...pos("learning rate"), default: 1e-4, symbol: "η" },
} satisfies Schema;

/** Each training stage's settings, by the stage's name in a `train { … }` block. */
export const STAGES: Record<string, Schema> = { sft: STAGE_SFT, rl: STAGE_RL, dpo: STAGE_DPO, step_dpo: STAGE_STEP_DPO };

// ---- reading: spec settings → plan fields ----

/** The plan field a setting fills: `max_tokens` → `maxTokens`, unless the schema names it. */
export function fieldOf(name: string, spec: SettingSpec): string {
  return spec.field ?? name.replace(/_(\w)/g, (_, c: string) => c.toUpperCase());
}

function planValue(spec: SettingSpec, v: SettingValue): unknown {
  return spec.toPlan ? (spec.toPlan as (x: SettingValue) => unknown)(v) : v;
}

/**
 * The schema's defaults as plan fields, on top of `fixed` (the kind, …). The type is the plan
 * component's: the defaults test (test/dsl/settings.test.ts) checks that every field is there.
 */
export function defaultsOf<P extends object>(schema: Schema, fixed: Partial<P>): P {
  const out: Record<string, unknown> = { ...fixed };
  for (const [name, spec] of Object.entries(schema)) if (spec.default !== undefined) out[fieldOf(name, spec)] = planValue(spec, spec.default);
  return out as P;
}

/**
 * `base` with every setting the block sets written into its plan field: the typed accessor the
 * compiler reads blocks through (the result has the plan component's type; a setting the schema
 * lacks is refused by the checker, one the plan lacks by the defaults test).
 */
export function readInto<P extends object>(schema: Schema, settings: ReadonlyMap<string, { value: SettingValue }>, base: P): P {
  const out = { ...base } as Record<string, unknown>;
  // in the schema's order, so a plan's fields come in one order whatever the block's (a resume compares plan.json as text)
  for (const [name, spec] of Object.entries(schema)) {
    const set = settings.get(name);
    if (set) out[fieldOf(name, spec)] = planValue(spec, set.value);
  }
  return out as P;
}

// ---- the defaults of each plan component ----

type Clipped = Extract<ObjectivePlan, { kind: "clipped" }>;
type StepDpoObjective = Extract<ObjectivePlan, { kind: "step_dpo" }>;
type Standard = Extract<SamplerPlan, { kind: "standard" }>;
type Tree = Extract<SamplerPlan, { kind: "tree" }>;
type Jsonl = Extract<TaskPlan, { kind: "jsonl" }>;
type StageOf<K extends StagePlan["kind"]> = Extract<StagePlan, { kind: K }>;

export const DEFAULT_SEED = 1;

/** ratio "token" is left out of the plan (absent means per token), so plans that never mention it are unchanged. */
const { ratio: _tokenRatio, ...clippedDefaults } = defaultsOf<Clipped>(OBJECTIVE_CLIPPED, { kind: "clipped" });

export const DEFAULTS = {
  /** one step per line: the arithmetic task writes one operation per line */
  steps: defaultsOf<SegmentationPlan>(STEPS, { kind: "split", delimiter: "\n" }),
  arithmetic: {
    operandsMin: TASK_ARITHMETIC.operands.default[0], operandsMax: TASK_ARITHMETIC.operands.default[1],
    valueMin: TASK_ARITHMETIC.values.default[0], valueMax: TASK_ARITHMETIC.values.default[1],
    operators: TASK_ARITHMETIC.operators.default, verbosity: TASK_ARITHMETIC.verbosity.default, slips: TASK_ARITHMETIC.slips.default,
  } satisfies ArithmeticSettings,
  /** without `path`: the block's fields only */
  jsonl: defaultsOf<Omit<Jsonl, "kind" | "path">>(TASK_JSONL, {}),
  clipped: clippedDefaults as Clipped,
  stepDpo: defaultsOf<StepDpoObjective>(OBJECTIVE_STEP_DPO, { kind: "step_dpo" }),
  standard: defaultsOf<Required<Standard>>(SAMPLER_STANDARD, { kind: "standard" }),
  tree: defaultsOf<Required<Tree>>(SAMPLER_TREE, { kind: "tree" }),
  eval: defaultsOf<Required<ExperimentPlan["eval"]>>(EVAL, {}),
  stages: {
    sft: defaultsOf<StageOf<"sft">>(STAGE_SFT, { kind: "sft" }),
    rl: defaultsOf<StageOf<"rl">>(STAGE_RL, { kind: "rl" }),
    dpo: defaultsOf<StageOf<"dpo">>(STAGE_DPO, { kind: "dpo" }),
    step_dpo: defaultsOf<StageOf<"step_dpo">>(STAGE_STEP_DPO, { kind: "step_dpo" }),
  } as { [K in StagePlan["kind"]]: StageOf<K> },
  /** the reference model for a 2-core machine */
  gpt: { layers: MODEL_GPT.layers.default, width: MODEL_GPT.width.default, heads: MODEL_GPT.heads.default, contextLength: MODEL_GPT.context.default },
} as const;

// ---- what the engine trains with: a plan's component, its absent settings defaulted ----

/** The clipped objective an rl stage trains: the plan's, or the defaults when it has none. */
export function effectiveClipped(plan: Pick<ExperimentPlan, "objective">): Clipped {
  return plan.objective?.kind === "clipped" ? { ...DEFAULTS.clipped, ...plan.objective } : { ...DEFAULTS.clipped };
}

/** The step_dpo objective a step_dpo stage trains. */
export function effectiveStepDpo(plan: Pick<ExperimentPlan, "objective">): StepDpoObjective {
  return plan.objective?.kind === "step_dpo" ? { ...DEFAULTS.stepDpo, ...plan.objective } : { ...DEFAULTS.stepDpo };
}

/** The standard sampler rl, dpo and rejection-sampled sft stages sample with: the plan's, or the defaults (a tree sampler's plan too). */
export function effectiveStandard(plan: Pick<ExperimentPlan, "sampler">): Required<Standard> {
  return plan.sampler?.kind === "standard" ? { ...DEFAULTS.standard, ...plan.sampler } : { ...DEFAULTS.standard };
}

/** The tree sampler a step_dpo stage samples with. */
export function effectiveTree(plan: Pick<ExperimentPlan, "sampler">): Required<Tree> {
  return plan.sampler?.kind === "tree" ? { ...DEFAULTS.tree, ...plan.sampler } : { ...DEFAULTS.tree };
}

/** The held-out evaluation: temperature and samples defaulted. */
export function effectiveEval(plan: Pick<ExperimentPlan, "eval">): Required<ExperimentPlan["eval"]> {
  return { ...DEFAULTS.eval, ...plan.eval };
}

/** The plan's first stage of a kind, or that stage's defaults. */
export function stageOrDefaults<K extends StagePlan["kind"]>(plan: Pick<ExperimentPlan, "train">, kind: K): StageOf<K> {
  return (plan.train.find((s) => s.kind === kind) as StageOf<K> | undefined) ?? { ...DEFAULTS.stages[kind] };
}

// ---- docs ----

function describe(t: SettingType): string {
  switch (t.t) {
    case "number": {
      const kind = t.int ? "integer" : "number";
      if (t.min !== undefined && t.max !== undefined && !t.minOpen && !t.maxOpen) return `${kind} ${t.min}..${t.max}`;
      const lo = t.min === undefined ? "" : `${t.minOpen ? ">" : "≥"} ${t.min}`;
      const hi = t.max === undefined ? "" : `${t.maxOpen ? "<" : "≤"} ${t.max}`;
      return [kind, lo, hi].filter(Boolean).join(" ").replace(/ (≤|<) /, lo ? ", $1 " : " $1 ");
    }
    case "word":
      return t.words.map((w) => `\`${w}\``).join(" \\| ");
    case "range":
      return `range ${t.min}..${t.max ?? "N"}`;
    case "bool":
      return "`true` \\| `false`";
    case "sign":
      return "`1` \\| `-1`";
    case "string":
      return "string";
    case "expr":
      return "scorer";
  }
}

function defaultText(spec: SettingSpec): string {
  if (spec.defaultText) return spec.defaultText;
  const d = spec.default;
  if (d === undefined) return "—";
  if (Array.isArray(d)) return `\`${d[0]}..${d[1]}\``;
  if (typeof d === "string") return spec.type.t === "word" ? `\`${d}\`` : JSON.stringify(d);
  if (typeof d === "boolean") return `\`${d}\``;
  return String(d);
}

/** The Markdown table of a schema, as dsl/README.md shows it (test/dsl/settings.test.ts keeps them equal). */
export function settingsTable(schema: Schema): string {
  const rows = Object.entries(schema).map(([name, s]) => `| \`${name}\` | ${describe(s.type)} | ${defaultText(s)} | ${s.symbol ?? ""} | ${s.doc.replace(/\|/g, "\\|")} |`);
  return ["| setting | type | default | symbol | meaning |", "|---|---|---|---|---|", ...rows].join("\n");
}

/** Every schema under the name dsl/README.md marks its table with (`<!-- settings: sampler standard -->`). */
export const SCHEMAS: Record<string, Schema> = {
  "model gpt": MODEL_GPT,
  "task arithmetic": TASK_ARITHMETIC,
  "task jsonl": TASK_JSONL,
  steps: STEPS,
  probe: PROBE,
  "objective clipped": OBJECTIVE_CLIPPED,
  "objective step_dpo": OBJECTIVE_STEP_DPO,
  "sampler standard": SAMPLER_STANDARD,
  "sampler tree": SAMPLER_TREE,
  eval: EVAL,
  "stage sft": STAGE_SFT,
  "stage rl": STAGE_RL,
  "stage dpo": STAGE_DPO,
  "stage step_dpo": STAGE_STEP_DPO,
};

/** `md` with every `<!-- settings: NAME -->` … `<!-- /settings -->` section holding NAME's table. */
export function renderSettingsTables(md: string): string {
  return md.replace(/(<!-- settings: ([^>]+?) -->\n)[\s\S]*?(<!-- \/settings -->)/g, (all, open: string, name: string, close: string) => {
    const schema = SCHEMAS[name];
    return schema ? `${open}${settingsTable(schema)}\n${close}` : all;
  });
}
