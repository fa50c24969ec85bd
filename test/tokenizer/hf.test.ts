import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync, copyFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HfTokenizer } from "../../src/tokenizer/hf.js";
import { CharTokenizer } from "../../src/tokenizer/chars.js";
import { loadTokenizer, saveTokenizer, tokenizerFromJSON, createTokenizer } from "../../src/tokenizer/index.js";
import { bytesToUnicode, makeTinyTokenizer } from "../fixtures/make-tiny-tokenizer.js";

const FIXTURE = new URL("../fixtures/tiny-qwen2/", import.meta.url).pathname;
const tok = HfTokenizer.fromDirectory(FIXTURE);
const tmp = mkdtempSync(join(tmpdir(), "stepwise-tok-"));

const SAMPLES = [
  "Hello world, the answer is 72.",
  "It's 3+4*2-5 = 6; we'd check 11-5=6 twice!",
  "Café, naïve, résumé, Ångström, François",
  "数学问题的答案是七。日本語のテキスト",
  "emoji 😀🎉👩‍👩‍👧 and ∑ x² ≤ ∞",
  "  leading spaces\n\n\n\ttabs\t\tand   trailing   \n",
  "\n",
  " ",
  "",
  "\\boxed{\\frac{1}{2}} #### 1,000",
];

test("round trips on ASCII, Unicode (accents, CJK, emoji) and whitespace-heavy text", () => {
  for (const s of SAMPLES) {
    const ids = tok.encode(s);
    assert.ok(ids.every((id) => Number.isInteger(id) && id >= 0 && id < tok.vocabSize));
    assert.equal(tok.decode(ids), s, JSON.stringify(s));
  }
  // the NFC normaliser composes accents: decomposed input decodes to its composed form
  assert.equal(tok.decode(tok.encode("e\u0301")), "\u00e9");
});

