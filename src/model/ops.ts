/**
 * The transformer's building blocks: linear layers, GELU, SwiGLU, RoPE, LayerNorm, RMSNorm and
 * causal attention. Each formula is written once here as TF.js ops (`*Composed`: any backend, and the
 * reference the tests hold the fused kernels to) and, on the wasm backend with the native addon
 * loaded, runs as one fused kernel forward and one backward (native/kernels.c, registered by
 * src/backend/native-kernels.ts). The fused kernels' gradients are registered here
 * (tf.registerGradient), not wrapped in tf.customGrad: a registered kernel costs one call when no
 * gradient is recorded (sampling), where customGrad's scope costs several. `fusedKernels()`
 * decides per call, so switching the native path off (useNativeBlas(false)) switches these too.
 */
import * as tf from "@tensorflow/tfjs-core";
import { FUSED, fusedKernels } from "../backend/native-kernels.js";

type GradFn = Parameters<typeof tf.customGrad>[0];
type Attrs = Record<string, number>;

function run(name: string, inputs: Record<string, tf.Tensor>, attrs: Attrs = {}): tf.Tensor[] {
  const out = tf.engine().runKernel(name, inputs as unknown as tf.NamedTensorMap, attrs as unknown as tf.NamedAttrMap);
  return Array.isArray(out) ? out as tf.Tensor[] : [out as tf.Tensor];
}

/** additive mask value: exp(-1e9 - max) is exactly 0 in float32 */
export const MASKED = -1e9;

// ---------------------------------------------------------------------------------------------
// linear layers

/** y = x @ W (+ b), x [N, in], W [in, out]; gradients as explicit 2-D products (wasm fast path). */
const linearBias = tf.customGrad(((x: tf.Tensor, w: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
  save([x, w]);
  return { value: tf.add(tf.matMul(x as tf.Tensor2D, w as tf.Tensor2D), b), gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => linearGrads(dy as tf.Tensor2D, saved[0] as tf.Tensor2D, saved[1] as tf.Tensor2D, b.shape) };
}) as unknown as GradFn);

const linearNoBias = tf.customGrad(((x: tf.Tensor, w: tf.Tensor, save: tf.GradSaveFunc) => {
  save([x, w]);
  return { value: tf.matMul(x as tf.Tensor2D, w as tf.Tensor2D), gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => linearGrads(dy as tf.Tensor2D, saved[0] as tf.Tensor2D, saved[1] as tf.Tensor2D, null) };
}) as unknown as GradFn);

/** dx = dy W^T [N, in], dW = x^T dy [in, out], db = 1^T dy (a product, not a reduction) */
function linearGrads(dy: tf.Tensor2D, x: tf.Tensor2D, w: tf.Tensor2D, bShape: number[] | null): tf.Tensor[] {
  const grads = [tf.matMul(dy, w, false, true), tf.matMul(x, dy, true, false)];
  if (bShape) grads.push(tf.reshape(tf.matMul(tf.ones([1, dy.shape[0]]), dy), bShape));
  return grads;
}

// the fused linear kernels: x @ w + b, x @ w + b + residual, x @ w + residual
for (const [kernelName, inputs] of [
  [FUSED.linear, ["x", "w", "b"]], [FUSED.linearResidual, ["x", "w", "b", "residual"]], [FUSED.linearNoBiasResidual, ["x", "w", "residual"]],
] as const) {
  const hasBias = (inputs as readonly string[]).includes("b"), hasResidual = (inputs as readonly string[]).includes("residual");
  tf.registerGradient({
    kernelName,
    inputsToSave: ["x", "w"],
    gradFunc: (dy, [x, w]) => {
      const g = dy as tf.Tensor2D;
      const [dx, dw, db] = linearGrads(g, x as tf.Tensor2D, w as tf.Tensor2D, hasBias ? [g.shape[1]] : null);
      // the residual's gradient is dy itself, as a new tensor (the tape disposes each gradient it accumulates)
      const grads: Record<string, () => tf.Tensor> = { x: () => dx!, w: () => dw! };
      if (hasBias) grads.b = () => db!;
      if (hasResidual) grads.residual = () => tf.clone(g);
      return grads;
    },
  });
}

/** x @ w (+ b) (+ residual): a linear layer, and the residual stream it adds to when given */
export function linear(x: tf.Tensor2D, w: tf.Tensor, b?: tf.Tensor, residual?: tf.Tensor2D): tf.Tensor2D {
  if (fusedKernels() && w.rank === 2 && (!b || b.rank === 1)) {
    // one registered kernel: no customGrad scope is paid when nothing is recorded (sampling)
    if (residual) return run(b ? FUSED.linearResidual : FUSED.linearNoBiasResidual, { x, w, ...(b ? { b } : {}), residual })[0] as tf.Tensor2D;
    if (b) return run(FUSED.linear, { x, w, b })[0] as tf.Tensor2D;
    return tf.matMul(x, w as tf.Tensor2D); // the product's own gradient for 2-D operands is linearGrads' two products
  }
  const y = (b ? linearBias(x, w, b) : linearNoBias(x, w)) as tf.Tensor2D;
  return residual ? tf.add(residual, y) : y;
}

