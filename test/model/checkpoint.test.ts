import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../../src/backend/index.js";
import { CheckpointError } from "../../src/io/errors.js";
import { readSafetensors, readSafetensorsHeader, writeSafetensors } from "../../src/io/safetensors.js";
import { loadCheckpoint, loadHfModel, saveCheckpoint, describeWeights } from "../../src/model/checkpoint.js";
import { gptConfig, llamaConfig } from "../../src/model/config.js";
import { Transformer } from "../../src/model/transformer.js";
import { CharTokenizer } from "../../src/tokenizer/chars.js";
import { AdamW, disposeState } from "../../src/train/optimizer.js";

const root = fs.mkdtempSync(path.join(os.tmpdir(), "stepwise-ckpt-"));
let n = 0;
const fresh = () => path.join(root, `c${n++}`);

before(async () => {
  await initBackend({ backend: "cpu" }); // exact, and registers the gradients
});
after(() => fs.rmSync(root, { recursive: true, force: true }));

const tok = new CharTokenizer();
const gpt = () => Transformer.create(gptConfig({ vocabSize: tok.vocabSize, contextLength: 16, layers: 2, width: 16, heads: 2, seed: 5 }));
const qwen = () =>
  Transformer.create(llamaConfig({ vocabSize: 70, contextLength: 16, layers: 2, width: 16, heads: 4, kvHeads: 2, ffnWidth: 24, qkvBias: true, tieEmbeddings: false, ropeTheta: 1e6, seed: 9 }));

/** A model with one AdamW step taken, so moments and params are non-trivial. */
function trained(model: Transformer): AdamW {
  const opt = new AdamW(model.params);
  const tokens = tf.tensor2d([[1, 5, 6, 7, 8, 2]], undefined, "int32");
  const { value, grads } = tf.variableGrads(() => tf.neg(tf.mean(model.score(tokens).logp)) as tf.Scalar, model.trainableVariables());
  opt.step(grads, 1e-2);
  tf.dispose([value, tokens, ...Object.values(grads)]);
  return opt;
}

function rejects(p: Promise<unknown>, file: string, problem: RegExp): Promise<void> {
  return assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof CheckpointError, `expected CheckpointError, got ${(e as Error).stack}`);
    assert.ok(e.message.includes(file), `message names ${file}: ${e.message}`);
    assert.match(e.message, problem);
    return true;
  });
}

async function saveTiny(dir: string, model = gpt()): Promise<Transformer> {
  const opt = trained(model);
  await saveCheckpoint(dir, { model, tokenizer: tok, optimizer: opt, state: { stage: "sft", iteration: 1 } });
  opt.dispose();
  return model;
}

for (const [family, make] of [["gpt2", gpt], ["llama (qwen2, untied, GQA)", qwen]] as const) {
  test(`checkpoint round trip is exact: ${family}`, async () => {
    const model = make();
    const opt = trained(model);
    const dir = fresh();
    const state = { stage: "rl", iteration: 7, rng: [123456789, 42], metrics: { "reward/mean": 0.25 } };
    await saveCheckpoint(dir, { model, tokenizer: tok, optimizer: opt, state });
    assert.deepEqual(fs.readdirSync(dir).sort(), ["config.json", "model.safetensors", "optimizer.safetensors", "state.json", "tokenizer.json"]);
    const before = tf.memory().numTensors;
    const ck = await loadCheckpoint(dir);
    assert.deepEqual(ck.model.config, model.config);
    for (const [name, v] of model.params) {
      const got = ck.model.params.get(name)!;
      assert.deepEqual(got.shape, v.shape, name);
      assert.deepEqual(Array.from(got.dataSync()), Array.from(v.dataSync()), name);
    }
    assert.deepEqual(ck.tokenizer.toJSON(), tok.toJSON());
    assert.deepEqual(ck.state, state);
    const st = opt.getState();
    assert.equal(ck.optimizerState!.step, 1);
    for (const name of model.params.keys()) {
      assert.deepEqual(Array.from(ck.optimizerState!.m.get(name)!.dataSync()), Array.from(st.m.get(name)!.dataSync()));
      assert.deepEqual(Array.from(ck.optimizerState!.v.get(name)!.dataSync()), Array.from(st.v.get(name)!.dataSync()));
    }
    // resume: a new optimizer takes the state
    const opt2 = new AdamW(ck.model.params);
    opt2.setState(ck.optimizerState!);
    assert.equal(opt2.stepCount, 1);
    disposeState(st);
    disposeState(ck.optimizerState!);
    opt2.dispose();
    ck.model.dispose();
    assert.equal(tf.memory().numTensors, before, "loading leaves no stray tensors");
    opt.dispose();
    model.dispose();
  });
}

