/**
 * Kernels registered on top of @tensorflow/tfjs-backend-wasm 4.22.
 *
 * 1. BatchMatMul. The stock kernel sends only 2-D, non-transposed products (a batch of one on
 *    both sides) to XNNPACK; transposed or batched products fall to a scalar loop about 15x
 *    slower. The replacement (a) makes transposes explicit with the (fast) Transpose kernel,
 *    (b) folds a shared right operand into one 2-D product ([batch*M, K] @ [K, N]), and
 *    (c) runs a true batch as one XNNPACK product per slice, on zero-copy views of the
 *    operands' heap memory (a view is a tensor id registered at an offset inside the parent
 *    buffer and unregistered, never freed, after the call). Measured on the attention shape
 *    [128,128,32] @ [128,32,128]: 79 ms stock, ~18 ms here.
 * 2. Slice and Unpack: the stock kernels copy the whole input (readSync) for every slice;
 *    these read it through a heap view, so unstacking N slices costs one pass, not N.
 * 3. UnsortedSegmentSum (the gradient of gather, used by embedding lookups): missing in wasm.
 * 4. Identity shares its input's memory (a reference count) instead of copying it, as the cpu
 *    backend does: tfjs-core clones every tensor it saves for the backward pass, so the stock
 *    copying kernel cost a full pass over each saved activation (~10% of a training step).
 *    TF.js tensors are immutable, so sharing is safe.
 *
 * When the native addon and a BLAS load (native.ts), BatchMatMul hands every product to it
 * instead, on the same heap views (no copies, transposes and broadcasting by strides); the
 * XNNPACK paths below are the fallback. The addon's fused kernels are registered by
 * native-kernels.ts, from here.
 */
import * as tf from "@tensorflow/tfjs-core";
import type { KernelConfig, KernelFunc, TensorInfo } from "@tensorflow/tfjs-core";
import { nativeBlas } from "./native.js";
import { nativeKernelConfigs } from "./native-kernels.js";

/** The parts of tfjs-backend-wasm's BackendWasm these kernels use (it exports no types for them). */
interface WasmModule {
  HEAPU8: Uint8Array;
  cwrap(name: string, ret: null | string, args: string[]): (...a: unknown[]) => unknown;
  tfjs: {
    registerTensor(id: number, size: number, offset: number): void;
    disposeData(id: number): void;
  };
}
interface WasmData {
  id: number;
  memoryOffset: number;
  shape: number[];
  dtype: tf.DataType;
  refCount: number;
}
export interface BackendWasm {
  wasm: WasmModule;
  dataIdMap: { get(id: object): WasmData };
  dataIdNextNumber: number;
  makeOutput(shape: number[], dtype: tf.DataType, memoryOffset?: number): TensorInfo;
  incRef(dataId: object): void;
  disposeData(dataId: object, force?: boolean): boolean;
  typedArrayFromHeap(t: TensorInfo): Float32Array | Int32Array | Uint8Array;
}

type WasmBmm = (
  aId: number, aShape: Uint8Array, aRank: number,
  bId: number, bShape: Uint8Array, bRank: number,
  transposeA: boolean, transposeB: boolean, outId: number,
) => void;
type WasmTranspose = (
  xId: number, xShape: Uint8Array, rank: number, dtype: number, outId: number, perm: Uint8Array, permLen: number,
) => void;

let wasmBmm: WasmBmm | null = null;
let wasmTranspose: WasmTranspose | null = null;

function shapeBytes(shape: number[]): Uint8Array {
  return new Uint8Array(new Int32Array(shape).buffer);
}

function setupWasm(backend: BackendWasm): void {
  if (wasmBmm) return;
  wasmBmm = backend.wasm.cwrap("BatchMatMul", null, [
    "number", "array", "number", "number", "array", "number", "number", "number", "number",
  ]) as WasmBmm;
  wasmTranspose = backend.wasm.cwrap("Transpose", null, [
    "number", "array", "number", "number", "number", "array", "number",
  ]) as WasmTranspose;
}

/** Register a tensor id at an absolute heap offset (a view: never freed, only unregistered). */
function view(backend: BackendWasm, offset: number, size: number): number {
  const id = backend.dataIdNextNumber++;
  backend.wasm.tfjs.registerTensor(id, size, offset);
  return id;
}

