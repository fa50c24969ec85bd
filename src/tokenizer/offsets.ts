/**
 * Where each token's text ends in the decoded string, so that steps found in text (split on "\n",
 * a regex, ...) map back to token ranges, with character and BPE tokenizers alike.
 *
 * A token that completes a multi-byte character owns it: the bytes of "😀" split over several
 * byte-level tokens count toward the last of them, the others get empty spans.
 */
import type { Tokenizer } from "./types.js";

export interface DecodedWithOffsets {
  /** tok.decode(ids) */
  text: string;
  /** ends[i]: UTF-16 offset in `text` where token i's text ends; token i covers [ends[i-1] ?? 0, ends[i]) */
  ends: number[];
}

function commonPrefixLength(a: string, b: string, from: number): number {
  let i = from;
  while (i < a.length && i < b.length && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  return i;
}

/**
 * Decode `ids` and report each token's end offset.
 * O(n) for character tokenizers and byte-level BPE (HfTokenizer.decodeOffsets); any other
 * tokenizer goes through prefixOffsets, O(n²) decode work.
 * @example decodeWithOffsets(new CharTokenizer(), tok.encode("1+2")) // { text: "1+2", ends: [1, 2, 3] }
 */
export function decodeWithOffsets(tok: Tokenizer, ids: number[]): DecodedWithOffsets {
  const text = tok.decode(ids);
  const ends: number[] = [];
  if (tok.kind === "chars") {
    // one character (or none, for specials) per token
    let at = 0;
    for (const id of ids) {
      at += tok.decode([id]).length;
      ends.push(at);
    }
    return { text, ends };
  }
  const fast = (tok as { decodeOffsets?: (ids: number[]) => DecodedWithOffsets | null }).decodeOffsets?.(ids);
  return fast ?? prefixOffsets(tok, ids, text);
}

/**
 * The general method: per token, the longest prefix of the full text that the decoded prefix agrees
 * with (an incomplete character decodes to U+FFFD, so it counts only once a later token completes it).
 */
export function prefixOffsets(tok: Tokenizer, ids: number[], text = tok.decode(ids)): DecodedWithOffsets {
  const ends: number[] = [];
  let at = 0;
  for (let i = 0; i < ids.length; i++) {
    const prefix = tok.decode(ids.slice(0, i + 1));
    at = Math.max(at, commonPrefixLength(prefix, text, 0));
    ends.push(at);
  }
  return { text, ends };
}

/**
 * The token range [startToken, endToken) of the text span [start, end). A token belongs to the span
 * holding its last character; an empty token (part of a character a later token completes, or a
 * dropped special token) to the span holding the next character. Spans that partition the text
 * thus partition the tokens; the span that reaches the end of the text also takes trailing empty
 * tokens.
 * @example tokenRangeOf([1, 2, 3, 4], 2, 4) // [2, 4]: the tokens of characters 2 and 3
 */
export function tokenRangeOf(ends: number[], start: number, end: number): [number, number] {
  const total = ends.length > 0 ? ends[ends.length - 1]! : 0;
  const anchor = (i: number) => {
    const s = i === 0 ? 0 : ends[i - 1]!;
    return ends[i]! > s ? ends[i]! - 1 : ends[i]!;
  };
  const inside = (i: number) => anchor(i) >= start && (anchor(i) < end || end >= total);
  let a = 0;
  while (a < ends.length && anchor(a) < start) a++;
  let b = a;
  while (b < ends.length && inside(b)) b++;
  return [a, b];
}
