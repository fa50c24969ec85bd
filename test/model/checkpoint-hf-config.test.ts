import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { loadHfModel } from "../../src/model/checkpoint.js";
import { CheckpointError } from "../../src/io/errors.js";
import { configFromHf, configToHf } from "../../src/model/hf-config.js";
import type { ModelConfig } from "../../src/model/types.js";

/** Qwen2.5-0.5B-Instruct's config.json (the fields that matter), as published. */
const QWEN25_05B = {
  architectures: ["Qwen2ForCausalLM"],
  attention_dropout: 0.0,
  bos_token_id: 151643,
  eos_token_id: 151645,
  hidden_act: "silu",
  hidden_size: 896,
  initializer_range: 0.02,
  intermediate_size: 4864,
  max_position_embeddings: 32768,
  max_window_layers: 21,
  model_type: "qwen2",
  num_attention_heads: 14,
  num_hidden_layers: 24,
  num_key_value_heads: 2,
  rms_norm_eps: 1e-6,
  rope_theta: 1000000.0,
  sliding_window: 32768,
  tie_word_embeddings: true,
  torch_dtype: "bfloat16",
  use_cache: true,
  use_sliding_window: false,
  vocab_size: 151936,
};

/** gpt2 (124M) config.json as published. */
const GPT2 = {
  activation_function: "gelu_new",
  architectures: ["GPT2LMHeadModel"],
  layer_norm_epsilon: 1e-5,
  model_type: "gpt2",
  n_ctx: 1024,
  n_embd: 768,
  n_head: 12,
  n_inner: null,
  n_layer: 12,
  n_positions: 1024,
  vocab_size: 50257,
};

test("Qwen2.5-0.5B config.json maps to the llama family", () => {
  const c = configFromHf(QWEN25_05B);
  assert.deepEqual(c, {
    family: "llama",
    vocabSize: 151936,
    contextLength: 32768,
    layers: 24,
    width: 896,
    heads: 14,
    kvHeads: 2,
    ffnWidth: 4864,
    normEps: 1e-6,
    ropeTheta: 1e6,
    qkvBias: true,
    tieEmbeddings: true,
    seed: 0,
  });
});

test("gpt2 config.json maps to the gpt2 family (n_inner null = 4 * n_embd)", () => {
  const c = configFromHf(GPT2);
  assert.equal(c.family, "gpt2");
  assert.equal(c.ffnWidth, 3072);
  assert.equal(c.contextLength, 1024);
  assert.equal(c.kvHeads, 12);
  assert.equal(c.tieEmbeddings, true);
});

test("ModelConfig -> config.json -> ModelConfig is exact for both families", () => {
  const gpt: ModelConfig = {
    family: "gpt2", vocabSize: 64, contextLength: 128, layers: 4, width: 128, heads: 4, kvHeads: 4,
    ffnWidth: 512, normEps: 1e-5, ropeTheta: 10000, qkvBias: true, tieEmbeddings: true, seed: 17,
  };
  const qwen: ModelConfig = {
    family: "llama", vocabSize: 300, contextLength: 256, layers: 2, width: 32, heads: 4, kvHeads: 2,
    ffnWidth: 64, normEps: 1e-6, ropeTheta: 1e6, qkvBias: true, tieEmbeddings: false, seed: 3,
  };
  const llama: ModelConfig = { ...qwen, qkvBias: false, tieEmbeddings: true };
  for (const c of [gpt, qwen, llama]) assert.deepEqual(configFromHf(JSON.parse(JSON.stringify(configToHf(c)))), c);
  assert.equal(configToHf(qwen).model_type, "qwen2");
  assert.deepEqual(configToHf(llama).architectures, ["LlamaForCausalLM"]);
});

