/**
 * Checkpoints: a Stepwise checkpoint directory, and loading a local Hugging Face model directory.
 *
 *   <dir>/config.json              Hugging Face config (src/model/hf-config.ts)
 *   <dir>/model.safetensors        weights in the Hugging Face layout and names (F32)
 *   <dir>/tokenizer.json           the tokenizer (ours, or the HF tokenizer.json + tokenizer_config.json)
 *   <dir>/optimizer.safetensors    AdamW moments "exp_avg.<param>", "exp_avg_sq.<param>" (our layout); step in metadata
 *   <dir>/state.json               free-form training state (stage, iteration, RNG state, metrics); always written
 *
 * A save goes to a temporary sibling directory that is renamed into place, so an interrupted save
 * never leaves a half-written checkpoint under the final name. Every problem found while loading
 * is a CheckpointError naming the file and the problem; the memory a model needs is checked from
 * the safetensors headers before any tensor is read.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { faultPoint } from "../faults.js";
import { CheckpointError } from "../io/errors.js";
import { readSafetensors, writeSafetensors, type FloatTensor, type WritableTensor } from "../io/safetensors.js";
import { WEIGHTS_FILE, WeightSource } from "../io/weights.js";
import { loadTokenizer, saveTokenizer } from "../tokenizer/index.js";
import type { Tokenizer } from "../tokenizer/types.js";
import { AdamW, disposeState, type AdamWState } from "../train/optimizer.js";
import { configFromHf, configToHf } from "./hf-config.js";
import { checkConfigMemory, gib, memoryBudget, TRAINING_MEMORY_FACTOR } from "./memory.js";
import { Transformer, hfLayout, type ParamSpec } from "./transformer.js";
import type { ModelConfig } from "./types.js";

export const CONFIG_FILE = "config.json";
export const TOKENIZER_FILE = "tokenizer.json";
export const OPTIMIZER_FILE = "optimizer.safetensors";
export const STATE_FILE = "state.json";

export interface SaveCheckpointInput {
  model: Transformer;
  tokenizer: Tokenizer;
  /** an AdamW (its state is read) or a state from getState() */
  optimizer?: AdamW | AdamWState;
  /** free-form, JSON-serialisable training state (stage, iteration, RNG state, metrics) */
  state?: unknown;
}

export interface LoadOptions {
  /** memory available to tensors, in bytes; default: the current backend's (see memoryBudget) */
  memoryLimitBytes?: number;
  /** backend whose budget applies; default tf.getBackend() */
  backend?: string;
  /** true (default): budget for AdamW training (~4x the weights); false: inference only (~1x) */
  forTraining?: boolean;
  /** the model's variables are trainable (default true) */
  trainable?: boolean;
}

export interface LoadedCheckpoint {
  model: Transformer;
  tokenizer: Tokenizer;
  /** AdamW state to pass to optimizer.setState (then disposeState); absent when none was saved */
  optimizerState?: AdamWState;
  /** state.json's content; absent when the file is not there */
  state?: unknown;
}

export interface LoadedHfModel {
  model: Transformer;
  tokenizer: Tokenizer;
  config: ModelConfig;
}

// ---------------------------------------------------------------------------------------------
// memory

// memoryBudget, TRAINING_MEMORY_FACTOR: src/model/memory.ts (re-exported for the loaders' callers)
export { memoryBudget, TRAINING_MEMORY_FACTOR } from "./memory.js";

/**
 * Refuse, before anything is read, a model whose f32 weights (times the training factor) would not
 * fit the backend. `params` comes from the safetensors headers.
 */
export function checkMemory(file: string, params: number, opts: LoadOptions = {}): void {
  const backend = opts.backend ?? tf.getBackend() ?? "cpu";
  const budget =
    opts.memoryLimitBytes !== undefined
      ? { bytes: opts.memoryLimitBytes, what: `the memory limit of ${gib(opts.memoryLimitBytes)}` }
      : memoryBudget(backend);
  const training = opts.forTraining ?? true;
  const weights = params * 4; // f32 in memory, whatever the dtype on disk
  const need = training ? weights * TRAINING_MEMORY_FACTOR : weights;
  if (need <= budget.bytes) return;
  const m = (params / 1e6).toFixed(1);
  const how = training
    ? `training with AdamW needs about ${TRAINING_MEMORY_FACTOR}x that (weights, gradients, two moments) = ${gib(need)}`
    : `inference needs at least that`;
  throw new CheckpointError(
    file,
    `too large: ${m}M parameters = ${gib(weights)} as f32; ${how}, more than ${budget.what}. ` +
      (backend === "wasm"
        ? "Use a smaller model, or install @tensorflow/tfjs-node (the tensorflow backend is limited only by RAM)."
        : "Use a smaller model or a machine with more memory."),
  );
}

