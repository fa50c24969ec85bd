/**
 * Regression: the replacement Split/Unpack/UnsortedSegmentSum kernels allocate their outputs on
 * the wasm heap; an allocation that grows the heap detaches every typed-array view taken before it
 * ("Cannot perform Construct on a detached ArrayBuffer", seen in a real run). Outputs large enough
 * to force growth must still come out right.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../../src/backend/index.js";

test("split and unstack whose outputs grow the wasm heap", async () => {
  await initBackend({ backend: "wasm" });
  const rows = 8;
  const cols = 1 << 21; // 8 x 2M floats = 64 MiB in, 64 MiB out: the outputs need a larger heap
  const x = tf.tidy(() => tf.add(tf.mul(tf.reshape(tf.range(0, rows, 1, "float32"), [rows, 1]), 10), tf.zeros([rows, cols])));
  for (const parts of [tf.split(x, rows, 0), tf.unstack(x, 0)]) {
    assert.equal(parts.length, rows);
    parts.forEach((p, i) => {
      const v = p.dataSync();
      assert.equal(v[0], 10 * i);
      assert.equal(v[v.length - 1], 10 * i);
    });
    tf.dispose(parts);
  }
  x.dispose();
});