// ---------------------------------------------------------------------------------------------
// GELU

/**
 * GPT-2's GELU, tanh approximation (Hendrycks & Gimpel 2016, sec. 2):
 * 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) = x * sigmoid(2 sqrt(2/pi) (x + 0.044715 x^3)),
 * since 0.5 (1 + tanh z) = sigmoid(2z); wasm's sigmoid is vectorised, its tanh is not.
 */
export function geluComposed(x: tf.Tensor): tf.Tensor {
  const c = 2 * Math.sqrt(2 / Math.PI);
  const x3 = tf.mul(tf.mul(x, x), x); // not tf.pow: wasm's Pow is scalar
  return tf.mul(x, tf.sigmoid(tf.mul(tf.add(x, tf.mul(x3, 0.044715)), c)));
}

tf.registerGradient({
  kernelName: FUSED.gelu,
  inputsToSave: ["x"],
  gradFunc: (dy, [x]) => {
    const [dx] = run(FUSED.geluGrad, { x: x!, dy: dy as tf.Tensor });
    return { x: () => dx! };
  },
});

export function gelu(x: tf.Tensor): tf.Tensor {
  return fusedKernels() && x.dtype === "float32" ? run(FUSED.gelu, { x })[0]! : geluComposed(x);
}

// ---------------------------------------------------------------------------------------------
// SwiGLU and rotary embeddings (the llama family)

/** SiLU (Elfwing et al. 2018) x sigmoid(x); SwiGLU = silu(x Wg) * (x Wu) (Shazeer 2020, eq. 6), given g = x Wg, u = x Wu. */
export function swigluComposed(g: tf.Tensor, u: tf.Tensor): tf.Tensor {
  return tf.mul(tf.mul(g, tf.sigmoid(g)), u);
}

tf.registerGradient({
  kernelName: FUSED.swiglu,
  inputsToSave: ["g", "u"],
  gradFunc: (dy, [g, u]) => {
    const [dg, du] = run(FUSED.swigluGrad, { g: g!, u: u!, dy: dy as tf.Tensor });
    return { g: () => dg!, u: () => du! };
  },
});

export function swiglu(g: tf.Tensor, u: tf.Tensor): tf.Tensor {
  return fusedKernels() && g.dtype === "float32" && tf.util.arraysEqual(g.shape, u.shape) ? run(FUSED.swiglu, { g, u })[0]! : swigluComposed(g, u);
}

/**
 * Rotary position embeddings (Su et al. 2021, eq. 34) in HF's rotate-half layout:
 * x cos + rotate_half(x) sin, x [B, T, heads, hd], cos and sin [B or 1, T, 1, hd] (rope.ts
 * ropeTables); `rotate` is the [hd, hd] signed permutation with x @ rotate = rotate_half(x).
 */
export function ropeComposed(x: tf.Tensor4D, cos: tf.Tensor4D, sin: tf.Tensor4D, rotate: tf.Tensor2D): tf.Tensor4D {
  return tf.add(tf.mul(x, cos), tf.mul(tf.matMul(x, rotate), sin)) as tf.Tensor4D;
}

tf.registerGradient({
  kernelName: FUSED.rope,
  inputsToSave: ["cos", "sin"],
  gradFunc: (dy, [cos, sin]) => {
    // the rotation's transpose: dx = dy cos + rotate_half^T(dy sin)
    const [dx] = run(FUSED.rope, { x: dy as tf.Tensor, cos: cos!, sin: sin! }, { inverse: 1 });
    return { x: () => dx!, cos: () => tf.zerosLike(cos!), sin: () => tf.zerosLike(sin!) };
  },
});

export function rope(x: tf.Tensor4D, cos: tf.Tensor4D, sin: tf.Tensor4D, rotate: tf.Tensor2D): tf.Tensor4D {
  if (fusedKernels() && x.dtype === "float32" && (cos.shape[0] === 1 || cos.shape[0] === x.shape[0])) {
    return run(FUSED.rope, { x, cos, sin }, { inverse: 0 })[0] as tf.Tensor4D;
  }
  return ropeComposed(x, cos, sin, rotate);
}

// ---------------------------------------------------------------------------------------------
// norms over the last axis

