/**
 * Model configurations with documented defaults, and validation with messages that say the fix.
 * Reference model (issue 2): 4 layers, width 128, 4 heads, vocabulary 64, context 128.
 */
import type { ModelConfig } from "./types.js";

/**
 * A GPT-2-family config (learned positions, pre-LayerNorm, GELU, tied head).
 * @example gptConfig({ vocabSize: 40, contextLength: 192 })
 */
export function gptConfig(partial: Partial<ModelConfig> = {}): ModelConfig {
  const width = partial.width ?? 128; // small enough to train in minutes on one CPU core
  const heads = partial.heads ?? 4; // head width 32
  const config: ModelConfig = {
    family: "gpt2",
    vocabSize: 64, // character vocabulary of the arithmetic task, with room
    contextLength: 128, // prompt + worked solution
    layers: 4,
    width,
    heads,
    kvHeads: heads, // GPT-2 is plain multi-head attention
    ffnWidth: 4 * width, // GPT-2's MLP ratio
    normEps: 1e-5, // HF GPT2Config.layer_norm_epsilon
    ropeTheta: 10000, // unused by gpt2
    qkvBias: true, // GPT-2's c_attn has a bias
    tieEmbeddings: true, // GPT-2 always ties the head to wte
    seed: 0,
    ...partial,
  };
  if (partial.kvHeads === undefined) config.kvHeads = config.heads;
  if (partial.ffnWidth === undefined) config.ffnWidth = 4 * config.width;
  return validateConfig(config);
}

/**
 * A Llama/Qwen2-family config (RoPE, RMSNorm, SwiGLU, grouped-query attention).
 * Defaults are the reference size; Qwen2.5-0.5B is
 * `llamaConfig({ vocabSize: 151936, contextLength: 32768, layers: 24, width: 896, heads: 14, kvHeads: 2, ffnWidth: 4864, normEps: 1e-6, ropeTheta: 1e6, qkvBias: true, tieEmbeddings: true })`.
 */
export function llamaConfig(partial: Partial<ModelConfig> = {}): ModelConfig {
  const width = partial.width ?? 128;
  const config: ModelConfig = {
    family: "llama",
    vocabSize: 64,
    contextLength: 128,
    layers: 4,
    width,
    heads: 4,
    kvHeads: 2, // GQA: 2 query heads share each key/value head
    ffnWidth: Math.round((8 / 3) * width / 32) * 32, // SwiGLU keeps ~8/3 d so the MLP costs what GELU's 4d does
    normEps: 1e-6, // Qwen2's rms_norm_eps
    ropeTheta: 10000, // Llama 2 (Qwen2.5 uses 1e6)
    qkvBias: false, // Llama; Qwen2 sets true
    tieEmbeddings: false, // Llama; small Qwen2.5 models tie
    seed: 0,
    ...partial,
  };
  return validateConfig(config);
}

/** Width of one attention head: headDim when set (Qwen3), else width / heads. */
export function headDimOf(c: ModelConfig): number {
  return c.headDim ?? c.width / c.heads;
}

/** Throw an Error naming the field and the fix when a config cannot build a model. */
export function validateConfig(c: ModelConfig): ModelConfig {
  const bad = (field: keyof ModelConfig, why: string) => {
    throw new Error(`model config: ${String(field)} = ${JSON.stringify(c[field])}: ${why}`);
  };
  if (c.family !== "gpt2" && c.family !== "llama") bad("family", `unknown family: use "gpt2" or "llama"`);
  for (const f of ["vocabSize", "contextLength", "layers", "width", "heads", "kvHeads", "ffnWidth"] as const) {
    if (!Number.isInteger(c[f]) || (c[f] as number) < 1) bad(f, "must be a positive integer");
  }
  if (c.headDim !== undefined) {
    if (c.family !== "llama") bad("headDim", "only the llama family has a head width of its own (gpt2: width / heads)");
    if (!Number.isInteger(c.headDim) || c.headDim < 1) bad("headDim", "must be a positive integer");
  } else if (c.width % c.heads !== 0) bad("width", `must be divisible by heads (${c.heads}): head width = width / heads`);
  if (c.heads % c.kvHeads !== 0) bad("kvHeads", `must divide heads (${c.heads}): each key/value head serves heads/kvHeads query heads`);
  if (c.family === "gpt2" && c.kvHeads !== c.heads) bad("kvHeads", `the gpt2 family has no grouped-query attention: set kvHeads = heads (${c.heads})`);
  if (c.family === "llama" && headDimOf(c) % 2 !== 0) bad(c.headDim !== undefined ? "headDim" : "heads", "RoPE needs an even head width");
  if (c.qkNorm && c.family !== "llama") bad("qkNorm", "only the llama family (Qwen3) has q/k norms");
  if (c.ropeScaling !== undefined) {
    const r = c.ropeScaling;
    if (c.family !== "llama") bad("ropeScaling", "only the llama family uses RoPE");
    if (r.type !== "llama3") bad("ropeScaling", `type must be "llama3"`);
    if (!(r.factor > 0) || !(r.lowFreqFactor > 0) || !(r.highFreqFactor > r.lowFreqFactor) || !(r.originalContextLength > 0)) {
      bad("ropeScaling", "needs factor > 0, highFreqFactor > lowFreqFactor > 0 and originalContextLength > 0");
    }
  }
  if (!(c.normEps > 0)) bad("normEps", "must be > 0");
  if (c.family === "llama" && !(c.ropeTheta > 0)) bad("ropeTheta", "must be > 0");
  if (!Number.isInteger(c.seed)) bad("seed", "must be an integer");
  return c;
}
