import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../../src/backend/index.js";
import { useNativeBlas } from "../../src/backend/native.js";

// these test the XNNPACK kernels (the path without the native addon); test/backend/native.test.ts tests the native one
useNativeBlas(false);

/** Run f on cpu and on wasm with the same inputs; return both outputs. */
async function both(f: () => tf.Tensor): Promise<[Float32Array, Float32Array, number[]]> {
  await initBackend({ backend: "cpu" });
  const c = tf.tidy(f);
  const cv = c.dataSync() as Float32Array;
  const shape = c.shape;
  c.dispose();
  await initBackend({ backend: "wasm" });
  const w = tf.tidy(f);
  assert.deepEqual(w.shape, shape);
  const wv = w.dataSync() as Float32Array;
  w.dispose();
  return [cv, wv, shape];
}

function close(a: ArrayLike<number>, b: ArrayLike<number>, tol: number): void {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= tol, `index ${i}: ${a[i]} vs ${b[i]}`);
}

const rnd = (shape: number[], seed: number) => tf.randomUniform(shape, -1, 1, "float32", seed);

test("wasm BatchMatMul replacement equals cpu for batched, transposed and broadcast shapes", async () => {
  const cases: [number[], number[], boolean, boolean][] = [
    [[3, 5, 4], [3, 4, 6], false, false],
    [[3, 4, 5], [3, 6, 4], true, true],
    [[2, 3, 5, 4], [4, 6], false, false],
    [[5, 4], [2, 6, 4], false, true],
    [[7, 4], [7, 3], true, false],
    [[2, 2, 1, 8], [2, 2, 9, 8], false, true],
  ];
  for (const [sa, sb, ta, tb] of cases) {
    const [c, w] = await both(() => tf.matMul(rnd(sa, 1), rnd(sb, 2), ta, tb));
    close(c, w, 1e-5);
  }
});

test("wasm matMul gradients equal cpu", async () => {
  const f = () => {
    const a = rnd([2, 3, 4], 3), b = rnd([2, 5, 4], 4);
    const g = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.square(tf.matMul(x, y, false, true))))([a, b]);
    return tf.concat([tf.reshape(g[0], [-1]), tf.reshape(g[1], [-1])]);
  };
  const [c, w] = await both(f);
  close(c, w, 1e-4);
});

test("wasm Slice/Unpack replacements and UnsortedSegmentSum (gather gradient)", async () => {
  const x = () => tf.reshape(tf.range(0, 60, 1, "float32"), [3, 4, 5]);
  const [c1, w1] = await both(() => tf.slice(x(), [1, 1, 2], [2, 2, 3]));
  assert.deepEqual(Array.from(w1), Array.from(c1));
  assert.deepEqual(Array.from(w1), [27, 28, 29, 32, 33, 34, 47, 48, 49, 52, 53, 54]);
  const [c2, w2] = await both(() => tf.stack(tf.unstack(x(), 1).reverse(), 1));
  assert.deepEqual(Array.from(w2), Array.from(c2));
  const [c3, w3] = await both(() => tf.unsortedSegmentSum(tf.tensor2d([[1, 2], [3, 4], [5, 6]]), tf.tensor1d([2, 0, 2], "int32"), 3));
  assert.deepEqual(Array.from(w3), [3, 4, 0, 0, 6, 8]);
  assert.deepEqual(Array.from(c3), Array.from(w3));
  const [c4, w4] = await both(() => {
    const table = rnd([6, 3], 5);
    return tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, tf.tensor1d([1, 4, 1], "int32")), rnd([3, 3], 6))))(table);
  });
  close(c4, w4, 1e-6);
});
