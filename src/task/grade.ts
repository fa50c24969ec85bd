/**
 * Whether a predicted final answer means the same as the gold one: the one grader behind every
 * comparison of answers (JSONL tasks, evaluation, the compiled Python's `grade_answer` in
 * src/compile/python/stepwise_task.py, which gives the same verdict on every input). Its rules
 * follow math-verify (Hugging Face's grader, used by TRL and open-r1) for the forms below, checked
 * against math-verify itself on a generated corpus (test/task/grader-corpus.ts; docs/grading.md
 * lists where and why the two differ).
 *
 * An answer is read, after removing wrappers and formatting (`\boxed{}`, `$…$`, `\(…\)`, `\[…\]`,
 * `\left`/`\right`, spacing commands, `\dfrac`, currency signs, degree signs, a trailing period, a
 * unit in `\text{}` or a unit word after a space), as one of:
 *   number      `72`, `-3`, `1,000`, `2.50`, `.5`, `50\%`, `\frac{3}{4}`, `3/4`, `2\frac{1}{2}`,
 *               `1.5\times10^{3}`, `10^{3}` (not `1.5e3` nor `2 1/2`, which math-verify reads as
 *               products, 1.5·e·3 and 2·1/2 or so: not decided here, so the two never disagree)
 *   tuple       `(1, 2, 3)`; `(a, b)` with a < b is also the open interval
 *   interval    `[1, 2)`, `(-\infty, 3]`
 *   set         `\{1, 2\}`, or a bare list `1, 2`
 *   text        `\text{Monday}` (case and spaces ignored), a bare word `yes`
 *   assignment  `x = 5` (compared by its right side unless both sides assign)
 * Anything else (algebra such as `x+1`, `\sqrt{2}`, `\pi`) is not decided: two such answers are
 * equal when their normalised texts are identical, else the verdict is "undecided", which every
 * caller treats as not equal.
 *
 * Numbers compare as math-verify compares sympy numbers: exact values are equal when equal (`6/8`
 * and `0.75`, `50\%` and `\frac{1}{2}`); when a decimal is involved, values rounded to 6 decimals
 * also count (`0.333333` and `\frac{1}{3}`), except against an integer, which must match exactly
 * (`12.0000001` is not `12`); a percent of an integer also equals the bare integer (`50\%` and
 * `50`), a percent of a decimal only its value (`12.5\%` is `0.125`, not `12.5`).
 */

export type Verdict = "equal" | "different" | "undecided";

type NumType = "int" | "rat" | "float";
/** n/d exact (d > 0, reduced); `f` the double sympy would hold for a float; `atomic`: a literal, not `a×10^k` */
interface Num {
  kind: "number";
  n: bigint;
  d: bigint;
  type: NumType;
  f: number;
  atomic: boolean;
  pct: boolean;
}
interface Infinite {
  kind: "inf";
  sign: 1 | -1;
}
interface Collection {
  kind: "set" | "tuple";
  items: Value[];
}
interface Interval {
  kind: "interval";
  lo: Value;
  hi: Value;
  lopen: boolean;
  ropen: boolean;
}
interface Text {
  kind: "text";
  name: string;
}
interface Assignment {
  kind: "assign";
  name: string;
  value: Value;
}
interface Expr {
  kind: "expr";
}
type Value = Num | Infinite | Collection | Interval | Text | Assignment | Expr;

// ---- exact arithmetic -------------------------------------------------------------------------

const abs = (x: bigint) => (x < 0n ? -x : x);
function gcd(a: bigint, b: bigint): bigint {
  a = abs(a);
  b = abs(b);
  while (b) [a, b] = [b, a % b];
  return a;
}
function ratio(n: bigint, d: bigint): [bigint, bigint] {
  if (d < 0n) [n, d] = [-n, -d];
  const g = gcd(n, d) || 1n;
  return [n / g, d / g];
}
/** the exact value of a double as a reduced fraction */
function exactDouble(x: number): [bigint, bigint] {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const hi = view.getUint32(0);
  const lo = view.getUint32(4);
  const sign = hi >>> 31 ? -1n : 1n;
  const exp = (hi >>> 20) & 0x7ff;
  let mant = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  let e: number;
  if (exp === 0) e = -1074;
  else {
    mant |= 1n << 52n;
    e = exp - 1075;
  }
  return e >= 0 ? [sign * (mant << BigInt(e)), 1n] : ratio(sign * mant, 1n << BigInt(-e));
}
/** n/d rounded to an integer, half to even */
function roundHalfEven(n: bigint, d: bigint): bigint {
  const q = n >= 0n ? n / d : -(-n / d) - (-n % d === 0n ? 0n : 1n); // floor
  const r2 = 2n * (n - q * d);
  if (r2 > d || (r2 === d && q % 2n !== 0n)) return q + 1n;
  return q;
}
const toDouble = (n: bigint, d: bigint) => Number(n) / Number(d);