// ---------------------------------------------------------------------------------------------
// weights <-> model

/** Tensors found in HF files that are buffers, not parameters (safe to ignore). */
const IGNORED = [/\.attn\.bias$/, /\.attn\.masked_bias$/, /rotary_emb\.inv_freq$/];
/** Prefixes HF adds or drops depending on the class that saved the file. */
const PREFIXES = ["", "transformer.", "model."];

/** The name in `src` that holds parameter `name` (tolerating a "transformer."/"model." prefix). */
function findName(src: WeightSource, name: string): string | undefined {
  for (const p of PREFIXES) {
    if (src.has(p + name)) return p + name;
    if (p && name.startsWith(p) && src.has(name.slice(p.length))) return name.slice(p.length);
  }
  return undefined;
}

/** 2-D transpose of row-major data: [rows, cols] -> [cols, rows], in 32x32 tiles (cache-friendly for big matrices). */
export function transpose2d(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  const B = 32;
  for (let r0 = 0; r0 < rows; r0 += B) {
    const r1 = Math.min(rows, r0 + B);
    for (let c0 = 0; c0 < cols; c0 += B) {
      const c1 = Math.min(cols, c0 + B);
      for (let r = r0; r < r1; r++) {
        const base = r * cols;
        for (let c = c0; c < c1; c++) out[c * rows + r] = data[base + c]!;
      }
    }
  }
  return out;
}

function describeConfig(c: ModelConfig): string {
  return `${c.family}, ${c.layers} layers, width ${c.width}, ${c.heads} heads (${c.kvHeads} kv), ffn ${c.ffnWidth}, vocab ${c.vocabSize}, context ${c.contextLength}`;
}

/**
 * Match the weights against the layout the config implies: every parameter present with its HF
 * shape, nothing unexplained left over. Returns spec -> tensor name in the files.
 */
function matchLayout(src: WeightSource, specs: ParamSpec[], config: ModelConfig, configFile: string): Map<ParamSpec, string> {
  const found = new Map<ParamSpec, string>();
  const used = new Set<string>();
  const weightsName = path.basename(src.files.length === 1 ? src.files[0]! : "model.safetensors.index.json");
  for (const s of specs) {
    const name = findName(src, s.name);
    if (name === undefined) {
      throw new CheckpointError(
        src.files.length === 1 ? src.files[0]! : src.dir,
        `tensor "${s.name}" is missing, but ${path.basename(configFile)} (${describeConfig(config)}) needs it`,
      );
    }
    const e = src.entries.get(name)!;
    if (e.info.shape.length !== s.hfShape.length || e.info.shape.some((d, i) => d !== s.hfShape[i])) {
      throw new CheckpointError(
        e.file,
        `tensor "${name}" has shape [${e.info.shape.join(", ")}] but ${path.basename(configFile)} (${describeConfig(config)}) implies [${s.hfShape.join(", ")}]`,
      );
    }
    found.set(s, name);
    used.add(name);
  }
  const extra = src.names().filter((n) => !used.has(n) && !IGNORED.some((re) => re.test(n)) && !(config.tieEmbeddings && /(^|\.)lm_head\.weight$/.test(n)));
  if (extra.length) {
    throw new CheckpointError(
      src.files.length === 1 ? src.files[0]! : src.dir,
      `${extra.length} tensor(s) that ${path.basename(configFile)} (${describeConfig(config)}) does not explain, e.g. "${extra.slice(0, 3).join('", "')}" (${weightsName}: does the config match the weights?)`,
    );
  }
  return found;
}

/** Read config.json of a directory. */
function readConfig(dir: string): { config: ModelConfig; file: string } {
  const file = path.join(dir, CONFIG_FILE);
  if (!fs.existsSync(file)) throw new CheckpointError(file, "missing (a model directory needs config.json)");
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    throw new CheckpointError(file, `not valid JSON (${(e as Error).message})`);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw new CheckpointError(file, "not a JSON object");
  return { config: configFromHf(json as Record<string, unknown>, file), file };
}