/** LayerNorm (Ba et al. 2016): (x - mean) / sqrt(var + eps) * w + b over the last axis. */
export function layerNormComposed<T extends tf.Tensor>(x: T, w: tf.Tensor, b: tf.Tensor, eps: number): T {
  const mean = tf.mean(x, -1, true);
  const xc = tf.sub(x, mean);
  const variance = tf.mean(tf.square(xc), -1, true);
  return tf.add(tf.mul(tf.mul(xc, tf.rsqrt(tf.add(variance, eps))), w), b) as T;
}

/** RMSNorm (Zhang & Sennrich 2019, eq. 4) over the last axis: x / sqrt(mean(x^2) + eps) * w. */
export function rmsNormComposed<T extends tf.Tensor>(x: T, w: tf.Tensor, eps: number): T {
  return tf.mul(tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), eps))), w) as T;
}

// The gradient kernels compute every input's gradient in one pass, so gradFunc runs them at once
// (each closure it returns is called inside its own tidy: a lazy shared call would be disposed).
tf.registerGradient({
  kernelName: FUSED.layerNorm,
  inputsToSave: ["x", "w"],
  outputsToSave: [false, true, true], // mean, rstd
  gradFunc: (dys, [x, w, mean, rstd]) => {
    const dy = (dys as tf.Tensor[])[0]!;
    const [dx, dw, db] = run(FUSED.layerNormGrad, { x: x!, w: w!, dy, mean: mean!, rstd: rstd! });
    return { x: () => dx!, w: () => dw!, b: () => db! };
  },
});

tf.registerGradient({
  kernelName: FUSED.rmsNorm,
  inputsToSave: ["x", "w"],
  outputsToSave: [false, true], // rstd
  gradFunc: (dys, [x, w, rstd]) => {
    const dy = (dys as tf.Tensor[])[0]!;
    const [dx, dw] = run(FUSED.rmsNormGrad, { x: x!, w: w!, dy, rstd: rstd! });
    return { x: () => dx!, w: () => dw! };
  },
});

const lastAxisMatches = (x: tf.Tensor, w: tf.Tensor) => w.rank === 1 && w.shape[0] === x.shape[x.rank - 1] && x.dtype === "float32";

export function layerNorm<T extends tf.Tensor>(x: T, w: tf.Tensor, b: tf.Tensor, eps: number): T {
  if (fusedKernels() && lastAxisMatches(x, w) && b.shape[0] === w.shape[0]) return run(FUSED.layerNorm, { x, w, b }, { eps })[0] as T;
  return layerNormComposed(x, w, b, eps);
}

export function rmsNorm<T extends tf.Tensor>(x: T, w: tf.Tensor, eps: number): T {
  if (fusedKernels() && lastAxisMatches(x, w)) return run(FUSED.rmsNorm, { x, w }, { eps })[0] as T;
  return rmsNormComposed(x, w, eps);
}

// ---------------------------------------------------------------------------------------------
// attention

/** Additive attention mask [Bm, 1, T, Tk]: query i (absolute index Tp + i) sees key j <= Tp + i that is real. */
export function attentionMask(B: number, T: number, Tp: number, keyMask?: Float32Array): tf.Tensor4D | null {
  const Tk = Tp + T;
  if (!keyMask && T === 1) return null; // one new query sees every key
  const Bm = keyMask ? B : 1;
  const m = new Float32Array(Bm * T * Tk);
  for (let b = 0; b < Bm; b++) {
    for (let i = 0; i < T; i++) {
      for (let j = 0; j < Tk; j++) {
        const ok = j <= Tp + i && (!keyMask || keyMask[b * Tk + j] > 0);
        m[(b * T + i) * Tk + j] = ok ? 0 : MASKED;
      }
    }
  }
  return tf.tensor4d(m, [Bm, 1, T, Tk]);
}

/**
 * Which keys the queries of one forward pass see, shared by its layers: B rows of T queries after
 * Tp cached keys (query i at absolute position Tp + i sees key j <= Tp + i), and `keyMask`, [B * Tk]
 * flattened (1 = a real key, 0 = padding; default all real). The tensor each path needs (the
 * fused kernel's [B, Tk] key mask, the composed path's additive mask) is built on first use, in
 * the caller's scope, once for every layer.
 */
export class AttentionMask {
  private keys: tf.Tensor2D | null = null;
  private additiveMask: tf.Tensor4D | null | undefined = undefined;

  constructor(readonly B: number, readonly T: number, readonly Tp: number, readonly keyMask?: Float32Array) {
    if (keyMask && keyMask.length !== B * (Tp + T)) throw new Error(`attention: key mask of ${keyMask.length}, expected ${B} x ${Tp + T}`);
  }

