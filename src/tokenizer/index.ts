/** Tokenizers: characters for synthetic tasks, Hugging Face tokenizer.json for real models. */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { TokenizerPlan } from "../../dsl/plan.js";
import type { Tokenizer } from "./types.js";
import { CharTokenizer } from "./chars.js";
import { HfTokenizer } from "./hf.js";

export type { Tokenizer } from "./types.js";
export { CharTokenizer, DEFAULT_ALPHABET, type CharTokenizerJSON } from "./chars.js";
export { HfTokenizer, type ChatMessage, type ChatTemplateOptions, type HfTokenizerConfig } from "./hf.js";

/**
 * The tokenizer a `toJSON()` value describes: `{ kind: "chars", ... }`, or a Hugging Face
 * tokenizer.json (recognised by its "model" object), with its tokenizer_config.json when given.
 * @example tokenizerFromJSON(new CharTokenizer().toJSON())
 */
export function tokenizerFromJSON(json: unknown, hfConfig?: unknown): Tokenizer {
  const j = json as { kind?: unknown; model?: unknown } | null;
  if (j && typeof j === "object") {
    if (j.kind === "chars") return CharTokenizer.fromJSON(j);
    if (j.model && typeof j.model === "object") return HfTokenizer.fromJSON(j, hfConfig);
  }
  throw new Error('unknown tokenizer JSON: expected { kind: "chars", ... } or a Hugging Face tokenizer.json');
}

/** The tokenizer a plan names (an "hf" path is a local directory holding tokenizer.json). */
export function createTokenizer(plan: TokenizerPlan): Tokenizer {
  return plan.kind === "chars" ? new CharTokenizer() : HfTokenizer.fromDirectory(plan.path);
}

/**
 * Write a tokenizer into a checkpoint directory: tokenizer.json (plus tokenizer_config.json for
 * "hf"), so the directory reads back with loadTokenizer and, for "hf", with Hugging Face tools.
 */
export function saveTokenizer(tok: Tokenizer, dir: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "tokenizer.json"), JSON.stringify(tok.toJSON()) + "\n");
  if (tok instanceof HfTokenizer) writeFileSync(join(dir, "tokenizer_config.json"), JSON.stringify(tok.configJSON(), null, 2) + "\n");
}

/** Read the tokenizer a directory holds (as written by saveTokenizer, or a Hugging Face model directory). */
export function loadTokenizer(dir: string): Tokenizer {
  const path = join(dir, "tokenizer.json");
  if (!existsSync(path)) throw new Error(`tokenizer: cannot read ${path} (no such file)`);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new Error(`tokenizer: ${path} is not valid JSON (${(e as Error).message})`);
  }
  if ((json as { kind?: unknown })?.kind === "chars") return CharTokenizer.fromJSON(json);
  return HfTokenizer.fromDirectory(dir);
}
export { decodeWithOffsets, prefixOffsets, tokenRangeOf, type DecodedWithOffsets } from "./offsets.js";
