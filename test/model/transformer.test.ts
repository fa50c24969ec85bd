import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../../src/backend/index.js";
import { gptConfig, llamaConfig, validateConfig } from "../../src/model/config.js";
import { Transformer, hfLayout } from "../../src/model/transformer.js";
import { sample } from "../../src/model/sample.js";

const tinyGpt = gptConfig({ vocabSize: 11, contextLength: 16, layers: 2, width: 8, heads: 2, seed: 1 });
const tinyLlama = llamaConfig({ vocabSize: 11, contextLength: 16, layers: 2, width: 8, heads: 4, kvHeads: 2, ffnWidth: 12, qkvBias: true, seed: 2 });

test("config validation names the field and the fix", () => {
  assert.throws(() => gptConfig({ width: 130, heads: 4 }), /width = 130: must be divisible by heads/);
  assert.throws(() => llamaConfig({ heads: 4, kvHeads: 3 }), /kvHeads = 3: must divide heads/);
  assert.throws(() => validateConfig({ ...tinyGpt, kvHeads: 1 }), /gpt2 family has no grouped-query attention/);
  assert.throws(() => gptConfig({ layers: 0 }), /layers = 0: must be a positive integer/);
  const ref = gptConfig();
  assert.deepEqual([ref.layers, ref.width, ref.heads, ref.vocabSize, ref.contextLength, ref.ffnWidth], [4, 128, 4, 64, 128, 512]);
});

test("hfLayout: HF names, shapes and transposes (Qwen2-shaped GQA config)", () => {
  const c = llamaConfig({ vocabSize: 50, width: 64, heads: 8, kvHeads: 2, ffnWidth: 96, layers: 1, qkvBias: true, tieEmbeddings: false });
  const byName = new Map(hfLayout(c).map((s) => [s.name, s]));
  assert.deepEqual(byName.get("model.layers.0.self_attn.q_proj.weight"), { name: "model.layers.0.self_attn.q_proj.weight", shape: [64, 64], hfShape: [64, 64], transpose: true, init: "normal" });
  assert.deepEqual(byName.get("model.layers.0.self_attn.k_proj.weight")!.hfShape, [16, 64]); // kvHeads * headDim = 2 * 8
  assert.deepEqual(byName.get("model.layers.0.self_attn.k_proj.weight")!.shape, [64, 16]);
  assert.deepEqual(byName.get("model.layers.0.self_attn.k_proj.bias")!.shape, [16]);
  assert.deepEqual(byName.get("model.layers.0.mlp.down_proj.weight")!.hfShape, [64, 96]);
  assert.deepEqual(byName.get("lm_head.weight")!.hfShape, [50, 64]);
  assert.equal(byName.get("model.embed_tokens.weight")!.transpose, false);
  assert.equal(byName.size, 1 + 12 + 1 + 1);
  const g = new Map(hfLayout(tinyGpt).map((s) => [s.name, s]));
  assert.deepEqual(g.get("h.1.attn.c_attn.weight")!.hfShape, [8, 24]); // Conv1D [in, out]: no transpose
  assert.equal(g.get("h.1.attn.c_attn.weight")!.transpose, false);
  assert.ok(!g.has("lm_head.weight"));
});

test("shapes: logits [B,T,V], score [B,T-1]; GQA and MHA; seeded init is deterministic", async () => {
  await initBackend({ backend: "cpu" });
  for (const c of [tinyGpt, tinyLlama, { ...tinyLlama, kvHeads: 1 }, { ...tinyLlama, kvHeads: 4, tieEmbeddings: true }]) {
    const m = Transformer.create(c);
    const toks = tf.tensor2d([[1, 2, 3, 4, 5], [6, 7, 8, 9, 10]], [2, 5], "int32");
    const l = m.logits(toks);
    assert.deepEqual(l.shape, [2, 5, 11]);
    const s = m.score(toks);
    assert.deepEqual(s.logp.shape, [2, 4]);
    assert.deepEqual(s.entropy.shape, [2, 4]);
    // logp equals log_softmax(logits) at the next token
    const lg = l.arraySync(), lp = s.logp.arraySync();
    for (let b = 0; b < 2; b++) for (let t = 0; t < 4; t++) {
      const row = lg[b][t], mx = Math.max(...row);
      const lse = mx + Math.log(row.reduce((a, x) => a + Math.exp(x - mx), 0));
      assert.ok(Math.abs(row[toks.arraySync()[b][t + 1]] - lse - lp[b][t]) < 1e-5);
    }
    const m2 = Transformer.create(c);
    assert.deepEqual(m2.logits(toks).dataSync(), l.dataSync());
    tf.dispose([toks, l, s.logp, s.entropy]);
    m.dispose(); m2.dispose();
  }
});

test("RoPE: shifting every position by a constant leaves a llama model's outputs unchanged (relative positions)", async () => {
  await initBackend({ backend: "cpu" });
  const m = Transformer.create(tinyLlama);
  const toks = tf.tensor2d([[3, 1, 4, 1, 5]], [1, 5], "int32");
  const a = m.forward(toks).hidden.dataSync();
  const b = m.forward(toks, { positions: [[7, 8, 9, 10, 11]] }).hidden.dataSync();
  let diff = 0, size = 0;
  for (let i = 0; i < a.length; i++) { diff = Math.max(diff, Math.abs(a[i] - b[i])); size = Math.max(size, Math.abs(a[i])); }
  assert.ok(diff < 1e-4, `max diff ${diff}`);
  // and the positions do matter for a gpt2 model (learned absolute positions)
  const g = Transformer.create(tinyGpt);
  const c1 = g.forward(toks).hidden.dataSync(), c2 = g.forward(toks, { positions: [[7, 8, 9, 10, 11]] }).hidden.dataSync();
  assert.ok(c1.some((x, i) => Math.abs(x - c2[i]) > 1e-3));
  assert.ok(size > 0.1);
  m.dispose(); g.dispose();
});

