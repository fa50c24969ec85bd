/**
 * The optional native path: matrix products on a CBLAS (OpenBLAS by default) through Stepwise's
 * N-API addon (native/stepwise_native.c, built by `npm install` when a C compiler is present).
 * The wasm backend's BatchMatMul (wasm-kernels.ts) calls it on views of the tensors' heap memory;
 * every other kernel stays on wasm. Without the addon or a BLAS, `nativeBlas()` is null and the
 * products run on XNNPACK as before.
 *
 * Environment:
 *   STEPWISE_NATIVE=0        never load it (the plain wasm path)
 *   STEPWISE_BLAS=PATH       the CBLAS library to open (default libopenblas.so.0, then libopenblas.so, libblas.so.3)
 *   STEPWISE_THREADS=N       BLAS threads (default: the machine's cores, os.availableParallelism())
 *   OPENBLAS_CORETYPE        left as the user set it; when unset and the CPU has AVX-512 (else AVX2 + FMA), set to
 *                            SkylakeX (else Haswell) before the library loads: Debian's OpenBLAS 0.3.21 does not
 *                            recognise recent processors and falls back to its slowest kernel (5x slower per
 *                            thread here, /work/shared/PERF-FACTS.md)
 *   OPENBLAS_THREAD_TIMEOUT  left as set; else 4 (worker threads sleep almost at once after a product instead of
 *                            spinning ~0.1 s, which would take the second core from the wasm kernels in between)
 */
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The fused kernels of native/kernels.c (the formulas are there). Arrays are views on the wasm
 * heap; each call checks every array against the sizes it is given.
 */
export interface NativeKernels {
  gelu(x: Float32Array, y: Float32Array): void;
  geluGrad(x: Float32Array, dy: Float32Array, dx: Float32Array): void;
  layerNorm(x: Float32Array, w: Float32Array, b: Float32Array, y: Float32Array, mean: Float32Array, rstd: Float32Array, rows: number, cols: number, eps: number): void;
  layerNormGrad(x: Float32Array, w: Float32Array, dy: Float32Array, mean: Float32Array, rstd: Float32Array, dx: Float32Array, dw: Float32Array, db: Float32Array, rows: number, cols: number): void;
  rmsNorm(x: Float32Array, w: Float32Array, y: Float32Array, rstd: Float32Array, rows: number, cols: number, eps: number): void;
  rmsNormGrad(x: Float32Array, w: Float32Array, dy: Float32Array, rstd: Float32Array, dx: Float32Array, dw: Float32Array, rows: number, cols: number): void;
  gatherRows(table: Float32Array, ids: Int32Array, out: Float32Array, cols: number): void;
  scatterAddRows(x: Float32Array, ids: Int32Array, out: Float32Array, cols: number): void;
  /** q [B, T, H, hd]; k, v [B, Tc, KV, hd] (headMajor: [B, KV, Tc, hd]) of which the first Tp + T positions are used; keyMask [B, Tp + T] */
  attention(q: Float32Array, k: Float32Array, v: Float32Array, keyMask: Float32Array | null, o: Float32Array, lse: Float32Array,
    B: number, T: number, Tc: number, H: number, KV: number, hd: number, Tp: number, scale: number, headMajor: boolean): void;
  attentionGrad(q: Float32Array, k: Float32Array, v: Float32Array, keyMask: Float32Array | null, o: Float32Array, lse: Float32Array,
    dO: Float32Array, dq: Float32Array, dk: Float32Array, dv: Float32Array,
    B: number, T: number, Tc: number, H: number, KV: number, hd: number, Tp: number, scale: number, headMajor: boolean): void;
  /** y[n, out] = x[n, in] @ w[in, out] (+ b) (+ residual [n, out]) */
  linear(x: Float32Array, w: Float32Array, b: Float32Array | null, residual: Float32Array | null, y: Float32Array, n: number, inDim: number, out: number): void;
  /** cache [B, KV, Tc, hd] gets x [B, T, KV, hd] at positions at .. at + T - 1, in place */
  kvWrite(cache: Float32Array, x: Float32Array, B: number, T: number, KV: number, hd: number, Tc: number, at: number): void;
  /** dst[r, :] = src[r, from : from + width] for r < rows (src has srcCols columns) */
  copyColumns(src: Float32Array, rows: number, srcCols: number, from: number, dst: Float32Array, width: number): void;
  /** x, y [B, T, heads, hd] (rows = B T heads); cos, sin [cosBatch, T, hd]; inverse: the gradient */
  rope(x: Float32Array, cos: Float32Array, sin: Float32Array, y: Float32Array, rows: number, heads: number, T: number, hd: number, cosBatch: number, inverse: boolean): void;
  swiglu(g: Float32Array, u: Float32Array, y: Float32Array): void;
  swigluGrad(g: Float32Array, u: Float32Array, dy: Float32Array, dg: Float32Array, du: Float32Array): void;
  /** the sum of x, read once by the addon's threads (the bench's measure of their read bandwidth) */
  sumAll(x: Float32Array): number;
}

/** The addon's exports (native/stepwise_native.c, native/kernels.c). */
interface Addon extends NativeKernels {
  load(paths: string[]): string | null;
  sgemm(transA: boolean, transB: boolean, batch: number, m: number, n: number, k: number,
    a: Float32Array, aStride: number, b: Float32Array, bStride: number, c: Float32Array): void;
  setThreads(n: number): void;
  threads(): number;
  info(): { library: string | null; corename: string | null; config: string | null };
  /** the interface version (absent before version 2) */
  abi?: () => number;
}

