/**
 * TF.js kernels on the wasm backend that run the native addon's fused kernels (native/kernels.c)
 * on views of the tensors' heap memory: GELU, LayerNorm, RMSNorm and attention with their
 * gradients and a linear layer with its bias (named kernels, called by src/model/ops.ts, which
 * registers their gradients), and the embedding's gather and its
 * gradient (the stock GatherV2 and UnsortedSegmentSum replaced where the addon is loaded; the
 * stock or JavaScript kernel otherwise). The formulas are in native/kernels.c.
 *
 * Every output is allocated before any heap view is taken: an allocation may grow the wasm
 * memory, which detaches the typed arrays taken on it earlier.
 */
import * as tf from "@tensorflow/tfjs-core";
import type { KernelConfig, KernelFunc, TensorInfo } from "@tensorflow/tfjs-core";
import { nativeBlas, type NativeKernels } from "./native.js";
import type { BackendWasm } from "./wasm-kernels.js";

/** The named kernels' names (src/model/ops.ts runs them). */
export const FUSED = {
  gelu: "StepwiseGelu",
  geluGrad: "StepwiseGeluGrad",
  layerNorm: "StepwiseLayerNorm",
  layerNormGrad: "StepwiseLayerNormGrad",
  rmsNorm: "StepwiseRmsNorm",
  rmsNormGrad: "StepwiseRmsNormGrad",
  attention: "StepwiseAttention",
  /** the same kernel with a keyMask input (a separate name: a registered gradient saves a fixed list of inputs) */
  attentionMasked: "StepwiseAttentionMasked",
  attentionGrad: "StepwiseAttentionGrad",
  linear: "StepwiseLinear",
  /** x @ w + b + residual, and x @ w + residual: the same kernel with other inputs (a registered gradient saves a fixed list) */
  linearResidual: "StepwiseLinearResidual",
  linearNoBiasResidual: "StepwiseLinearNoBiasResidual",
  rope: "StepwiseRope",
  swiglu: "StepwiseSwiGLU",
  swigluGrad: "StepwiseSwiGLUGrad",
} as const;

/** The fused kernels when they can run now: the wasm backend with the addon loaded and switched on. */
export function fusedKernels(): NativeKernels | null {
  if (tf.getBackend() !== "wasm") return null;
  return nativeBlas()?.kernels ?? null;
}

function kernelsOrThrow(name: string): NativeKernels {
  const k = nativeBlas()?.kernels;
  if (!k) throw new Error(`${name}: the native addon is not loaded or switched off (src/model/ops.ts checks fusedKernels() first)`);
  return k;
}

function f32(backend: BackendWasm, t: TensorInfo): Float32Array {
  if (t.dtype !== "float32") throw new Error(`fused kernel: float32 tensors only, got ${t.dtype}`);
  return backend.typedArrayFromHeap(t) as Float32Array;
}

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** [rows, cols] of a tensor normalised over its last axis */
function rowsCols(shape: number[]): [number, number] {
  const cols = shape[shape.length - 1];
  return [size(shape) / cols, cols];
}

type Inputs = Record<string, TensorInfo>;

const gelu: KernelFunc = ({ inputs, backend: b }) => {
  const backend = b as unknown as BackendWasm, k = kernelsOrThrow(FUSED.gelu);
  const { x } = inputs as Inputs;
  const y = backend.makeOutput(x.shape, "float32");
  k.gelu(f32(backend, x), f32(backend, y));
  return y;
};

const geluGrad: KernelFunc = ({ inputs, backend: b }) => {
  const backend = b as unknown as BackendWasm, k = kernelsOrThrow(FUSED.geluGrad);
  const { x, dy } = inputs as Inputs;
  const dx = backend.makeOutput(x.shape, "float32");
  k.geluGrad(f32(backend, x), f32(backend, dy), f32(backend, dx));
  return dx;
};

const layerNorm: KernelFunc = ({ inputs, backend: b, attrs }) => {
  const backend = b as unknown as BackendWasm, k = kernelsOrThrow(FUSED.layerNorm);
  const { x, w, b: bias } = inputs as Inputs;
  const { eps } = attrs as unknown as { eps: number };
  const [rows, cols] = rowsCols(x.shape);
  const y = backend.makeOutput(x.shape, "float32"), mean = backend.makeOutput([rows], "float32"), rstd = backend.makeOutput([rows], "float32");
  k.layerNorm(f32(backend, x), f32(backend, w), f32(backend, bias), f32(backend, y), f32(backend, mean), f32(backend, rstd), rows, cols, eps);
  return [y, mean, rstd];
};

