/**
 * Where a Qwen2.5-0.5B-shaped decoding step spends its time, per kernel (tf.profile).
 *   npx tsx bench/profile-qwen.ts [batch]
 */
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../src/backend/index.js";
import { sample } from "../src/model/sample.js";
import { qwenShaped } from "./qwen.js";

await initBackend();
const batch = Number(process.argv[2] ?? 4);
const q = qwenShaped();
const prompts = Array.from({ length: batch }, (_, b) => Array.from({ length: 16 }, (_, i) => (b * 31 + i * 7) % 1000));
sample(q, prompts, { maxNewTokens: 2, seed: 1 }, () => "");
const info = await tf.profile(() => { sample(q, prompts, { maxNewTokens: 4, seed: 1 }, () => ""); });
const byKernel = new Map<string, { ms: number; n: number }>();
for (const k of info.kernels) {
  const ms = await (k as unknown as { kernelTimeMs: number | Promise<number> }).kernelTimeMs;
  const key = `${k.name} ${JSON.stringify(k.inputShapes)}`;
  const e = byKernel.get(key) ?? { ms: 0, n: 0 };
  e.ms += ms; e.n += 1;
  byKernel.set(key, e);
}
const rows = [...byKernel].sort((a, b) => b[1].ms - a[1].ms).slice(0, 25);
for (const [k, e] of rows) console.log(`${e.ms.toFixed(0).padStart(7)} ms ${String(e.n).padStart(5)}x  ${k}`);
console.log(`total ${[...byKernel.values()].reduce((a, e) => a + e.ms, 0).toFixed(0)} ms`);
q.dispose();