test("config.json and model.safetensors follow the Hugging Face layout", async () => {
  const dir = fresh();
  const model = await saveTiny(dir, qwen());
  const cfg = JSON.parse(fs.readFileSync(path.join(dir, "config.json"), "utf8"));
  assert.equal(cfg.model_type, "qwen2");
  assert.deepEqual(cfg.architectures, ["Qwen2ForCausalLM"]);
  assert.equal(cfg.num_key_value_heads, 2);
  const h = readSafetensorsHeader(path.join(dir, "model.safetensors"));
  assert.equal(h.metadata.format, "pt");
  // HF nn.Linear weights are [out, in]: k_proj maps 16 -> 2 kv heads * 4 = 8
  assert.deepEqual(h.tensors.get("model.layers.0.self_attn.k_proj.weight")!.shape, [8, 16]);
  assert.deepEqual(h.tensors.get("model.layers.1.mlp.down_proj.weight")!.shape, [16, 24]);
  assert.deepEqual(h.tensors.get("lm_head.weight")!.shape, [70, 16]);
  // the file holds the transpose of our [in, out] variable
  const ours = model.params.get("model.layers.0.self_attn.k_proj.weight")!.arraySync() as number[][];
  const hdr = h.tensors.get("model.layers.0.self_attn.k_proj.weight")!;
  const raw = fs.readFileSync(path.join(dir, "model.safetensors")).subarray(hdr.begin, hdr.end);
  const f = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length));
  assert.equal(f[1 * 16 + 3], Math.fround(ours[3]![1]!)); // HF [out=1, in=3] = ours [in=3, out=1]
  assert.equal(describeWeights(dir).params, [...model.params.values()].reduce((a, v) => a + v.size, 0));
  model.dispose();
});

test("saving is atomic: a failed save leaves the previous checkpoint intact and no temp dirs", async () => {
  const dir = fresh();
  const model = await saveTiny(dir);
  const before = fs.readFileSync(path.join(dir, "model.safetensors"));
  const broken = { ...tok, kind: "chars" as const, encode: tok.encode, decode: tok.decode, toJSON: () => { throw new Error("disk full"); } };
  await assert.rejects(saveCheckpoint(dir, { model, tokenizer: broken }), /disk full/);
  assert.deepEqual(fs.readFileSync(path.join(dir, "model.safetensors")), before);
  assert.deepEqual(fs.readdirSync(path.dirname(dir)).filter((f) => f.includes(".tmp-")), []);
  // overwriting with a new save replaces the directory
  await saveCheckpoint(dir, { model, tokenizer: tok, state: { iteration: 99 } });
  const ck = await loadCheckpoint(dir);
  assert.deepEqual(ck.state, { iteration: 99 });
  assert.equal(ck.optimizerState, undefined);
  assert.deepEqual(fs.readdirSync(path.dirname(dir)).filter((f) => f.includes(".tmp-")), []);
  ck.model.dispose();
  model.dispose();
});

test("truncated and corrupt checkpoint files are rejected naming the file and the problem", async () => {
  const dir = fresh();
  (await saveTiny(dir)).dispose();
  const copy = () => {
    const d = fresh();
    fs.cpSync(dir, d, { recursive: true });
    return d;
  };
  const before = tf.memory().numTensors;

  let d = copy();
  const w = path.join(d, "model.safetensors");
  fs.truncateSync(w, fs.statSync(w).size - 100);
  await rejects(loadCheckpoint(d), w, /truncated: tensor ".*" ends at byte/);

  d = copy();
  const w2 = path.join(d, "model.safetensors");
  const bytes = fs.readFileSync(w2);
  bytes[8] = 0x78; // the header's opening "{" becomes "x"
  fs.writeFileSync(w2, bytes);
  await rejects(loadCheckpoint(d), w2, /not valid JSON/);

  d = copy();
  fs.writeFileSync(path.join(d, "config.json"), "{ \"model_type\": \"gpt2\", ");
  await rejects(loadCheckpoint(d), path.join(d, "config.json"), /not valid JSON/);

  d = copy();
  fs.rmSync(path.join(d, "config.json"));
  await rejects(loadCheckpoint(d), path.join(d, "config.json"), /missing/);

  d = copy();
  const o = path.join(d, "optimizer.safetensors");
  fs.truncateSync(o, 20);
  await rejects(loadCheckpoint(d), o, /truncated|header length/);

  d = copy();
  fs.writeFileSync(path.join(d, "state.json"), "{ iteration: 3 }");
  await rejects(loadCheckpoint(d), path.join(d, "state.json"), /not valid JSON/);

  d = copy();
  fs.rmSync(path.join(d, "tokenizer.json"));
  await rejects(loadCheckpoint(d), path.join(d, "tokenizer.json"), /missing/);

  d = copy();
  fs.writeFileSync(path.join(d, "tokenizer.json"), JSON.stringify({ kind: "chars", alphabet: "x".repeat(2) }));
  await rejects(loadCheckpoint(d), path.join(d, "tokenizer.json"), /cannot be read/);

  await rejects(loadCheckpoint(path.join(root, "nope")), path.join(root, "nope"), /not a directory/);
  assert.equal(tf.memory().numTensors, before, "failed loads leave no tensors behind");
});

