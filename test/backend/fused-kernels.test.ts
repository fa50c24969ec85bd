/**
 * The fused native kernels (native/kernels.c through src/model/ops.ts) against the composed TF.js
 * formulas they replace and against values computed by hand: forward values and gradients of
 * linear, GELU, LayerNorm, RMSNorm and attention (causal, grouped heads, key masks with padding
 * rows, a preallocated KV cache), the embedding gather and its scatter-add, the split along the
 * last axis, the shared Identity;
 * no tensor leaks; the addon refuses arrays smaller than the sizes it is given.
 * Skips, saying why, where the addon is not built or no BLAS loads (npm run build:native).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../../src/backend/index.js";
import { fusedKernels } from "../../src/backend/native-kernels.js";
import { nativeStatus, useNativeBlas } from "../../src/backend/native.js";
import { AttentionMask, attention, gelu, layerNorm, linear, rmsNorm, rope, swiglu } from "../../src/model/ops.js";
import { ropeTables } from "../../src/model/rope.js";
import { KVCache } from "../../src/model/kv-cache.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const status = nativeStatus();
const skip = status.blas ? false : `native path unavailable: ${status.reason}`;

const rnd = (shape: number[], seed: number, scale = 1) => tf.mul(tf.randomUniform(shape, -1, 1, "float32", seed), scale);

/** f(inputs) and the gradient of sum(f * dy) for every input, on the fused path or the composed one. */
async function valueAndGrads(fused: boolean, f: (...xs: tf.Tensor[]) => tf.Tensor, inputs: () => tf.Tensor[], dySeed = 99) {
  await initBackend({ backend: "wasm" });
  const was = useNativeBlas(fused);
  try {
    assert.equal(fusedKernels() !== null, fused, "the path asked for is the one that runs");
    return tf.tidy(() => {
      const xs = inputs();
      const y = f(...xs);
      const dy = rnd(y.shape, dySeed);
      const grads = tf.grads((...a: tf.Tensor[]) => tf.sum(tf.mul(f(...a), dy)))(xs);
      return { y: y.dataSync() as Float32Array, shape: y.shape, grads: grads.map((g) => g.dataSync() as Float32Array) };
    });
  } finally {
    useNativeBlas(was);
  }
}

function close(a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(a.length, b.length, `${what}: lengths`);
  let scale = 0;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]));
  for (let i = 0; i < a.length; i++) {
    assert.ok(Math.abs(a[i] - b[i]) <= tol * (scale + 1e-6), `${what}, index ${i}: ${a[i]} vs ${b[i]} (scale ${scale})`);
  }
}

async function sameAsComposed(what: string, f: (...xs: tf.Tensor[]) => tf.Tensor, inputs: () => tf.Tensor[], tol = 2e-5) {
  await initBackend({ backend: "wasm" });
  const before = tf.memory().numTensors;
  const n = await valueAndGrads(true, f, inputs), c = await valueAndGrads(false, f, inputs);
  assert.equal(tf.memory().numTensors, before, `${what}: tensors leaked`);
  assert.deepEqual(n.shape, c.shape, `${what}: shape`);
  close(n.y, c.y, tol, `${what}: value`);
  n.grads.forEach((g, i) => close(g, c.grads[i]!, tol, `${what}: gradient of input ${i}`));
}

