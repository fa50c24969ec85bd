/**
 * Backend resolver: tensorflow (tfjs-node-gpu, then tfjs-node, when installed and loadable),
 * then wasm (the default here), then cpu. `opts.backend` or the STEPWISE_BACKEND environment
 * variable forces one. On wasm, matrix products go to a native BLAS and attention, the norms and
 * the activations to the addon's fused kernels when Stepwise's optional addon is built and a BLAS
 * loads (native.ts, native-kernels.ts: "wasm; matrix products on OpenBLAS ... and fused kernels"),
 * else to XNNPACK and TF.js's wasm kernels (wasm-kernels.ts); `detail` says which. Idempotent: a second call with the same request returns the same answer.
 *
 * GPU: a user with CUDA runs `npm install @tensorflow/tfjs-node-gpu` (or `@tensorflow/tfjs-node`
 * for native CPU kernels); the resolver picks it up, no code change. They are optional on
 * purpose: never imported statically, so `npm install` works without them.
 */
import * as tf from "@tensorflow/tfjs-core";
import "./gradients.js";
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-wasm";
import { registerWasmKernels } from "./wasm-kernels.js";
import { nativeStatus } from "./native.js";

export type BackendName = "tensorflow" | "wasm" | "cpu";

export interface BackendOptions {
  /** force one backend (else STEPWISE_BACKEND, else the first that loads) */
  backend?: BackendName;
}

export interface BackendInfo {
  /** tf.getBackend() after initialisation: "tensorflow", "wasm" or "cpu" */
  name: string;
  /** human-readable: package and features, e.g. "wasm (@tensorflow/tfjs-backend-wasm, SIMD, XNNPACK fast paths)" */
  detail: string;
}

const BACKENDS: readonly BackendName[] = ["tensorflow", "wasm", "cpu"];

let cached: { key: string; info: Promise<BackendInfo> } | null = null;

/** The requested backend: the option, else STEPWISE_BACKEND, else undefined (auto). */
export function requestedBackend(opts?: BackendOptions): BackendName | undefined {
  const raw = opts?.backend ?? process.env.STEPWISE_BACKEND;
  if (raw === undefined || raw === "" || raw === "auto") return undefined;
  if (!(BACKENDS as readonly string[]).includes(raw)) {
    throw new Error(`unknown backend "${raw}" (from ${opts?.backend ? "the backend option" : "STEPWISE_BACKEND"}): use one of ${BACKENDS.join(", ")}`);
  }
  return raw as BackendName;
}

/** Pick and activate a backend; see the module comment for the order. */
export function initBackend(opts?: BackendOptions): Promise<BackendInfo> {
  const forced = requestedBackend(opts);
  const key = forced ?? "auto";
  if (cached && cached.key === key) return cached.info;
  const info = resolve(forced);
  cached = { key, info };
  info.catch(() => { if (cached?.info === info) cached = null; });
  return info;
}

async function resolve(forced: BackendName | undefined): Promise<BackendInfo> {
  const order = forced ? [forced] : BACKENDS;
  const failures: string[] = [];
  for (const name of order) {
    try {
      const detail = await activate(name);
      return { name: tf.getBackend(), detail };
    } catch (err) {
      failures.push(`${name}: ${(err as Error).message.split("\n")[0]}`);
    }
  }
  throw new Error(`no TensorFlow.js backend could be started (${failures.join("; ")})`);
}

/** Dynamic import whose specifier TypeScript does not resolve (the package may be absent). */
async function optionalImport(specifier: string): Promise<unknown> {
  return import(specifier);
}

async function activate(name: BackendName): Promise<string> {
  if (name === "tensorflow") {
    const tried: string[] = [];
    for (const pkg of ["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node"]) {
      try {
        await optionalImport(pkg);
      } catch (err) {
        tried.push(`${pkg} not loadable (${(err as Error).message.split("\n")[0].slice(0, 120)})`);
        continue;
      }
      // The native package must register on this tfjs-core instance (same version).
      if (!tf.findBackendFactory("tensorflow")) {
        tried.push(`${pkg} loaded but registered no "tensorflow" backend on this @tensorflow/tfjs-core (version mismatch?)`);
        continue;
      }
      if (!(await tf.setBackend("tensorflow"))) throw new Error(`${pkg}: setBackend("tensorflow") failed`);
      await tf.ready();
      return `tensorflow (${pkg}, native TensorFlow)`;
    }
    throw new Error(tried.join("; "));
  }
  if (name === "wasm") {
    registerWasmKernels();
    if (!(await tf.setBackend("wasm"))) throw new Error("setBackend(\"wasm\") failed");
    await tf.ready();
    const simd = await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT");
    const wasm = `wasm (@tensorflow/tfjs-backend-wasm, ${simd ? "SIMD" : "no SIMD"}`;
    const native = nativeStatus();
    if (native.blas) return `${wasm}; matrix products on ${native.blas.detail} and fused kernels (attention, norms, activations) through the native addon)`;
    return `${wasm}, Stepwise XNNPACK fast-path kernels; native addon not used: ${native.reason})`;
  }
  if (!(await tf.setBackend("cpu"))) throw new Error("setBackend(\"cpu\") failed");
  await tf.ready();
  return "cpu (@tensorflow/tfjs-backend-cpu, plain JavaScript)";
}

/** Forget the cached choice (tests). The active tfjs backend is left as it is. */
export function resetBackendCache(): void {
  cached = null;
}