// ---- reading an answer ------------------------------------------------------------------------

/** the index of the brace closing the one that opens at `open`, or -1 */
function closing(s: string, open: number): number {
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    if (s[i] === "{") depth++;
    else if (s[i] === "}" && --depth === 0) return i;
  }
  return -1;
}

/** `s` without one wrapper that encloses all of it, or null */
function unwrapOnce(s: string): string | null {
  const boxed = /^\\(?:boxed|fbox)\s*\{/.exec(s);
  if (boxed && closing(s, boxed[0].length - 1) === s.length - 1) return s.slice(boxed[0].length, -1);
  for (const [open, close] of [["$$", "$$"], ["\\(", "\\)"], ["\\[", "\\]"], ["$", "$"]] as const) {
    if (s.length > open.length + close.length && s.startsWith(open) && s.endsWith(close)) {
      const inner = s.slice(open.length, s.length - close.length);
      if (open === "$" && (inner.includes("$") || s.startsWith("\\$"))) continue;
      return inner;
    }
  }
  return null;
}

/** formatting that never changes an answer's meaning removed */
function clean(answer: string): string {
  let s = answer.trim();
  for (let inner = unwrapOnce(s); inner !== null; inner = unwrapOnce(s)) s = inner.trim();
  s = s.replace(/\\(?:mathrm|mathbf|mathit|textbf|textit|textrm|textnormal|mbox)\s*\{/g, "\\text{");
  s = s.replace(/\\[dtc]frac/g, "\\frac");
  s = s.replace(/([\^_])\{\s*(\w)\s*\}/g, "$1$2"); // x^{2} → x^2
  s = s.replace(/\\left|\\right|\\displaystyle/g, "");
  s = s.replace(/\\[!,;:]/g, "").replace(/\\ |~/g, " ");
  s = s.replace(/\\\$|\$|€|£|¥|₹/g, "");
  s = s.replace(/\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|°/g, "");
  s = s.trim().replace(/(\S)\.$/, "$1");
  return s.trim();
}

/** splits at the commas outside brackets and braces; null when the brackets do not balance */
function topLevelSplit(s: string): string[] | null {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === "(" || c === "[" || c === "{") depth++;
    else if (c === ")" || c === "]" || c === "}") {
      if (--depth < 0) return null;
    } else if (c === "," && depth === 0) {
      parts.push(s.slice(start, i));
      start = i + 1;
    }
  }
  if (depth !== 0) return null;
  parts.push(s.slice(start));
  return parts.map((p) => p.trim());
}

/** whether the bracket opening at 0 closes at the last character */
function enclosesAll(s: string): boolean {
  let depth = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === "(" || c === "[" || c === "{") depth++;
    else if (c === ")" || c === "]" || c === "}") {
      if (--depth === 0 && i < s.length - 1) return false;
    }
  }
  return depth === 0;
}

const DECIMAL = String.raw`(?:\d+(?:\.\d*)?|\.\d+)`;
const RE_DECIMAL = new RegExp(String.raw`^([-+]?)(${DECIMAL})$`);
const RE_THOUSANDS = /^([-+]?)(\d{1,3}(?:,\d{3})+)(\.\d+)?$/;
const RE_FRAC = /^([-+]?)\\frac\s*(?:\{\s*([-+]?\d+)\s*\}|(\d))\s*(?:\{\s*([-+]?\d+)\s*\}|(\d))$/;
const RE_SLASH = /^([-+]?\d+)\s*\/\s*([-+]?\d+)$/;
const RE_MIXED_FRAC = /^([-+]?)(\d+)\s*\\frac\s*(?:\{\s*(\d+)\s*\}|(\d))\s*(?:\{\s*(\d+)\s*\}|(\d))$/;
const RE_SCI = new RegExp(String.raw`^(?:([-+]?${DECIMAL})\s*(?:\\times|\\cdot|×)\s*)?10\s*\^\s*(?:\{\s*([-+]?\d+)\s*\}|(\d))$`);
const RE_PERCENT = /^(.*?)\s*(?:\\%|%|\\text\{\s*(?:percent|percentage|pct)\s*\}|\b(?:percent|percentage|pct))$/;
const RE_INF = /^([-+]?)\s*(?:\\infty|∞|infinity|inf)$/;

