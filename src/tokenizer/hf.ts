/**
 * HfTokenizer: a Hugging Face `tokenizer.json` (byte-level BPE as Qwen2 and Llama 3 use, and the
 * other models @huggingface/tokenizers implements) with its `tokenizer_config.json`: special
 * tokens and the chat template, rendered with @huggingface/jinja. Local files only.
 *
 * `encode` applies no post-processor (no BOS/EOS added): callers prepend `bosId` when `addBos`.
 * Special-token text inside the input (`<|im_start|>`) is encoded as that token, as HF does.
 * `decode` drops special tokens unless asked to keep them.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Tokenizer as HfCore } from "@huggingface/tokenizers";
import { Template } from "@huggingface/jinja";
import type { Tokenizer } from "./types.js";

export interface ChatMessage {
  role: string; // "system" | "user" | "assistant" | ...
  content: string;
}

export interface ChatTemplateOptions {
  /** end with the opening of an assistant turn, so the model writes the reply */
  addGenerationPrompt?: boolean;
  /**
   * Qwen3's `enable_thinking`: false makes the generation prompt end with an empty
   * `<think>\n\n</think>\n\n`, so the model answers without reasoning; unset (the template's
   * default) or true lets it think first. Templates without the variable ignore it.
   */
  enableThinking?: boolean;
  /** extra variables for the template (e.g. tools) */
  extra?: Record<string, unknown>;
}

/** tokenizer_config.json: the fields read here (others are kept as they are) */
export interface HfTokenizerConfig {
  bos_token?: string | { content: string } | null;
  eos_token?: string | { content: string } | null;
  pad_token?: string | { content: string } | null;
  unk_token?: string | { content: string } | null;
  add_bos_token?: boolean;
  chat_template?: string | { name: string; template: string }[];
  [key: string]: unknown;
}

interface TokenizerJsonShape {
  model: { type: string; vocab: Record<string, number> | [string, number][] };
  added_tokens?: { id: number; content: string; special: boolean }[];
}

function tokenText(t: HfTokenizerConfig["bos_token"]): string | null {
  if (t === null || t === undefined) return null;
  return typeof t === "string" ? t : t.content;
}

function readJson(path: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(`${what}: cannot read ${path}${code === "ENOENT" ? " (no such file)" : ` (${code ?? (e as Error).message})`}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${what}: ${path} is not valid JSON (${(e as Error).message})`);
  }
}

let byteDecoderCache: Map<string, number> | null = null;
/** the inverse of GPT-2's byte-to-character map used by byte-level BPE */
function byteDecoder(): Map<string, number> {
  if (byteDecoderCache) return byteDecoderCache;
  const bs: number[] = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const map = new Map<string, number>(bs.map((b) => [String.fromCodePoint(b), b]));
  let n = 0;
  for (let b = 0; b < 256; b++) if (!bs.includes(b)) map.set(String.fromCodePoint(256 + n++), b);
  return (byteDecoderCache = map);
}

export class HfTokenizer implements Tokenizer {
  readonly kind = "hf" as const;
  readonly vocabSize: number;
  readonly padId: number;
  readonly bosId: number;
  readonly eosId: number;
  /** whether sequences should start with bosId (false for Qwen2, which has no BOS token) */
  readonly addBos: boolean;
  readonly chatTemplate: string | null;
  private readonly core: HfCore;
  private readonly specialIds: Set<number>;

  private constructor(
    private readonly tokenizerJson: TokenizerJsonShape,
    private readonly config: HfTokenizerConfig,
    source: string,
  ) {
    const model = tokenizerJson?.model;
    if (!model || typeof model !== "object" || !model.vocab) {
      throw new Error(`${source}: not a Hugging Face tokenizer.json (no "model.vocab")`);
    }
    try {
      this.core = new HfCore(tokenizerJson, config);
    } catch (e) {
      throw new Error(`${source}: the tokenizer could not be built (${(e as Error).message})`);
    }
    const added = tokenizerJson.added_tokens ?? [];
    // a loop, not Math.max(...ids): spreading a 150k-token vocabulary overflows Node's stack
    let maxId = Array.isArray(model.vocab) ? model.vocab.length - 1 : -1;
    if (!Array.isArray(model.vocab)) for (const id of Object.values(model.vocab)) if (id > maxId) maxId = id;
    for (const t of added) if (t.id > maxId) maxId = t.id;
    this.vocabSize = maxId + 1;
    this.specialIds = new Set(added.filter((t) => t.special).map((t) => t.id));

    const idOf = (name: string, text: string | null): number | null => {
      if (text === null) return null;
      const id = this.core.token_to_id(text);
      if (id === undefined) throw new Error(`${source}: ${name} ${JSON.stringify(text)} is not in the vocabulary`);
      return id;
    };
    const firstKnown = (...texts: string[]) => texts.map((t) => this.core.token_to_id(t)).find((id) => id !== undefined) ?? null;
    // EOS: the config's, else a conventional end token, else the first special token
    const eos =
      idOf("eos_token", tokenText(config.eos_token)) ??
      firstKnown("<|endoftext|>", "</s>", "<|end_of_text|>", "<|eot_id|>") ??
      added.find((t) => t.special)?.id ??
      null;
    if (eos === null) throw new Error(`${source}: no end-of-sequence token: set eos_token in tokenizer_config.json`);
    const bos = idOf("bos_token", tokenText(config.bos_token));
    this.eosId = eos;
    this.padId = idOf("pad_token", tokenText(config.pad_token)) ?? eos;
    // without a BOS token (Qwen2), bosId is the EOS id (GPT-2's convention) and addBos is false
    this.bosId = bos ?? eos;
    this.addBos = config.add_bos_token ?? bos !== null;

    const t = config.chat_template;
    this.chatTemplate = Array.isArray(t) ? (t.find((x) => x.name === "default") ?? t[0])?.template ?? null : (t ?? null);
  }

