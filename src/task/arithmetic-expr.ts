/**
 * Integer expressions for the arithmetic task: a flat list of operands and operators, evaluated
 * with the usual precedence (* and / before + and -), left to right within a level.
 * Division must be exact: an inexact or by-zero division makes a value undefined (null).
 */

export type Op = "+" | "-" | "*" | "/";
export const OPS: readonly Op[] = ["+", "-", "*", "/"];

/** `values.length === ops.length + 1`; `values[i] ops[i] values[i+1]` is the i-th adjacent pair */
export interface Expr {
  values: number[];
  ops: Op[];
}

/** a op b, or null for an inexact or by-zero division */
export function applyOp(a: number, op: Op, b: number): number | null {
  switch (op) {
    case "+":
      return a + b;
    case "-":
      return a - b;
    case "*":
      return a * b;
    case "/":
      return b !== 0 && a % b === 0 ? a / b : null;
  }
}

/** The index of the pair reduced next: the leftmost * or /, else the leftmost + or -. */
export function nextStepIndex(e: Expr): number {
  const i = e.ops.findIndex((op) => op === "*" || op === "/");
  return i >= 0 ? i : 0;
}

/** The expression with pair i replaced by its value, or null when that value is undefined. */
export function reduceAt(e: Expr, i: number): Expr | null {
  const v = applyOp(e.values[i]!, e.ops[i]!, e.values[i + 1]!);
  if (v === null) return null;
  const values = [...e.values.slice(0, i), v, ...e.values.slice(i + 2)];
  const ops = [...e.ops.slice(0, i), ...e.ops.slice(i + 1)];
  return { values, ops };
}

/** The value by precedence (the canonical order of steps), or null when a division is inexact. */
export function evaluate(e: Expr): number | null {
  let cur: Expr | null = e;
  while (cur && cur.ops.length > 0) cur = reduceAt(cur, nextStepIndex(cur));
  return cur ? cur.values[0]! : null;
}

/**
 * A number as it appears in text. A negative number is written plainly as a left operand or a
 * result (`-13+4=-9`) and in parentheses as a right operand (`3-(-4)=7`), so "--" never occurs.
 */
export function formatNumber(v: number, asRightOperand = false): string {
  return v < 0 && asRightOperand ? `(${v})` : String(v);
}

export function formatExpr(e: Expr): string {
  let s = formatNumber(e.values[0]!);
  e.ops.forEach((op, i) => (s += op + formatNumber(e.values[i + 1]!, true)));
  return s;
}

const NUM = String.raw`(?:-?\d+|\(-\d+\))`;
const EXPR_RE = new RegExp(String.raw`^${NUM}(?:[-+*/]${NUM})*$`);
const TERM_RE = new RegExp(String.raw`(${NUM})([-+*/])?`, "g");

/** parse a number written by formatNumber ("-4", "(-4)", "12"), or null */
export function parseNumber(text: string): number | null {
  const m = /^\(?(-?\d+)\)?$/.exec(text.trim());
  if (!m) return null;
  const open = text.trim().startsWith("(");
  const close = text.trim().endsWith(")");
  return open === close ? Number(m[1]) : null;
}

/** parse "3+4*2-5" (spaces ignored), or null */
export function parseExpr(text: string): Expr | null {
  const s = text.replace(/\s+/g, "");
  if (!EXPR_RE.test(s)) return null;
  const values: number[] = [];
  const ops: Op[] = [];
  for (const m of s.matchAll(TERM_RE)) {
    values.push(parseNumber(m[1]!)!);
    if (m[2]) ops.push(m[2] as Op);
  }
  return values.length === ops.length + 1 ? { values, ops } : null;
}