test("fused linear, GELU, LayerNorm and RMSNorm equal the composed formulas, values and gradients", { skip }, async () => {
  await sameAsComposed("linear", (x, w, b) => linear(x as tf.Tensor2D, w!, b), () => [rnd([37, 20], 1), rnd([20, 12], 2), rnd([12], 3)]);
  await sameAsComposed("linear + residual", (x, w, b, r) => linear(x as tf.Tensor2D, w!, b, r as tf.Tensor2D), () => [rnd([37, 20], 1), rnd([20, 12], 2), rnd([12], 3), rnd([37, 12], 4)]);
  await sameAsComposed("one row (decoding's matrix-vector product, several row blocks) + bias + residual", (x, w, b, r) => linear(x as tf.Tensor2D, w!, b, r as tf.Tensor2D),
    () => [rnd([1, 600], 5), rnd([600, 40], 6), rnd([40], 7), rnd([1, 40], 8)]);
  await sameAsComposed("bias-free linear + residual", (x, w, r) => linear(x as tf.Tensor2D, w!, undefined, r as tf.Tensor2D), () => [rnd([37, 20], 1), rnd([20, 12], 2), rnd([37, 12], 4)]);
  await sameAsComposed("gelu", (x) => gelu(x!), () => [rnd([70000], 4, 6)]); // several threads' worth, |x| up to 6
  await sameAsComposed("layerNorm", (x, w, b) => layerNorm(x!, w!, b!, 1e-5), () => [tf.add(rnd([100, 48], 5, 3), 2), rnd([48], 6), rnd([48], 7)]);
  await sameAsComposed("rmsNorm 2-D", (x, w) => rmsNorm(x!, w!, 1e-6), () => [rnd([70, 64], 8, 2), rnd([64], 9)]);
  await sameAsComposed("rmsNorm over heads (4-D)", (x, w) => rmsNorm(x!, w!, 1e-6), () => [rnd([2, 5, 3, 16], 10), rnd([16], 11)]);
  await sameAsComposed("swiglu", (g, u) => swiglu(g!, u!), () => [rnd([70000], 12, 6), rnd([70000], 13)]);
});

test("fused rotary embeddings equal the composed rotate-half product, shared and per-row positions, and the gradient", { skip }, async () => {
  const hd = 8, inv = Float32Array.from({ length: hd / 2 }, (_, i) => 1 / Math.pow(10000, (2 * i) / hd));
  const R = () => { // x @ R = rotate_half(x)
    const r = new Float32Array(hd * hd);
    for (let j = 0; j < hd / 2; j++) r[(j + hd / 2) * hd + j] = -1;
    for (let j = hd / 2; j < hd; j++) r[(j - hd / 2) * hd + j] = 1;
    return tf.tensor2d(r, [hd, hd]);
  };
  for (const positions of [[[0, 1, 2, 3, 4]], [[3, 4, 5, 6, 7], [0, 1, 2, 9, 10]]]) {
    await sameAsComposed(`rope at ${JSON.stringify(positions)}`, (x) => {
      const [cos, sin] = ropeTables(positions, inv);
      return rope(x as tf.Tensor4D, cos, sin, R());
    }, () => [rnd([2, 5, 3, hd], 14, 2)]);
  }
});

test("fused GELU and LayerNorm give the values computed by hand", { skip }, async () => {
  await initBackend({ backend: "wasm" });
  assert.ok(fusedKernels(), "the fused path is on");
  // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) at x = 0, 1, -1, 3
  const g = tf.tidy(() => gelu(tf.tensor1d([0, 1, -1, 3])).dataSync());
  const expect = [0, 0.841192, -0.158808, 2.9963626];
  g.forEach((v, i) => assert.ok(Math.abs(v - expect[i]!) < 1e-6, `gelu ${v} vs ${expect[i]}`));
  // [1, 2, 3, 4]: mean 2.5, variance 1.25 -> (x - 2.5) / sqrt(1.25) * 2 + 1
  const ln = tf.tidy(() => layerNorm(tf.tensor2d([[1, 2, 3, 4]]), tf.fill([4], 2), tf.ones([4]), 0).dataSync());
  [-1.6832816, 0.1055728, 1.8944272, 3.6832816].forEach((v, i) => assert.ok(Math.abs(ln[i]! - v) < 1e-6, `layerNorm ${ln[i]} vs ${v}`));
});

/** q [B, T, H, hd], k, v [B, Tk, KV, hd] */
function attentionInputs(B: number, T: number, Tk: number, H: number, KV: number, hd: number, seed: number) {
  return () => [rnd([B, T, H, hd], seed, 2), rnd([B, Tk, KV, hd], seed + 1, 2), rnd([B, Tk, KV, hd], seed + 2)];
}