export interface NativeBlas {
  /**
   * for i < batch: C_i[m, n] = op(A_i) @ op(B_i), row-major, op = transpose when asked;
   * A_i starts at a[i * aStride] (0: one A shared by every i), likewise B_i; C_i at c[i * m * n].
   */
  sgemm(transA: boolean, transB: boolean, batch: number, m: number, n: number, k: number,
    a: Float32Array, aStride: number, b: Float32Array, bStride: number, c: Float32Array): void;
  /** the fused kernels (native/kernels.c), on the same threads */
  kernels: NativeKernels;
  /** e.g. "OpenBLAS 0.3.21 (SkylakeX kernels, 2 threads)" */
  detail: string;
  threads: number;
}

export interface NativeStatus {
  blas: NativeBlas | null;
  /** why there is none (null when loaded) */
  reason: string | null;
}

const ADDON = path.join("native", "build", "stepwise_native.node");
/** the addon's interface version this file is written for (STEPWISE_NATIVE_ABI in native/stepwise_native.c) */
const NATIVE_ABI = 2;

let status: NativeStatus | null = null;
/** products handed to the BLAS so far (tests check that a path really ran) */
let calls = 0;

/** How many products the native path has computed in this process. */
export function nativeCalls(): number {
  return calls;
}

/** The addon file: native/build/ under the package root (this file lives in src/backend/ or dist/src/backend/). */
function addonPath(): string | null {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const p = path.join(dir, ADDON);
    if (existsSync(p)) return p;
    dir = path.dirname(dir);
  }
  return null;
}

function cpuFlags(): Set<string> {
  try {
    return new Set((/flags\s*:\s*(.*)/.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? "").split(" "));
  } catch {
    return new Set();
  }
}

/** Threads for the BLAS: STEPWISE_THREADS, else the machine's cores. */
export function blasThreads(): number {
  const raw = process.env.STEPWISE_THREADS;
  if (raw !== undefined && raw !== "") {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1) throw new Error(`STEPWISE_THREADS must be a whole number >= 1, got "${raw}"`);
    return n;
  }
  return os.availableParallelism();
}

/** A product checked against plain JavaScript, transposes included: a BLAS that loads but computes wrong is refused. */
function selfTest(addon: Addon): string | null {
  const m = 37, n = 29, k = 41;
  const a = Float32Array.from({ length: k * m }, (_, i) => ((i * 7) % 13) / 13 - 0.5); // stored [k, m] (transA)
  const b = Float32Array.from({ length: n * k }, (_, i) => ((i * 5) % 11) / 11 - 0.5); // stored [n, k] (transB)
  const c = new Float32Array(m * n);
  addon.sgemm(true, true, 1, m, n, k, a, 0, b, 0, c);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += a[p * m + i] * b[j * k + p];
      if (!(Math.abs(c[i * n + j] - s) <= 1e-4)) return `the BLAS computed ${c[i * n + j]} where ${s} was expected`;
    }
  }
  return null;
}

function load(): NativeStatus {
  if (process.env.STEPWISE_NATIVE === "0") return { blas: null, reason: "STEPWISE_NATIVE=0" };
  const file = addonPath();
  if (!file) return { blas: null, reason: "the native addon is not built (npm run build:native; needs a C compiler)" };
  let addon: Addon;
  try {
    addon = createRequire(import.meta.url)(file) as Addon;
  } catch (err) {
    return { blas: null, reason: `the native addon ${file} does not load: ${(err as Error).message.split("\n")[0]}` };
  }
  // the version covers every export NativeKernels names: an older addon is refused, not half used
  const abi = typeof addon.abi === "function" ? addon.abi() : 0;
  if (abi !== NATIVE_ABI) {
    return { blas: null, reason: `the native addon ${file} is out of date (interface ${abi}, expected ${NATIVE_ABI}): npm run build:native` };
  }
  if (process.env.OPENBLAS_CORETYPE === undefined) {
    const f = cpuFlags();
    if (f.has("avx512f")) process.env.OPENBLAS_CORETYPE = "SkylakeX";
    else if (f.has("avx2") && f.has("fma")) process.env.OPENBLAS_CORETYPE = "Haswell";
  }
  process.env.OPENBLAS_THREAD_TIMEOUT ??= "4";
  const libs = process.env.STEPWISE_BLAS ? [process.env.STEPWISE_BLAS] : ["libopenblas.so.0", "libopenblas.so", "libblas.so.3"];
  const err = addon.load(libs);
  if (err !== null) return { blas: null, reason: `no BLAS library loads (${err}; apt-get install libopenblas0)` };
  const threads = blasThreads();
  addon.setThreads(threads);
  const bad = selfTest(addon);
  if (bad) return { blas: null, reason: `the BLAS ${addon.info().library} failed its self-test: ${bad}` };
  const info = addon.info();
  const version = /^(OpenBLAS [\d.]+)/.exec(info.config ?? "")?.[1] ?? info.library ?? "BLAS";
  const actual = addon.threads();
  return {
    blas: {
      sgemm: (...args) => { calls++; addon.sgemm(...args); },
      kernels: addon,
      detail: `${version} (${info.corename ? `${info.corename} kernels, ` : ""}${actual} thread${actual === 1 ? "" : "s"})`,
      threads: actual,
    },
    reason: null,
  };
}

/** Load the addon and its BLAS once; see the module comment. */
export function nativeStatus(): NativeStatus {
  status ??= load();
  return status;
}

let enabled = true;

/**
 * The BLAS the matrix products (and the fused kernels, `.kernels`) use now: null when absent or
 * switched off with useNativeBlas(false).
 */
export function nativeBlas(): NativeBlas | null {
  return enabled ? nativeStatus().blas : null;
}

/**
 * Switch the native products on or off at run time (tests and the bench compare both paths in
 * one process). Returns the previous setting.
 */
export function useNativeBlas(on: boolean): boolean {
  const was = enabled;
  enabled = on;
  return was;
}