/** Load config + weights of a directory into a Transformer (memory checked first). */
function loadModel(dir: string, opts: LoadOptions): { model: Transformer; config: ModelConfig } {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new CheckpointError(dir, "not a directory");
  const { config, file: configFile } = readConfig(dir);
  const src = WeightSource.open(dir);
  try {
    // 1) memory, from the headers alone (buffers such as rotary inv_freq do not count)
    let params = 0;
    for (const [name, e] of src.entries) if (!IGNORED.some((re) => re.test(name))) params += e.info.shape.reduce((a, b) => a * b, 1);
    checkMemory(src.files.length === 1 ? src.files[0]! : src.dir, params, opts);
    // 1b) memory, from the config's sizes, before its layout is built (a config.json claiming a billion layers over small weights)
    const training = opts.forTraining ?? true;
    checkConfigMemory(
      config,
      { backend: opts.backend ?? tf.getBackend() ?? "cpu", limitBytes: opts.memoryLimitBytes, factor: training ? TRAINING_MEMORY_FACTOR : 1 },
      (message) => new CheckpointError(configFile, message),
    );
    // 2) every parameter the config implies, with its shape; nothing unexplained
    const specs = hfLayout(config);
    const byName = matchLayout(src, specs, config, configFile);
    // 3) read, transpose to our layout, build
    const tensors = new Map<string, tf.Tensor>();
    try {
      for (const s of specs) {
        const name = byName.get(s)!;
        const t = src.read(name);
        checkFinite(t.data, name, src.entries.get(name)!.file);
        const data = s.transpose ? transpose2d(t.data, s.hfShape[0]!, s.hfShape[1]!) : t.data;
        tensors.set(s.name, tf.tensor(data, s.shape, "float32"));
      }
      const model = Transformer.fromParams(config, tensors, opts.trainable ?? true);
      return { model, config };
    } finally {
      tf.dispose([...tensors.values()]);
    }
  } finally {
    src.close();
  }
}

/**
 * Refuses a tensor with a NaN or infinite value: loaded silently, it would make the first update
 * non-finite and the run would blame the learning rate.
 */
function checkFinite(data: Float32Array, name: string, file: string): void {
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i]!)) {
      let bad = 0;
      for (let j = i; j < data.length; j++) if (!Number.isFinite(data[j]!)) bad++;
      throw new CheckpointError(file, `tensor "${name}" holds ${bad} non-finite value(s) (the first, ${data[i]}, at flat index ${i}): the weights are corrupt`);
    }
  }
}

/**
 * The model's parameters in HF layout and names (transposed back where the spec says), each read
 * from the backend only when the writer reaches it, so a save holds one extra tensor at a time.
 */
function modelTensors(model: Transformer): Map<string, WritableTensor> {
  const out = new Map<string, WritableTensor>();
  for (const s of hfLayout(model.config)) {
    const v = model.params.get(s.name);
    if (!v) throw new Error(`saveCheckpoint: the model has no parameter "${s.name}"`);
    const read = () => {
      const data = v.dataSync() as Float32Array;
      return s.transpose ? transpose2d(data, s.shape[0]!, s.shape[1]!) : data;
    };
    out.set(s.name, { shape: s.hfShape, data: read });
  }
  return out;
}

function loadTokenizerChecked(dir: string, config: ModelConfig): Tokenizer {
  const file = path.join(dir, TOKENIZER_FILE);
  if (!fs.existsSync(file)) throw new CheckpointError(file, "missing (the tokenizer is stored next to the weights)");
  let tok: Tokenizer;
  try {
    tok = loadTokenizer(dir);
  } catch (e) {
    if (e instanceof CheckpointError) throw e;
    throw new CheckpointError(file, `cannot be read: ${(e as Error).message}`);
  }
  // HF models often pad the embedding past the tokenizer (Qwen2.5: 151936 rows, 151665 tokens); the reverse cannot work
  if (tok.vocabSize > config.vocabSize) {
    throw new CheckpointError(file, `the tokenizer has ${tok.vocabSize} tokens but config.json's vocab_size is ${config.vocabSize}`);
  }
  return tok;
}