function rational(n: bigint, d: bigint, atomic = true): Num | null {
  if (d === 0n) return null;
  const [a, b] = ratio(n, d);
  return { kind: "number", n: a, d: b, type: b === 1n ? "int" : "rat", f: toDouble(a, b), atomic, pct: false };
}

/** `12.50` → the float 12.5 (sympy's Float holds the correctly rounded double, as Number() does) */
function decimal(sign: string, digits: string): Num {
  const [whole, frac = ""] = digits.split(".");
  const n = BigInt((sign === "-" ? "-" : "") + ((whole ?? "") + frac || "0"));
  const [a, b] = ratio(n, 10n ** BigInt(frac.length));
  const isFloat = digits.includes(".");
  return { kind: "number", n: a, d: b, type: isFloat ? "float" : "int", f: Number(sign + (digits.startsWith(".") ? "0" : "") + digits), atomic: true, pct: false };
}

/** mantissa × 10^k, evaluated as sympy evaluates `1.5*10**3` (a float mantissa stays a float) */
function scientific(mantissa: string, k: number): Num | null {
  if (Math.abs(k) > MAX_EXPONENT) return null;
  const m = RE_DECIMAL.exec(mantissa)!;
  const base = decimal(m[1]!, m[2]!);
  const p = 10n ** BigInt(Math.abs(k));
  const [n, d] = k >= 0 ? ratio(base.n * p, base.d) : ratio(base.n, base.d * p);
  if (base.type === "float") {
    const f = k >= 0 ? base.f * Number(p) : base.f / Number(p);
    return { kind: "number", n, d, type: "float", f, atomic: false, pct: false };
  }
  return { ...rational(n, d, false)!, atomic: false };
}

function readNumber(s: string): Num | null {
  let m = RE_DECIMAL.exec(s);
  if (m) return decimal(m[1]!, m[2]!);
  if ((m = RE_THOUSANDS.exec(s))) return decimal(m[1]!, m[2]!.replace(/,/g, "") + (m[3] ?? ""));
  if ((m = RE_FRAC.exec(s))) {
    const r = rational(BigInt(m[2] ?? m[3]!), BigInt(m[4] ?? m[5]!));
    return r && m[1] === "-" ? rational(-r.n, r.d) : r;
  }
  if ((m = RE_SLASH.exec(s))) return rational(BigInt(m[1]!), BigInt(m[2]!));
  if ((m = RE_MIXED_FRAC.exec(s))) {
    const [w, a, b] = [m[2]!, m[3] ?? m[4]!, m[5] ?? m[6]!];
    if (BigInt(b) === 0n) return null;
    const r = rational(BigInt(w) * BigInt(b) + BigInt(a), BigInt(b))!;
    return m[1] === "-" ? rational(-r.n, r.d) : r;
  }
  if ((m = RE_SCI.exec(s))) return scientific(m[1] ?? "1", Number(m[2] ?? m[3]!));
  return null;
}

/** a larger power of ten is not read as a number (10^{9999999} would take minutes to expand) */
const MAX_EXPONENT = 400;

const EXPR: Value = { kind: "expr" };
const isExpr = (v: Value) => v.kind === "expr";

/** an element or endpoint: everything but a collection's own structure */
function readItem(s: string): Value {
  const v = read(s);
  return v.kind === "set" || v.kind === "tuple" || v.kind === "interval" || v.kind === "assign" ? EXPR : v;
}

function readCollection(kind: "set" | "tuple", parts: string[]): Value {
  const items = parts.map(readItem);
  if (items.some(isExpr)) return EXPR;
  if (kind === "tuple") return { kind, items };
  // a set holds each element once (sympy's FiniteSet drops repeats)
  const seen = new Set<string>();
  return { kind, items: items.filter((v) => !seen.has(itemKey(v)) && (seen.add(itemKey(v)), true)) };
}

function itemKey(v: Value): string {
  if (v.kind === "number") return `${v.type}:${v.type === "float" ? v.f : `${v.n}/${v.d}`}:${v.pct}`;
  if (v.kind === "text") return `text:${v.name}`;
  if (v.kind === "inf") return `inf:${v.sign}`;
  return "?";
}