const layerNormGrad: KernelFunc = ({ inputs, backend: b }) => {
  const backend = b as unknown as BackendWasm, k = kernelsOrThrow(FUSED.layerNormGrad);
  const { x, w, dy, mean, rstd } = inputs as Inputs;
  const [rows, cols] = rowsCols(x.shape);
  const dx = backend.makeOutput(x.shape, "float32"), dw = backend.makeOutput(w.shape, "float32"), db = backend.makeOutput(w.shape, "float32");
  k.layerNormGrad(f32(backend, x), f32(backend, w), f32(backend, dy), f32(backend, mean), f32(backend, rstd),
    f32(backend, dx), f32(backend, dw), f32(backend, db), rows, cols);
  return [dx, dw, db];
};

const rmsNorm: KernelFunc = ({ inputs, backend: b, attrs }) => {
  const backend = b as unknown as BackendWasm, k = kernelsOrThrow(FUSED.rmsNorm);
  const { x, w } = inputs as Inputs;
  const { eps } = attrs as unknown as { eps: number };
  const [rows, cols] = rowsCols(x.shape);
  const y = backend.makeOutput(x.shape, "float32"), rstd = backend.makeOutput([rows], "float32");
  k.rmsNorm(f32(backend, x), f32(backend, w), f32(backend, y), f32(backend, rstd), rows, cols, eps);
  return [y, rstd];
};

const rmsNormGrad: KernelFunc = ({ inputs, backend: b }) => {
  const backend = b as unknown as BackendWasm, k = kernelsOrThrow(FUSED.rmsNormGrad);
  const { x, w, dy, rstd } = inputs as Inputs;
  const [rows, cols] = rowsCols(x.shape);
  const dx = backend.makeOutput(x.shape, "float32"), dw = backend.makeOutput(w.shape, "float32");
  k.rmsNormGrad(f32(backend, x), f32(backend, w), f32(backend, dy), f32(backend, rstd), f32(backend, dx), f32(backend, dw), rows, cols);
  return [dx, dw];
};

/** headMajor 1: k and v are [B, KV, Tc, hd] (a KV cache), else [B, Tc, KV, hd] */
interface AttentionAttrs { Tp: number; scale: number; headMajor: number }

/** q [B, T, H, hd], k and v (Tc >= Tp + T positions: the first Tp + T are used) -> the sizes the addon takes */
function attentionDims(q: TensorInfo, k: TensorInfo, headMajor: number): [number, number, number, number, number, number] {
  const [B, T, H, hd] = q.shape, [, s1, s2] = k.shape;
  return headMajor ? [B, T, s2, H, s1, hd] : [B, T, s1, H, s2, hd];
}

const attention: KernelFunc = ({ inputs, backend: b, attrs }) => {
  const backend = b as unknown as BackendWasm, kn = kernelsOrThrow(FUSED.attention);
  const { q, k, v, keyMask } = inputs as Inputs;
  const { Tp, scale, headMajor } = attrs as unknown as AttentionAttrs;
  const [B, T, Tc, H, KV, hd] = attentionDims(q, k, headMajor);
  const o = backend.makeOutput(q.shape, "float32"), lse = backend.makeOutput([B, H, T], "float32");
  kn.attention(f32(backend, q), f32(backend, k), f32(backend, v), keyMask ? f32(backend, keyMask) : null,
    f32(backend, o), f32(backend, lse), B, T, Tc, H, KV, hd, Tp, scale, headMajor === 1);
  return [o, lse];
};

const attentionGrad: KernelFunc = ({ inputs, backend: b, attrs }) => {
  const backend = b as unknown as BackendWasm, kn = kernelsOrThrow(FUSED.attentionGrad);
  const { q, k, v, keyMask, o, lse, dy } = inputs as Inputs;
  const { Tp, scale, headMajor } = attrs as unknown as AttentionAttrs;
  const [B, T, Tc, H, KV, hd] = attentionDims(q, k, headMajor);
  const dq = backend.makeOutput(q.shape, "float32"), dk = backend.makeOutput(k.shape, "float32"), dv = backend.makeOutput(v.shape, "float32");
  kn.attentionGrad(f32(backend, q), f32(backend, k), f32(backend, v), keyMask ? f32(backend, keyMask) : null,
    f32(backend, o), f32(backend, lse), f32(backend, dy), f32(backend, dq), f32(backend, dk), f32(backend, dv),
    B, T, Tc, H, KV, hd, Tp, scale, headMajor === 1);
  return [dq, dk, dv];
};

const linear: KernelFunc = ({ inputs, backend: b }) => {
  const backend = b as unknown as BackendWasm, k = kernelsOrThrow(FUSED.linear);
  const { x, w, b: bias, residual } = inputs as Inputs;
  const [n, inDim] = x.shape, out = w.shape[1];
  const y = backend.makeOutput([n, out], "float32");
  k.linear(f32(backend, x), f32(backend, w), bias ? f32(backend, bias) : null, residual ? f32(backend, residual) : null, f32(backend, y), n, inDim, out);
  return y;
};

