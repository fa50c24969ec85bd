/**
 * What every stage of a run works with: the policy, its tokenizer, the task, the step segmentation.
 * Built once by the runner from the plan (src/run/build.ts); passed to SFT, evaluation and RL.
 *
 * Also the three token conventions every stage shares, so that character and BPE tokenizers are
 * handled in one place: how a prompt becomes ids (encodePrompt), which tokens end a response
 * (stopTokenIds), and where each response token starts in the decoded text (responseTokenStarts).
 */
import type { SegmentationPlan } from "../../dsl/plan.js";
import type { Transformer } from "../model/transformer.js";
import type { Task, Problem } from "../task/types.js";
import { decodeWithOffsets } from "../tokenizer/offsets.js";
import type { Tokenizer } from "../tokenizer/types.js";

export interface TrainContext {
  model: Transformer;
  tokenizer: Tokenizer;
  task: Task;
  segmentation: SegmentationPlan;
}

/**
 * Prompt ids as the model sees them: bos (when the tokenizer adds one: not Qwen2), then the prompt
 * text. Special-token text in the prompt (a chat template's `<|im_start|>`) encodes as that token.
 * A prompt that already starts with bos (a Llama 3 chat template writes `<|begin_of_text|>`) does
 * not get a second one, as Hugging Face's `apply_chat_template(tokenize=True)` does.
 * @example encodePrompt(new CharTokenizer(), { prompt: "1+2\n" }) // [bos, "1", "+", "2", "\n"]
 */
export function encodePrompt(tokenizer: Tokenizer, problem: Pick<Problem, "prompt">): number[] {
  const body = tokenizer.encode(problem.prompt);
  if (tokenizer.addBos === false) return body;
  return body[0] === tokenizer.bosId ? body : [tokenizer.bosId, ...body];
}

/** End-of-turn tokens of the chat formats in use (ChatML/Qwen, Llama 3, Gemma, Phi-3). */
const END_OF_TURN = ["<|im_end|>", "<|eot_id|>", "<end_of_turn>", "<|end|>"];
/** End-of-document tokens: a model that writes one has finished, whatever its eos_token says. */
const END_OF_TEXT = ["<|endoftext|>", "<|end_of_text|>", "</s>"];

/** What stopTokenIds reads from a Hugging Face tokenizer (src/tokenizer/hf.ts), when it is one. */
interface TokenLookup {
  chatTemplate?: string | null;
  tokenToId?(token: string): number | undefined;
  isSpecial?(id: number): boolean;
}

/**
 * The token ids that end a sampled response: eos; plus, for a Hugging Face tokenizer, the
 * end-of-turn token its chat template writes (`<|im_end|>` for Qwen2.5, `<|eot_id|>` for Llama 3)
 * and the special end-of-document token (`<|endoftext|>`, `<|end_of_text|>`), which instruct
 * models' generation_config.json list as eos too (Qwen2.5-Instruct: [151645, 151643]).
 * The first id is always eosId (what SFT appends to a target).
 * @example stopTokenIds(qwenTokenizer) // [558 (<|im_end|>), 556 (<|endoftext|>)]
 */
export function stopTokenIds(tokenizer: Tokenizer): number[] {
  const ids = [tokenizer.eosId];
  const t = tokenizer as Tokenizer & TokenLookup;
  if (tokenizer.kind !== "hf" || typeof t.tokenToId !== "function") return ids;
  const template = t.chatTemplate ?? "";
  const add = (token: string, needSpecial: boolean): void => {
    const id = t.tokenToId!(token);
    if (id === undefined || ids.includes(id)) return;
    if (needSpecial && t.isSpecial && !t.isSpecial(id)) return;
    ids.push(id);
  };
  for (const tok of END_OF_TURN) if (template.includes(tok)) add(tok, false);
  for (const tok of END_OF_TEXT) add(tok, true);
  return ids;
}

/**
 * The character offset where each token of a response starts in `tokenizer.decode(ids)` (what
 * src/rl/segment.ts maps text cuts with): O(n) for characters and byte-level BPE
 * (src/tokenizer/offsets.ts). A token that is only part of a multi-byte character, or a dropped
 * special token, starts where the next character starts.
 * @example responseTokenStarts(new CharTokenizer(), tok.encode("1+2")) // [0, 1, 2]
 */
export function responseTokenStarts(tokenizer: Tokenizer, ids: number[]): number[] {
  const { ends } = decodeWithOffsets(tokenizer, ids);
  return ends.map((_, i) => (i === 0 ? 0 : ends[i - 1]!));
}
