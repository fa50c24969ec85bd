import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../../src/backend/index.js";
import { useNativeBlas } from "../../src/backend/native.js";
import { packedWeightBytes, setPackedWeightBudget } from "../../src/backend/wasm-kernels.js";

// these test the XNNPACK kernels (the path without the native addon); test/backend/native.test.ts tests the native one
useNativeBlas(false);

const rnd = (shape: number[], seed: number) => tf.randomUniform(shape, -1, 1, "float32", seed);

/** f's output on cpu and on wasm, same inputs. */
async function both(f: () => tf.Tensor): Promise<[Float32Array, Float32Array]> {
  await initBackend({ backend: "cpu" });
  const c = tf.tidy(f);
  const cv = c.dataSync() as Float32Array;
  c.dispose();
  await initBackend({ backend: "wasm" });
  const w = tf.tidy(f);
  assert.deepEqual(w.shape, c.shape);
  const wv = w.dataSync() as Float32Array;
  w.dispose();
  return [cv, wv];
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

test("few rows against a large transposed right operand (tied head in decoding) equals cpu", async () => {
  // [3, 256] @ [4100, 256]^T: 1.05M elements on the right, the streamed path; also batch dims of 1
  for (const [sa, sb] of [[[3, 256], [4100, 256]], [[1, 2, 256], [4100, 256]], [[1, 256], [1, 4100, 256]]] as number[][][]) {
    const [c, w] = await both(() => tf.matMul(rnd(sa, 1), rnd(sb, 2), false, true));
    assert.ok(maxDiff(c, w) < 1e-4, `${sa} x ${sb}^T: ${maxDiff(c, w)}`);
  }
});

test("packed-weight budget: cached and per-call packing give the same products; the budget bounds the cache", async () => {
  await initBackend({ backend: "wasm" });
  const w = tf.variable(rnd([1024, 1100], 3), false); // 1.13M elements: a large weight, cached under the budget
  const x = tf.keep(rnd([5, 1024], 4));
  const bytes = 4 * 1024 * 1100;
  try {
    const before = packedWeightBytes();
    const a = tf.matMul(x, w);
    assert.equal(packedWeightBytes() - before, bytes, "the weight's packed copy is counted");
    const a2 = tf.matMul(x, w); // reuses the cached copy: counted once
    assert.equal(packedWeightBytes() - before, bytes);
    const act = tf.add(w, 0); // a large activation (not a variable): packed per call, not kept
    const c = tf.matMul(x, act);
    assert.equal(packedWeightBytes() - before, bytes);
    setPackedWeightBudget(0);
    const w2 = tf.variable(tf.add(w, 0), false); // a new variable, not admitted under a zero budget
    const b = tf.matMul(x, w2);
    assert.equal(packedWeightBytes() - before, bytes);
    const [av, a2v, bv, cv] = [a.dataSync(), a2.dataSync(), b.dataSync(), c.dataSync()] as Float32Array[];
    assert.equal(maxDiff(av, a2v), 0);
    assert.ok(maxDiff(av, bv) < 1e-5);
    assert.ok(maxDiff(av, cv) < 1e-5);
    tf.dispose([a, a2, b, c, act, w2]);
  } finally {
    setPackedWeightBudget(2 * 2 ** 30);
    tf.dispose([w, x]);
  }
});
