/**
 * Rotary position embeddings (Su et al. 2021): the inverse frequencies of a config, plain or with
 * Llama 3.1's scaling, and the cos/sin tables of given positions.
 *
 * Arithmetic follows transformers (modeling_rope_utils.py) in float32 where it rounds: the inverse
 * frequencies are held as float32 and each angle position * inv_freq is a float32 product, so long
 * positions give the angles transformers gives, not more exact ones.
 */
import * as tf from "@tensorflow/tfjs-core";
import { headDimOf } from "./config.js";
import type { ModelConfig } from "./types.js";

/**
 * inv_freq[i] = theta^(-2i / hd), i < hd/2 (Su et al. 2021, eq. 15), then Llama 3.1's scaling when
 * the config has one (transformers `_compute_llama3_parameters`):
 *   wavelen = 2 pi / inv_freq;  low = L / lowFreqFactor;  high = L / highFreqFactor  (L: original context)
 *   wavelen > low:        inv_freq / factor
 *   wavelen < high:       inv_freq
 *   otherwise (between):  (1 - s) inv_freq / factor + s inv_freq,  s = (L / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor)
 */
export function ropeInvFreq(c: ModelConfig): Float32Array {
  const hd = headDimOf(c), h = hd / 2;
  const out = new Float32Array(h);
  // transformers: base ** (arange(0, hd, 2).float() / hd), a float32 exponent
  for (let i = 0; i < h; i++) out[i] = 1 / Math.pow(c.ropeTheta, Math.fround((2 * i) / hd));
  const r = c.ropeScaling;
  if (!r) return out;
  const low = r.originalContextLength / r.lowFreqFactor, high = r.originalContextLength / r.highFreqFactor;
  for (let i = 0; i < h; i++) {
    const f = out[i]!, wavelen = (2 * Math.PI) / f;
    if (wavelen > low) out[i] = f / r.factor;
    else if (wavelen >= high) {
      const s = (r.originalContextLength / wavelen - r.lowFreqFactor) / (r.highFreqFactor - r.lowFreqFactor);
      out[i] = ((1 - s) * f) / r.factor + s * f;
    }
  }
  return out;
}

/**
 * cos and sin tables [B, T, 1, hd] (broadcast over the heads of a [B, T, H, hd] tensor) in HF's
 * rotate-half layout: channel j and j + hd/2 share the angle positions[b][t] * inv_freq[j].
 */
export function ropeTables(positions: number[][], invFreq: Float32Array): [tf.Tensor4D, tf.Tensor4D] {
  const B = positions.length, T = positions[0]!.length, h = invFreq.length, hd = 2 * h;
  const cos = new Float32Array(B * T * hd), sin = new Float32Array(B * T * hd);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const base = (b * T + t) * hd, pos = positions[b]![t]!;
      for (let i = 0; i < h; i++) {
        const a = Math.fround(pos * invFreq[i]!); // a float32 product, as transformers' inv_freq @ position_ids
        cos[base + i] = cos[base + i + h] = Math.cos(a);
        sin[base + i] = sin[base + i + h] = Math.sin(a);
      }
    }
  }
  return [tf.tensor4d(cos, [B, T, 1, hd]), tf.tensor4d(sin, [B, T, 1, hd])];
}