/** [batch, R, C] float32 -> [batch, C, R], a new heap tensor. */
function transposeLast2(backend: BackendWasm, x: TensorInfo, batch: number, r: number, c: number): TensorInfo {
  const out = backend.makeOutput([batch, c, r], "float32");
  const xId = backend.dataIdMap.get(x.dataId).id;
  const outId = backend.dataIdMap.get(out.dataId).id;
  const shape = batch === 1 ? [r, c] : [batch, r, c];
  const perm = batch === 1 ? [1, 0] : [0, 2, 1];
  wasmTranspose!(xId, shapeBytes(shape), shape.length, 0 /* CppDType float32 */, outId, shapeBytes(perm), perm.length);
  return out;
}

/** A heap operand: a tensor's own id (XNNPACK caches packed weights per id) or a view's. */
interface Operand {
  offset: number;
  /** the tensor's own id when the operand is the whole tensor, else null (a view is made) */
  id: number | null;
}

/**
 * One 2-D XNNPACK product out[M,N] = a[M,K] @ b[K,N]. Whole tensors are passed by their own id,
 * so the operator (with b's packed weights) cached by id is reused across calls, e.g. for a
 * weight matrix over a whole sampling loop; slices go through views that are unregistered after.
 */
function mm2d(backend: BackendWasm, a: Operand, b: Operand, outId: number, m: number, k: number, n: number): void {
  const aId = a.id ?? view(backend, a.offset, m * k);
  const bId = b.id ?? view(backend, b.offset, k * n);
  wasmBmm!(aId, shapeBytes([1, m, k]), 3, bId, shapeBytes([1, k, n]), 3, false, false, outId);
  // Unregistering a view also drops the XNNPACK operator cached for its id (its packed weights).
  if (a.id === null) backend.wasm.tfjs.disposeData(aId);
  if (b.id === null) backend.wasm.tfjs.disposeData(bId);
}

/**
 * XNNPACK keeps a packed copy of every right operand passed by its own id (the operator cached
 * per id, freed when the tensor is disposed): a model's weights are then packed once, not on
 * every call. That copy costs as much heap as the weight, so it is kept under a byte budget:
 * an operand is cached while the packed copies held stay within `packedBudget` and the TF.js
 * tensors plus the packed copies leave `HEAP_HEADROOM` of the 4 GiB wasm heap free; beyond
 * that it is packed per call and dropped (slower, but a large model still fits). The budget is
 * first come, first served: in a decoding loop the weights come first. Packed copies of
 * disposed tensors (activations, weights replaced by an optimizer step) are released by
 * XNNPACK and forgotten here lazily, when the budget is reached.
 */
const WASM_HEAP = 4 * 2 ** 30;
const HEAP_HEADROOM = 512 * 2 ** 20;
let packedBudget = 2 * 2 ** 30;
/** numeric tensor id -> (its dataId, to tell whether it still lives; bytes of its packed copy) */
const packed = new Map<number, { dataId: object; bytes: number }>();
let packedBytes = 0;

/** Set the byte budget for packed weight copies (default 2 GiB; 0 packs every product per call). */
export function setPackedWeightBudget(bytes: number): void {
  if (!(bytes >= 0)) throw new Error(`packed weight budget must be >= 0 bytes, got ${bytes}`);
  packedBudget = bytes;
}

/** Bytes of packed weight copies currently counted against the budget (tests, benchmarks). */
export function packedWeightBytes(): number {
  return packedBytes;
}

interface DataIdMap { get(id: object): WasmData; has(id: object): boolean }

/** Right operands up to this many elements always keep their packed copy (small weights and activations: cheap). */
const SMALL_OPERAND = 1 << 20;

/** Whether dataId holds a tf.Variable's current value (a weight, reused across calls). */
function isVariableData(dataId: object): boolean {
  const vars = tf.engine().state.registeredVariables;
  for (const name in vars) if (vars[name].dataId === dataId) return true;
  return false;
}

/**
 * Whether the right operand `d` (k x n floats) may be passed by its own id, i.e. keep its packed
 * copy. Large operands qualify only when they are a variable's value (a large activation, used
 * once, would only raise the peak memory of a training step) and within the budget.
 */
