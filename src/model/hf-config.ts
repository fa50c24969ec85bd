/**
 * ModelConfig <-> Hugging Face config.json, for GPT-2, Llama (2 and 3.x), Qwen2/2.5 and Qwen3.
 *
 * Reading never misreads: every field of config.json must be one HF_CONFIG_FIELDS lists for its
 * model_type, either read (and its value checked against what the decoder implements) or known
 * not to change the forward pass. Anything else — an unknown model_type, a RoPE type other than
 * default and llama3, a sliding window shorter than the context, a field Stepwise does not know —
 * is refused with a CheckpointError naming config.json and the field.
 *
 * RoPE settings come in two layouts, both read: transformers v4's top-level `rope_theta` and
 * `rope_scaling`, and v5's `rope_parameters` ({ rope_type, rope_theta, factor, ... }).
 */
import type { Llama3RopeScaling, ModelConfig } from "./types.js";
import { CheckpointError } from "../io/errors.js";

/** The parsed config.json. */
export type HfConfig = Record<string, unknown>;

/** The model_type values Stepwise reads. */
export const HF_MODEL_TYPES = ["gpt2", "llama", "qwen2", "qwen3"] as const;
export type HfModelType = (typeof HF_MODEL_TYPES)[number];

/**
 * What Stepwise does with a config.json field: "read" (it sets the model, and a value the decoder
 * does not implement is refused) or "ignored" (it cannot change the forward pass: token ids,
 * dtype on disk, versions, dropout — Stepwise trains without dropout —, initialisation).
 */
export type FieldUse = "read" | "ignored";

/** Fields every family may have. */
const COMMON_FIELDS: Record<string, FieldUse> = {
  model_type: "read",
  architectures: "read",
  vocab_size: "read",
  tie_word_embeddings: "read",
  stepwise: "read", // what Stepwise stores that HF configs have no field for (the init seed)
  bos_token_id: "ignored",
  eos_token_id: "ignored",
  pad_token_id: "ignored",
  sep_token_id: "ignored",
  decoder_start_token_id: "ignored",
  torch_dtype: "ignored",
  dtype: "ignored",
  transformers_version: "ignored",
  _name_or_path: "ignored",
  use_cache: "ignored",
  initializer_range: "ignored",
  output_attentions: "ignored",
  output_hidden_states: "ignored",
  return_dict: "ignored",
  id2label: "ignored",
  label2id: "ignored",
  task_specific_params: "ignored",
  tokenizer_class: "ignored",
  _num_labels: "ignored",
  finetuning_task: "ignored",
  problem_type: "ignored",
  gradient_checkpointing: "ignored",
};

/** Fields of the RoPE families (llama, qwen2, qwen3). */
const ROPE_FAMILY_FIELDS: Record<string, FieldUse> = {
  hidden_size: "read",
  intermediate_size: "read",
  num_hidden_layers: "read",
  num_attention_heads: "read",
  num_key_value_heads: "read",
  head_dim: "read",
  max_position_embeddings: "read",
  hidden_act: "read",
  rms_norm_eps: "read",
  rope_theta: "read",
  rope_scaling: "read",
  rope_parameters: "read",
  partial_rotary_factor: "read",
  attention_dropout: "ignored",
};

/**
 * The one list of accepted config.json fields, per model_type. A field not listed for its
 * model_type is refused (it may change the math in a way the decoder does not implement).
 */
export const HF_CONFIG_FIELDS: Record<HfModelType, Record<string, FieldUse>> = {
  gpt2: {
    ...COMMON_FIELDS,
    n_embd: "read",
    n_head: "read",
    n_layer: "read",
    n_positions: "read",
    n_inner: "read",
    n_ctx: "read",
    activation_function: "read",
    layer_norm_epsilon: "read",
    scale_attn_weights: "read",
    scale_attn_by_inverse_layer_idx: "read",
    reorder_and_upcast_attn: "read",
    add_cross_attention: "read",
    attn_pdrop: "ignored",
    embd_pdrop: "ignored",
    resid_pdrop: "ignored",
    // the sequence-summary head of GPT2DoubleHeadsModel; the LM head does not use it
    summary_type: "ignored",
    summary_use_proj: "ignored",
    summary_activation: "ignored",
    summary_proj_to_labels: "ignored",
    summary_first_dropout: "ignored",
  },
  llama: {
    ...COMMON_FIELDS, ...ROPE_FAMILY_FIELDS, attention_bias: "read", mlp_bias: "read", pretraining_tp: "read",
    // written by nanotron (SmolLM): interleaved RoPE would pair other channels
    rope_interleaved: "read", is_llama_config: "ignored",
  },
  qwen2: { ...COMMON_FIELDS, ...ROPE_FAMILY_FIELDS, use_sliding_window: "read", sliding_window: "read", max_window_layers: "read", layer_types: "read" },
  qwen3: { ...COMMON_FIELDS, ...ROPE_FAMILY_FIELDS, attention_bias: "read", use_sliding_window: "read", sliding_window: "read", max_window_layers: "read", layer_types: "read" },
};