/** x [B, T, heads, hd], cos and sin [B or 1, T, 1, hd]; attrs.inverse 1: the gradient's rotation */
const rope: KernelFunc = ({ inputs, backend: b, attrs }) => {
  const backend = b as unknown as BackendWasm, k = kernelsOrThrow(FUSED.rope);
  const { x, cos, sin } = inputs as Inputs;
  const { inverse } = attrs as unknown as { inverse: number };
  const [B, T, heads, hd] = x.shape;
  const y = backend.makeOutput(x.shape, "float32");
  k.rope(f32(backend, x), f32(backend, cos), f32(backend, sin), f32(backend, y), B * T * heads, heads, T, hd, cos.shape[0], inverse === 1);
  return y;
};

const swiglu: KernelFunc = ({ inputs, backend: b }) => {
  const backend = b as unknown as BackendWasm, k = kernelsOrThrow(FUSED.swiglu);
  const { g, u } = inputs as Inputs;
  const y = backend.makeOutput(g.shape, "float32");
  k.swiglu(f32(backend, g), f32(backend, u), f32(backend, y));
  return y;
};

const swigluGrad: KernelFunc = ({ inputs, backend: b }) => {
  const backend = b as unknown as BackendWasm, k = kernelsOrThrow(FUSED.swigluGrad);
  const { g, u, dy } = inputs as Inputs;
  const dg = backend.makeOutput(g.shape, "float32"), du = backend.makeOutput(g.shape, "float32");
  k.swigluGrad(f32(backend, g), f32(backend, u), f32(backend, dy), f32(backend, dg), f32(backend, du));
  return [dg, du];
};

/** GatherV2 of whole rows (axis 0, no batch dims, float32): the addon's row copy; anything else the stock kernel. */
function gatherV2(stock: KernelFunc): KernelFunc {
  return (args) => {
    const backend = args.backend as unknown as BackendWasm;
    const { x, indices } = args.inputs as Inputs;
    const { axis, batchDims } = args.attrs as unknown as { axis: number; batchDims: number };
    const k = nativeBlas()?.kernels;
    if (!k || x.dtype !== "float32" || indices.dtype !== "int32" || (axis !== 0 && axis !== -x.shape.length) || batchDims || x.shape.length < 1) {
      return stock(args);
    }
    const ids = backend.typedArrayFromHeap(indices) as Int32Array, rows = x.shape[0];
    for (let i = 0; i < ids.length; i++) if (!(ids[i] >= 0 && ids[i] < rows)) return stock(args); // its own error
    const cols = size(x.shape.slice(1));
    const out = backend.makeOutput([...indices.shape, ...x.shape.slice(1)], "float32");
    if (cols > 0 && ids.length > 0) k.gatherRows(f32(backend, x), backend.typedArrayFromHeap(indices) as Int32Array, f32(backend, out), cols);
    return out;
  };
}

/** UnsortedSegmentSum over 1-D int32 segment ids of float32 rows: the addon's scatter-add; else `fallback`. */
function segmentSum(fallback: KernelFunc): KernelFunc {
  return (args) => {
    const backend = args.backend as unknown as BackendWasm;
    const { x, segmentIds } = args.inputs as Inputs;
    const { numSegments } = args.attrs as unknown as { numSegments: number };
    const k = nativeBlas()?.kernels;
    const cols = size(x.shape.slice(1));
    if (!k || x.dtype !== "float32" || segmentIds.dtype !== "int32" || segmentIds.shape.length !== 1 || cols === 0) return fallback(args);
    const out = backend.makeOutput([numSegments, ...x.shape.slice(1)], "float32");
    k.scatterAddRows(f32(backend, x), backend.typedArrayFromHeap(segmentIds) as Int32Array, f32(backend, out), cols);
    return out;
  };
}

/**
 * The kernels above, for registration on "wasm" (wasm-kernels.ts registerWasmKernels).
 * `stockGather` is the backend's own GatherV2 (its setup, which binds the wasm function, is kept),
 * `segmentSumJs` the JavaScript UnsortedSegmentSum.
 */
export function nativeKernelConfigs(stockGather: KernelConfig, segmentSumJs: KernelFunc): KernelConfig[] {
  const named: [string, KernelFunc][] = [
    [FUSED.gelu, gelu], [FUSED.geluGrad, geluGrad],
    [FUSED.layerNorm, layerNorm], [FUSED.layerNormGrad, layerNormGrad],
    [FUSED.rmsNorm, rmsNorm], [FUSED.rmsNormGrad, rmsNormGrad],
    [FUSED.attention, attention], [FUSED.attentionMasked, attention], [FUSED.attentionGrad, attentionGrad],
    [FUSED.linear, linear], [FUSED.linearResidual, linear], [FUSED.linearNoBiasResidual, linear],
    [FUSED.rope, rope], [FUSED.swiglu, swiglu], [FUSED.swigluGrad, swigluGrad],
    ["UnsortedSegmentSum", segmentSum(segmentSumJs)],
  ];
  return [
    ...named.map(([kernelName, kernelFunc]) => ({ kernelName, backendName: "wasm", kernelFunc })),
    { ...stockGather, kernelFunc: gatherV2(stockGather.kernelFunc) },
  ];
}