// ---------------------------------------------------------------------------------------------
// optimizer state

function writeOptimizer(file: string, st: AdamWState): void {
  const tensors = new Map<string, FloatTensor>();
  for (const [name, m] of st.m) tensors.set(`exp_avg.${name}`, { shape: [...m.shape], data: Float32Array.from(m.dataSync() as Float32Array) });
  for (const [name, v] of st.v) tensors.set(`exp_avg_sq.${name}`, { shape: [...v.shape], data: Float32Array.from(v.dataSync() as Float32Array) });
  writeSafetensors(file, tensors, { metadata: { format: "stepwise-adamw", step: String(st.step) } });
}

function readOptimizer(file: string, model: Transformer): AdamWState {
  const { tensors, metadata } = readSafetensors(file);
  const step = Number(metadata.step);
  if (!Number.isInteger(step) || step < 0) throw new CheckpointError(file, `metadata "step" is ${JSON.stringify(metadata.step)}, not a step count`);
  const m = new Map<string, tf.Tensor>();
  const v = new Map<string, tf.Tensor>();
  const fail = (problem: string) => {
    disposeState({ step, m, v });
    return new CheckpointError(file, problem);
  };
  for (const [name, p] of model.params) {
    for (const [prefix, dest] of [["exp_avg.", m], ["exp_avg_sq.", v]] as const) {
      const t = tensors.get(prefix + name);
      if (!t) throw fail(`tensor "${prefix + name}" is missing (the model has parameter "${name}")`);
      if (t.shape.length !== p.shape.length || t.shape.some((d, i) => d !== p.shape[i])) {
        throw fail(`tensor "${prefix + name}" has shape [${t.shape.join(", ")}] but parameter "${name}" has [${p.shape.join(", ")}]`);
      }
      try {
        checkFinite(t.data, prefix + name, file);
      } catch (e) {
        disposeState({ step, m, v });
        throw e;
      }
      dest.set(name, tf.tensor(t.data, t.shape, "float32"));
    }
  }
  if (tensors.size !== 2 * model.params.size) {
    const extra = [...tensors.keys()].filter((k) => !model.params.has(k.replace(/^exp_avg(_sq)?\./, "")));
    throw fail(`${extra.length} moment(s) for parameters the model does not have, e.g. "${extra[0]}"`);
  }
  return { step, m, v };
}

// ---------------------------------------------------------------------------------------------
// public API

/**
 * Write a checkpoint to `dir` atomically (a temporary sibling renamed into place; an existing
 * checkpoint at `dir` is replaced only once the new one is complete).
 * @example await saveCheckpoint("runs/demo/checkpoints/sft", { model, tokenizer, optimizer: opt, state: { stage: "sft", iteration: 200 } })
 */
