/**
 * Segmentation: cut a response into reasoning steps and map the steps to token ranges.
 *
 * Steps are found on the TEXT (a delimiter string, a regex) or by counting tokens, then mapped
 * back to tokens: a token belongs to the step that contains its first character. This works for
 * BPE tokens that span several characters or hold the delimiter in their middle.
 *
 * Rules, in the order they apply (ALGORITHMS.md, "Notation: Steps"):
 *  1. cuts: `split` — each occurrence of the delimiter ENDS the step it closes (the delimiter is
 *     the last text of that step); `regex` — a match made only of whitespace (e.g. /\n+/) is a
 *     separator and ends its step like a delimiter, any other match (e.g. /Step \d+:/) is a step
 *     HEADER and starts the next step, a zero-width match (e.g. /(?=Step)/) cuts where it stands;
 *     `every` — a cut after each `tokens` tokens.
 *  2. char cuts become token cuts (the number of tokens that start before the cut); cuts that
 *     give a step no token (two cuts inside one token, a cut at the very start or end) vanish.
 *  3. the final answer line: when the response has more than one line, cuts inside its last
 *     non-empty line are removed, so the whole answer line belongs to the last step.
 *  4. `minTokens`: a step shorter than that merges into the next one (the last step, into the
 *     previous one).
 *  5. `maxSteps` (> 0): the tail from step maxSteps-1 on merges into one last step.
 *
 * Step texts follow the token ranges: step k's text runs from the first character of its first
 * token to the first character of the next step's first token (step 0 starts at character 0,
 * the last step ends at the end of the text), so the step texts concatenate to the response.
 *
 * An empty response (no tokens) has ONE empty step: `{ stepEnds: [0], stepTexts: [""] }`. Every
 * response then has K >= 1 steps, the last step can carry the outcome reward, and the probes
 * have K+1 = 2 values (before and after it).
 */
import type { SegmentationPlan } from "../../dsl/plan.js";

export interface Segmentation {
  /** exclusive end token of each step; strictly increasing, the last equals the token count */
  stepEnds: number[];
  /** text of each step; the texts concatenate to the response */
  stepTexts: string[];
}

/**
 * Cut `text` into steps.
 * @param tokenOffsets the character offset where each token starts (length = token count),
 *   non-decreasing; see {@link tokenOffsets}.
 * @example
 * segmentResponse("1+2=3\nanswer 3", [0,1,2,3,4,5,6,7,8,9,10,11,12,13],
 *   { kind: "split", delimiter: "\n", minTokens: 0, maxSteps: 0 })
 * // { stepEnds: [6, 14], stepTexts: ["1+2=3\n", "answer 3"] }
 */
export function segmentResponse(text: string, tokenOffsets: number[], plan: SegmentationPlan): Segmentation {
  const n = tokenOffsets.length;
  if (n === 0) return { stepEnds: [0], stepTexts: [""] };

  // 1) + 2) cuts as token indices in (0, n)
  let cuts: number[];
  if (plan.kind === "every") {
    if (!(plan.tokens >= 1)) throw new Error(`segmentation "every" needs tokens >= 1 (got ${plan.tokens})`);
    cuts = [];
    for (let c = plan.tokens; c < n; c += plan.tokens) cuts.push(c);
  } else {
    cuts = charCutsToTokenCuts(charCuts(text, plan), tokenOffsets);
  }

  // 3) the final answer line belongs to the last step
  const answerStart = finalLineStart(text);
  if (answerStart !== null) {
    const firstAnswerToken = countBelow(tokenOffsets, answerStart);
    // a cut at firstAnswerToken separates the answer line from what precedes it: keep it
    cuts = cuts.filter((c) => c <= firstAnswerToken);
  }

  // steps as [begin, end) token ranges
  let ranges = rangesFromCuts(cuts, n);

  // 4) minTokens: merge a too-short step into the next one (the last into the previous)
  if (plan.minTokens > 0) ranges = mergeShort(ranges, plan.minTokens);

  // 5) maxSteps: the tail merges into the last step
  if (plan.maxSteps > 0 && ranges.length > plan.maxSteps) {
    const keep = ranges.slice(0, plan.maxSteps - 1);
    keep.push([ranges[plan.maxSteps - 1][0], n]);
    ranges = keep;
  }

  const stepEnds = ranges.map((r) => r[1]);
  const stepTexts = ranges.map(([b, e], k) => {
    const from = k === 0 ? 0 : tokenOffsets[b];
    const to = e >= n ? text.length : tokenOffsets[e];
    return text.slice(from, to);
  });
  return { stepEnds, stepTexts };
}