function mayCache(backend: BackendWasm, dataId: object, d: WasmData, elems: number): boolean {
  if (elems <= SMALL_OPERAND || packed.has(d.id)) return true;
  if (!isVariableData(dataId)) return false;
  const bytes = 4 * elems;
  const fits = () => packedBytes + bytes <= packedBudget && tf.memory().numBytes + packedBytes + bytes <= WASM_HEAP - HEAP_HEADROOM;
  if (!fits()) {
    // forget the copies of tensors disposed since (XNNPACK has already freed them)
    const map = backend.dataIdMap as unknown as DataIdMap;
    for (const [id, e] of packed) {
      if (!map.has(e.dataId) || map.get(e.dataId).id !== id) { packed.delete(id); packedBytes -= e.bytes; }
    }
    if (!fits()) return false;
  }
  packed.set(d.id, { dataId, bytes });
  packedBytes += bytes;
  return true;
}

/**
 * At most this many rows, a product with a transposed large right operand (the tied output head
 * in decoding: [B, d] @ E[V, d]^T) is computed as (E @ a^T)^T: E streams through XNNPACK as the
 * left operand, which needs no packed copy, and only the small a^T [d, B] is packed.
 */
const STREAM_MAX_ROWS = 64;
const STREAM_MIN_ELEMS = 1 << 20;

/** Below this many multiply-adds per slice, one call to the stock batched loop beats per-slice XNNPACK calls. */
const MIN_SLICE_MACS = 8192;

