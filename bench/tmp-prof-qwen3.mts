import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../src/backend/index.js";
import { setPackedWeightBudget } from "../src/backend/wasm-kernels.js";
import { sample } from "../src/model/sample.js";
import { qwenShaped } from "./qwen.js";
import { qwen3ShapedConfig } from "./qwen3.js";
await initBackend();
const q = qwenShaped(qwen3ShapedConfig());
setPackedWeightBudget(0);
sample(q, [[1, 2, 3]], { maxNewTokens: 3, seed: 1 }, () => "");
const t0 = performance.now(); sample(q, [[1, 2, 3]], { maxNewTokens: 17, seed: 1 }, () => ""); const t1 = performance.now();
sample(q, [[1, 2, 3]], { maxNewTokens: 1, seed: 1 }, () => ""); const t2 = performance.now();
console.log(`decode ${(16 / ((t1 - t0 - (t2 - t1)) / 1000)).toFixed(2)} tok/s`);
const info = await tf.profile(() => { sample(q, [[1, 2, 3]], { maxNewTokens: 5, seed: 1 }, () => ""); });
const by = new Map<string, { ms: number; n: number }>();
for (const k of info.kernels) { const ms = await (k as any).kernelTimeMs; const key = `${k.name} ${process.argv[2] ? JSON.stringify(k.inputShapes) : ""}`; const e = by.get(key) ?? { ms: 0, n: 0 }; e.ms += ms; e.n++; by.set(key, e); }
let tot = 0; for (const e of by.values()) tot += e.ms;
for (const [k, e] of [...by].sort((a, b) => b[1].ms - a[1].ms).slice(0, 14)) console.log(`${e.ms.toFixed(1).padStart(8)} ms ${String(e.n).padStart(5)}x ${k}`);
console.log(`kernels ${tot.toFixed(0)} ms`);
