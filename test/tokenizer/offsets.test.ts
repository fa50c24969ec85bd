import { test } from "node:test";
import assert from "node:assert/strict";
import { HfTokenizer } from "../../src/tokenizer/hf.js";
import { CharTokenizer } from "../../src/tokenizer/chars.js";
import { decodeWithOffsets, prefixOffsets, tokenRangeOf } from "../../src/tokenizer/offsets.js";

const hf = HfTokenizer.fromDirectory(new URL("../fixtures/tiny-qwen2/", import.meta.url).pathname);

test("character offsets: one character per token, none for specials", () => {
  const tok = new CharTokenizer();
  const ids = [tok.bosId, ...tok.encode("1+2\n"), tok.eosId];
  assert.deepEqual(decodeWithOffsets(tok, ids), { text: "1+2\n", ends: [0, 1, 2, 3, 4, 4] });
});

test("byte-level offsets: a split emoji belongs to the token that completes it", () => {
  // 'a', then the 4 bytes of U+1F600 as 4 tokens (no merges cover them), then 'b'
  const ids = hf.encode("a😀b");
  assert.deepEqual(hf.tokenize("a😀b"), ["a", "ð", "Ł", "ĺ", "Ģ", "b"]);
  assert.deepEqual(decodeWithOffsets(hf, ids), { text: "a😀b", ends: [1, 1, 1, 1, 3, 4] });
});

test("the O(n) byte-level path equals the general prefix method, specials included", () => {
  for (const s of ["Café 数学 😀👩‍👩‍👧  \n\n\t x", "<|im_start|>user\n3+4*2-5<|im_end|>\n", "the answer is 72.\n#### 72"]) {
    const ids = hf.encode(s);
    const fast = hf.decodeOffsets(ids);
    assert.ok(fast);
    assert.deepEqual(fast, prefixOffsets(hf, ids), JSON.stringify(s));
    assert.equal(fast.text, hf.decode(ids));
  }
});

test("text spans map to token ranges that partition the tokens", () => {
  const text = "4*2=8\n3+8=11\nanswer 11";
  const ids = hf.encode(text);
  const { ends } = decodeWithOffsets(hf, ids);
  // steps: each line with its newline
  const bounds = [0, 6, 13, text.length];
  const ranges = [0, 1, 2].map((k) => tokenRangeOf(ends, bounds[k]!, bounds[k + 1]!));
  assert.equal(ranges[0]![0], 0);
  assert.equal(ranges[2]![1], ids.length);
  for (let k = 1; k < 3; k++) assert.equal(ranges[k]![0], ranges[k - 1]![1]);
  for (const [k, [a, b]] of ranges.entries()) {
    assert.equal(hf.decode(ids.slice(a, b)), text.slice(bounds[k], bounds[k + 1]));
  }
  // hand-computed on character offsets: tokens ending at 1..4 -> span [2, 4) holds tokens 2 and 3
  assert.deepEqual(tokenRangeOf([1, 2, 3, 4], 2, 4), [2, 4]);
  // empty tokens (a split character) go with the token that completes them
  assert.deepEqual(tokenRangeOf([1, 1, 1, 1, 3, 4], 0, 1), [0, 1]);
  assert.deepEqual(tokenRangeOf([1, 1, 1, 1, 3, 4], 1, 3), [1, 5]);
  assert.deepEqual(tokenRangeOf([1, 1, 1, 1, 3, 4], 3, 4), [5, 6]);
});
