/**
 * Bench item (issue 12): a Qwen3-0.6B-shaped model with random weights (speed does not depend on
 * the values): hidden 1024, 28 layers, 16 heads of 128 (head_dim independent of hidden / heads),
 * 8 key/value heads, per-head q/k RMSNorm, intermediate 3072, vocabulary 151,936, tied embeddings:
 * 596M parameters, 2.4 GB in float32. Prefill and decoding tokens/s at batch 1 and 8, peak memory.
 *
 *   npm run bench                       (section (f); --skip-qwen3 leaves it out)
 *   npx tsx bench/qwen3.ts [--quick]    (this section alone)
 */
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../src/backend/index.js";
import { packedWeightBytes, setPackedWeightBudget } from "../src/backend/wasm-kernels.js";
import { llamaConfig } from "../src/model/config.js";
import { sample } from "../src/model/sample.js";
import type { ModelConfig } from "../src/model/types.js";
import { mib, peakRss, resetPeakRss } from "./measure.js";
import { benchQwenSample, paramCount, qwenShaped, type QwenSampleFigures } from "./qwen.js";

/** Qwen3-0.6B's config.json, as a ModelConfig (context cut to what the bench uses). */
export function qwen3ShapedConfig(contextLength = 1024): ModelConfig {
  return llamaConfig({
    vocabSize: 151936, contextLength, layers: 28, width: 1024, heads: 16, kvHeads: 8, headDim: 128, ffnWidth: 3072,
    normEps: 1e-6, ropeTheta: 1e6, qkvBias: false, qkNorm: true, tieEmbeddings: true, seed: 0,
  });
}

export interface Qwen3Run extends QwenSampleFigures {
  /** batch * prompt / prefill time: prompt tokens processed per second */
  prefill_tokens_per_s: number;
  prefill_tokens_per_cpu_s: number;
}

export interface Qwen3Figures {
  params: number;
  build_s: number;
  /** TF.js bytes held by the model's weights */
  model_tf_bytes: number;
  runs: Qwen3Run[];
  /** bytes of XNNPACK's packed weight copies held after sampling */
  packed_bytes: number;
  /** process RSS at the end (the largest of the runs' peaks is in runs) */
  peak_rss_bytes: number;
  /** the batch that failed, and why (the runs before it are kept) */
  failed?: string;
  /** the packed-weight budget used on wasm (bytes), when this bench lowered it */
  packed_budget_bytes?: number;
}

const GIB = 2 ** 30;
/**
 * With the default 2 GiB packed-weight budget, the 2.2 GiB of weights plus packed copies
 * exhausted the 4 GiB wasm heap ("Aborted()" in _register_tensor, measured 2026-12-01), so this
 * bench packs at most what leaves 1.25 GiB of the heap free.
 */
const WASM_FREE_AFTER_PACKING = 1.25 * GIB;

/**
 * Build the model, warm it up, then time sampling at batch 1 and 8, prompts of 16 tokens (as the
 * Qwen2.5 item). Prompts of 64 tokens at batch 8 exhausted the wasm heap ("Aborted()" in Mean,
 * measured 2026-12-01; batch 1 peaked at 2.7 GiB of TF.js tensors with 2.2 GiB of weights): the
 * prefill runs in one tf.tidy, so every layer's intermediates live until it ends.
 */
