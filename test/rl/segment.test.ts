import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { segmentResponse, tokenOffsets } from "../../src/rl/segment.js";
import type { SegmentationPlan } from "../../dsl/plan.js";

/** one token per character */
const charOffsets = (text: string) => Array.from(text, (_, i) => i);
const split = (delimiter: string, minTokens = 0, maxSteps = 0): SegmentationPlan => ({ kind: "split", delimiter, minTokens, maxSteps });

test("split on a delimiter: the delimiter ends the step it closes", () => {
  const text = "1+2=3\n3*4=12\nanswer 12";
  const s = segmentResponse(text, charOffsets(text), split("\n"));
  assert.deepEqual(s.stepTexts, ["1+2=3\n", "3*4=12\n", "answer 12"]);
  assert.deepEqual(s.stepEnds, [6, 13, 22]);
});

test("a trailing delimiter does not create an empty step", () => {
  const text = "a=1\nanswer 1\n";
  const s = segmentResponse(text, charOffsets(text), split("\n"));
  assert.deepEqual(s.stepTexts, ["a=1\n", "answer 1\n"]);
  assert.deepEqual(s.stepEnds, [4, 13]);
});

test("empty response: one empty step", () => {
  assert.deepEqual(segmentResponse("", [], split("\n")), { stepEnds: [0], stepTexts: [""] });
});

test("BPE tokens: multi-char tokens and a delimiter inside a token", () => {
  // tokens: "ab" "c\n" "\nd" "e" "\n" "answer" " 7"
  //  offs:   0    2     4     6   7    8        14
  // text:   "abc\n\nde\nanswer 7" ; "\n" at chars 3, 4, 7 -> char cuts 4, 5, 8
  // cut 4 -> tokens starting before char 4: "ab","c\n" = 2
  // cut 5 -> 3 ("\nd" starts at 4 < 5): the step [2,3) = "\nd" keeps its start char
  // cut 8 -> 5
  const text = "abc\n\nde\nanswer 7";
  const offs = [0, 2, 4, 6, 7, 8, 14];
  const s = segmentResponse(text, offs, split("\n"));
  assert.deepEqual(s.stepEnds, [2, 3, 5, 7]);
  assert.deepEqual(s.stepTexts, ["abc\n", "\nd", "e\n", "answer 7"]);
  assert.equal(s.stepTexts.join(""), text);
  // "\n\n": the delimiter sits inside nothing special; tokens "c\n" "\nd" hold halves of it
  const s2 = segmentResponse(text, offs, split("\n\n"));
  // char cut at 5 -> token 3; answer line starts at char 8 = token 5 > 3: kept
  assert.deepEqual(s2.stepEnds, [3, 7]);
  assert.deepEqual(s2.stepTexts, ["abc\n\nd", "e\nanswer 7"]);
});

test("two cuts inside one token collapse into one", () => {
  // tokens "a\n\n" "b" ; cuts at chars 2 and 3 both map to token 1
  const s = segmentResponse("a\n\nb", [0, 3], split("\n"));
  assert.deepEqual(s.stepEnds, [1, 2]);
  assert.deepEqual(s.stepTexts, ["a\n\n", "b"]);
});

test("regex: headers start a step, whitespace separators end one", () => {
  const text = "Step 1: x=2\nStep 2: y=3\nanswer 5";
  const hdr = segmentResponse(text, charOffsets(text), { kind: "regex", pattern: "Step \\d+:", flags: "", minTokens: 0, maxSteps: 0 });
  // no header before the answer line: it stays in the last step
  assert.deepEqual(hdr.stepTexts, ["Step 1: x=2\n", "Step 2: y=3\nanswer 5"]);
  const ws = segmentResponse("a\n\n\nb\nc", charOffsets("a\n\n\nb\nc"), { kind: "regex", pattern: "\\n+", flags: "", minTokens: 0, maxSteps: 0 });
  assert.deepEqual(ws.stepTexts, ["a\n\n\n", "b\n", "c"]);
});