test("fused attention equals the composed one: causal, grouped heads, key masks with padding rows, cached keys", { skip }, async () => {
  const att = (Tp: number, keyMask?: Float32Array) => (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor) =>
    attention(q as tf.Tensor4D, k as tf.Tensor4D, v as tf.Tensor4D, new AttentionMask(q.shape[0]!, q.shape[1]!, Tp, keyMask));
  await sameAsComposed("causal, 4 heads", att(0), attentionInputs(3, 9, 9, 4, 4, 8, 20));
  await sameAsComposed("grouped: 6 query heads on 2 key/value heads", att(0), attentionInputs(2, 7, 7, 6, 2, 16, 30));
  await sameAsComposed("long rows (BLAS products)", att(0), attentionInputs(2, 70, 70, 2, 1, 32, 40));
  // left padding: row 0 has 3 padded keys, so its first 3 queries see nothing (the composed
  // path's -1e9 mask then averages every key: the fused kernel must agree)
  const B = 2, T = 6, mask = new Float32Array(B * T).fill(1);
  mask.fill(0, 0, 3);
  mask[T + 2] = 0;
  await sameAsComposed("key mask with padding rows", att(0, mask), attentionInputs(B, T, T, 4, 2, 8, 50));
  // decoding: 1 and 3 new queries after 5 cached keys
  await sameAsComposed("one query after 5 cached keys", att(5), attentionInputs(2, 1, 6, 4, 2, 8, 60));
  const m2 = new Float32Array(2 * 8).fill(1);
  m2[0] = 0;
  await sameAsComposed("3 queries after 5 cached keys, masked", att(5, m2), attentionInputs(2, 3, 8, 4, 4, 8, 70));
  // a head-major cache [B, KV, Tc, hd] with room for more positions than are used
  const headMajor = (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor) =>
    attention(q as tf.Tensor4D, k as tf.Tensor4D, v as tf.Tensor4D, new AttentionMask(2, 3, 5, m2), true);
  await sameAsComposed("head-major cache of 11 positions, 8 used", headMajor, () => [rnd([2, 3, 4, 8], 75, 2), rnd([2, 2, 11, 8], 76, 2), rnd([2, 2, 11, 8], 77)]);
});

test("fused attention reads only the first Tp + T positions of a larger (preallocated) cache", { skip }, async () => {
  await initBackend({ backend: "wasm" });
  const [q, k, v] = attentionInputs(2, 1, 12, 4, 2, 8, 80)();
  const short = tf.tidy(() => attention(q as tf.Tensor4D, tf.slice(k as tf.Tensor4D, [0, 0, 0, 0], [2, 7, 2, 8]), tf.slice(v as tf.Tensor4D, [0, 0, 0, 0], [2, 7, 2, 8]), new AttentionMask(2, 1, 6)).dataSync());
  const long = tf.tidy(() => attention(q as tf.Tensor4D, k as tf.Tensor4D, v as tf.Tensor4D, new AttentionMask(2, 1, 6)).dataSync());
  assert.deepEqual(long, short);
  // by hand: one head, two keys with equal scores -> the mean of the two values
  const o = tf.tidy(() => attention(tf.tensor4d([1, 0], [1, 1, 1, 2]), tf.tensor4d([1, 1, 1, 1], [1, 2, 1, 2]),
    tf.tensor4d([2, 4, 6, 8], [1, 2, 1, 2]), new AttentionMask(1, 1, 1)).dataSync());
  assert.deepEqual(Array.from(o), [4, 6]);
  tf.dispose([q!, k!, v!]);
});

test("the KV cache writes in place on the fused path and matches concatenation", { skip }, async () => {
  await initBackend({ backend: "wasm" });
  const run = (fused: boolean) => {
    const was = useNativeBlas(fused);
    const cache = new KVCache(1, 6);
    try {
      const out: number[][] = [];
      for (const T of [3, 1, 2]) {
        const got = tf.tidy(() => {
          const k = rnd([2, T, 2, 4], cache.length + 1), v = rnd([2, T, 2, 4], cache.length + 2);
          const kv = cache.append(0, k as tf.Tensor4D, v as tf.Tensor4D);
          assert.equal(kv.headMajor, fused, "head-major in place on the fused path only");
          const used = cache.length + T;
          // as [B, used, KV, hd] on both paths
          const asRows = (t: tf.Tensor4D) => tf.slice(kv.headMajor ? tf.transpose(t, [0, 2, 1, 3]) : t, [0, 0, 0, 0], [2, used, 2, 4]);
          return [asRows(kv.k), asRows(kv.v)].map((t) => Array.from(t.dataSync()));
        });
        cache.advance(T);
        out.push(...got);
      }
      cache.keepRows([1]);
      assert.throws(() => tf.tidy(() => { cache.append(0, tf.zeros([1, 1, 2, 4]) as tf.Tensor4D, tf.zeros([1, 1, 2, 4]) as tf.Tensor4D); }), /exceed its capacity 6/);
      return out;
    } finally {
      cache.dispose();
      useNativeBlas(was);
    }
  };
  const before = tf.memory().numTensors;
  assert.deepEqual(run(true), run(false));
  assert.equal(tf.memory().numTensors, before, "tensors leaked");
});