export async function benchQwen3(opts: { quick: boolean; log: (s: string) => void }): Promise<Qwen3Figures> {
  const { log } = opts;
  resetPeakRss();
  const b0 = performance.now();
  const model = qwenShaped(qwen3ShapedConfig());
  try {
    const build = (performance.now() - b0) / 1000;
    const fig: Qwen3Figures = { params: paramCount(model), build_s: build, model_tf_bytes: tf.memory().numBytes, runs: [], packed_bytes: 0, peak_rss_bytes: 0 };
    log(`  ${(fig.params / 1e6).toFixed(0)}M parameters, ${mib(fig.model_tf_bytes)} of weights, built in ${build.toFixed(1)} s`);
    if (tf.getBackend() === "wasm") {
      fig.packed_budget_bytes = Math.max(0, 4 * GIB - fig.model_tf_bytes - WASM_FREE_AFTER_PACKING);
      setPackedWeightBudget(fig.packed_budget_bytes);
      log(`  wasm packed-weight budget lowered to ${mib(fig.packed_budget_bytes)} (the default 2 GiB exhausts the heap with these weights)`);
    }
    sample(model, [[1, 2, 3]], { maxNewTokens: 2, seed: 1 }, () => ""); // warm-up: packs the weights
    const promptLen = 16, newTokens = opts.quick ? 4 : 16;
    for (const batch of [1, 8]) {
      let r: QwenSampleFigures;
      try {
        r = await benchQwenSample(model, batch, promptLen, newTokens);
      } catch (err) {
        // keep the batches measured so far (a wasm heap abort ends the backend: no later batch)
        fig.failed = `batch ${batch}: ${(err as Error).message.slice(0, 200)}`;
        log(`  batch ${batch} failed: ${fig.failed}`);
        break;
      }
      const run: Qwen3Run = { ...r, prefill_tokens_per_s: (batch * promptLen) / r.prefill_s, prefill_tokens_per_cpu_s: (batch * promptLen) / r.prefill_cpu_s };
      fig.runs.push(run);
      log(`  batch ${batch}, prompt ${promptLen}, ${newTokens} new tokens: prefill ${run.prefill_tokens_per_s.toFixed(1)} tokens/s wall (${run.prefill_tokens_per_cpu_s.toFixed(1)} per CPU-s); ` +
        `decoding ${r.decode_tokens_per_s.toFixed(2)} tokens/s wall, ${r.decode_tokens_per_cpu_s.toFixed(2)} per CPU-s; peak TF.js ${mib(r.peak_tf_bytes)}, RSS ${mib(r.peak_rss_bytes)}`);
    }
    fig.packed_bytes = packedWeightBytes();
    fig.peak_rss_bytes = peakRss();
    return fig;
  } finally {
    model.dispose();
    setPackedWeightBudget(2 * GIB); // the default (src/backend/wasm-kernels.ts)
  }
}

/** The RESULTS.md section. */
export function renderQwen3(q: Qwen3Figures | { error: string }): string[] {
  const f = (x: number, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : "n/a");
  const L = ["## Qwen3-0.6B-shaped model (random weights)", "",
    "Hidden 1024, 28 layers, 16 heads of width 128 (head_dim independent of hidden / heads), 8 key/value heads, q/k RMSNorm per head,",
    "intermediate 3072, vocabulary 151,936, tied embeddings.", ""];
  if ("error" in q) return [...L, `Failed: ${q.error}`, ""];
  L.push(`${f(q.params / 1e6, 0)}M parameters, ${mib(q.model_tf_bytes)} of float32 weights (built in ${f(q.build_s, 1)} s), ${mib(q.packed_bytes)} of packed copies` +
    (q.packed_budget_bytes !== undefined ? ` (wasm packed-weight budget lowered to ${mib(q.packed_budget_bytes)}: the default 2 GiB exhausts the heap with these weights).` : "."), "");
  L.push("Prompts of 16 random tokens; prefill = `sample()` with one new token, prompt tokens per second; decoding = the remaining tokens",
    "over the remaining time (KV-cache steps). Peak TF.js bytes from tf.profile of the sampling call, peak RSS of the process.", "");
  L.push("| batch | prefill tokens/s (wall) | prefill per CPU-s | decoding tokens/s (wall) | decoding per CPU-s | new tokens | peak TF.js bytes | peak RSS |", "|---|---|---|---|---|---|---|---|");
  for (const s of q.runs) {
    L.push(`| ${s.batch} | ${f(s.prefill_tokens_per_s, 1)} | ${f(s.prefill_tokens_per_cpu_s, 1)} | ${f(s.decode_tokens_per_s)} | ${f(s.decode_tokens_per_cpu_s)} | ${s.new_tokens} | ${mib(s.peak_tf_bytes)} | ${mib(s.peak_rss_bytes)} |`);
  }
  if (q.failed) L.push("", `Failed: ${q.failed}`);
  L.push("");
  return L;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const info = await initBackend();
  console.log(`backend: ${info.detail}\n(f) Qwen3-0.6B-shaped model (random weights)`);
  const q = await benchQwen3({ quick: process.argv.includes("--quick"), log: console.log });
  console.log(renderQwen3(q).join("\n"));
}
