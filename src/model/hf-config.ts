/**
 * ModelConfig <-> Hugging Face config.json, for the GPT-2 and Llama/Qwen2 families.
 *
 * Reading is strict: an unknown model_type or an option the decoder does not implement is refused
 * with a CheckpointError naming the field, rather than silently producing a different model.
 */
import type { ModelConfig } from "./types.js";
import { CheckpointError } from "../io/errors.js";

/** The subset of config.json fields we read or write (others are ignored when harmless). */
export type HfConfig = Record<string, unknown>;

/** Key under which Stepwise stores what HF configs have no field for (the init seed). */
const STEPWISE_KEY = "stepwise";

const DEFAULT_ROPE_THETA = 10000; // Llama 1/2 and HF's LlamaConfig default

/**
 * Parse a config.json object into a ModelConfig.
 * @param file the config's path, for messages
 * @example configFromHf(JSON.parse(fs.readFileSync("Qwen2.5-0.5B/config.json", "utf8")), "config.json")
 */
export function configFromHf(hf: HfConfig, file = "config.json"): ModelConfig {
  const refuse = (field: string, problem: string) => new CheckpointError(file, `"${field}": ${problem}`);
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
  const modelType = hf.model_type;
  const seed = readSeed(hf);

  if (modelType === "gpt2") {
    const act = hf.activation_function ?? "gelu_new";
    if (act !== "gelu_new" && act !== "gelu" && act !== "gelu_pytorch_tanh") {
      throw refuse("activation_function", `"${String(act)}" is not supported (gelu_new, the tanh GELU, is)`);
    }
    checkArchitectures(hf, ["GPT2LMHeadModel", "GPT2Model"], refuse);
    const width = int("n_embd");
    const heads = int("n_head");
    if (width % heads !== 0) throw refuse("n_head", `n_embd ${width} is not divisible by n_head ${heads}`);
    if (hf.scale_attn_by_inverse_layer_idx === true) throw refuse("scale_attn_by_inverse_layer_idx", "true is not supported");
    if (hf.reorder_and_upcast_attn === true) throw refuse("reorder_and_upcast_attn", "true is not supported");
    return {
      family: "gpt2",
      vocabSize: int("vocab_size"),
      contextLength: int("n_positions"),
      layers: int("n_layer"),
      width,
      heads,
      kvHeads: heads,
      ffnWidth: int("n_inner", 4 * width), // n_inner null means 4 * n_embd in HF GPT2
      normEps: num("layer_norm_epsilon", 1e-5),
      ropeTheta: DEFAULT_ROPE_THETA,
      qkvBias: true, // GPT-2's c_attn always has a bias
      tieEmbeddings: hf.tie_word_embeddings === undefined ? true : Boolean(hf.tie_word_embeddings),
      seed,
    };
  }

  if (modelType === "llama" || modelType === "qwen2") {
    const act = hf.hidden_act ?? "silu";
    if (act !== "silu") throw refuse("hidden_act", `"${String(act)}" is not supported (SwiGLU needs silu)`);
    if (hf.rope_scaling !== undefined && hf.rope_scaling !== null) {
      throw refuse("rope_scaling", `${JSON.stringify(hf.rope_scaling)} is not supported (only plain RoPE; rope_scaling must be null)`);
    }
    if (hf.mlp_bias === true) throw refuse("mlp_bias", "true is not supported");
    if (modelType === "llama" && hf.attention_bias === true) {
      throw refuse("attention_bias", "true is not supported for llama (it also puts a bias on o_proj)");
    }
    if (modelType === "qwen2" && hf.use_sliding_window === true) {
      throw refuse("use_sliding_window", "true is not supported (full causal attention only)");
    }
    checkArchitectures(
      hf,
      modelType === "qwen2" ? ["Qwen2ForCausalLM", "Qwen2Model"] : ["LlamaForCausalLM", "LlamaModel"],
      refuse,
    );
    const width = int("hidden_size");
    const heads = int("num_attention_heads");
    const kvHeads = int("num_key_value_heads", heads);
    if (width % heads !== 0) throw refuse("num_attention_heads", `hidden_size ${width} is not divisible by ${heads} heads`);
    if (heads % kvHeads !== 0) throw refuse("num_key_value_heads", `${heads} attention heads are not a multiple of ${kvHeads}`);
    if (hf.head_dim !== undefined && hf.head_dim !== null && hf.head_dim !== width / heads) {
      throw refuse("head_dim", `${String(hf.head_dim)} differs from hidden_size / num_attention_heads = ${width / heads}`);
    }
    return {
      family: "llama",
      vocabSize: int("vocab_size"),
      contextLength: int("max_position_embeddings"),
      layers: int("num_hidden_layers"),
      width,
      heads,
      kvHeads,
      ffnWidth: int("intermediate_size"),
      normEps: num("rms_norm_eps", 1e-6),
      ropeTheta: num("rope_theta", DEFAULT_ROPE_THETA),
      qkvBias: modelType === "qwen2", // Qwen2 always has q/k/v biases; plain Llama has none
      tieEmbeddings: Boolean(hf.tie_word_embeddings ?? false),
      seed,
    };
  }

  throw refuse(
    "model_type",
    modelType === undefined ? "missing (supported: gpt2, llama, qwen2)" : `"${String(modelType)}" is not supported (supported: gpt2, llama, qwen2)`,
  );
}

function readSeed(hf: HfConfig): number {
  const extra = hf[STEPWISE_KEY];
  if (typeof extra === "object" && extra !== null && typeof (extra as { seed?: unknown }).seed === "number") {
    return (extra as { seed: number }).seed;
  }
  return 0;
}

function checkArchitectures(
  hf: HfConfig,
  allowed: string[],
  refuse: (field: string, problem: string) => CheckpointError,
): void {
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
 * Render a ModelConfig as a Hugging Face config.json object (loadable by transformers).
 * A llama-family config becomes "qwen2" when it has qkv biases, "llama" otherwise.
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
  const qwen = c.qkvBias;
  return {
    architectures: [qwen ? "Qwen2ForCausalLM" : "LlamaForCausalLM"],
    model_type: qwen ? "qwen2" : "llama",
    vocab_size: c.vocabSize,
    hidden_size: c.width,
    intermediate_size: c.ffnWidth,
    num_hidden_layers: c.layers,
    num_attention_heads: c.heads,
    num_key_value_heads: c.kvHeads,
    max_position_embeddings: c.contextLength,
    hidden_act: "silu",
    rms_norm_eps: c.normEps,
    rope_theta: c.ropeTheta,
    rope_scaling: null,
    tie_word_embeddings: c.tieEmbeddings,
    ...(qwen ? { use_sliding_window: false } : { attention_bias: false, mlp_bias: false }),
    torch_dtype: "float32",
    ...extra,
  };
}