const fastBatchMatMul: KernelFunc = ({ inputs, backend: b, attrs }) => {
  const backend = b as unknown as BackendWasm;
  setupWasm(backend);
  const { a, b: bIn } = inputs as { a: TensorInfo; b: TensorInfo };
  const { transposeA, transposeB } = attrs as unknown as { transposeA: boolean; transposeB: boolean };
  if (a.dtype !== "float32" || bIn.dtype !== "float32") throw new Error("BatchMatMul: float32 only");
  const ar = a.shape.length, br = bIn.shape.length;
  const batchA = a.shape.slice(0, -2).reduce((x, y) => x * y, 1);
  const batchB = bIn.shape.slice(0, -2).reduce((x, y) => x * y, 1);
  const [aR, aC] = [a.shape[ar - 2], a.shape[ar - 1]];
  const [bR, bC] = [bIn.shape[br - 2], bIn.shape[br - 1]];
  const m = transposeA ? aC : aR, k = transposeA ? aR : aC;
  const kb = transposeB ? bC : bR, n = transposeB ? bR : bC;
  if (k !== kb) throw new Error(`matMul: inner shapes ${k} and ${kb} of ${a.shape} and ${bIn.shape} do not match`);
  if (batchA !== batchB && batchA !== 1 && batchB !== 1) {
    throw new Error(`matMul: batch shapes of ${a.shape} and ${bIn.shape} do not broadcast (only equal or 1 supported)`);
  }
  const outBatchShape = tf.backend_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), bIn.shape.slice(0, -2)); // e.g. [M,K] x [1,N,K]^T -> [1,M,N]
  const batch = Math.max(batchA, batchB);
  const out = backend.makeOutput([...outBatchShape, m, n], "float32");
  const outData = backend.dataIdMap.get(out.dataId);
  const blas = nativeBlas();
  if (blas) {
    // views only after the allocation (it may grow the heap and detach earlier views)
    const av = backend.typedArrayFromHeap(a) as Float32Array, bv = backend.typedArrayFromHeap(bIn) as Float32Array;
    const ov = backend.typedArrayFromHeap(out) as Float32Array;
    if (batchB === 1 && batchA > 1 && !transposeA) blas.sgemm(false, transposeB, 1, batchA * m, n, k, av, 0, bv, 0, ov); // shared right operand: one product
    else blas.sgemm(transposeA, transposeB, batch, m, n, k, av, batchA === 1 ? 0 : aR * aC, bv, batchB === 1 ? 0 : bR * bC, ov);
    return out;
  }
  if (batch > 1 && batchA === batchB && m * k * n < MIN_SLICE_MACS) {
    // 0) many tiny products (decoding: one query row per head): the stock loop, in one call
    const aD = backend.dataIdMap.get(a.dataId), bD = backend.dataIdMap.get(bIn.dataId);
    wasmBmm!(aD.id, shapeBytes([batch, aR, aC]), 3, bD.id, shapeBytes([batch, bR, bC]), 3, transposeA, transposeB, outData.id);
    return out;
  }
  if (transposeB && !transposeA && batch === 1 && m <= STREAM_MAX_ROWS && k * n >= STREAM_MIN_ELEMS) {
    // 0b) few rows against a large transposed right operand: out^T [N, M] = b [N, K] @ a^T [K, M]
    const aT = transposeLast2(backend, a, 1, m, k); // [K, M]
    const outT = backend.makeOutput([n, m], "float32");
    const bD = backend.dataIdMap.get(bIn.dataId), aTD = backend.dataIdMap.get(aT.dataId);
    mm2d(backend, { offset: bD.memoryOffset, id: bD.id }, { offset: aTD.memoryOffset, id: null }, backend.dataIdMap.get(outT.dataId).id, n, k, m);
    const outTId = backend.dataIdMap.get(outT.dataId).id;
    wasmTranspose!(outTId, shapeBytes([n, m]), 2, 0 /* float32 */, outData.id, shapeBytes([1, 0]), 2); // -> [M, N]
    for (const t of [aT, outT]) backend.disposeData(t.dataId);
    return out;
  }
  // 1) explicit transposes (the fast Transpose kernel), so every product is non-transposed
  const temps: TensorInfo[] = [];
  const aN = transposeA ? transposeLast2(backend, a, batchA, aR, aC) : a;
  if (transposeA) temps.push(aN);
  const bN = transposeB ? transposeLast2(backend, bIn, batchB, bR, bC) : bIn;
  if (transposeB) temps.push(bN);
  const aD = backend.dataIdMap.get(aN.dataId), bD = backend.dataIdMap.get(bN.dataId);
  if (batchB === 1) {
    // 2) shared right operand: one [batch*M, K] @ [K, N] product
    const bOp = { offset: bD.memoryOffset, id: mayCache(backend, bN.dataId, bD, k * n) ? bD.id : null };
    mm2d(backend, { offset: aD.memoryOffset, id: aD.id }, bOp, outData.id, batchA * m, k, n);
  } else {
    // 3) one product per slice, on views
    for (let i = 0; i < batch; i++) {
      const ai = batchA === 1 ? 0 : i;
      const oId = view(backend, outData.memoryOffset + 4 * i * m * n, m * n);
      mm2d(backend,
        batchA === 1 ? { offset: aD.memoryOffset, id: aD.id } : { offset: aD.memoryOffset + 4 * ai * m * k, id: null },
        { offset: bD.memoryOffset + 4 * i * k * n, id: null }, oId, m, k, n);
      backend.wasm.tfjs.disposeData(oId);
    }
  }
  for (const t of temps) backend.disposeData(t.dataId);
  return out;
};

/** Slice without copying the whole input first (the stock kernel calls readSync, a full copy). */
const fastSlice: KernelFunc = ({ inputs, backend: b, attrs }) => {
  const backend = b as unknown as BackendWasm;
  const { x } = inputs as { x: TensorInfo };
  const { begin, size } = attrs as unknown as { begin: number | number[]; size: number | number[] };
  const [begin_, size_] = tf.slice_util.parseSliceParams(x as tf.Tensor, begin, size);
  const out = backend.makeOutput(size_, x.dtype);
  const xVals = backend.typedArrayFromHeap(x);
  const outVals = backend.typedArrayFromHeap(out);
  copySlice(xVals, x.shape, begin_, size_, outVals);
  return out;
};