test("the embedding gather and its gradient (scatter-add) equal the stock kernels", { skip }, async () => {
  const ids = () => tf.tensor1d([3, 0, 3, 7, 1, 3], "int32");
  const f = (table: tf.Tensor) => tf.gather(table, ids());
  await sameAsComposed("gather rows", f, () => [rnd([8, 5], 90)], 0);
  // the split of a projection into q, k, v along the last axis (the addon's row copies), and its gradient (a concat)
  await sameAsComposed("split along the last axis", (x) => tf.concat(tf.split(x!, [3, 5, 2], -1).map((t, i) => tf.mul(t, i + 1)), -1),
    () => [rnd([4, 3, 10], 91)], 0);
  await initBackend({ backend: "wasm" });
  assert.throws(() => tf.tidy(() => tf.gather(rnd([4, 2], 1), tf.tensor1d([5], "int32")).dataSync()), /./, "an id outside the table is refused as before");
});

test("Identity shares memory: a clone outlives its source", async () => {
  await initBackend({ backend: "wasm" });
  const before = tf.memory().numTensors;
  const x = tf.tensor1d([1, 2, 3]);
  const y = tf.clone(x);
  x.dispose();
  assert.deepEqual(Array.from(y.dataSync()), [1, 2, 3]);
  y.dispose();
  assert.equal(tf.memory().numTensors, before);
});

test("the addon refuses fused-kernel arrays smaller than the sizes say", { skip }, () => {
  const addon = createRequire(import.meta.url)(path.join(root, "native/build/stepwise_native.node")) as Record<string, (...a: unknown[]) => void>;
  const f = (n: number) => new Float32Array(n);
  assert.throws(() => addon.gelu!(f(8), f(4)), /y is smaller than x/);
  assert.throws(() => addon.layerNorm!(f(8), f(4), f(4), f(8), f(2), f(1), 2, 4, 1e-5), /smaller than rows x cols/);
  assert.throws(() => addon.attention!(f(8), f(8), f(8), null, f(8), f(1), 1, 1, 4, 2, 1, 4, 0, 1, false), /smaller than the sizes say/);
  assert.throws(() => addon.attention!(f(8), f(8), f(8), null, f(8), f(2), 1, 1, 1, 2, 1, 4, 3, 1, false), /argument types or sizes/, "Tp + T beyond the cache");
  assert.throws(() => addon.linear!(f(6), f(6), f(2), null, f(3), 2, 3, 2), /smaller than n, in, out/);
  assert.throws(() => addon.linear!(f(6), f(6), null, f(3), f(4), 2, 3, 2), /smaller than n, in, out/, "a residual smaller than the output");
  assert.throws(() => addon.scatterAddRows!(f(6), new Int32Array(3), f(4), 3), /x is smaller/);
  assert.throws(() => addon.kvWrite!(f(16), f(8), 1, 1, 2, 4, 2, 2), /at \+ T <= Tc/, "a write past the cache's capacity");
  // the bench's read-bandwidth probe sums what it reads (blocks of 65,536 split across threads)
  const ones = Float32Array.from({ length: 200_003 }, (_, i) => (i % 7) - 3);
  assert.equal((addon.sumAll as unknown as (x: Float32Array) => number)(ones), ones.reduce((a, b) => a + b, 0));
  assert.throws(() => addon.kvWrite!(f(15), f(8), 1, 1, 2, 4, 2, 1), /smaller than the sizes say/);
});
