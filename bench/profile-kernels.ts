/**
 * Where the reference model's training step and sampling spend their time, per kernel (tf.profile).
 *   npx tsx bench/profile-kernels.ts [train|sample]
 */
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../src/backend/index.js";
import { gptConfig } from "../src/model/config.js";
import { Transformer } from "../src/model/transformer.js";
import { sample } from "../src/model/sample.js";
import { AdamW } from "../src/train/optimizer.js";
import { applyUpdate } from "../src/train/update.js";
import { randomRows } from "./reference.js";

console.log((await initBackend()).detail);
const what = process.argv[2] ?? "train";
const config = gptConfig({});
const model = Transformer.create(config);
let fn: () => void;
if (what === "train") {
  const opt = new AdamW(model.params);
  const tokens = tf.tensor2d(randomRows(32, config.contextLength, config.vocabSize, 1).flat(), [32, config.contextLength], "int32");
  fn = () => applyUpdate(model, opt, () => tf.tidy(() => tf.neg(tf.mean(model.score(tokens).logp)) as tf.Scalar), 1e-4);
} else {
  const prompts = randomRows(64, 8, config.vocabSize, 7);
  fn = () => { sample(model, prompts, { maxNewTokens: 100, temperature: 1, seed: 1 }, () => ""); };
}
fn(); fn();
const t0 = performance.now(); fn(); const wall = performance.now() - t0;
const info = await tf.profile(fn);
const byKernel = new Map<string, { ms: number; n: number }>();
for (const k of info.kernels) {
  const ms = await (k as unknown as { kernelTimeMs: number | Promise<number> }).kernelTimeMs;
  const key = process.argv[3] === "shapes" ? `${k.name} ${JSON.stringify(k.inputShapes)}` : k.name;
  const e = byKernel.get(key) ?? { ms: 0, n: 0 };
  e.ms += ms; e.n += 1;
  byKernel.set(key, e);
}
const rows = [...byKernel].sort((a, b) => b[1].ms - a[1].ms).slice(0, 40);
for (const [k, e] of rows) console.log(`${e.ms.toFixed(1).padStart(8)} ms ${String(e.n).padStart(6)}x  ${k}`);
const total = [...byKernel.values()].reduce((a, e) => a + e.ms, 0);
console.log(`kernels total ${total.toFixed(0)} ms; unprofiled wall ${wall.toFixed(0)} ms`);