export async function saveCheckpoint(dir: string, input: SaveCheckpointInput): Promise<void> {
  const parent = path.dirname(path.resolve(dir));
  fs.mkdirSync(parent, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(parent, `.${path.basename(dir)}.tmp-`));
  try {
    fs.writeFileSync(path.join(tmp, CONFIG_FILE), JSON.stringify(configToHf(input.model.config), null, 2) + "\n");
    // transformers requires metadata format "pt" to load a safetensors file
    writeSafetensors(path.join(tmp, WEIGHTS_FILE), modelTensors(input.model), { metadata: { format: "pt" } });
    saveTokenizer(input.tokenizer, tmp);
    if (input.optimizer) {
      const own = input.optimizer instanceof AdamW;
      const st = input.optimizer instanceof AdamW ? input.optimizer.getState() : input.optimizer;
      try {
        writeOptimizer(path.join(tmp, OPTIMIZER_FILE), st);
      } finally {
        if (own) disposeState(st);
      }
    }
    fs.writeFileSync(path.join(tmp, STATE_FILE), JSON.stringify(input.state ?? {}, null, 2) + "\n");
    // swap into place: rename cannot replace a non-empty directory, so move the old one aside first
    // (a kill between the two renames leaves both siblings complete: recoverCheckpoints repairs it)
    let old: string | null = null;
    if (fs.existsSync(dir)) {
      old = `${tmp}.old`;
      fs.renameSync(dir, old);
      faultPoint("checkpoint-swap");
    }
    fs.renameSync(tmp, dir);
    if (old) fs.rmSync(old, { recursive: true, force: true });
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

/**
 * Repairs what a killed saveCheckpoint left in `parent` (a run's checkpoints/ folder) and returns
 * what it did, one line each. A save writes `.<tag>.tmp-XXXXXX`, moves an existing `<tag>` to
 * `.<tag>.tmp-XXXXXX.old` once the new copy is complete, renames the new copy to `<tag>`, then
 * removes the old one. So:
 *  - `<tag>` missing, `.old` and the new copy present (killed between the renames): the new copy
 *    is complete (the old one was moved only after it was written): it becomes `<tag>`;
 *  - `<tag>` missing, only `.old` present: the old copy goes back;
 *  - every other temporary (an unfinished copy, an `.old` whose swap finished) is removed.
 * Only names of this pattern are touched.
 */
export function recoverCheckpoints(parent: string): string[] {
  if (!fs.existsSync(parent)) return [];
  const done: string[] = [];
  const entries = fs.readdirSync(parent);
  const TMP = /^\.(.+)\.tmp-[A-Za-z0-9]{6}$/;
  for (const old of entries.filter((e) => e.endsWith(".old"))) {
    const m = TMP.exec(old.slice(0, -".old".length));
    if (!m) continue;
    const tag = m[1]!;
    const target = path.join(parent, tag);
    const fresh = path.join(parent, old.slice(0, -".old".length));
    if (!fs.existsSync(target)) {
      const from = fs.existsSync(fresh) ? fresh : path.join(parent, old);
      fs.renameSync(from, target);
      done.push(`checkpoint "${tag}" restored from ${path.basename(from)} (a save was interrupted between its renames)`);
    }
  }
  for (const e of fs.readdirSync(parent)) {
    if (!TMP.test(e.replace(/\.old$/, ""))) continue;
    fs.rmSync(path.join(parent, e), { recursive: true, force: true });
    done.push(`removed the unfinished temporary ${e}`);
  }
  return done;
}

/**
 * Load a checkpoint written by saveCheckpoint (weights, tokenizer, optimizer state, state.json).
 * Throws CheckpointError naming the file and the problem for anything missing, corrupt,
 * mismatched or too large for the backend.
 */
export async function loadCheckpoint(dir: string, opts: LoadOptions = {}): Promise<LoadedCheckpoint> {
  const { model, config } = loadModel(dir, opts);
  try {
    const tokenizer = loadTokenizerChecked(dir, config);
    const out: LoadedCheckpoint = { model, tokenizer };
    const optFile = path.join(dir, OPTIMIZER_FILE);
    if (fs.existsSync(optFile)) out.optimizerState = readOptimizer(optFile, model);
    const stateFile = path.join(dir, STATE_FILE);
    if (fs.existsSync(stateFile)) {
      try {
        out.state = JSON.parse(fs.readFileSync(stateFile, "utf8"));
      } catch (e) {
        if (out.optimizerState) disposeState(out.optimizerState);
        throw new CheckpointError(stateFile, `not valid JSON (${(e as Error).message})`);
      }
    }
    return out;
  } catch (e) {
    model.dispose();
    throw e;
  }
}

/**
 * Load a local Hugging Face model directory: config.json, model.safetensors or a sharded
 * model.safetensors.index.json (f32, f16 or bf16, converted to f32), and the tokenizer from the
 * same directory. Nothing is downloaded.
 * @example const { model, tokenizer } = await loadHfModel("/models/Qwen2.5-0.5B-Instruct")
 */
export async function loadHfModel(dir: string, opts: LoadOptions = {}): Promise<LoadedHfModel> {
  const { model, config } = loadModel(dir, opts);
  try {
    return { model, tokenizer: loadTokenizerChecked(dir, config), config };
  } catch (e) {
    model.dispose();
    throw e;
  }
}

/**
 * Parameter count and f32 bytes of a model directory, from the headers only (nothing loaded).
 * @example describeWeights("/models/Qwen2.5-0.5B-Instruct") // { params: 494032768, ... }
 */
export function describeWeights(dir: string): { params: number; f32Bytes: number; diskBytes: number; files: string[] } {
  const src = WeightSource.open(dir);
  try {
    const params = src.totalElements();
    return { params, f32Bytes: params * 4, diskBytes: src.totalBytes(), files: src.files };
  } finally {
    src.close();
  }
}