const ARCHITECTURES: Record<HfModelType, string[]> = {
  gpt2: ["GPT2LMHeadModel", "GPT2Model"],
  llama: ["LlamaForCausalLM", "LlamaModel"],
  qwen2: ["Qwen2ForCausalLM", "Qwen2Model"],
  qwen3: ["Qwen3ForCausalLM", "Qwen3Model"],
};

/** Key under which Stepwise stores what HF configs have no field for (the init seed). */
const STEPWISE_KEY = "stepwise";

/** transformers' RotaryEmbeddingConfigMixin.default_theta, when a config names no rope_theta */
const DEFAULT_ROPE_THETA = 10000;

type Refuse = (field: string, problem: string) => CheckpointError;

/**
 * Parse a config.json object into a ModelConfig.
 * @param file the config's path, for messages
 * @example configFromHf(JSON.parse(fs.readFileSync("Qwen3-0.6B/config.json", "utf8")), "Qwen3-0.6B/config.json")
 */
export function configFromHf(hf: HfConfig, file = "config.json"): ModelConfig {
  const refuse: Refuse = (field, problem) => new CheckpointError(file, `"${field}": ${problem}`);
  const present = (field: string) => hf[field] !== undefined && hf[field] !== null;
  const num = (field: string, fallback?: number): number => {
    const v = hf[field];
    if (v === undefined || v === null) {
      if (fallback !== undefined) return fallback;
      throw refuse(field, "missing");
    }
    if (typeof v !== "number" || !Number.isFinite(v)) throw refuse(field, `must be a number, got ${JSON.stringify(v)}`);
    return v;
  };
  const int = (field: string, fallback?: number): number => {
    const v = num(field, fallback);
    if (!Number.isInteger(v) || v <= 0) throw refuse(field, `must be a positive integer, got ${v}`);
    return v;
  };
  const flag = (field: string, fallback: boolean): boolean => {
    const v = hf[field];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== "boolean") throw refuse(field, `must be true or false, got ${JSON.stringify(v)}`);
    return v;
  };
  const mustBe = (field: string, expected: unknown, why: string) => {
    if (present(field) && hf[field] !== expected) throw refuse(field, `${JSON.stringify(hf[field])} is not supported (${why})`);
  };

  const modelType = hf.model_type;
  if (typeof modelType !== "string" || !(HF_MODEL_TYPES as readonly string[]).includes(modelType)) {
    const supported = `supported: ${HF_MODEL_TYPES.join(", ")}`;
    throw refuse("model_type", modelType === undefined ? `missing (${supported})` : `${JSON.stringify(modelType)} is not supported (${supported})`);
  }
  const type = modelType as HfModelType;
  const known = HF_CONFIG_FIELDS[type];
  for (const field of Object.keys(hf)) {
    if (!(field in known)) {
      throw refuse(field, `is not a field Stepwise knows for model_type "${type}": it may change the model in a way the decoder does not implement (the accepted fields are listed in docs/real-models.md)`);
    }
  }
  checkArchitectures(hf, ARCHITECTURES[type], refuse);
  const seed = readSeed(hf);

  if (type === "gpt2") {
    const act = hf.activation_function ?? "gelu_new";
    if (act !== "gelu_new" && act !== "gelu_pytorch_tanh") {
      throw refuse("activation_function", `${JSON.stringify(act)} is not supported (gelu_new, the tanh GELU, is)`);
    }
    const width = int("n_embd");
    const heads = int("n_head");
    if (width % heads !== 0) throw refuse("n_head", `n_embd ${width} is not divisible by n_head ${heads}`);
    mustBe("scale_attn_weights", true, "attention scores are always scaled by 1/sqrt(head width)");
    mustBe("scale_attn_by_inverse_layer_idx", false, "no per-layer score scaling");
    mustBe("reorder_and_upcast_attn", false, "no reordered attention");
    mustBe("add_cross_attention", false, "decoder-only, no cross-attention");
    const contextLength = int("n_positions");
    if (present("n_ctx") && int("n_ctx") !== contextLength) throw refuse("n_ctx", `${String(hf.n_ctx)} differs from n_positions ${contextLength}`);
    return {
      family: "gpt2",
      vocabSize: int("vocab_size"),
      contextLength,
      layers: int("n_layer"),
      width,
      heads,
      kvHeads: heads,
      ffnWidth: int("n_inner", 4 * width), // n_inner null means 4 * n_embd in HF GPT2
      normEps: num("layer_norm_epsilon", 1e-5),
      ropeTheta: DEFAULT_ROPE_THETA,
      qkvBias: true, // GPT-2's c_attn always has a bias
      tieEmbeddings: flag("tie_word_embeddings", true),
      seed,
    };
  }

  // llama, qwen2, qwen3
  const act = hf.hidden_act ?? "silu";
  if (act !== "silu") throw refuse("hidden_act", `${JSON.stringify(act)} is not supported (SwiGLU needs silu)`);
  if (type === "llama") {
    mustBe("mlp_bias", false, "the MLP has no biases");
    mustBe("attention_bias", false, "llama's attention_bias also puts a bias on o_proj");
    if (present("pretraining_tp")) int("pretraining_tp"); // slices the same products: no effect on the math
    mustBe("rope_interleaved", false, "RoPE rotates the two halves of a head (rotate_half), not interleaved pairs");
  }
  if (type === "qwen3") mustBe("attention_bias", false, "qwen3's attention_bias puts biases on q/k/v and o_proj");
  const width = int("hidden_size");
  const heads = int("num_attention_heads");
  const kvHeads = int("num_key_value_heads", heads);
  if (heads % kvHeads !== 0) throw refuse("num_key_value_heads", `${heads} attention heads are not a multiple of ${kvHeads}`);
  // head_dim: Qwen3's default is 128 (Qwen3Config), the others' hidden_size / num_attention_heads
  let headDim: number | undefined;
  if (present("head_dim")) headDim = int("head_dim");
  else if (type === "qwen3") headDim = 128;
  else if (width % heads !== 0) throw refuse("num_attention_heads", `hidden_size ${width} is not divisible by ${heads} heads`);
  if (headDim !== undefined && headDim === width / heads) headDim = undefined; // hidden_size / heads, stated
  if ((headDim ?? width / heads) % 2 !== 0) throw refuse(headDim !== undefined ? "head_dim" : "num_attention_heads", "RoPE needs an even head width");
  const contextLength = int("max_position_embeddings");
  if (type !== "llama") checkSlidingWindow(hf, contextLength, int("num_hidden_layers"), refuse);
  const rope = readRope(hf, contextLength, refuse);
  const config: ModelConfig = {
    family: "llama",
    vocabSize: int("vocab_size"),
    contextLength,
    layers: int("num_hidden_layers"),
    width,
    heads,
    kvHeads,
    ffnWidth: int("intermediate_size"),
    normEps: num("rms_norm_eps", 1e-6),
    ropeTheta: rope.theta,
    qkvBias: type === "qwen2", // Qwen2 always has q/k/v biases; Llama and Qwen3 have none
    tieEmbeddings: flag("tie_word_embeddings", false),
    seed,
  };
  if (rope.scaling) config.ropeScaling = rope.scaling;
  if (headDim !== undefined) config.headDim = headDim;
  if (type === "qwen3") config.qkNorm = true;
  return config;
}