  /** the fused kernel's [B, Tk] key mask (null: all keys real) */
  keyTensor(): tf.Tensor2D | null {
    if (this.keyMask) this.keys ??= tf.tensor2d(this.keyMask, [this.B, this.Tp + this.T]);
    return this.keys;
  }

  /** the composed path's additive mask (null: nothing to mask) */
  additive(): tf.Tensor4D | null {
    if (this.additiveMask === undefined) this.additiveMask = attentionMask(this.B, this.T, this.Tp, this.keyMask);
    return this.additiveMask;
  }
}

/**
 * Causal scaled dot-product attention (Vaswani et al. 2017, eq. 1) with grouped key/value heads
 * (Ainslie et al. 2023): q [B, T, H, hd], k and v [B, Tk, KV, hd] (Tk = Tp + T; kvHeadMajor:
 * [B, KV, Tk, hd], a KV cache) -> [B, T, H, hd]. Query heads of one key/value head are stacked
 * side by side, so no key or value is copied. (`attention` also takes k and v with more than Tk
 * positions, a preallocated cache: the first Tk are used.)
 */
export function attentionComposed(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, mask: AttentionMask, kvHeadMajor = false): tf.Tensor4D {
  const [B, T, H, hd] = q.shape, Tk = mask.Tp + T;
  const heads = (t: tf.Tensor4D) => tf.transpose(t, [0, 2, 1, 3]) as tf.Tensor4D; // [B, T, n, hd] <-> [B, n, T, hd]
  // keys and values as [B, KV, Tk, hd]
  const kvHeads = (t: tf.Tensor4D) => {
    const h = kvHeadMajor ? t : heads(t);
    return h.shape[2] === Tk ? h : tf.slice(h, [0, 0, 0, 0], [B, h.shape[1], Tk, hd]);
  };
  const kh = kvHeads(k), vh = kvHeads(v), KV = kh.shape[1], rep = H / KV;
  const qg = tf.reshape(tf.mul(heads(q), 1 / Math.sqrt(hd)), [B, KV, rep * T, hd]);
  let s = tf.reshape(tf.matMul(qg, kh, false, true), [B, H, T, Tk]);
  const additive = mask.additive();
  if (additive) s = tf.add(s, additive);
  const a = tf.reshape(tf.softmax(s), [B, KV, rep * T, Tk]);
  const o = tf.reshape(tf.matMul(a, vh), [B, H, T, hd]);
  return heads(o as tf.Tensor4D);
}

for (const [kernelName, masked] of [[FUSED.attention, false], [FUSED.attentionMasked, true]] as const) {
  tf.registerGradient({
    kernelName,
    inputsToSave: masked ? ["q", "k", "v", "keyMask"] : ["q", "k", "v"],
    outputsToSave: [true, true], // o, lse
    gradFunc: (dys, saved, attrs) => {
      const dy = (dys as tf.Tensor[])[0]!;
      const [q, k, v] = saved, [o, lse] = saved.slice(masked ? 4 : 3);
      const mask: Record<string, tf.Tensor> = masked ? { keyMask: saved[3]! } : {};
      const [dq, dk, dv] = run(FUSED.attentionGrad, { q: q!, k: k!, v: v!, o: o!, lse: lse!, dy, ...mask }, attrs as unknown as Attrs);
      return { q: () => dq!, k: () => dk!, v: () => dv!, ...(masked ? { keyMask: () => tf.zerosLike(saved[3]!) } : {}) };
    },
  });
}

function attentionFused(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, mask: AttentionMask, kvHeadMajor: boolean): tf.Tensor4D {
  const attrs = { Tp: mask.Tp, scale: 1 / Math.sqrt(q.shape[3]), headMajor: kvHeadMajor ? 1 : 0 };
  const keyMask = mask.keyTensor();
  if (!keyMask) return run(FUSED.attention, { q, k, v }, attrs)[0] as tf.Tensor4D;
  return run(FUSED.attentionMasked, { q, k, v, keyMask }, attrs)[0] as tf.Tensor4D;
}

export function attention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, mask: AttentionMask, kvHeadMajor = false): tf.Tensor4D {
  const [B, T, H] = q.shape, Tk = mask.Tp + T;
  const [Bk, Tc, KV] = kvHeadMajor ? [k.shape[0], k.shape[2], k.shape[1]] : k.shape;
  if (mask.B !== B || mask.T !== T || Bk !== B || Tc < Tk || H % KV !== 0 || v.shape.some((n, i) => n !== k.shape[i])) {
    throw new Error(`attention: q [${q.shape}], k [${k.shape}], v [${v.shape}] with ${mask.Tp} cached keys do not fit together (mask for ${mask.B} x ${mask.T})`);
  }
  return fusedKernels() ? attentionFused(q, k, v, mask, kvHeadMajor) : attentionComposed(q, k, v, mask, kvHeadMajor);
}