/** Qwen3-0.6B's config.json as published (transformers v4 layout). */
const QWEN3_06B = {
  architectures: ["Qwen3ForCausalLM"],
  attention_bias: false,
  attention_dropout: 0.0,
  bos_token_id: 151643,
  eos_token_id: 151645,
  head_dim: 128,
  hidden_act: "silu",
  hidden_size: 1024,
  initializer_range: 0.02,
  intermediate_size: 3072,
  max_position_embeddings: 40960,
  max_window_layers: 28,
  model_type: "qwen3",
  num_attention_heads: 16,
  num_hidden_layers: 28,
  num_key_value_heads: 8,
  rms_norm_eps: 1e-6,
  rope_scaling: null,
  rope_theta: 1000000,
  sliding_window: null,
  tie_word_embeddings: true,
  torch_dtype: "bfloat16",
  transformers_version: "4.51.0",
  use_cache: true,
  use_sliding_window: false,
  vocab_size: 151936,
};

/** Llama-3.2-1B-Instruct's config.json as published (transformers v4 layout). */
const LLAMA32_1B = {
  architectures: ["LlamaForCausalLM"],
  attention_bias: false,
  attention_dropout: 0.0,
  bos_token_id: 128000,
  eos_token_id: [128001, 128008, 128009],
  head_dim: 64,
  hidden_act: "silu",
  hidden_size: 2048,
  initializer_range: 0.02,
  intermediate_size: 8192,
  max_position_embeddings: 131072,
  mlp_bias: false,
  model_type: "llama",
  num_attention_heads: 32,
  num_hidden_layers: 16,
  num_key_value_heads: 8,
  pretraining_tp: 1,
  rms_norm_eps: 1e-5,
  rope_scaling: { factor: 32.0, high_freq_factor: 4.0, low_freq_factor: 1.0, original_max_position_embeddings: 8192, rope_type: "llama3" },
  rope_theta: 500000.0,
  tie_word_embeddings: true,
  torch_dtype: "bfloat16",
  transformers_version: "4.45.0.dev0",
  use_cache: true,
  vocab_size: 128256,
};

/** The same config in transformers v5's layout: RoPE settings under rope_parameters. */
function v5Layout(hf: Record<string, unknown>): Record<string, unknown> {
  const { rope_theta, rope_scaling, ...rest } = hf;
  return { ...rest, rope_parameters: { rope_type: "default", ...(rope_scaling as object | null), rope_theta } };
}

test("Qwen3-0.6B: head_dim independent of hidden / heads, q/k norms, no biases, tied", () => {
  const c = configFromHf(QWEN3_06B);
  assert.deepEqual(
    [c.family, c.headDim, c.width / c.heads, c.qkNorm, c.qkvBias, c.tieEmbeddings, c.ropeTheta, c.ropeScaling],
    ["llama", 128, 64, true, false, true, 1e6, undefined],
  );
  // Qwen3Config's head_dim default is 128, not hidden / heads
  const { head_dim: _, ...noHeadDim } = QWEN3_06B;
  assert.equal(configFromHf(noHeadDim).headDim, 128);
});

test("Llama 3.2-1B: llama3 RoPE scaling, head_dim equal to hidden / heads", () => {
  const c = configFromHf(LLAMA32_1B);
  assert.deepEqual(c.ropeScaling, { type: "llama3", factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalContextLength: 8192 });
  assert.equal(c.ropeTheta, 500000);
  assert.equal(c.headDim, undefined);
  assert.equal(c.qkvBias, false);
});

test("both RoPE layouts read the same: v4 top-level rope_theta/rope_scaling, v5 rope_parameters", () => {
  for (const hf of [QWEN25_05B, QWEN3_06B, LLAMA32_1B]) {
    const v4 = configFromHf(hf);
    const v5 = configFromHf(v5Layout(hf));
    assert.deepEqual(v5, v4);
    assert.notEqual(v4.ropeTheta, 10000, "the base is read, not defaulted");
  }
  // without either, transformers' default base
  const { rope_theta: _, ...noTheta } = QWEN25_05B;
  assert.equal(configFromHf(noTheta).ropeTheta, 10000);
  // llama3 without original_max_position_embeddings: transformers falls back to max_position_embeddings
  const rs = { ...LLAMA32_1B.rope_scaling } as Record<string, unknown>;
  delete rs.original_max_position_embeddings;
  assert.equal(configFromHf({ ...LLAMA32_1B, rope_scaling: rs }).ropeScaling?.originalContextLength, 131072);
});

