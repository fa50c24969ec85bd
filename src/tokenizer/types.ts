/** The tokenizer contract: characters for synthetic tasks, tokenizer.json (BPE) for real models. */
export interface Tokenizer {
  readonly kind: "chars" | "hf";
  readonly vocabSize: number;
  readonly padId: number;
  readonly bosId: number;
  readonly eosId: number;
  /** whether sequences start with bosId; absent means true (false for Qwen2, which has no BOS token) */
  readonly addBos?: boolean;
  encode(text: string): number[];
  decode(ids: number[]): string;
  /** JSON-serialisable description, stored next to a checkpoint (tokenizer.json for "hf") */
  toJSON(): unknown;
}