type Rope = { theta: number; scaling?: Llama3RopeScaling };

/**
 * RoPE base and scaling, from either layout. A file holding both layouts must mean one RoPE
 * (transformers v5 reads rope_parameters, v4 rope_scaling and rope_theta); a per-layer
 * rope_parameters (keys are layer types) and a partial rotary factor below 1 are refused.
 */
function readRope(hf: HfConfig, contextLength: number, refuse: Refuse): Rope {
  const top = hf.rope_theta;
  if (top !== undefined && top !== null && (typeof top !== "number" || !(top > 0))) throw refuse("rope_theta", `must be a positive number, got ${JSON.stringify(top)}`);
  const prf = hf.partial_rotary_factor;
  if (prf !== undefined && prf !== null && prf !== 1) throw refuse("partial_rotary_factor", `${JSON.stringify(prf)} is not supported (RoPE on every channel only: 1.0)`);
  const topTheta = typeof top === "number" ? top : undefined;
  const v5 = hf.rope_parameters, v4 = hf.rope_scaling;
  const fromV5 = v5 === undefined || v5 === null ? null : ropeDict(v5, "rope_parameters", topTheta, contextLength, refuse);
  const fromV4 = v4 === undefined || v4 === null ? null : ropeDict(v4, "rope_scaling", topTheta, contextLength, refuse);
  if (fromV5 && fromV4 && JSON.stringify(fromV5) !== JSON.stringify(fromV4)) {
    throw refuse("rope_parameters", `${JSON.stringify(v5)} disagrees with "rope_scaling" ${JSON.stringify(v4)}`);
  }
  return fromV5 ?? fromV4 ?? { theta: topTheta ?? DEFAULT_ROPE_THETA };
}