test("ModelConfig -> config.json -> ModelConfig is exact for Qwen3 and Llama 3", () => {
  for (const hf of [QWEN3_06B, LLAMA32_1B]) {
    const c = { ...configFromHf(hf), seed: 5 };
    assert.deepEqual(configFromHf(JSON.parse(JSON.stringify(configToHf(c)))), c);
  }
  assert.equal(configToHf(configFromHf(QWEN3_06B)).model_type, "qwen3");
});

test("unsupported architectures and options are refused naming config.json and the field", () => {
  const refused = (hf: Record<string, unknown>, field: string, why: RegExp) =>
    assert.throws(() => configFromHf(hf, "/models/x/config.json"), (e: unknown) => {
      assert.ok(e instanceof CheckpointError);
      assert.ok(e.message.startsWith("/models/x/config.json: "), e.message);
      assert.ok(e.message.includes(`"${field}"`), e.message);
      assert.match(e.message, why);
      return true;
    });
  // unknown model_type
  refused({ ...QWEN25_05B, model_type: "mistral" }, "model_type", /"mistral" is not supported \(supported: gpt2, llama, qwen2, qwen3\)/);
  refused({ ...QWEN25_05B, model_type: undefined }, "model_type", /missing/);
  // unknown rope type, in either layout
  refused({ ...QWEN25_05B, rope_scaling: { type: "yarn", factor: 4 } }, "rope_scaling", /rope_type "yarn" is not supported \(supported: "default", "llama3"\)/);
  refused({ ...LLAMA32_1B, rope_scaling: { ...LLAMA32_1B.rope_scaling, rope_type: "dynamic" } }, "rope_scaling", /rope_type "dynamic" is not supported/);
  refused(v5Layout({ ...QWEN25_05B, rope_scaling: { rope_type: "yarn", factor: 4 } }), "rope_parameters", /rope_type "yarn" is not supported/);
  refused(v5Layout({ ...LLAMA32_1B, rope_scaling: { ...LLAMA32_1B.rope_scaling, rope_type: "longrope" } }), "rope_parameters", /rope_type "longrope" is not supported/);
  refused(v5Layout({ ...LLAMA32_1B, rope_scaling: { ...LLAMA32_1B.rope_scaling, attention_factor: 2 } }), "rope_parameters", /"attention_factor" is not supported with rope_type "llama3"/);
  refused({ ...LLAMA32_1B, rope_scaling: { rope_type: "llama3", factor: 8 } }, "rope_scaling", /low_freq_factor must be a positive number/);
  refused({ ...v5Layout(QWEN3_06B), rope_theta: 10000 }, "rope_theta", /10000 disagrees with rope_parameters.rope_theta 1000000/);
  refused({ ...LLAMA32_1B, rope_parameters: { rope_type: "default", rope_theta: 500000 } }, "rope_parameters", /disagrees with "rope_scaling"/);
  refused({ ...QWEN3_06B, partial_rotary_factor: 0.5 }, "partial_rotary_factor", /not supported/);
  refused({ ...QWEN3_06B, rope_scaling: null, rope_parameters: { full_attention: { rope_type: "default" }, sliding_attention: { rope_type: "default" } } }, "rope_parameters", /per-layer/);
  // a sliding window that binds within the context
  refused({ ...QWEN25_05B, use_sliding_window: true, sliding_window: 4096 }, "sliding_window", /4096 with use_sliding_window binds within the context of 32768 tokens/);
  refused({ ...QWEN3_06B, use_sliding_window: true, sliding_window: 4096, max_window_layers: 20 }, "sliding_window", /binds within the context of 40960/);
  refused({ ...QWEN3_06B, use_sliding_window: true, sliding_window: 4096, max_window_layers: 28 }, "sliding_window", /binds/);
  refused({ ...QWEN3_06B, use_sliding_window: true, sliding_window: 4096, layer_types: Array.from({ length: 28 }, (_, i) => (i % 2 ? "sliding_attention" : "full_attention")) }, "sliding_window", /binds/);
  // fields that change the math
  refused({ ...QWEN25_05B, hidden_act: "gelu" }, "hidden_act", /"gelu" is not supported/);
  refused({ ...QWEN3_06B, attention_bias: true }, "attention_bias", /o_proj/);
  refused({ ...LLAMA32_1B, attention_bias: true }, "attention_bias", /o_proj/);
  refused({ ...LLAMA32_1B, mlp_bias: true }, "mlp_bias", /not supported/);
  refused({ ...LLAMA32_1B, rope_interleaved: true }, "rope_interleaved", /not interleaved/);
  refused({ ...QWEN3_06B, attn_logit_softcapping: 50 }, "attn_logit_softcapping", /not a field Stepwise knows for model_type "qwen3"/);
  refused({ ...QWEN25_05B, quantization_config: { quant_method: "gptq" } }, "quantization_config", /not a field Stepwise knows/);
  refused({ ...GPT2, scale_attn_weights: false }, "scale_attn_weights", /not supported/);
  refused({ ...GPT2, add_cross_attention: true }, "add_cross_attention", /not supported/);
  refused({ ...GPT2, rope_theta: 10000 }, "rope_theta", /not a field Stepwise knows for model_type "gpt2"/);
  // shapes and types
  refused({ ...QWEN25_05B, architectures: ["Qwen2ForSequenceClassification"] }, "architectures", /not supported/);
  refused({ ...QWEN25_05B, num_key_value_heads: 3 }, "num_key_value_heads", /not a multiple/);
  refused({ ...QWEN25_05B, hidden_size: "896" }, "hidden_size", /must be a number/);
  refused({ ...QWEN25_05B, intermediate_size: undefined }, "intermediate_size", /missing/);
  refused({ ...QWEN3_06B, head_dim: 7 }, "head_dim", /even head width/);
  refused({ ...GPT2, activation_function: "relu" }, "activation_function", /"relu" is not supported/);
  refused({ ...GPT2, n_head: 7 }, "n_head", /not divisible/);
});

