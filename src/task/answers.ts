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
 * Comparison: both sides are normalised (LaTeX `$`, `\text{}`, `\left`/`\right`, spacing commands,
 * `\dfrac`/`\tfrac`, a trailing period, `%`, degree signs and currency signs removed). When both
 * then read as numbers they are compared numerically, so `1,000`, `1000.0`, `$1000` and
 * `1000 dollars` are equal; `\frac{1}{2}`, `1/2` and `0.5` too. A unit must be separated from the
 * number by a space (`5 cm`); `5cm` is compared as text. Otherwise the texts are compared with all
 * whitespace removed.
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

/** The answer text with formatting that never changes its meaning removed. */
export function normalizeAnswer(answer: string): string {
  let s = answer.trim();
  s = s.replace(/\\text\{([^{}]*)\}/g, "$1").replace(/\\mathrm\{([^{}]*)\}/g, "$1");
  s = s.replace(/\\left|\\right|\\!|\\,|\\;|\\:|\\ /g, "");
  s = s.replace(/\\[dt]frac/g, "\\frac");
  s = s.replace(/\^\s*\{?\\circ\}?|°|\\%|%|\$|€|£|¥/g, "");
  s = s.replace(/\.\s*$/, "");
  s = s.replace(/^[a-zA-Z]\s*=\s*/, ""); // "x = 5" -> "5"
  return s.trim();
}

const NUMBER = String.raw`[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|[-+]?\.\d+`;
const NUMBER_WITH_UNIT = new RegExp(String.raw`^(${NUMBER})(?:\s+[a-zA-Z][a-zA-Z .]*)?$`);

/** The numeric value of a normalised answer (`1,000`, `-2.5`, `1/2`, `\frac{1}{2}`), or null. */
export function parseNumeric(answer: string): number | null {
  const s = normalizeAnswer(answer);
  const frac = /^([-+]?)\\frac\{([^{}]+)\}\{([^{}]+)\}$/.exec(s) ?? /^([-+]?)\\frac(\d)(\d)$/.exec(s);
  if (frac) {
    const [n, d] = [parseNumeric(frac[2]!), parseNumeric(frac[3]!)];
    if (n === null || d === null || d === 0) return null;
    return (frac[1] === "-" ? -1 : 1) * (n / d);
  }
  const ratio = new RegExp(String.raw`^(${NUMBER})\s*/\s*(${NUMBER})$`).exec(s);
  if (ratio) {
    const [n, d] = [Number(ratio[1]!.replace(/,/g, "")), Number(ratio[2]!.replace(/,/g, ""))];
    return d === 0 ? null : n / d;
  }
  const m = NUMBER_WITH_UNIT.exec(s);
  if (!m) return null;
  const v = Number(m[1]!.replace(/,/g, ""));
  return Number.isFinite(v) ? v : null;
}

/**
 * Whether two answers mean the same (numerically when both are numbers, else as normalised text).
 * @example answersEqual("1,000", "1000.0") // true
 */
export function answersEqual(a: string, b: string): boolean {
  const [x, y] = [parseNumeric(a), parseNumeric(b)];
  if (x !== null && y !== null) return Math.abs(x - y) <= 1e-6 * Math.max(1, Math.abs(x), Math.abs(y));
  const squash = (s: string) => normalizeAnswer(s).replace(/\s+/g, "");
  return squash(a) === squash(b);
}
