/**
 * From a plan to the objects a run works with: tokenizer, task, policy model (fresh, from a
 * Stepwise checkpoint, or from a Hugging Face directory). Everything comes from local paths,
 * resolved against the spec file's directory; nothing is downloaded.
 *
 *   model load "DIR"       a Stepwise checkpoint (state.json) or a Hugging Face model directory
 *                          (config.json, model.safetensors or model.safetensors.index.json,
 *                          tokenizer.json, tokenizer_config.json)
 *   tokenizer load "PATH"  a tokenizer.json (or its directory) instead of the model directory's
 *   task jsonl "PATH"      questions go through the tokenizer's chat template when it has one
 *                          (one user message, then the opening of the assistant's turn)
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import type { ExperimentPlan, TaskPlan, TokenizerPlan } from "../../dsl/plan.js";
import { CheckpointError } from "../io/errors.js";
import { readJsonFile } from "../io/json.js";
import { TRAINING_MEMORY_FACTOR, describeWeights, loadCheckpoint, loadHfModel, memoryBudget } from "../model/checkpoint.js";
import { gptConfig, llamaConfig } from "../model/config.js";
import { checkConfigMemory } from "../model/memory.js";
import { Transformer } from "../model/transformer.js";
import { createTask } from "../task/index.js";
import type { Task } from "../task/types.js";
import { CharTokenizer } from "../tokenizer/chars.js";
import { HfTokenizer } from "../tokenizer/hf.js";
import { loadTokenizer } from "../tokenizer/index.js";
import type { Tokenizer } from "../tokenizer/types.js";
import { disposeState } from "../train/optimizer.js";

export interface Built {
  model: Transformer;
  tokenizer: Tokenizer;
  task: Task;
  /** where the starting weights came from, for the run record */
  origin: string;
  /** how task prompts are written: "plain" (`question\n`) or "chat" (the tokenizer's chat template) */
  promptFormat: "plain" | "chat";
  /** problems found while building that did not stop it (a skipped JSONL line: "data.jsonl:7: invalid JSON (…)") */
  warnings: string[];
}

/** The declarations `stepwise run` needs, with the fix for each one that is missing. */
export function missingForRun(plan: ExperimentPlan): string[] {
  const missing: string[] = [];
  if (!plan.model) missing.push("a `model` declaration (e.g. `model gpt { layers 4, width 128, heads 4, context 128 }`)");
  if (!plan.task) missing.push("a `task` declaration (e.g. `task arithmetic { operands 3..4 }`)");
  if (plan.train.length === 0) missing.push("a `train { … }` block with at least one stage");
  const needsAdvantage = plan.train.some((s) => s.kind === "rl");
  if (needsAdvantage && !plan.advantage) missing.push("an `advantage = …` formula or a `use METHOD` line (the `rl` stage needs one)");
  if (plan.train.some((s) => s.kind === "step_dpo") && plan.objective?.kind !== "step_dpo")
    missing.push("`objective step_dpo { … }` or `use sppd` / `use step_dpo` (the `step_dpo` stage needs one)");
  return missing;
}

/**
 * The prompt a JSONL question becomes: through the chat template when the tokenizer has one
 * (`[{ role: "user", content: question }]` with add_generation_prompt, as an instruct model was
 * trained to see a question), else null (the task's default, `question\n`).
 * `thinking` sets a reasoning template's enable_thinking (Qwen3; false: the prompt ends with an
 * empty think block); a template without that switch refuses it rather than ignore it.
 * @example chatPromptFormatter(qwenTokenizer)!("2+2?") // "<|im_start|>system\n…<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n"
 */
export function chatPromptFormatter(tokenizer: Tokenizer, opts: { thinking?: boolean } = {}): ((question: string) => string) | null {
  const thinking = opts.thinking;
  const switchable = tokenizer instanceof HfTokenizer && tokenizer.chatTemplate !== null && tokenizer.chatTemplate.includes("enable_thinking");
  if (thinking !== undefined && !switchable) {
    throw new Error(`task jsonl { thinking ${thinking ? "on" : "off"} }: the tokenizer's chat template has no enable_thinking switch (Qwen3's has); remove the setting`);
  }
  if (!(tokenizer instanceof HfTokenizer) || tokenizer.chatTemplate === null) return null;
  return (question) => tokenizer.applyChatTemplate([{ role: "user", content: question }], { addGenerationPrompt: true, enableThinking: thinking });
}

