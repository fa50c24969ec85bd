/**
 * The native path (src/backend/native.ts: matrix products on OpenBLAS through the addon) against
 * the plain wasm path (XNNPACK) and the cpu backend: the same products, the same training step and
 * the same sampled batch within tolerance; each path deterministic; no tensor leaks.
 * Skips, saying why, where the addon is not built or no BLAS loads (npm run build:native).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../../src/backend/index.js";
import { nativeCalls, nativeStatus, useNativeBlas } from "../../src/backend/native.js";
import { gptConfig, llamaConfig } from "../../src/model/config.js";
import { Transformer } from "../../src/model/transformer.js";
import { sample } from "../../src/model/sample.js";
import { AdamW } from "../../src/train/optimizer.js";
import { applyUpdate } from "../../src/train/update.js";
import type { ModelConfig } from "../../src/model/types.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const status = nativeStatus();
const skip = status.blas ? false : `native path unavailable: ${status.reason}`;

/** f's output on one path: "native" (OpenBLAS), "xnnpack" (wasm without the addon) or "cpu". */
async function on(pathName: "native" | "xnnpack" | "cpu", f: () => tf.Tensor): Promise<{ values: Float32Array; shape: number[] }> {
  await initBackend({ backend: pathName === "cpu" ? "cpu" : "wasm" });
  const was = useNativeBlas(pathName === "native");
  try {
    const t = tf.tidy(f);
    const values = t.dataSync() as Float32Array;
    const shape = t.shape;
    t.dispose();
    return { values, shape };
  } finally {
    useNativeBlas(was);
  }
}

function close(a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(a.length, b.length, `${what}: lengths`);
  for (let i = 0; i < a.length; i++) {
    assert.ok(Math.abs(a[i] - b[i]) <= tol * (1 + Math.abs(b[i])), `${what}, index ${i}: ${a[i]} vs ${b[i]}`);
  }
}

const rnd = (shape: number[], seed: number) => tf.randomUniform(shape, -1, 1, "float32", seed);

test("native BatchMatMul equals the cpu backend and XNNPACK: batched, transposed, broadcast, tiny and split shapes", { skip }, async () => {
  const cases: [number[], number[], boolean, boolean][] = [
    [[3, 5, 4], [3, 4, 6], false, false], // below the BLAS threshold: the addon's own loop
    [[3, 4, 5], [3, 6, 4], true, true],
    [[2, 3, 5, 4], [4, 6], false, false], // shared right operand: one [6*5, 4] product
    [[5, 4], [2, 6, 4], false, true], // broadcast left operand (stride 0)
    [[7, 4], [7, 3], true, false],
    [[2, 2, 1, 8], [2, 2, 9, 8], false, true], // decoding's one query row per head
    [[64, 40, 24], [64, 40, 24], false, true], // many slices: split across the addon's threads
    [[64, 24, 40], [64, 24, 72], true, false],
    [[130, 70], [70, 90], false, false], // one product on the BLAS's threads
    [[70, 130], [90, 70], true, true],
    [[1, 70], [70, 90], false, false], // one row (decoding at batch 1): a matrix-vector product
    [[1, 70], [90, 70], false, true], // one row against the tied head's transposed embedding
    [[1, 64], [4000, 64], false, true], // ... a larger one: its rows split across the addon's threads
    [[1, 600], [600, 300], false, false], // one row, several of the GEMV's row blocks
    [[4, 0], [0, 3], false, false], // empty inner dimension: zeros
  ];
  for (const [sa, sb, ta, tb] of cases) {
    const f = () => tf.matMul(rnd(sa, 1), rnd(sb, 2), ta, tb);
    const calls = nativeCalls();
    const n = await on("native", f);
    assert.equal(nativeCalls(), calls + 1, "the native path ran the product");
    const x = await on("xnnpack", f), c = await on("cpu", f);
    assert.equal(nativeCalls(), calls + 1, "the XNNPACK and cpu paths did not use the BLAS");
    assert.deepEqual(n.shape, c.shape);
    close(n.values, c.values, 1e-5, `${sa} x ${sb} (${ta}, ${tb}) native vs cpu`);
    close(n.values, x.values, 1e-5, `${sa} x ${sb} (${ta}, ${tb}) native vs xnnpack`);
  }
});

test("the addon refuses operands smaller than the sizes say (no write outside a tensor)", { skip }, () => {
  const addon = createRequire(import.meta.url)(path.join(root, "native/build/stepwise_native.node")) as {
    sgemm(...a: unknown[]): void;
  };
  const a = new Float32Array(6), b = new Float32Array(6), c = new Float32Array(4);
  assert.throws(() => addon.sgemm(false, false, 2, 2, 2, 3, a, 6, b, 0, c), /smaller than batch, sizes and strides say/);
  assert.throws(() => addon.sgemm(false, false, 1, 2, 2, 3, a, 0, b, 0, new Float32Array(3)), /smaller/);
  assert.throws(() => addon.sgemm(false, false, 1, 2, 2, 3, a, 0, [1, 2], 0, c), /argument types/);
});

