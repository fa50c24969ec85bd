/**
 * The keys and values of the positions a sampler has decoded so far, per layer: [B, Tk, kvHeads,
 * headDim] each, the layout of a projection (src/model/ops.ts attention).
 *
 * Where the fused kernels run (wasm with the native addon), each layer's keys and values live in
 * one tensor of `capacity` positions allocated at the first step, head-major ([B, kvHeads,
 * capacity, hd]: one head's keys are contiguous, so decoding's attention reads them as one
 * stream), new positions are written into it in place, and attention reads its first `length`
 * positions. Elsewhere the keys grow by concatenation in the projection's layout, which copies the
 * whole cache at every token (quadratic in the response length: a fifth of a sampling run at
 * batch 64 x 100 tokens, measured).
 */
import * as tf from "@tensorflow/tfjs-core";
import { fusedKernels } from "../backend/native-kernels.js";
import { uninitializedTensor, writeKVInPlace } from "../backend/wasm-kernels.js";

export class KVCache {
  /** positions held (the next position written is `length`) */
  length = 0;
  private readonly k: (tf.Tensor4D | null)[];
  private readonly v: (tf.Tensor4D | null)[];
  /** in place, head-major ([B, kvHeads, capacity, hd]); else concatenated, [B, length, kvHeads, hd] */
  readonly inPlace = fusedKernels() !== null;

  /** `capacity`: the most positions it will hold (prompt plus new tokens) */
  constructor(layers: number, readonly capacity: number) {
    this.k = new Array<tf.Tensor4D | null>(layers).fill(null);
    this.v = new Array<tf.Tensor4D | null>(layers).fill(null);
  }

  /**
   * Add layer l's keys and values of the current step ([B, T, kvHeads, hd], positions length ..
   * length + T - 1) and return what attention reads: every position so far (in place: the whole
   * head-major buffer, of which the first length + T positions are filled, with headMajor true).
   * Call advance(T) after the last layer.
   */
  append(l: number, k: tf.Tensor4D, v: tf.Tensor4D): { k: tf.Tensor4D; v: tf.Tensor4D; headMajor: boolean } {
    const T = k.shape[1];
    if (this.length + T > this.capacity) throw new Error(`KV cache: ${this.length + T} positions exceed its capacity ${this.capacity}`);
    if (this.inPlace) {
      if (!this.k[l]) {
        const [B, , KV, hd] = k.shape;
        // positions are written before attention reads them (it reads the first length + T)
        this.k[l] = tf.keep(uninitializedTensor([B, KV, this.capacity, hd])) as tf.Tensor4D;
        this.v[l] = tf.keep(uninitializedTensor([B, KV, this.capacity, hd])) as tf.Tensor4D;
      }
      writeKVInPlace(this.k[l]!, k, this.length);
      writeKVInPlace(this.v[l]!, v, this.length);
    } else {
      const grow = (old: tf.Tensor4D | null, t: tf.Tensor4D) => {
        const next = tf.keep(old ? tf.concat([old, t], 1) : tf.clone(t)) as tf.Tensor4D;
        old?.dispose();
        return next;
      };
      this.k[l] = grow(this.k[l], k);
      this.v[l] = grow(this.v[l], v);
    }
    return { k: this.k[l]!, v: this.v[l]!, headMajor: this.inPlace };
  }

  /** The step's positions are in every layer. */
  advance(T: number): void {
    this.length += T;
  }

  /** Keep batch rows `rows` (in this order), dropping the others. */
  keepRows(rows: number[]): void {
    const idx = tf.tensor1d(rows, "int32");
    for (const list of [this.k, this.v]) {
      list.forEach((t, l) => {
        if (!t) return;
        list[l] = tf.keep(tf.gather(t, idx, 0)) as tf.Tensor4D;
        t.dispose();
      });
    }
    idx.dispose();
  }

  dispose(): void {
    for (const t of [...this.k, ...this.v]) t?.dispose();
    this.k.fill(null);
    this.v.fill(null);
  }
}
