import { test } from "node:test";
import assert from "node:assert/strict";
import { CharTokenizer, DEFAULT_ALPHABET } from "../../src/tokenizer/chars.js";

test("default alphabet fits a vocabulary of 64 with 4 specials first", () => {
  const tok = new CharTokenizer();
  assert.equal(tok.vocabSize, 4 + DEFAULT_ALPHABET.length);
  assert.ok(tok.vocabSize <= 64);
  assert.deepEqual([tok.padId, tok.bosId, tok.eosId, tok.unkId], [0, 1, 2, 3]);
  // '0' is the first character of the alphabet, so id 4; '+' is the 11th, so id 14
  assert.deepEqual(tok.encode("0+"), [4, 14]);
});

test("arithmetic solution text round-trips exactly", () => {
  const tok = new CharTokenizer();
  const text = "Q: 3+4*2-5\n4*2=8\ncheck 4*2=8\n3+8=12\nfix 3+8=11\nso far 11\n11+0=11\n11-5=6\nanswer 6";
  const ids = tok.encode(text);
  assert.equal(ids.length, text.length);
  assert.ok(!ids.includes(tok.unkId));
  assert.equal(tok.decode(ids), text);
});

test("unknown characters map to unk and decode as U+FFFD; specials are dropped", () => {
  const tok = new CharTokenizer();
  const ids = tok.encode("1€2");
  assert.deepEqual(ids, [5, tok.unkId, 6]);
  assert.equal(tok.decode([tok.bosId, ...ids, tok.eosId, tok.padId]), "1\uFFFD2");
  assert.throws(() => tok.decode([999]), /outside the vocabulary/);
});

test("toJSON / fromJSON round trip keeps every id", () => {
  const tok = new CharTokenizer("ab\n😀");
  const back = CharTokenizer.fromJSON(JSON.parse(JSON.stringify(tok.toJSON())));
  assert.equal(back.vocabSize, 8);
  assert.deepEqual(back.encode("b😀a\n"), tok.encode("b😀a\n"));
  assert.deepEqual(back.encode("b😀a\n"), [5, 7, 4, 6]);
  assert.throws(() => CharTokenizer.fromJSON({ kind: "hf" }), /expected/);
  assert.throws(() => new CharTokenizer("aa"), /twice/);
});