/** the answer's value; after clean() */
function read(raw: string): Value {
  let s = clean(raw);
  if (s === "") return EXPR;
  let pct = false;
  let m = RE_PERCENT.exec(s);
  if (m && m[1]!.trim() !== "") {
    pct = true;
    s = m[1]!.trim();
  }
  // a unit: a trailing \text{…} after the value, or a word (two at most) after a number and a space
  m = /^(.*\S)\s*\\text\s*\{[^{}]*\}(?:\^\d|\^\{\d\})?$/.exec(s);
  if (m) s = m[1]!.trim();
  m = /^(.*[\d}])\s+[A-Za-z]+(?:\s+[A-Za-z]+)?\.?$/.exec(s);
  if (m && !isExpr(read(m[1]!))) s = m[1]!.trim();
  const num = readNumber(s);
  if (num) return pct ? { ...num, pct: true } : num;
  if (pct) return EXPR;
  if ((m = RE_INF.exec(s))) return { kind: "inf", sign: m[1] === "-" ? -1 : 1 };
  if ((m = /^\\text\s*\{([^{}]*)\}$/.exec(s))) {
    const inner = m[1]!.trim();
    const n = readNumber(inner);
    if (n) return n;
    const name = inner.toLowerCase().replace(/[\s()]/g, "");
    return /^[a-z]+$/.test(name) ? { kind: "text", name } : EXPR;
  }
  if (/^[A-Za-z]+$/.test(s)) return { kind: "text", name: s.length > 1 ? s.toLowerCase() : s };
  if ((m = /^([A-Za-z])\s*=\s*(.+)$/.exec(s))) {
    const value = readItem(m[2]!);
    return isExpr(value) ? EXPR : { kind: "assign", name: m[1]!, value };
  }
  if (s.startsWith("\\{") && s.endsWith("\\}")) {
    const parts = topLevelSplit(s.slice(2, -2));
    return parts && parts.every((p) => p !== "") ? readCollection("set", parts) : EXPR;
  }
  if (/^[([]/.test(s) && /[)\]]$/.test(s) && enclosesAll(s)) {
    const parts = topLevelSplit(s.slice(1, -1));
    if (!parts || parts.some((p) => p === "")) return EXPR;
    if (parts.length === 1) return s.startsWith("(") && s.endsWith(")") ? readItem(parts[0]!) : EXPR;
    if (parts.length === 2) {
      const [lo, hi] = [readItem(parts[0]!), readItem(parts[1]!)];
      if (isExpr(lo) || isExpr(hi)) return EXPR;
      // (a, b) with a < b is an open interval, as math-verify reads it; otherwise a pair
      if (lessThan(lo, hi)) return { kind: "interval", lo, hi, lopen: s.startsWith("("), ropen: s.endsWith(")") };
    }
    return readCollection("tuple", parts);
  }
  const parts = topLevelSplit(s);
  if (parts && parts.length > 1 && parts.every((p) => p !== "")) return readCollection("set", parts);
  return EXPR;
}

function sortValue(v: Value): number {
  if (v.kind === "number") return asDouble(applied(v));
  if (v.kind === "inf") return v.sign * Infinity;
  return NaN;
}
function lessThan(a: Value, b: Value): boolean {
  const [x, y] = [sortValue(a), sortValue(b)];
  return !Number.isNaN(x) && !Number.isNaN(y) && x < y;
}

// ---- comparing --------------------------------------------------------------------------------

/** the value sympy's doit() gives: a percent applied */
function applied(a: Num): Num {
  if (!a.pct) return a;
  if (a.type === "float") {
    const [n, d] = ratio(a.n, a.d * 100n);
    return { ...a, n, d, f: a.f / 100, pct: false };
  }
  return { ...rational(a.n, a.d * 100n, a.atomic)!, pct: false };
}

const asDouble = (a: Num) => (a.type === "float" ? a.f : toDouble(a.n, a.d));
/** round(x, 6) as an integer count of millionths: exact on the double for a float, on the fraction otherwise */
function millionths(a: Num): bigint | null {
  if (a.type === "float" && !Number.isFinite(a.f)) return null;
  const [n, d] = a.type === "float" ? exactDouble(a.f) : [a.n, a.d];
  return roundHalfEven(n * 1_000_000n, d);
}

function numbersEqual(a: Num, b: Num): boolean {
  const [x, y] = [applied(a), applied(b)];
  // equal values (sympy's simplify(a - b) == 0; with a float, in the float's precision)
  if (x.type === "float" || y.type === "float" ? asDouble(x) === asDouble(y) : x.n === y.n && x.d === y.d) return true;
  if (!a.atomic && !b.atomic) return false;
  if ((a.atomic && a.type === "float") || (b.atomic && b.type === "float")) {
    // rounding to 6 decimals; an integer stays an integer, which never equals a rounded float
    if (x.type === "int" || y.type === "int") return false;
    const [mx, my] = [millionths(x), millionths(y)];
    return mx !== null && mx === my;
  }
  // both integers, either a percent: compared without the percent sign (math-verify: 9% == 9)
  return a.atomic && b.atomic && a.type === "int" && b.type === "int" && a.n === b.n;
}