test("every N tokens; the final answer line stays whole in the last step", () => {
  const text = "abcdefg\nanswer 42"; // 17 chars, answer line starts at char 8
  const s = segmentResponse(text, charOffsets(text), { kind: "every", tokens: 3, minTokens: 0, maxSteps: 0 });
  // cuts 3, 6, 9, 12, 15; those > 8 fall inside the answer line and go
  assert.deepEqual(s.stepEnds, [3, 6, 17]);
  assert.deepEqual(s.stepTexts, ["abc", "def", "g\nanswer 42"]);
  // a single-line response is cut as usual
  const one = segmentResponse("abcdefg", charOffsets("abcdefg"), { kind: "every", tokens: 3, minTokens: 0, maxSteps: 0 });
  assert.deepEqual(one.stepEnds, [3, 6, 7]);
});

test("minTokens merges a short step into the next; the last into the previous", () => {
  const text = "a\nbb\nccccc\nd"; // steps "a\n"(2) "bb\n"(3) "ccccc\n"(6) "d"(1)
  const s = segmentResponse(text, charOffsets(text), split("\n", 3));
  // "a\n" < 3 -> merged with "bb\n" (5); "ccccc\n" ok; "d" < 3 -> into previous
  assert.deepEqual(s.stepTexts, ["a\nbb\n", "ccccc\nd"]);
  assert.deepEqual(s.stepEnds, [5, 12]);
});

test("maxSteps merges the tail into the last step", () => {
  const text = "a\nb\nc\nd\nanswer 1";
  const s = segmentResponse(text, charOffsets(text), split("\n", 0, 3));
  assert.deepEqual(s.stepTexts, ["a\n", "b\n", "c\nd\nanswer 1"]);
  assert.equal(s.stepEnds[2], text.length);
});

test("tokenOffsets: per-token decode, and prefix decode when pieces do not concatenate", () => {
  const vocab = ["ab", "c", "\n", "de"];
  assert.deepEqual(tokenOffsets([0, 1, 2, 3], (ids) => ids.map((i) => vocab[i]).join("")), [0, 2, 3, 4]);
  // a decoder that strips the leading space of the whole text (SentencePiece style)
  const sp = [" x", " yy", "z"];
  const dec = (ids: number[]) => ids.map((i) => sp[i]).join("").replace(/^ /, "");
  // full "x yyz": prefix lengths 0, 1 ("x"), 4 ("x yy")
  assert.deepEqual(tokenOffsets([0, 1, 2], dec), [0, 1, 4]);
  assert.deepEqual(tokenOffsets([], dec), []);
});

test("property: step ends increase to the token count and texts concatenate to the response", () => {
  const alphabet = fc.constantFrom("a", "b", "\n", " ", "7");
  fc.assert(
    fc.property(
      fc.array(fc.array(alphabet, { minLength: 1, maxLength: 4 }).map((cs) => cs.join("")), { maxLength: 30 }),
      fc.integer({ min: 0, max: 4 }),
      fc.integer({ min: 0, max: 5 }),
      fc.constantFrom<SegmentationPlan["kind"]>("split", "regex", "every"),
      (tokens, minTokens, maxSteps, kind) => {
        const text = tokens.join("");
        const offs = tokenOffsets(tokens.map((_, i) => i), (ids) => ids.map((i) => tokens[i]).join(""));
        const plan: SegmentationPlan =
          kind === "split"
            ? { kind, delimiter: "\n", minTokens, maxSteps }
            : kind === "regex"
              ? { kind, pattern: "a+", flags: "", minTokens, maxSteps }
              : { kind, tokens: 3, minTokens, maxSteps };
        const s = segmentResponse(text, offs, plan);
        assert.equal(s.stepEnds.length, s.stepTexts.length);
        assert.equal(s.stepEnds[s.stepEnds.length - 1], tokens.length);
        for (let k = 1; k < s.stepEnds.length; k++) assert.ok(s.stepEnds[k] > s.stepEnds[k - 1]);
        if (tokens.length > 0) assert.ok(s.stepEnds[0] > 0);
        assert.equal(s.stepTexts.join(""), text);
        if (maxSteps > 0) assert.ok(s.stepEnds.length <= maxSteps);
        // each step's text is exactly its tokens
        let b = 0;
        s.stepEnds.forEach((e, k) => {
          assert.equal(s.stepTexts[k], tokens.slice(b, e).join(""));
          b = e;
        });
      },
    ),
    { numRuns: 300 },
  );
});