/** Copy the box [begin, begin+size) of a row-major array of `shape` into `out`. */
function copySlice(
  x: Float32Array | Int32Array | Uint8Array, shape: number[], begin: number[], size: number[],
  out: Float32Array | Int32Array | Uint8Array,
): void {
  const rank = shape.length;
  if (rank === 0) { out[0] = x[0]; return; }
  const strides = new Array<number>(rank);
  strides[rank - 1] = 1;
  for (let d = rank - 2; d >= 0; d--) strides[d] = strides[d + 1] * shape[d + 1];
  // merge the innermost contiguous run into one memcpy
  const inner = size[rank - 1];
  const outer = size.slice(0, -1).reduce((p, q) => p * q, 1);
  const idx = new Array<number>(Math.max(rank - 1, 0)).fill(0);
  let o = 0;
  for (let r = 0; r < outer; r++) {
    let off = begin[rank - 1];
    for (let d = 0; d < rank - 1; d++) off += (begin[d] + idx[d]) * strides[d];
    (out as Float32Array).set((x as Float32Array).subarray(off, off + inner), o);
    o += inner;
    for (let d = rank - 2; d >= 0; d--) {
      if (++idx[d] < size[d]) break;
      idx[d] = 0;
    }
  }
}

const fastUnpack: KernelFunc = ({ inputs, backend: b, attrs }) => {
  const backend = b as unknown as BackendWasm;
  const { value } = inputs as { value: TensorInfo };
  let { axis } = attrs as unknown as { axis: number };
  const rank = value.shape.length;
  if (axis < 0) axis += rank;
  const outShape = value.shape.filter((_, i) => i !== axis);
  const n = value.shape[axis];
  const begin = new Array<number>(rank).fill(0);
  const size = value.shape.slice();
  size[axis] = 1;
  // allocate every output before taking heap views: an allocation may grow the wasm memory, which
  // detaches every typed array taken on it earlier
  const made = Array.from({ length: n }, () => backend.makeOutput(size, value.dtype));
  const xVals = backend.typedArrayFromHeap(value);
  return made.map((out, i) => {
    begin[axis] = i;
    copySlice(xVals, value.shape, begin, size, backend.typedArrayFromHeap(out));
    return { dataId: out.dataId, dtype: out.dtype, shape: outShape };
  });
};

const sharedIdentity: KernelFunc = ({ inputs, backend: b }) => {
  const backend = b as unknown as BackendWasm;
  const { x } = inputs as { x: TensorInfo };
  if (x.dtype === "string") throw new Error("Identity: string tensors are not supported on wasm");
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
};

/** out[s, ...] = sum of data[i, ...] over i with segmentIds[i] = s (gradient of gather). */
const unsortedSegmentSum: KernelFunc = ({ inputs, backend: b, attrs }) => {
  const backend = b as unknown as BackendWasm;
  const { x, segmentIds } = inputs as { x: TensorInfo; segmentIds: TensorInfo };
  const { numSegments } = attrs as unknown as { numSegments: number };
  const inner = x.shape.slice(tf.util.sizeFromShape(segmentIds.shape) === 0 ? 1 : segmentIds.shape.length).reduce((p, q) => p * q, 1);
  const out = backend.makeOutput([numSegments, ...x.shape.slice(segmentIds.shape.length)], x.dtype);
  // views only after the allocation (it may grow the heap and detach earlier views)
  const ids = backend.typedArrayFromHeap(segmentIds);
  const xv = backend.typedArrayFromHeap(x) as Float32Array;
  const ov = backend.typedArrayFromHeap(out) as Float32Array;
  ov.fill(0);
  for (let i = 0; i < ids.length; i++) {
    const s = ids[i];
    if (s < 0 || s >= numSegments) continue;
    const src = i * inner, dst = s * inner;
    for (let j = 0; j < inner; j++) ov[dst + j] += xv[src + j];
  }
  return out;
};