test("sliding windows that cannot bind are accepted (they equal full causal attention)", () => {
  // Qwen2.5-0.5B publishes use_sliding_window false with a window; a window of the whole context is full attention
  assert.equal(configFromHf(QWEN25_05B).family, "llama");
  assert.equal(configFromHf({ ...QWEN25_05B, use_sliding_window: true, sliding_window: 32768 }).contextLength, 32768);
  // no layer slides: layer_types says so (without it, max_window_layers is read differently across transformers versions: refused)
  assert.equal(configFromHf({ ...QWEN25_05B, use_sliding_window: true, sliding_window: 4096, layer_types: Array(24).fill("full_attention") }).layers, 24);
});

test("loading a model directory refuses with the config.json path and the field (transformers-made fixture, v5 layout)", async () => {
  const fixture = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "fixtures", "hf", "qwen3");
  const cfg = JSON.parse(fs.readFileSync(path.join(fixture, "config.json"), "utf8")) as Record<string, unknown>;
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ ...cfg, rope_parameters: { rope_type: "yarn", rope_theta: 1e6, factor: 4 } }, /"rope_parameters": rope_type "yarn" is not supported/],
    [{ ...cfg, use_sliding_window: true, sliding_window: 64, layer_types: ["sliding_attention", "full_attention"] }, /"sliding_window": 64 with use_sliding_window binds within the context of 256 tokens/],
    [{ ...cfg, model_type: "qwen3_moe" }, /"model_type": "qwen3_moe" is not supported/],
  ];
  for (const [config, why] of cases) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "stepwise-refuse-"));
    try {
      for (const f of fs.readdirSync(fixture)) fs.copyFileSync(path.join(fixture, f), path.join(dir, f));
      fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify(config));
      await assert.rejects(loadHfModel(dir), (e: unknown) => {
        assert.ok(e instanceof CheckpointError);
        assert.ok(e.message.startsWith(path.join(dir, "config.json") + ": "), e.message);
        assert.match(e.message, why);
        return true;
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
});