  /**
   * Load tokenizer.json (required) and tokenizer_config.json (optional) from a local directory.
   * @example const tok = HfTokenizer.fromDirectory("models/Qwen2.5-0.5B-Instruct")
   */
  static fromDirectory(dir: string): HfTokenizer {
    const tokPath = join(dir, "tokenizer.json");
    const cfgPath = join(dir, "tokenizer_config.json");
    const tokenizerJson = readJson(tokPath, "tokenizer");
    // tokenizer_config.json is optional: without it, conventional special tokens and no chat template
    const config: unknown = existsSync(cfgPath) ? readJson(cfgPath, "tokenizer config") : {};
    if (config === null || typeof config !== "object" || Array.isArray(config)) {
      throw new Error(`tokenizer config: ${cfgPath} must hold a JSON object`);
    }
    return new HfTokenizer(tokenizerJson as TokenizerJsonShape, config as HfTokenizerConfig, tokPath);
  }

  /** From the parsed tokenizer.json (and tokenizer_config.json, when there is one). */
  static fromJSON(tokenizerJson: unknown, config: unknown = {}): HfTokenizer {
    return new HfTokenizer(tokenizerJson as TokenizerJsonShape, (config ?? {}) as HfTokenizerConfig, "tokenizer.json");
  }

  encode(text: string): number[] {
    return this.core.encode(text, { add_special_tokens: false }).ids;
  }

  decode(ids: number[], options: { skipSpecial?: boolean } = {}): string {
    if (ids.length === 0) return ""; // the library refuses an empty list
    return this.core.decode(ids, { skip_special_tokens: options.skipSpecial ?? true, clean_up_tokenization_spaces: false });
  }

  /**
   * decode(ids) with each token's end offset in it, in O(n) for byte-level tokenizers (each token
   * string maps back to bytes; a streaming UTF-8 decoder says how many characters each completes).
   * Null when the decoder is not plain ByteLevel or the result disagrees with decode(ids), so a
   * caller falls back to the general method (decodeWithOffsets).
   */
  decodeOffsets(ids: number[]): { text: string; ends: number[] } | null {
    const decoder = (this.tokenizerJson as { decoder?: { type?: string } }).decoder;
    if (decoder?.type !== "ByteLevel") return null;
    const byteOf = byteDecoder();
    const added = new Map((this.tokenizerJson.added_tokens ?? []).map((t) => [t.id, t]));
    const utf8 = new TextDecoder("utf-8", { fatal: false });
    const enc = new TextEncoder();
    let text = "";
    const ends: number[] = [];
    for (const id of ids) {
      const a = added.get(id);
      if (a) {
        // added tokens hold raw text; special ones are dropped, as decode() does
        if (!a.special) text += utf8.decode(enc.encode(a.content), { stream: true });
      } else {
        const token = this.core.id_to_token(id);
        if (token === undefined) return null;
        const bytes: number[] = [];
        for (const ch of token) {
          const b = byteOf.get(ch);
          if (b === undefined) return null;
          bytes.push(b);
        }
        text += utf8.decode(new Uint8Array(bytes), { stream: true });
      }
      ends.push(text.length);
    }
    text += utf8.decode();
    if (ends.length > 0) ends[ends.length - 1] = text.length;
    return text === this.decode(ids) ? { text, ends } : null;
  }

  /** the token strings of `text` (byte-level, e.g. "Ġworld") */
  tokenize(text: string): string[] {
    return this.core.encode(text, { add_special_tokens: false }).tokens;
  }

  tokenToId(token: string): number | undefined {
    return this.core.token_to_id(token);
  }

  idToToken(id: number): string | undefined {
    return this.core.id_to_token(id);
  }

  isSpecial(id: number): boolean {
    return this.specialIds.has(id);
  }

  /**
   * The prompt text the model was trained on for `messages`, from the config's chat template.
   * @example tok.applyChatTemplate([{ role: "user", content: "2+2?" }], { addGenerationPrompt: true })
   */
  applyChatTemplate(messages: ChatMessage[], options: ChatTemplateOptions = {}): string {
    if (this.chatTemplate === null) {
      throw new Error("this tokenizer has no chat template: tokenizer_config.json has no chat_template (use a plain prompt)");
    }
    const c = this.config;
    return new Template(this.chatTemplate).render({
      messages,
      add_generation_prompt: options.addGenerationPrompt ?? false,
      bos_token: tokenText(c.bos_token) ?? "",
      eos_token: tokenText(c.eos_token) ?? "",
      pad_token: tokenText(c.pad_token) ?? "",
      unk_token: tokenText(c.unk_token) ?? "",
      ...(options.enableThinking === undefined ? {} : { enable_thinking: options.enableThinking }),
      ...options.extra,
    });
  }

  /** tokenizer.json as loaded (what a checkpoint stores) */
  toJSON(): unknown {
    return this.tokenizerJson;
  }

  /** tokenizer_config.json as loaded */
  configJSON(): HfTokenizerConfig {
    return this.config;
  }
}