test("a config that does not match the weights is rejected with the tensor, both shapes and the config", async () => {
  const dir = fresh();
  (await saveTiny(dir)).dispose();
  const edit = (change: (c: Record<string, unknown>) => void) => {
    const d = fresh();
    fs.cpSync(dir, d, { recursive: true });
    const f = path.join(d, "config.json");
    const c = JSON.parse(fs.readFileSync(f, "utf8"));
    change(c);
    fs.writeFileSync(f, JSON.stringify(c));
    return d;
  };
  let d = edit((c) => (c.n_embd = 32));
  await rejects(loadCheckpoint(d), path.join(d, "model.safetensors"), /tensor "wte.weight" has shape \[\d+, 16\] but config.json \(gpt2, 2 layers, width 32.*\) implies \[\d+, 32\]/);
  d = edit((c) => (c.n_layer = 3));
  await rejects(loadCheckpoint(d), path.join(d, "model.safetensors"), /tensor "h.2.ln_1.weight" is missing, but config.json \(gpt2, 3 layers/);
  d = edit((c) => (c.n_layer = 1));
  await rejects(loadCheckpoint(d), path.join(d, "model.safetensors"), /tensor\(s\) that config.json .* does not explain, e.g. "h.1/);
  d = edit((c) => (c.model_type = "bert"));
  await rejects(loadCheckpoint(d), path.join(d, "config.json"), /"model_type": "bert" is not supported/);
  d = edit((c) => (c.vocab_size = 10));
  await rejects(loadCheckpoint(d), path.join(d, "model.safetensors"), /"wte.weight" has shape/);
});

test("a model too large for the backend is refused before loading, with the numbers", async () => {
  const dir = fresh();
  (await saveTiny(dir)).dispose();
  const params = describeWeights(dir).params;
  await rejects(
    loadCheckpoint(dir, { memoryLimitBytes: params * 4 * 2 }),
    path.join(dir, "model.safetensors"),
    new RegExp(`too large: ${(params / 1e6).toFixed(1)}M parameters .* training with AdamW needs about 4x that`),
  );
  // inference only fits in the same limit
  const ck = await loadCheckpoint(dir, { memoryLimitBytes: params * 4 * 2, forTraining: false });
  ck.model.dispose();
  if (ck.optimizerState) disposeState(ck.optimizerState);

  // a Qwen2.5-0.5B-shaped directory: 494,032,768 bf16 parameters (a sparse file; nothing is read)
  const big = fresh();
  fs.mkdirSync(big);
  fs.writeFileSync(path.join(big, "config.json"), JSON.stringify({
    architectures: ["Qwen2ForCausalLM"], model_type: "qwen2", hidden_act: "silu", hidden_size: 896, intermediate_size: 4864,
    max_position_embeddings: 32768, num_attention_heads: 14, num_hidden_layers: 24, num_key_value_heads: 2,
    rms_norm_eps: 1e-6, rope_theta: 1e6, tie_word_embeddings: true, vocab_size: 151936, use_sliding_window: false,
  }));
  const n = 494_032_768;
  const header = Buffer.from(JSON.stringify({ "model.embed_tokens.weight": { dtype: "BF16", shape: [n], data_offsets: [0, 2 * n] } }));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(header.length));
  const file = path.join(big, "model.safetensors");
  fs.writeFileSync(file, Buffer.concat([len, header]));
  fs.truncateSync(file, 8 + header.length + 2 * n);
  await rejects(
    loadHfModel(big, { backend: "wasm" }),
    file,
    /494\.0M parameters = 1\.84 GiB as f32; training with AdamW needs about 4x that .* = 7\.36 GiB, more than the wasm backend's 4 GiB heap/,
  );
  // for inference it fits, and the next check (the layout) speaks
  await rejects(loadHfModel(big, { backend: "wasm", forTraining: false }), file, /does not explain|has shape/);
  fs.rmSync(big, { recursive: true });
});

test("HF files saved by other classes load: 'transformer.' prefix, attention-mask buffers, f16", async () => {
  const dir = fresh();
  const model = await saveTiny(dir);
  const w = path.join(dir, "model.safetensors");
  const { tensors } = readSafetensors(w);
  const renamed = new Map([...tensors].map(([k, v]) => [`transformer.${k}`, v]));
  renamed.set("transformer.h.0.attn.bias", { shape: [1, 1, 16, 16], data: new Float32Array(256).fill(1) }); // GPT2's causal-mask buffer
  writeSafetensors(w, renamed, { dtype: "F16" });
  const ck = await loadHfModel(dir);
  for (const [name, v] of model.params) {
    const got = ck.model.params.get(name)!.dataSync();
    const want = v.dataSync();
    for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i]! - want[i]!) <= Math.abs(want[i]!) * 1e-3 + 1e-7, `${name}[${i}]`);
  }
  ck.model.dispose();
  model.dispose();
});