/** SplitV through the copy-free slice (the stock one copies the whole input once per piece). */
const fastSplitV: KernelFunc = ({ inputs, backend: b, attrs }) => {
  const backend = b as unknown as BackendWasm;
  const { x } = inputs as { x: TensorInfo };
  const { numOrSizeSplits, axis } = attrs as unknown as { numOrSizeSplits: number | number[]; axis: number };
  const ax = tf.util.parseAxisParam(axis, x.shape)[0];
  const sizes = tf.backend_util.prepareSplitSize(x as tf.Tensor, numOrSizeSplits, ax);
  const begin = new Array<number>(x.shape.length).fill(0);
  const shapes = sizes.map((n) => {
    const size = x.shape.slice();
    size[ax] = n;
    return size;
  });
  // allocate every output before taking heap views (an allocation may grow the heap and detach them)
  const outs = shapes.map((size) => backend.makeOutput(size, x.dtype));
  const native = nativeBlas()?.kernels;
  if (native && x.dtype === "float32" && ax === x.shape.length - 1) {
    // along the last axis (q, k, v out of one projection): the addon's row copies
    const cols = x.shape[ax]!, rows = x.shape.slice(0, -1).reduce((p, q) => p * q, 1);
    const xv = backend.typedArrayFromHeap(x) as Float32Array;
    let from = 0;
    outs.forEach((out, i) => {
      native.copyColumns(xv, rows, cols, from, backend.typedArrayFromHeap(out) as Float32Array, sizes[i]!);
      from += sizes[i]!;
    });
    return outs;
  }
  const xVals = backend.typedArrayFromHeap(x);
  outs.forEach((out, i) => {
    copySlice(xVals, x.shape, begin, shapes[i]!, backend.typedArrayFromHeap(out));
    begin[ax] += sizes[i]!;
  });
  return outs;
};

const kernels: KernelConfig[] = [
  { kernelName: "SplitV", backendName: "wasm", kernelFunc: fastSplitV },
  { kernelName: "BatchMatMul", backendName: "wasm", kernelFunc: fastBatchMatMul },
  { kernelName: "Slice", backendName: "wasm", kernelFunc: fastSlice },
  { kernelName: "Unpack", backendName: "wasm", kernelFunc: fastUnpack },
  { kernelName: "UnsortedSegmentSum", backendName: "wasm", kernelFunc: unsortedSegmentSum },
  { kernelName: "Identity", backendName: "wasm", kernelFunc: sharedIdentity },
];

let registered = false;

/** Replace/add the kernels above on the wasm backend. Idempotent. */
export function registerWasmKernels(): void {
  if (registered) return;
  registered = true;
  const stockGather = tf.getKernel("GatherV2", "wasm");
  if (!stockGather) throw new Error("tfjs-backend-wasm registered no GatherV2 kernel");
  // the native kernels last: their GatherV2 and UnsortedSegmentSum fall back to the ones before
  for (const k of [...kernels, ...nativeKernelConfigs(stockGather, unsortedSegmentSum)]) {
    if (tf.getKernel(k.kernelName, "wasm")) tf.unregisterKernel(k.kernelName, "wasm");
    tf.registerKernel(k);
  }
}

/**
 * A float32 tensor on the wasm heap whose values are whatever the allocator left there: for a
 * buffer every element of which is written before it is read (a KV cache), so that allocating it
 * costs no pass of zeros (tf.zeros fills a JavaScript array and copies it in).
 */
export function uninitializedTensor(shape: number[]): tf.Tensor {
  if (tf.getBackend() !== "wasm") throw new Error("uninitializedTensor: the wasm backend only");
  const backend = tf.backend() as unknown as BackendWasm;
  const info = backend.makeOutput(shape, "float32");
  return tf.engine().makeTensorFromTensorInfo(info);
}

/**
 * A head-major KV cache dst [B, KV, capacity, hd] gets the new keys or values src [B, T, KV, hd]
 * (a projection's layout) at positions at .. at + T - 1, written into dst's wasm heap memory in
 * place by the native addon. TF.js tensors are otherwise immutable: only a tensor its caller
 * created and never hands out (src/model/kv-cache.ts) may be written this way.
 */
export function writeKVInPlace(dst: tf.Tensor, src: tf.Tensor, at: number): void {
  const k = nativeBlas()?.kernels;
  if (tf.getBackend() !== "wasm" || !k) throw new Error("writeKVInPlace: the wasm backend with the native addon only");
  const backend = tf.backend() as unknown as BackendWasm;
  const [B = 0, KV = 0, cap = 0, hd = 0] = dst.shape, [Bs, T = 0, KVs, hds] = src.shape;
  if (dst.rank !== 4 || src.rank !== 4 || Bs !== B || KVs !== KV || hds !== hd || dst.dtype !== "float32" || src.dtype !== "float32") {
    throw new Error(`writeKVInPlace: [${src.shape}] does not fit the cache [${dst.shape}]`);
  }
  k.kvWrite(backend.typedArrayFromHeap(dst) as Float32Array, backend.typedArrayFromHeap(src) as Float32Array, B, T, KV, hd, cap, at);
}