/** A from-scratch byte-level BPE: Qwen2's split regex, GPT-2's byte map, merges applied by rank. */
function referenceEncode(text: string): number[] {
  const json = JSON.parse(readFileSync(join(FIXTURE, "tokenizer.json"), "utf8"));
  const vocab: Record<string, number> = json.model.vocab;
  const rank = new Map<string, number>(json.model.merges.map((m: string, i: number) => [m, i]));
  const byteChar = bytesToUnicode();
  const re = /(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+/gu;
  const ids: number[] = [];
  for (const m of text.normalize("NFC").matchAll(re)) {
    let syms = Array.from(new TextEncoder().encode(m[0]), (b) => byteChar[b]!);
    for (;;) {
      let best = -1;
      let bestRank = Infinity;
      for (let i = 0; i + 1 < syms.length; i++) {
        const r = rank.get(`${syms[i]} ${syms[i + 1]}`);
        if (r !== undefined && r < bestRank) [best, bestRank] = [i, r];
      }
      if (best < 0) break;
      syms = [...syms.slice(0, best), syms[best]! + syms[best + 1]!, ...syms.slice(best + 2)];
    }
    ids.push(...syms.map((s) => vocab[s]!));
  }
  return ids;
}

test("ids equal a from-scratch byte-level BPE with the fixture's merges", () => {
  for (const s of SAMPLES) assert.deepEqual(tok.encode(s), referenceEncode(s), JSON.stringify(s));
  // learned merges are used: a frequent corpus word is one token
  assert.deepEqual(tok.tokenize(" the answer"), ["Ġthe", "Ġanswer"]);
});

test("special tokens: one id each, dropped by decode unless kept; ids from tokenizer_config.json", () => {
  const [eot, start, end] = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"].map((t) => tok.tokenToId(t)!);
  assert.deepEqual([eot, start, end], [556, 557, 558]);
  assert.equal(tok.vocabSize, 559);
  assert.equal(tok.eosId, end, "eos_token is <|im_end|>");
  assert.equal(tok.padId, eot, "pad_token is <|endoftext|>");
  assert.equal(tok.addBos, false, "Qwen2 has no BOS token");
  const ids = tok.encode("<|im_start|>user\nhi<|im_end|>");
  assert.equal(ids[0], start);
  assert.equal(ids[ids.length - 1], end);
  assert.equal(tok.decode(ids), "user\nhi");
  assert.equal(tok.decode(ids, { skipSpecial: false }), "<|im_start|>user\nhi<|im_end|>");
});

test("chat template output on the fixture equals the hand-written string", () => {
  const user = { role: "user", content: "What is 3+4*2-5?" };
  assert.equal(
    tok.applyChatTemplate([user], { addGenerationPrompt: true }),
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n" +
      "<|im_start|>user\nWhat is 3+4*2-5?<|im_end|>\n" +
      "<|im_start|>assistant\n",
  );
  assert.equal(
    tok.applyChatTemplate([
      { role: "system", content: "Reason step by step." },
      user,
      { role: "assistant", content: "4*2=8\n3+8=11\n11-5=6\nThe answer is 6." },
    ]),
    "<|im_start|>system\nReason step by step.<|im_end|>\n" +
      "<|im_start|>user\nWhat is 3+4*2-5?<|im_end|>\n" +
      "<|im_start|>assistant\n4*2=8\n3+8=11\n11-5=6\nThe answer is 6.<|im_end|>\n",
  );
  // the rendered prompt encodes with its special tokens as single ids
  const ids = tok.encode(tok.applyChatTemplate([user], { addGenerationPrompt: true }));
  assert.equal(ids.filter((id) => id === tok.tokenToId("<|im_start|>")).length, 3);
});

test("missing or malformed files are refused with a message naming the file", () => {
  assert.throws(() => HfTokenizer.fromDirectory(join(tmp, "nowhere")), (e: Error) => e.message.includes(join(tmp, "nowhere", "tokenizer.json")) && /no such file/.test(e.message));
  const bad = join(tmp, "bad");
  mkdirSync(bad);
  writeFileSync(join(bad, "tokenizer.json"), '{"model": {"type": "BPE", "vocab": {');
  assert.throws(() => HfTokenizer.fromDirectory(bad), (e: Error) => e.message.includes(join(bad, "tokenizer.json")) && /not valid JSON/.test(e.message));
  writeFileSync(join(bad, "tokenizer.json"), '{"version": "1.0"}');
  assert.throws(() => HfTokenizer.fromDirectory(bad), /tokenizer\.json: not a Hugging Face tokenizer\.json/);
  copyFileSync(join(FIXTURE, "tokenizer.json"), join(bad, "tokenizer.json"));
  writeFileSync(join(bad, "tokenizer_config.json"), "{oops");
  assert.throws(() => HfTokenizer.fromDirectory(bad), (e: Error) => e.message.includes(join(bad, "tokenizer_config.json")));
  writeFileSync(join(bad, "tokenizer_config.json"), '{"eos_token": "<|nope|>"}');
  assert.throws(() => HfTokenizer.fromDirectory(bad), /eos_token "<\|nope\|>" is not in the vocabulary/);
});

test("without tokenizer_config.json: conventional special tokens, no chat template", () => {
  const dir = join(tmp, "noconfig");
  mkdirSync(dir);
  copyFileSync(join(FIXTURE, "tokenizer.json"), join(dir, "tokenizer.json"));
  const t = HfTokenizer.fromDirectory(dir);
  assert.equal(t.eosId, 556);
  assert.equal(t.padId, 556);
  assert.equal(t.chatTemplate, null);
  assert.throws(() => t.applyChatTemplate([{ role: "user", content: "x" }]), /no chat template/);
});

test("save/load and fromJSON round trips for both kinds", () => {
  const hfDir = join(tmp, "saved-hf");
  saveTokenizer(tok, hfDir);
  const back = loadTokenizer(hfDir) as HfTokenizer;
  assert.equal(back.kind, "hf");
  for (const s of SAMPLES) assert.deepEqual(back.encode(s), tok.encode(s));
  assert.equal(back.eosId, tok.eosId);
  assert.equal(back.applyChatTemplate([{ role: "user", content: "hi" }]), tok.applyChatTemplate([{ role: "user", content: "hi" }]));
  const viaJson = tokenizerFromJSON(JSON.parse(JSON.stringify(tok.toJSON())), tok.configJSON());
  assert.deepEqual(viaJson.encode(SAMPLES[4]!), tok.encode(SAMPLES[4]!));

  const chars = new CharTokenizer();
  const cDir = join(tmp, "saved-chars");
  saveTokenizer(chars, cDir);
  const cBack = loadTokenizer(cDir);
  assert.equal(cBack.kind, "chars");
  assert.deepEqual(cBack.encode("Q: 1+2\n"), chars.encode("Q: 1+2\n"));
  assert.equal(createTokenizer({ kind: "hf", path: FIXTURE }).vocabSize, 559);
  assert.equal(createTokenizer({ kind: "chars" }).vocabSize, chars.vocabSize);
  assert.throws(() => tokenizerFromJSON({ kind: "other" }), /unknown tokenizer JSON/);
});

test("the committed fixture is what the generator script writes", () => {
  const { tokenizer, config } = makeTinyTokenizer();
  assert.deepEqual(JSON.parse(readFileSync(join(FIXTURE, "tokenizer.json"), "utf8")), tokenizer);
  assert.deepEqual(JSON.parse(readFileSync(join(FIXTURE, "tokenizer_config.json"), "utf8")), config);
});
