/**
 * Final-answer extraction and comparison for math text (GSM8K, MATH and free-form responses).
 *
 * Reasoning models (Qwen3, DeepSeek-R1) think inside `<think>…</think>` first: the answer is read
 * only from the text after the last `</think>` (a tentative "the answer is 5" while thinking does
 * not count), and a response whose `<think>` was never closed (cut off while reasoning) has none.
 *
 * Extraction, in priority order (the last occurrence of the first kind found wins, since a
 * response's final answer comes last):
 *   1. `#### 42`              GSM8K's answer marker (to the end of the line)
 *   2. `\boxed{...}`          MATH, braces balanced (`\boxed{\frac{1}{2}}`), also `\fbox{...}`
 *   3. `the answer is ...`    case-insensitive, optional "final", to the end of the sentence
 *
 * Comparison of an extracted answer with the reference is grade.ts's (gradeAnswer, answersEqual).
 */

/** The text inside the balanced braces that open at `s[open]` ('{'), or null when unbalanced. */
function balanced(s: string, open: number): string | null {
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    if (s[i] === "{") depth++;
    else if (s[i] === "}" && --depth === 0) return s.slice(open + 1, i);
  }
  return null;
}

function lastBoxed(text: string): string | null {
  const re = /\\(?:boxed|fbox)\s*\{/g;
  let found: string | null = null;
  for (const m of text.matchAll(re)) {
    const inner = balanced(text, m.index! + m[0].length - 1);
    if (inner !== null) found = inner;
  }
  return found;
}

/**
 * The part of a response that states its answer: the text after the last `</think>` (a prompt may
 * open the block itself, so a lone `</think>` counts too); null when a `<think>` is never closed
 * (the reasoning was cut off, nothing was committed); else the whole text.
 * @example answerRegion("<think>\n2+2=4\n</think>\n\nThe answer is 4.") // "\n\nThe answer is 4."
 * @example answerRegion("<think>\n2+2 is") // null
 */
export function answerRegion(text: string): string | null {
  const close = text.lastIndexOf("</think>");
  if (close >= 0) return text.slice(close + "</think>".length);
  return text.includes("<think>") ? null : text;
}

/**
 * The final answer of a solution or response (after its reasoning block, see answerRegion), or
 * null when it has none.
 * @example extractFinalAnswer("48/2 = 24\n#### 72") // "72"
 * @example extractFinalAnswer("so $x = \\boxed{\\frac{1}{2}}$") // "\\frac{1}{2}"
 * @example extractFinalAnswer("The answer is 1,000.") // "1,000"
 */
export function extractFinalAnswer(response: string): string | null {
  const text = answerRegion(response);
  if (text === null) return null;
  const gsm = [...text.matchAll(/####[ \t]*([^\n]*)/g)];
  if (gsm.length > 0) {
    const a = gsm[gsm.length - 1]![1]!.trim();
    if (a !== "") return a;
  }
  const boxed = lastBoxed(text);
  if (boxed !== null) return boxed.trim();
  const said = [...text.matchAll(/the\s+(?:final\s+)?answer\s+is\s*:?\s*([^\n]*)/gi)];
  if (said.length > 0) {
    let a = said[said.length - 1]![1]!;
    const end = /\.(?:\s|$)/.exec(a); // end of sentence: a period followed by a space or the end
    if (end) a = a.slice(0, end.index);
    a = a.trim();
    if (a !== "") return a;
  }
  return null;
}
