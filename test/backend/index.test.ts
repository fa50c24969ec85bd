import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend, requestedBackend, resetBackendCache } from "../../src/backend/index.js";

test("STEPWISE_BACKEND forces the backend, the option wins over it, bad names are refused", async () => {
  const saved = process.env.STEPWISE_BACKEND;
  try {
    process.env.STEPWISE_BACKEND = "cpu";
    resetBackendCache();
    assert.equal((await initBackend()).name, "cpu");
    assert.equal(tf.getBackend(), "cpu");
    assert.equal((await initBackend({ backend: "wasm" })).name, "wasm");
    assert.equal(tf.getBackend(), "wasm");
    process.env.STEPWISE_BACKEND = "gpu";
    assert.throws(() => requestedBackend(), /unknown backend "gpu".*STEPWISE_BACKEND/);
    // tfjs-node is not installed here: forcing it fails with the reason, never silently falls back
    process.env.STEPWISE_BACKEND = "tensorflow";
    await assert.rejects(initBackend(), /tfjs-node-gpu not loadable/);
  } finally {
    if (saved === undefined) delete process.env.STEPWISE_BACKEND;
    else process.env.STEPWISE_BACKEND = saved;
    resetBackendCache();
  }
});

test("auto resolution falls through tensorflow to wasm and is idempotent", async () => {
  const saved = process.env.STEPWISE_BACKEND;
  delete process.env.STEPWISE_BACKEND;
  try {
    resetBackendCache();
    const a = initBackend();
    const b = initBackend();
    assert.equal(a, b);
    const info = await a;
    assert.equal(info.name, "wasm");
    assert.match(info.detail, /wasm/);
  } finally {
    if (saved !== undefined) process.env.STEPWISE_BACKEND = saved;
    resetBackendCache();
  }
});