/** One RoPE dict ({ rope_type, rope_theta, factor, ... }, `field` names it in messages). */
function ropeDict(v: unknown, field: string, topTheta: number | undefined, contextLength: number, refuse: Refuse): Rope {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw refuse(field, `must be an object or null, got ${JSON.stringify(v)}`);
  const p = v as Record<string, unknown>;
  const bad = (problem: string) => refuse(field, problem);
  if (Object.values(p).some((x) => typeof x === "object" && x !== null)) throw bad("per-layer RoPE settings are not supported (one RoPE for every layer)");
  let theta = topTheta ?? DEFAULT_ROPE_THETA;
  if (p.rope_theta !== undefined && p.rope_theta !== null) {
    if (typeof p.rope_theta !== "number" || !(p.rope_theta > 0)) throw bad(`rope_theta must be a positive number, got ${JSON.stringify(p.rope_theta)}`);
    if (topTheta !== undefined && topTheta !== p.rope_theta) throw refuse("rope_theta", `${topTheta} disagrees with ${field}.rope_theta ${p.rope_theta}`);
    theta = p.rope_theta;
  }
  if (p.partial_rotary_factor !== undefined && p.partial_rotary_factor !== null && p.partial_rotary_factor !== 1) {
    throw bad(`partial_rotary_factor ${JSON.stringify(p.partial_rotary_factor)} is not supported (RoPE on every channel only: 1.0)`);
  }
  const ropeType = p.rope_type ?? p.type ?? "default";
  const common = ["rope_type", "type", "rope_theta", "partial_rotary_factor"];
  if (ropeType === "default") {
    const extra = Object.keys(p).filter((k) => !common.includes(k));
    if (extra.length) throw bad(`${extra.map((k) => `"${k}"`).join(", ")} is not supported with rope_type "default"`);
    return { theta };
  }
  if (ropeType !== "llama3") throw bad(`rope_type ${JSON.stringify(ropeType)} is not supported (supported: "default", "llama3")`);
  const extra = Object.keys(p).filter((k) => ![...common, "factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings"].includes(k));
  if (extra.length) throw bad(`${extra.map((k) => `"${k}"`).join(", ")} is not supported with rope_type "llama3"`);
  const pos = (k: string, fallback?: number): number => {
    const x = p[k] ?? fallback;
    if (typeof x !== "number" || !(x > 0)) throw bad(`${k} must be a positive number for rope_type "llama3", got ${JSON.stringify(p[k])}`);
    return x;
  };
  const scaling: Llama3RopeScaling = {
    type: "llama3",
    factor: pos("factor"),
    lowFreqFactor: pos("low_freq_factor"),
    highFreqFactor: pos("high_freq_factor"),
    // transformers falls back to max_position_embeddings (standardize_rope_params)
    originalContextLength: pos("original_max_position_embeddings", contextLength),
  };
  if (!(scaling.highFreqFactor > scaling.lowFreqFactor)) throw bad(`high_freq_factor (${scaling.highFreqFactor}) must exceed low_freq_factor (${scaling.lowFreqFactor})`);
  return { theta, scaling };
}

/**
 * Qwen2/Qwen3 sliding-window attention, accepted only when it cannot bind. transformers (v5
 * Qwen2Config/Qwen3Config): sliding_window counts only with use_sliding_window; then the layers
 * layer_types marks "sliding_attention" attend to the last sliding_window keys, which equals full
 * causal attention when the window covers the whole context (max_position_embeddings). Without
 * layer_types, which layers slide follows from max_window_layers, read differently across
 * transformers versions, so any window shorter than the context is refused there.
 */