/**
 * The character offset where each token starts, from a decoder. Per-token decodes are used when
 * they concatenate to the full decode (character tokenizers, most BPE text); otherwise (byte-level
 * pieces of one UTF-8 character, decoders that strip a leading space) each offset is the length
 * of the decoded prefix, clamped to be non-decreasing.
 * @example tokenOffsets([5, 6, 7], (ids) => ids.map((i) => "ab"[i % 2]).join("")) // [0, 1, 2]
 */
export function tokenOffsets(tokens: number[], decode: (ids: number[]) => string): number[] {
  const full = decode(tokens);
  const pieces = tokens.map((t) => decode([t]));
  const offsets: number[] = [];
  if (pieces.join("") === full) {
    let at = 0;
    for (const p of pieces) {
      offsets.push(at);
      at += p.length;
    }
    return offsets;
  }
  let prev = 0;
  for (let j = 0; j < tokens.length; j++) {
    const len = j === 0 ? 0 : decode(tokens.slice(0, j)).length;
    prev = Math.min(Math.max(prev, len), full.length);
    offsets.push(prev);
  }
  return offsets;
}

/** Character positions where a new step starts (excluding 0 and text.length), sorted, unique. */
function charCuts(text: string, plan: SegmentationPlan): number[] {
  const cuts: number[] = [];
  if (plan.kind === "split") {
    if (plan.delimiter.length === 0) throw new Error('segmentation "split" needs a non-empty delimiter');
    let at = text.indexOf(plan.delimiter);
    while (at >= 0) {
      cuts.push(at + plan.delimiter.length); // the delimiter ends the step it closes
      at = text.indexOf(plan.delimiter, at + plan.delimiter.length);
    }
  } else if (plan.kind === "regex") {
    const flags = plan.flags.includes("g") ? plan.flags : plan.flags + "g";
    const re = new RegExp(plan.pattern, flags);
    for (const m of text.matchAll(re)) {
      const start = m.index ?? 0;
      const end = start + m[0].length;
      if (m[0].length === 0) cuts.push(start); // zero-width: cut where it stands
      else if (/^\s+$/.test(m[0])) cuts.push(end); // separator: ends its step
      else cuts.push(start); // header: starts the next step
    }
  }
  return [...new Set(cuts.filter((c) => c > 0 && c < text.length))].sort((a, b) => a - b);
}

/** Number of tokens whose first character lies before `charPos`. */
function countBelow(tokenOffsets: number[], charPos: number): number {
  // offsets are non-decreasing: binary search for the first offset >= charPos
  let lo = 0;
  let hi = tokenOffsets.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (tokenOffsets[mid] < charPos) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function charCutsToTokenCuts(cuts: number[], tokenOffsets: number[]): number[] {
  const n = tokenOffsets.length;
  const out: number[] = [];
  for (const c of cuts) {
    const t = countBelow(tokenOffsets, c);
    if (t > 0 && t < n && t !== out[out.length - 1]) out.push(t);
  }
  return out;
}

/** Start of the last non-empty line, or null when the text has a single non-empty line. */
function finalLineStart(text: string): number | null {
  let end = text.length;
  while (end > 0 && (text[end - 1] === "\n" || text[end - 1] === "\r")) end--;
  const nl = text.lastIndexOf("\n", end - 1);
  if (nl < 0 || text.slice(0, nl).trim().length === 0) return null;
  return nl + 1;
}

function rangesFromCuts(cuts: number[], n: number): [number, number][] {
  const ranges: [number, number][] = [];
  let b = 0;
  for (const c of cuts) {
    ranges.push([b, c]);
    b = c;
  }
  ranges.push([b, n]);
  return ranges;
}

function mergeShort(ranges: [number, number][], minTokens: number): [number, number][] {
  const out: [number, number][] = [];
  let pendingStart: number | null = null;
  for (const [b, e] of ranges) {
    const start: number = pendingStart ?? b;
    if (e - start < minTokens) {
      pendingStart = start; // too short: carry into the next step
    } else {
      out.push([start, e]);
      pendingStart = null;
    }
  }
  if (pendingStart !== null) {
    const n = ranges[ranges.length - 1][1];
    if (out.length > 0) out[out.length - 1][1] = n; // the last step merges into the previous
    else out.push([pendingStart, n]);
  }
  return out;
}
