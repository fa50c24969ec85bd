/**
 * Memory a model needs, known before anything is allocated: from a config (parameter count from
 * the layout the config implies) or from safetensors headers (src/model/checkpoint.ts
 * checkMemory), against what the backend can give tensors. A config.json claiming a billion
 * layers is refused here with the field named, instead of ending in a V8 heap-out-of-memory.
 */
import * as os from "node:os";
import { hfLayout } from "./transformer.js";
import type { ModelConfig } from "./types.js";

/** The wasm backend addresses at most 4 GiB: tfjs-backend-wasm 4.22's .wasm files declare a maximum of 65536 pages of 64 KiB. */
const WASM_HEAP_BYTES = 4 * 2 ** 30;
/**
 * Training with AdamW holds the weights, their gradients and two moments: about 4x the weights
 * (activations come on top, and an RL run's frozen reference copy adds 1x more).
 */
export const TRAINING_MEMORY_FACTOR = 4;

/** Memory a backend can give tensors: the wasm heap limit, else this machine's RAM. */
export function memoryBudget(backend: string): { bytes: number; what: string } {
  if (backend === "wasm") return { bytes: WASM_HEAP_BYTES, what: "the wasm backend's 4 GiB heap" };
  const ram = os.totalmem();
  return { bytes: ram, what: `this machine's ${gib(ram)} of RAM (${backend} backend)` };
}

export function gib(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(2)} GiB`;
}

/**
 * Parameters of the model a config describes, without building its layout: the layout of one
 * and of two layers (hfLayout, so no second formula to drift) gives the per-layer and the fixed
 * part; layers × per-layer + fixed is exact.
 * @example configParams(gptConfig({ layers: 12, width: 768, heads: 12, vocabSize: 50257, contextLength: 1024 })) // 124439808
 */
export function configParams(c: ModelConfig): number {
  const count = (layers: number) => hfLayout({ ...c, layers }).reduce((a, s) => a + s.shape.reduce((x, y) => x * y, 1), 0);
  const one = count(1);
  const perLayer = count(2) - one;
  return one - perLayer + c.layers * perLayer;
}

/** The config.json field of each size of a ModelConfig, per family (what a message names). */
export const HF_SIZE_FIELDS: Record<ModelConfig["family"], Partial<Record<keyof ModelConfig, string>>> = {
  gpt2: { layers: "n_layer", width: "n_embd", ffnWidth: "n_inner", vocabSize: "vocab_size", contextLength: "n_positions" },
  llama: { layers: "num_hidden_layers", width: "hidden_size", ffnWidth: "intermediate_size", vocabSize: "vocab_size", contextLength: "max_position_embeddings" },
};

const SIZES = ["layers", "width", "ffnWidth", "vocabSize", "contextLength"] as const;

export interface ConfigMemoryOptions {
  /** the backend whose budget applies */
  backend: string;
  /** memory available, instead of the backend's (tests) */
  limitBytes?: number;
  /** multiple of the f32 weights the run holds (TRAINING_MEMORY_FACTOR for AdamW training, +1 per frozen copy) */
  factor: number;
  /** field names for the message, per ModelConfig size (default: config.json's, HF_SIZE_FIELDS) */
  fields?: Partial<Record<keyof ModelConfig, string>>;
}

/**
 * Throws `makeError(message)` when the model `c` describes needs more memory than the budget,
 * naming the size field most to blame: the one whose reduction to 1 shrinks the model most.
 * Called before any tensor or layout is allocated (config.json loading, fresh `model gpt`).
 */
export function checkConfigMemory(c: ModelConfig, opts: ConfigMemoryOptions, makeError: (message: string) => Error): void {
  const budget = opts.limitBytes !== undefined ? { bytes: opts.limitBytes, what: `the memory limit of ${gib(opts.limitBytes)}` } : memoryBudget(opts.backend);
  const params = configParams(c);
  const need = params * 4 * opts.factor;
  if (need <= budget.bytes) return;
  const fields = opts.fields ?? HF_SIZE_FIELDS[c.family];
  let worst: (typeof SIZES)[number] = "layers";
  let least = Infinity;
  for (const k of SIZES) {
    if (!fields[k]) continue;
    const p = configParams({ ...c, [k]: 1, ...(k === "width" ? { heads: 1, kvHeads: 1 } : {}) });
    if (p < least) [least, worst] = [p, k];
  }
  throw makeError(
    `${fields[worst]} ${c[worst]} makes the model ${(params / 1e6).toFixed(1)}M parameters = ${gib(params * 4)} as f32; ` +
      `the run needs about ${opts.factor}x that = ${gib(need)}, more than ${budget.what}. Nothing was allocated. ` +
      `Check ${fields[worst]} (a smaller model, or a machine or backend with more memory).`,
  );
}