/** One training step (forward, backward, AdamW) from a fixed init: the loss, the gradients and every parameter after it. */
function trainStep(config: ModelConfig) {
  const model = Transformer.create(config);
  const opt = new AdamW(model.params);
  const B = 4, T = 24;
  const tokens = tf.tensor2d(Array.from({ length: B * T }, (_, i) => (i * 7 + 3) % config.vocabSize), [B, T], "int32");
  const lossFn = () => tf.tidy(() => {
    const { logp, entropy } = model.score(tokens, { entropy: true });
    return tf.sub(tf.neg(tf.mean(logp)), tf.mul(tf.mean(entropy), 1e-2)) as tf.Scalar;
  });
  const { value, grads: g } = tf.variableGrads(lossFn, model.trainableVariables());
  // keyed by parameter name (the variables' own names carry a per-model id)
  const grads = new Map([...model.params].map(([k, v]) => [k, g[v.name].dataSync() as Float32Array]));
  value.dispose(); tf.dispose(Object.values(g));
  const { loss, gradNorm } = applyUpdate(model, opt, lossFn, 1e-2);
  const params = new Map([...model.params].map(([k, v]) => [k, v.dataSync() as Float32Array]));
  tokens.dispose(); opt.dispose(); model.dispose();
  return { loss, gradNorm, grads, params };
}

async function stepOn(pathName: "native" | "xnnpack", config: ModelConfig) {
  await initBackend({ backend: "wasm" });
  const was = useNativeBlas(pathName === "native");
  try {
    return trainStep(config);
  } finally {
    useNativeBlas(was);
  }
}

const configs: [string, ModelConfig][] = [
  ["gpt2", gptConfig({ vocabSize: 32, contextLength: 32, layers: 2, width: 64, heads: 4, seed: 3 })],
  ["llama (GQA, RoPE)", llamaConfig({ vocabSize: 32, contextLength: 32, layers: 2, width: 64, heads: 4, kvHeads: 2, seed: 4 })],
];

test("a training step agrees between the native and the XNNPACK path, and repeats bit for bit on each", { skip }, async () => {
  for (const [name, config] of configs) {
    const before = tf.memory().numTensors;
    const calls = nativeCalls();
    const n1 = await stepOn("native", config), n2 = await stepOn("native", config);
    assert.ok(nativeCalls() > calls, "the native path ran");
    const x = await stepOn("xnnpack", config);
    assert.equal(tf.memory().numTensors, before, `${name}: tensors leaked`);
    assert.equal(n1.loss, n2.loss, `${name}: the native path is not deterministic`);
    assert.ok(Math.abs(n1.loss - x.loss) <= 1e-5 * Math.abs(x.loss), `${name}: loss ${n1.loss} vs ${x.loss}`);
    assert.ok(Math.abs(n1.gradNorm - x.gradNorm) <= 1e-4 * x.gradNorm, `${name}: gradient norm ${n1.gradNorm} vs ${x.gradNorm}`);
    for (const [k, g] of n1.grads) {
      const gx = x.grads.get(k)!;
      const scale = gx.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      for (let i = 0; i < g.length; i++) assert.ok(Math.abs(g[i] - gx[i]) <= 1e-4 * scale + 1e-9, `${name}: d${k}[${i}] ${g[i]} vs ${gx[i]}`);
      const v = n1.params.get(k)!, vx = x.params.get(k)!;
      assert.deepEqual(v, n2.params.get(k), `${name}: ${k} differs between two native runs`);
      // AdamW's first step moves each weight by about lr whatever its gradient's size, so where a
      // gradient is ~0 the direction is noise: compare the weights where the gradient is clear
      for (let i = 0; i < v.length; i++) {
        if (Math.abs(gx[i]) > 1e-2 * scale) assert.ok(Math.abs(v[i] - vx[i]) <= 1e-5, `${name}: ${k}[${i}] ${v[i]} vs ${vx[i]} after the step`);
      }
    }
  }
});

test("a sampled batch agrees between the native and the XNNPACK path, and repeats on each", { skip }, async () => {
  for (const [name, config] of configs) {
    const run = async (pathName: "native" | "xnnpack") => {
      await initBackend({ backend: "wasm" });
      const was = useNativeBlas(pathName === "native");
      const model = Transformer.create(config);
      try {
        const prompts = Array.from({ length: 6 }, (_, b) => Array.from({ length: 3 + (b % 3) }, (_, i) => (b * 5 + i * 3) % config.vocabSize));
        return sample(model, prompts, { maxNewTokens: 12, temperature: 1, seed: 9 }, () => "");
      } finally {
        model.dispose();
        useNativeBlas(was);
      }
    };
    const before = tf.memory().numTensors;
    const n1 = await run("native"), n2 = await run("native"), x = await run("xnnpack");
    assert.equal(tf.memory().numTensors, before, `${name}: tensors leaked`);
    assert.deepEqual(n1, n2, `${name}: native sampling is not deterministic`);
    for (let r = 0; r < x.length; r++) {
      assert.deepEqual(n1[r].tokens, x[r].tokens, `${name}: row ${r} sampled other tokens`);
      close(n1[r].logp, x[r].logp, 1e-4, `${name}: row ${r} log-probs`);
    }
  }
});

test("STEPWISE_NATIVE=0 runs on the plain wasm path and says so", () => {
  const code = `import { initBackend } from "./src/backend/index.ts"; console.log((await initBackend()).detail);`;
  const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], {
    cwd: root, encoding: "utf8", env: { ...process.env, STEPWISE_NATIVE: "0", STEPWISE_BACKEND: "" }, timeout: 60_000,
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /XNNPACK fast-path kernels; native addon not used: STEPWISE_NATIVE=0/);
});

test("a bad STEPWISE_THREADS is refused with the fix", () => {
  const code = `import { blasThreads } from "./src/backend/native.ts"; try { blasThreads(); } catch (e) { console.log(e.message); }`;
  const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], {
    cwd: root, encoding: "utf8", env: { ...process.env, STEPWISE_THREADS: "two" }, timeout: 60_000,
  });
  assert.match(r.stdout, /STEPWISE_THREADS must be a whole number >= 1, got "two"/);
});