for (const [name, cfg] of [["gpt2", tinyGpt], ["llama", tinyLlama]] as const) {
  test(`${name}: finite-difference gradient check (cpu, float32)`, async () => {
    await initBackend({ backend: "cpu" });
    const m = Transformer.create(cfg);
    const toks = tf.tensor2d([[1, 5, 2, 7, 3, 9], [4, 4, 8, 0, 10, 6]], [2, 6], "int32");
    const wl = tf.randomNormal([2, 5], 0, 1, "float32", 5), we = tf.randomNormal([2, 5], 0, 1, "float32", 6);
    const loss = () => tf.tidy(() => {
      const s = m.score(toks);
      return tf.add(tf.sum(tf.mul(s.logp, wl)), tf.sum(tf.mul(s.entropy, we))) as tf.Scalar;
    });
    const { grads, value } = tf.variableGrads(loss, m.trainableVariables());
    value.dispose();
    // float32: eps 2e-3 balances truncation error (the residual stream feeding a width-8 LayerNorm
    // is strongly curved) against rounding error (~1e-6 * |loss| / eps, a few 1e-4 here)
    const eps = 2e-3;
    let checked = 0;
    for (const [pname, v] of m.params) {
      const g = grads[v.name].dataSync();
      const data = v.dataSync().slice();
      for (const i of [0, Math.floor(data.length / 2), data.length - 1]) {
        const at = (x: number) => { const d = data.slice(); d[i] = x; v.assign(tf.tensor(d, v.shape)); return loss().dataSync()[0]; };
        const fd = (at(data[i] + eps) - at(data[i] - eps)) / (2 * eps);
        v.assign(tf.tensor(data, v.shape));
        const tol = 2e-3 + 3e-2 * Math.abs(fd);
        assert.ok(Math.abs(fd - g[i]) <= tol, `${pname}[${i}]: analytic ${g[i]} vs numeric ${fd}`);
        checked++;
      }
    }
    assert.ok(checked >= 3 * m.params.size);
    tf.dispose(Object.values(grads));
    m.dispose();
  });
}

test("a tiny model learns a copy task in seconds (wasm)", async () => {
  await initBackend({ backend: "wasm" });
  // [bos=0, x1..x4, sep=1, x1..x4]: the second half is predictable only by copying
  const m = Transformer.create(gptConfig({ vocabSize: 8, contextLength: 10, layers: 2, width: 32, heads: 2, seed: 3 }));
  const rand = (() => { let s = 42; return () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32); })();
  const batch = () => {
    const rows: number[][] = [];
    for (let b = 0; b < 32; b++) { const x = Array.from({ length: 4 }, () => 2 + Math.floor(rand() * 6)); rows.push([0, ...x, 1, ...x]); }
    return tf.tensor2d(rows, [32, 10], "int32");
  };
  const copyMask = tf.tensor2d([[0, 0, 0, 0, 0, 1, 1, 1, 1]]); // predictions of positions 6..9
  const copyLoss = (toks: tf.Tensor2D) => tf.div(tf.neg(tf.sum(tf.mul(m.score(toks, { entropy: false }).logp, copyMask))), 32 * 4) as tf.Scalar;
  const opt = tf.train.adam(1e-2);
  const evalBatch = batch();
  const start = tf.tidy(() => copyLoss(evalBatch).dataSync()[0]);
  for (let i = 0; i < 150; i++) {
    const toks = batch();
    tf.dispose(opt.minimize(() => copyLoss(toks), false, m.trainableVariables()) ?? []);
    toks.dispose();
  }
  const end = tf.tidy(() => copyLoss(evalBatch).dataSync()[0]);
  assert.ok(start > 1.5, `start ${start}`); // ~ln 8
  assert.ok(end < 0.25 * start, `copy loss ${start} -> ${end}`);
  m.dispose(); opt.dispose(); tf.dispose([copyMask, evalBatch]);
});

test("tf.memory().numTensors is the same after 3 sample+train iterations as after 1 (wasm, both families)", async () => {
  await initBackend({ backend: "wasm" });
  for (const cfg of [tinyGpt, tinyLlama]) {
    const m = Transformer.create(cfg);
    const ref = m.clone();
    const opt = tf.train.adam(1e-3);
    const counts: number[] = [];
    for (let it = 0; it < 3; it++) {
      const res = sample(m, [[1, 2], [3], [4, 5, 6]], { maxNewTokens: 6, temperature: 1, seed: it, stopTokens: [0] }, (ids) => ids.join(" "));
      const rows = res.map((r, i) => [[1, 2], [3], [4, 5, 6]][i].concat(r.tokens));
      const T = Math.max(...rows.map((r) => r.length));
      const toks = tf.tensor2d(rows.map((r) => r.concat(Array(T - r.length).fill(0))), [3, T], "int32");
      const lpRef = tf.tidy(() => ref.score(toks).logp);
      tf.dispose(opt.minimize(() => tf.mean(tf.square(tf.sub(m.score(toks).logp, lpRef))) as tf.Scalar, false, m.trainableVariables()) ?? []);
      tf.dispose([toks, lpRef]);
      counts.push(tf.memory().numTensors);
    }
    assert.equal(counts[2], counts[0], `numTensors per iteration: ${counts}`);
    assert.equal(ref.trainableVariables().length, 0);
    m.dispose(); ref.dispose(); opt.dispose();
  }
});
