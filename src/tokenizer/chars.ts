/**
 * CharTokenizer: one id per character, for the synthetic tasks (arithmetic).
 *
 * Ids 0..3 are reserved: pad, bos, eos, unk. The alphabet follows in order.
 * `encode` adds no special tokens (callers prepend `bosId` and append `eosId` where they want them);
 * an unknown character maps to `unkId`. `decode` drops pad/bos/eos and writes unk as U+FFFD.
 */
import type { Tokenizer } from "./types.js";

/** Serialised form, stored with a checkpoint (tokenizer.json). */
export interface CharTokenizerJSON {
  kind: "chars";
  /** the characters with ids 4, 5, ...; specials are implicit */
  alphabet: string;
}

/**
 * Enough for the arithmetic task and short probe templates: digits, operators, parentheses, '=',
 * space, newline, lowercase letters and a few uppercase/punctuation marks.
 * 4 specials + 58 characters = 62 ids, so it fits the reference model's vocabulary of 64.
 */
export const DEFAULT_ALPHABET = "0123456789+-*/()= \nabcdefghijklmnopqrstuvwxyz:.,?!'#QAYNIS";

export const PAD_ID = 0;
export const BOS_ID = 1;
export const EOS_ID = 2;
export const UNK_ID = 3;
const N_SPECIAL = 4;

export class CharTokenizer implements Tokenizer {
  readonly kind = "chars" as const;
  readonly vocabSize: number;
  readonly padId = PAD_ID;
  readonly bosId = BOS_ID;
  readonly eosId = EOS_ID;
  readonly unkId = UNK_ID;
  readonly alphabet: string;
  private readonly toId = new Map<string, number>();
  private readonly toChar: string[];

  /**
   * @example
   *   const tok = new CharTokenizer();
   *   tok.decode(tok.encode("3+4=7")) // "3+4=7"
   */
  constructor(alphabet: string = DEFAULT_ALPHABET) {
    // Array.from splits by code point, so an alphabet may hold characters outside the BMP.
    const chars = Array.from(alphabet);
    if (chars.length === 0) throw new Error("CharTokenizer: the alphabet is empty");
    chars.forEach((c, i) => {
      if (this.toId.has(c)) throw new Error(`CharTokenizer: character ${JSON.stringify(c)} appears twice in the alphabet`);
      this.toId.set(c, N_SPECIAL + i);
    });
    this.alphabet = alphabet;
    this.toChar = chars;
    this.vocabSize = N_SPECIAL + chars.length;
  }

  encode(text: string): number[] {
    const ids: number[] = [];
    for (const c of text) ids.push(this.toId.get(c) ?? UNK_ID);
    return ids;
  }

  decode(ids: number[]): string {
    let out = "";
    for (const id of ids) {
      if (id === PAD_ID || id === BOS_ID || id === EOS_ID) continue;
      if (id === UNK_ID) out += "\uFFFD";
      else {
        const c = this.toChar[id - N_SPECIAL];
        if (c === undefined) throw new Error(`CharTokenizer: id ${id} is outside the vocabulary (size ${this.vocabSize})`);
        out += c;
      }
    }
    return out;
  }

  /** The id of one character, or unkId. */
  idOf(char: string): number {
    return this.toId.get(char) ?? UNK_ID;
  }

  toJSON(): CharTokenizerJSON {
    return { kind: "chars", alphabet: this.alphabet };
  }

  static fromJSON(json: unknown): CharTokenizer {
    const j = json as Partial<CharTokenizerJSON> | null;
    if (!j || typeof j !== "object" || j.kind !== "chars" || typeof j.alphabet !== "string") {
      throw new Error('CharTokenizer.fromJSON: expected { kind: "chars", alphabet: string }');
    }
    return new CharTokenizer(j.alphabet);
  }
}