function checkSlidingWindow(hf: HfConfig, contextLength: number, layers: number, refuse: Refuse): void {
  const use = hf.use_sliding_window;
  if (use !== undefined && use !== null && typeof use !== "boolean") throw refuse("use_sliding_window", `must be true or false, got ${JSON.stringify(use)}`);
  const lt = hf.layer_types;
  if (lt !== undefined && lt !== null) {
    if (!Array.isArray(lt) || lt.length !== layers) throw refuse("layer_types", `must list one type per layer (${layers})`);
    for (const t of lt) {
      if (t !== "full_attention" && t !== "sliding_attention") throw refuse("layer_types", `${JSON.stringify(t)} is not supported (full_attention, sliding_attention)`);
    }
  }
  const w = hf.sliding_window;
  if (use !== true || w === undefined || w === null) return; // no window: full attention
  if (typeof w !== "number" || !Number.isInteger(w) || w <= 0) throw refuse("sliding_window", `must be a positive integer, got ${JSON.stringify(w)}`);
  const slides = Array.isArray(lt) ? lt.includes("sliding_attention") : true;
  if (slides && w < contextLength) {
    throw refuse("sliding_window", `${w} with use_sliding_window binds within the context of ${contextLength} tokens (max_position_embeddings); sliding-window attention is not supported (use_sliding_window false, or a window of at least the context, is)`);
  }
}

function readSeed(hf: HfConfig): number {
  const extra = hf[STEPWISE_KEY];
  if (typeof extra === "object" && extra !== null && typeof (extra as { seed?: unknown }).seed === "number") {
    return (extra as { seed: number }).seed;
  }
  return 0;
}

function checkArchitectures(hf: HfConfig, allowed: string[], refuse: Refuse): void {
  const arch = hf.architectures;
  if (arch === undefined || arch === null) return;
  if (!Array.isArray(arch) || arch.length === 0) throw refuse("architectures", "must be a non-empty list");
  for (const a of arch) {
    if (!allowed.includes(String(a))) {
      throw refuse("architectures", `"${String(a)}" is not supported for model_type "${String(hf.model_type)}" (supported: ${allowed.join(", ")})`);
    }
  }
}

/**
 * Render a ModelConfig as a Hugging Face config.json object, in the top-level RoPE layout that
 * transformers v4 and v5 both read. A llama-family config becomes "qwen3" with q/k norms,
 * "qwen2" with qkv biases, "llama" otherwise.
 */
export function configToHf(c: ModelConfig): HfConfig {
  const extra = { [STEPWISE_KEY]: { seed: c.seed } };
  if (c.family === "gpt2") {
    if (c.kvHeads !== c.heads) throw new Error("configToHf: the gpt2 family has no grouped-query attention (kvHeads must equal heads)");
    return {
      architectures: ["GPT2LMHeadModel"],
      model_type: "gpt2",
      vocab_size: c.vocabSize,
      n_positions: c.contextLength,
      n_ctx: c.contextLength,
      n_embd: c.width,
      n_layer: c.layers,
      n_head: c.heads,
      n_inner: c.ffnWidth,
      activation_function: "gelu_new",
      layer_norm_epsilon: c.normEps,
      tie_word_embeddings: c.tieEmbeddings,
      torch_dtype: "float32",
      ...extra,
    };
  }
  if (c.qkNorm && c.qkvBias) throw new Error("configToHf: no Hugging Face family has both q/k norms and qkv biases");
  const type: HfModelType = c.qkNorm ? "qwen3" : c.qkvBias ? "qwen2" : "llama";
  const r = c.ropeScaling;
  if (r && type !== "llama") throw new Error(`configToHf: llama3 RoPE scaling is written for model_type "llama" only, not "${type}"`);
  return {
    architectures: [ARCHITECTURES[type][0]],
    model_type: type,
    vocab_size: c.vocabSize,
    hidden_size: c.width,
    intermediate_size: c.ffnWidth,
    num_hidden_layers: c.layers,
    num_attention_heads: c.heads,
    num_key_value_heads: c.kvHeads,
    ...(c.headDim !== undefined || type === "qwen3" ? { head_dim: c.headDim ?? c.width / c.heads } : {}),
    max_position_embeddings: c.contextLength,
    hidden_act: "silu",
    rms_norm_eps: c.normEps,
    rope_theta: c.ropeTheta,
    rope_scaling: r
      ? { rope_type: "llama3", factor: r.factor, low_freq_factor: r.lowFreqFactor, high_freq_factor: r.highFreqFactor, original_max_position_embeddings: r.originalContextLength }
      : null,
    tie_word_embeddings: c.tieEmbeddings,
    ...(type === "llama" ? { attention_bias: false, mlp_bias: false } : type === "qwen3" ? { attention_bias: false, use_sliding_window: false } : { use_sliding_window: false }),
    torch_dtype: "float32",
    ...extra,
  };
}
