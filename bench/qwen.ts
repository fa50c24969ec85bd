/**
 * A Qwen2.5-0.5B-shaped llama model with random weights (speed does not depend on the values):
 * hidden 896, 24 layers, 14 heads, 2 key/value heads, intermediate 4864, vocabulary 151,936,
 * tied embeddings, qkv bias: 494M parameters, 1.98 GB in float32.
 */
import * as tf from "@tensorflow/tfjs-core";
import { llamaConfig } from "../src/model/config.js";
import { Transformer, hfLayout } from "../src/model/transformer.js";
import type { ModelConfig } from "../src/model/types.js";

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