/**
 * Refuse, from the safetensors headers alone, a model the run could not hold: AdamW training
 * needs ~4x the f32 weights (weights, gradients, two moments), and a stage with a frozen
 * reference (rl, dpo, step_dpo) 1x more for the reference copy. Activations come on top.
 * The budget is the backend's (memoryBudget: the wasm heap's 4 GiB, else RAM) unless `limitBytes`.
 */
export function checkRunMemory(dir: string, plan: ExperimentPlan, opts: { backend?: string; limitBytes?: number } = {}): void {
  const backend = opts.backend ?? tf.getBackend() ?? "cpu";
  const { params, f32Bytes, files } = describeWeights(dir);
  const trains = plan.train.length > 0;
  const reference = plan.train.some((s) => s.kind !== "sft");
  const factor = (trains ? TRAINING_MEMORY_FACTOR : 1) + (reference ? 1 : 0);
  const need = f32Bytes * factor;
  const g = formatBytes;
  const budget = opts.limitBytes !== undefined ? { bytes: opts.limitBytes, what: `the memory limit of ${g(opts.limitBytes)}` } : memoryBudget(backend);
  if (need <= budget.bytes) return;
  const parts = [trains ? `${TRAINING_MEMORY_FACTOR}x for AdamW training (weights, gradients, two moments)` : "1x for the weights", reference ? "1x for the frozen reference of the rl/dpo stage" : ""].filter(Boolean);
  throw new CheckpointError(
    files.length === 1 ? files[0]! : dir,
    `too large for this run: ${(params / 1e6).toFixed(1)}M parameters = ${g(f32Bytes)} as f32; the run needs ${parts.join(" + ")} = ${g(need)}, ` +
      `more than ${budget.what}. ` +
      (backend === "wasm"
        ? "Use a smaller model, or the tensorflow backend (@tensorflow/tfjs-node or -node-gpu; limited only by RAM): see docs/real-models.md."
        : "Use a smaller model or a machine with more memory."),
  );
}

/** 4.00 GiB, 1.50 MiB, 220.0 KiB: readable sizes for memory messages, small test models included. */
export function formatBytes(bytes: number): string {
  if (bytes >= 2 ** 30) return `${(bytes / 2 ** 30).toFixed(2)} GiB`;
  if (bytes >= 2 ** 20) return `${(bytes / 2 ** 20).toFixed(2)} MiB`;
  return `${(bytes / 2 ** 10).toFixed(1)} KiB`;
}

/** A `tokenizer load` path: a tokenizer.json file (its tokenizer_config.json beside it) or a directory holding one. */
function loadTokenizerAt(p: string, spec: string): Tokenizer {
  if (!fs.existsSync(p)) throw new Error(`tokenizer load "${spec}": no such file or directory (${p})`);
  const dir = fs.statSync(p).isDirectory() ? p : path.dirname(p);
  if (!fs.statSync(p).isDirectory() && path.basename(p) !== "tokenizer.json") {
    const json = readJsonFile(p);
    const cfgPath = path.join(dir, "tokenizer_config.json");
    return HfTokenizer.fromJSON(json, fs.existsSync(cfgPath) ? (readJsonFile(cfgPath) as Record<string, unknown>) : {});
  }
  return loadTokenizer(dir);
}

/** The plan's tokenizer override for a loaded model: only `tokenizer load` overrides (the compiler writes `chars` when none is declared). */
function tokenizerOverride(plan: TokenizerPlan | undefined, specDir: string): Tokenizer | null {
  if (!plan || plan.kind !== "hf") return null;
  return loadTokenizerAt(path.resolve(specDir, plan.path), plan.path);
}