const isFinite = (v: Value): v is Collection => v.kind === "set" || v.kind === "tuple";
const sortKey = (v: Value): [number, string] => [sortValue(v), v.kind === "text" ? v.name : ""];
function sorted(items: Value[]): Value[] {
  return [...items].sort((a, b) => {
    const [ka, kb] = [sortKey(a), sortKey(b)];
    const x = Number.isNaN(ka[0]) ? Infinity : ka[0];
    const y = Number.isNaN(kb[0]) ? Infinity : kb[0];
    return x !== y ? (x < y ? -1 : 1) : ka[1] < kb[1] ? -1 : ka[1] > kb[1] ? 1 : 0;
  });
}
function pairwise(a: Value[], b: Value[]): boolean {
  return a.length === b.length && a.every((v, i) => compare(v, b[i]!) === "equal");
}

/** math-verify's set, tuple and interval comparison (a lone value counts as a set of one) */
function collectionsEqual(gold: Value, pred: Value): boolean {
  const a: Value = gold.kind === "set" || gold.kind === "tuple" || gold.kind === "interval" ? gold : { kind: "set", items: [gold] };
  const b: Value = pred.kind === "set" || pred.kind === "tuple" || pred.kind === "interval" ? pred : { kind: "set", items: [pred] };
  if (a.kind === "interval" && b.kind === "interval") {
    return a.lopen === b.lopen && a.ropen === b.ropen && compare(a.lo, b.lo) === "equal" && compare(a.hi, b.hi) === "equal";
  }
  const finite = (g: Collection, p: Collection): boolean => {
    if (g.items.length !== p.items.length) return false;
    if (g.kind === "set") return pairwise(sorted(g.items), sorted(p.items));
    return pairwise(g.items, p.items); // a tuple's order counts; a set predicted for it is read as written
  };
  if (isFinite(a) && isFinite(b)) return finite(a, b);
  // an open interval (a, b) against two values: compared as the pair
  if (a.kind === "interval" && isFinite(b)) return a.lopen && a.ropen && b.items.length === 2 && finite({ kind: "tuple", items: [a.lo, a.hi] }, b);
  if (isFinite(a) && b.kind === "interval") return b.lopen && b.ropen && a.items.length === 2 && finite(a, { kind: "tuple", items: [b.lo, b.hi] });
  return false;
}

function compare(gold: Value, pred: Value): Verdict {
  if (isExpr(gold) || isExpr(pred)) return "undecided";
  if (gold.kind === "assign" && pred.kind === "assign") return gold.name === pred.name ? compare(gold.value, pred.value) : "different";
  if (gold.kind === "assign") return compare(gold.value, pred);
  if (pred.kind === "assign") return compare(gold, pred.value);
  const coll = (v: Value) => v.kind === "set" || v.kind === "tuple" || v.kind === "interval";
  if (coll(gold) || coll(pred)) return collectionsEqual(gold, pred) ? "equal" : "different";
  if (gold.kind === "text" && pred.kind === "text") return gold.name === pred.name ? "equal" : "different";
  if (gold.kind === "inf" && pred.kind === "inf") return gold.sign === pred.sign ? "equal" : "different";
  if (gold.kind === "number" && pred.kind === "number") return numbersEqual(gold, pred) ? "equal" : "different";
  return "different";
}

/** the answer's normalised text, spaces removed (what two undecided answers are compared by) */
const squash = (s: string) => clean(s).replace(/\s+/g, "");

/**
 * The verdict on a predicted answer against the gold one (the order matters only where
 * math-verify's does: a set against a tuple, an assignment against a value).
 * @example gradeAnswer("\\frac{1}{2}", "0.5") // "equal"
 * @example gradeAnswer("x^2-1", "(x-1)(x+1)") // "undecided"
 */
export function gradeAnswer(gold: string, pred: string): Verdict {
  if (squash(gold) !== "" && squash(gold) === squash(pred)) return "equal";
  return compare(read(gold), read(pred));
}

/**
 * Whether two answers mean the same (gradeAnswer's "equal"; "undecided" is not equal).
 * @example answersEqual("1,000", "1000.0") // true
 */
export function answersEqual(gold: string, pred: string): boolean {
  return gradeAnswer(gold, pred) === "equal";
}
