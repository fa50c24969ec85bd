/**
 * A Qwen2.5-0.5B-shaped llama model with random weights (speed does not depend on the values):
 * hidden 896, 24 layers, 14 heads, 2 key/value heads, intermediate 4864, vocabulary 151,936,
 * tied embeddings, qkv bias: 494M parameters, 1.98 GB in float32.
 */
import * as tf from "@tensorflow/tfjs-core";
import { llamaConfig } from "../src/model/config.js";
import { Transformer, hfLayout } from "../src/model/transformer.js";
import type { ModelConfig } from "../src/model/types.js";
import { sample } from "../src/model/sample.js";
import { peakRss, resetPeakRss } from "./measure.js";
import { randomRows } from "./reference.js";

/** Sampling figures of one batch size: the prefill alone, then the whole call, and the decoding steps by difference. */
export interface QwenSampleFigures {
  batch: number;
  prompt: number;
  new_tokens: number;
  /** sample() with 1 new token: the prompt's forward pass (and the first token) */
  prefill_s: number;
  prefill_cpu_s: number;
  /** sample() with new_tokens new tokens */
  total_s: number;
  total_cpu_s: number;
  /** batch * new_tokens / total */
  tokens_per_s: number;
  tokens_per_cpu_s: number;
  /** batch * (new_tokens - 1) / (total - prefill): the KV-cache decoding speed */
  decode_tokens_per_s: number;
  decode_tokens_per_cpu_s: number;
  peak_tf_bytes: number;
  peak_rss_bytes: number;
}

export async function benchQwenSample(model: Transformer, batch: number, promptLen: number, newTokens: number): Promise<QwenSampleFigures> {
  const prompts = randomRows(batch, promptLen, model.config.vocabSize, 5);
  const timed = (n: number) => {
    const c0 = process.cpuUsage(), t0 = performance.now();
    sample(model, prompts, { maxNewTokens: n, temperature: 1, seed: 1 }, () => "");
    const c = process.cpuUsage(c0);
    return [(performance.now() - t0) / 1000, (c.user + c.system) / 1e6];
  };
  resetPeakRss();
  const [pw, pc] = timed(1);
  let tw = 0, tc = 0;
  const prof = await tf.profile(() => { [tw, tc] = timed(newTokens); });
  const n = batch * newTokens, nd = batch * (newTokens - 1);
  return {
    batch, prompt: promptLen, new_tokens: newTokens, prefill_s: pw, prefill_cpu_s: pc, total_s: tw, total_cpu_s: tc,
    tokens_per_s: n / tw, tokens_per_cpu_s: n / tc,
    decode_tokens_per_s: nd / Math.max(tw - pw, 1e-9), decode_tokens_per_cpu_s: nd / Math.max(tc - pc, 1e-9),
    peak_tf_bytes: prof.peakBytes, peak_rss_bytes: peakRss(),
  };
}

export function qwenShapedConfig(contextLength = 1024): ModelConfig {
  return llamaConfig({
    vocabSize: 151936, contextLength, layers: 24, width: 896, heads: 14, kvHeads: 2, ffnWidth: 4864,
    normEps: 1e-6, ropeTheta: 1e6, qkvBias: true, tieEmbeddings: true, seed: 0,
  });
}

/** Uniform values in [-a, a) from a xorshift32 stream: ~1 s for 494M values (tf.randomUniform takes far longer). */
function fill(n: number, a: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = (seed * 2654435761) >>> 0 || 1;
  const k = (2 * a) / 4294967296;
  for (let i = 0; i < n; i++) {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    out[i] = s * k - a;
  }
  return out;
}

/** The model, frozen (inference only): its variables take the weights without a second copy. */
export function qwenShaped(config = qwenShapedConfig()): Transformer {
  const tensors = new Map<string, tf.Tensor>();
  hfLayout(config).forEach((s, i) => {
    const n = s.shape.reduce((x, y) => x * y, 1);
    tensors.set(s.name, s.init === "ones" ? tf.ones(s.shape) : tf.tensor(fill(n, 0.03, i + 1), s.shape));
  });
  const model = Transformer.fromParams(config, tensors, false);
  for (const t of tensors.values()) t.dispose(); // the variables share the data
  return model;
}

export const paramCount = (m: Transformer): number => [...m.params.values()].reduce((a, v) => a + v.size, 0);
