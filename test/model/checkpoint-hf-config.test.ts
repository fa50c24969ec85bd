import { test } from "node:test";
import assert from "node:assert/strict";
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

test("unsupported architectures and options are refused naming the field", () => {
  const refused = (hf: Record<string, unknown>, field: string, why: RegExp) =>
    assert.throws(() => configFromHf(hf, "/models/x/config.json"), (e: unknown) => {
      assert.ok(e instanceof CheckpointError);
      assert.ok(e.message.startsWith("/models/x/config.json: "), e.message);
      assert.ok(e.message.includes(`"${field}"`), e.message);
      assert.match(e.message, why);
      return true;
    });
  refused({ ...QWEN25_05B, model_type: "mistral" }, "model_type", /"mistral" is not supported/);
  refused({ ...QWEN25_05B, model_type: undefined }, "model_type", /missing/);
  refused({ ...QWEN25_05B, rope_scaling: { type: "yarn", factor: 4 } }, "rope_scaling", /not supported/);
  refused({ ...QWEN25_05B, hidden_act: "gelu" }, "hidden_act", /"gelu" is not supported/);
  refused({ ...QWEN25_05B, use_sliding_window: true }, "use_sliding_window", /not supported/);
  refused({ ...QWEN25_05B, architectures: ["Qwen2ForSequenceClassification"] }, "architectures", /not supported/);
  refused({ ...QWEN25_05B, num_key_value_heads: 3 }, "num_key_value_heads", /not a multiple/);
  refused({ ...QWEN25_05B, hidden_size: "896" }, "hidden_size", /must be a number/);
  refused({ ...QWEN25_05B, intermediate_size: undefined }, "intermediate_size", /missing/);
  refused({ ...QWEN25_05B, head_dim: 128 }, "head_dim", /differs/);
  refused({ ...QWEN25_05B, model_type: "llama", architectures: ["LlamaForCausalLM"], attention_bias: true }, "attention_bias", /o_proj/);
  refused({ ...GPT2, activation_function: "relu" }, "activation_function", /"relu" is not supported/);
  refused({ ...GPT2, n_head: 7 }, "n_head", /not divisible/);
});