/** The task, its JSONL path resolved against the spec's directory and its prompts in the tokenizer's chat format. */
function buildTask(plan: TaskPlan, seed: number, tokenizer: Tokenizer, specDir: string): Pick<Built, "task" | "promptFormat" | "warnings"> {
  if (plan.kind !== "jsonl") return { task: createTask(plan, seed), promptFormat: "plain", warnings: [] };
  const file = path.resolve(specDir, plan.path);
  if (!fs.existsSync(file)) throw new Error(`task jsonl "${plan.path}": no such file (${file})`);
  const formatPrompt = chatPromptFormatter(tokenizer, { thinking: plan.thinking });
  const task = createTask({ ...plan, path: file }, seed, formatPrompt ? { formatPrompt } : {});
  const skipped = (task as Task & { warnings?: { line: number; message: string }[] }).warnings ?? [];
  const warnings = skipped.map((w) => `${plan.path}:${w.line}: ${w.message} (line skipped)`);
  return { task, promptFormat: formatPrompt ? "chat" : "plain", warnings };
}

/** What a `model load` directory holds, or a message saying what is wrong with it. */
function modelDirKind(dir: string, spec: string): "stepwise" | "hf" {
  const hint = "give a Hugging Face model directory (config.json, model.safetensors, tokenizer.json) or a Stepwise checkpoint (runs/NAME/checkpoints/final)";
  if (!fs.existsSync(dir)) throw new Error(`model load "${spec}": no such directory (${dir}); ${hint}. Nothing is downloaded: the model must be on disk`);
  if (!fs.statSync(dir).isDirectory()) throw new Error(`model load "${spec}": ${dir} is a file, not a directory; ${hint}`);
  if (fs.existsSync(path.join(dir, "state.json"))) return "stepwise";
  if (!fs.existsSync(path.join(dir, "config.json"))) throw new Error(`model load "${spec}": ${dir} has no config.json; ${hint}`);
  return "hf";
}

export async function buildFromPlan(plan: ExperimentPlan, specDir = "."): Promise<Built> {
  if (!plan.model || !plan.task) throw new Error(missingForRun(plan).join("; "));
  if (plan.model.kind === "load") {
    const dir = path.resolve(specDir, plan.model.path);
    const kind = modelDirKind(dir, plan.model.path);
    const override = tokenizerOverride(plan.tokenizer, specDir);
    let model: Transformer;
    let tokenizer: Tokenizer;
    if (kind === "stepwise") {
      checkRunMemory(dir, plan);
      const ck = await loadCheckpoint(dir);
      // a new run starts a fresh optimizer: the checkpoint's moments are not used
      if (ck.optimizerState) disposeState(ck.optimizerState);
      model = ck.model;
      tokenizer = ck.tokenizer;
    } else {
      checkRunMemory(dir, plan);
      const hf = await loadHfModel(dir, { forTraining: true });
      model = hf.model;
      tokenizer = hf.tokenizer;
    }
    if (override) {
      if (override.vocabSize > model.config.vocabSize) {
        model.dispose();
        throw new Error(`tokenizer load "${(plan.tokenizer as { path: string }).path}": ${override.vocabSize} tokens, but the model's vocabulary has ${model.config.vocabSize}`);
      }
      tokenizer = override;
    }
    try {
      return { model, tokenizer, origin: dir, ...buildTask(plan.task, plan.seed, tokenizer, specDir) };
    } catch (e) {
      model.dispose();
      throw e;
    }
  }
  const tokenizer: Tokenizer = new CharTokenizer();
  if (plan.tokenizer && plan.tokenizer.kind !== "chars") throw new Error("a fresh `model gpt` works with `tokenizer chars`; load a Hugging Face model directory for a BPE tokenizer");
  const partial = { ...plan.model.config, vocabSize: tokenizer.vocabSize, seed: plan.seed };
  const config = partial.family === "llama" ? llamaConfig(partial) : gptConfig(partial);
  // a fresh model's sizes come from the spec: refuse one that cannot fit before allocating it
  const reference = plan.train.some((st) => st.kind !== "sft");
  checkConfigMemory(
    config,
    { backend: tf.getBackend() ?? "cpu", factor: TRAINING_MEMORY_FACTOR + (reference ? 1 : 0), fields: { layers: "layers", width: "width", ffnWidth: "ffn_width", contextLength: "context" } },
    (message) => new Error(`the spec's model declaration: ${message}`),
  );
  const built = buildTask(plan.task, plan.seed, tokenizer, specDir);
  return { model: Transformer.create(config), tokenizer, origin: "fresh", ...built };
}
