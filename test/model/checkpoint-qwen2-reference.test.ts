/**
 * Issue 6: the tiny Qwen2 fixture (f32, bf16, sharded) loaded by Stepwise gives the logits of an
 * independent PyTorch implementation of the architecture (test/ref/qwen2_reference.py) to 1e-4.
 * Fixture: test/fixtures/make-tiny-qwen2.ts.
 */
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../../src/backend/index.js";
import { loadHfModel } from "../../src/model/checkpoint.js";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const FIXTURES = path.join(HERE, "..", "fixtures");
const REFERENCE = path.join(HERE, "..", "ref", "qwen2_reference.py");
const PYTHON = "/usr/bin/python3";

const torchProbe = spawnSync(PYTHON, ["-c", "import torch"], { encoding: "utf8" });
const noTorch =
  torchProbe.error || torchProbe.status !== 0
    ? `${PYTHON} cannot import torch (install Debian's python3-torch): ${torchProbe.error?.message ?? torchProbe.stderr.trim().split("\n").pop()}`
    : false;

/** Two sequences of 12 ids: ordinary tokens, specials, and ids past the tokenizer (the padded rows). */
const IDS = [
  [556, 72, 101, 108, 108, 111, 32, 300, 301, 302, 557, 558],
  [5, 4, 3, 2, 1, 0, 570, 575, 200, 100, 50, 25],
];

const VARIANTS = ["tiny-qwen2", "tiny-qwen2-bf16", "tiny-qwen2-sharded"];
let refCache: Record<string, number[][][]> | null = null;

/** The reference's logits for a fixture directory (one python run for all variants). */
function reference(variant: string): number[][][] {
  if (!refCache) {
    const dirs = VARIANTS.map((v) => path.join(FIXTURES, v));
    const r = spawnSync(PYTHON, [REFERENCE, ...dirs, JSON.stringify(IDS)], { encoding: "utf8", maxBuffer: 64 << 20 });
    assert.equal(r.status, 0, `reference failed: ${r.stderr}`);
    const models = (JSON.parse(r.stdout) as { models: Record<string, number[][][]> }).models;
    refCache = Object.fromEntries(VARIANTS.map((v, i) => [v, models[dirs[i]!]!]));
  }
  return refCache[variant]!;
}

async function ours(dir: string): Promise<number[][][]> {
  const { model, tokenizer, config } = await loadHfModel(dir);
  assert.equal(config.family, "llama");
  assert.equal(config.qkvBias, true);
  assert.equal(tokenizer.vocabSize, 559);
  const tokens = tf.tensor2d(IDS, undefined, "int32");
  const logits = model.logits(tokens); // [B, T, vocab]
  const out = logits.arraySync();
  tf.dispose([tokens, logits]);
  model.dispose();
  return out;
}

function maxAbsDiff(a: number[][][], b: number[][][]): number {
  let m = 0;
  a.forEach((x, i) => x.forEach((y, j) => y.forEach((v, k) => (m = Math.max(m, Math.abs(v - b[i]![j]![k]!))))));
  return m;
}

before(async () => {
  await initBackend({ backend: "cpu" });
});

for (const variant of VARIANTS) {
  test(`${variant}: logits equal the PyTorch reference to 1e-4`, { skip: noTorch }, async () => {
    const dir = path.join(FIXTURES, variant);
    const ref = reference(variant);
    const got = await ours(dir);
    assert.deepEqual([got.length, got[0]!.length, got[0]![0]!.length], [2, 12, 576]);
    const diff = maxAbsDiff(got, ref);
    assert.ok(diff < 1e-4, `max |logit difference| = ${diff}`);
    if (process.env.STEPWISE_VERBOSE) console.log(`${variant}: max |logit difference| = ${diff.toExponential(2)}`);
    // the logits are not trivially small: a wrong architecture could not pass by accident
    const spread = Math.max(...ref[0]!.flat()) - Math.min(...ref[0]!.flat());
    assert.ok(spread > 3, `logit spread ${spread}`);
  });
}

test("bf16 fixture holds the rounded weights (its logits differ from f32's), sharded equals f32", { skip: noTorch }, async () => {
  const f32 = await ours(path.join(FIXTURES, "tiny-qwen2"));
  const bf16 = await ours(path.join(FIXTURES, "tiny-qwen2-bf16"));
  const sharded = await ours(path.join(FIXTURES, "tiny-qwen2-sharded"));
  assert.equal(maxAbsDiff(f32, sharded), 0);
  const d = maxAbsDiff(f32, bf16);
  assert.ok(d > 1e-3 && d < 0.5, `bf16 vs f32 logits differ by ${d}`);
});
