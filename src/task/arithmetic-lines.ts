/**
 * The line formats of arithmetic worked solutions, and the labeller that applies to ANY response.
 *
 * Named formats (one line per step; A, B, C, X are integers, `op` one of + - * /):
 *   computation  `A op B=C`        e.g. `4*2=8`     (a new step: essential; see the rules below)
 *   check        `check A op B=C`  e.g. `check 4*2=8` (re-check of an earlier step: redundant)
 *   restate      `so far X`        e.g. `so far 11`   (restates the latest result: redundant)
 *   detour       `X+0=X` / `X*1=X` e.g. `11+0=11`     (a no-op: redundant)
 *   fix          `fix A op B=C`    e.g. `fix 3+8=11`  (corrects the slip just before it)
 *   answer       `answer X`        e.g. `answer 6`
 * A slip is a computation line with a wrong result (`3+8=12`).
 *
 * Labelling rules (labelLines), applied line by line while tracking the partly reduced expression
 * ("state", starting from the question) and the result of the latest state-advancing step ("last",
 * starting at the first operand):
 *  1. an empty line is redundant (it adds nothing); a line matching no format is a slip.
 *  2. `answer X` is answer (right or wrong: the verifier judges the answer).
 *  3. `so far X` is redundant when X equals last, else slip.
 *  4. a computation (plain, check or fix) with wrong arithmetic (or an inexact division) is a slip.
 *  5. a correct `check` line is redundant (it never advances the state).
 *  6. a correct computation that is a valid reduction of the state (A op B is an adjacent pair of
 *     the state and replacing it by C leaves the expression's value unchanged, so `8-5=3` in
 *     `3+8-5` counts but `3+4=7` in `3+4*2` does not) advances the state: it is fix when written
 *     as `fix` right after an uncorrected slip, else essential.
 *  7. a correct `fix` of a computation done before, after an uncorrected slip, is fix.
 *  8. otherwise a correct no-op (`X+0`, `X-0`, `X*1`, `X/1`) or a repeat of a computation that
 *     advanced the state earlier is redundant.
 *  9. otherwise (correct arithmetic that is not a step of this problem: wrong order, or built on a
 *     wrong value) it is a slip.
 * "Uncorrected slip" means a slip line since the last state-advancing or fix line.
 */
import type { StepLabel } from "./types.js";
import { applyOp, reduceAt, evaluate, formatNumber, parseNumber, type Expr, type Op } from "./arithmetic-expr.js";

export type ComputationKind = "plain" | "check" | "fix";

export interface Computation {
  a: number;
  op: Op;
  b: number;
  c: number;
}

export type ParsedLine =
  | { kind: "empty" }
  | { kind: "answer"; value: string }
  | { kind: "restate"; value: number }
  | { kind: ComputationKind; comp: Computation }
  | { kind: "unknown" };

export function formatComputation(c: Computation): string {
  return `${formatNumber(c.a)}${c.op}${formatNumber(c.b, true)}=${formatNumber(c.c)}`;
}

const NUM = String.raw`(-?\d+|\(-\d+\))`;
const COMP_RE = new RegExp(String.raw`^(check |fix )?${NUM}\s*([-+*/])\s*${NUM}\s*=\s*${NUM}$`);
const ANSWER_RE = /^answer\s+(\S+)$/;
const RESTATE_RE = new RegExp(String.raw`^so far\s+${NUM}$`);

export function parseLine(line: string): ParsedLine {
  const s = line.trim();
  if (s === "") return { kind: "empty" };
  let m = ANSWER_RE.exec(s);
  if (m) return { kind: "answer", value: m[1]! };
  m = RESTATE_RE.exec(s);
  if (m) return { kind: "restate", value: parseNumber(m[1]!)! };
  m = COMP_RE.exec(s);
  if (m) {
    const kind: ComputationKind = m[1] === "check " ? "check" : m[1] === "fix " ? "fix" : "plain";
    const comp = { a: parseNumber(m[2]!)!, op: m[3] as Op, b: parseNumber(m[4]!)!, c: parseNumber(m[5]!)! };
    return { kind, comp };
  }
  return { kind: "unknown" };
}

/** The index of an adjacent pair `a op b` whose reduction keeps the value of `e`, or -1. */
export function findValidReduction(e: Expr, a: number, op: Op, b: number): number {
  const value = evaluate(e);
  if (value === null) return -1;
  for (let i = 0; i < e.ops.length; i++) {
    if (e.values[i] !== a || e.ops[i] !== op || e.values[i + 1] !== b) continue;
    const r = reduceAt(e, i);
    if (r && evaluate(r) === value) return i;
  }
  return -1;
}

export function isNoOp(op: Op, b: number): boolean {
  return ((op === "+" || op === "-") && b === 0) || ((op === "*" || op === "/") && b === 1);
}

const key = (c: { a: number; op: Op; b: number }) => `${c.a}${c.op}${c.b}`;

/** Label each line of a response to the question `expr` (rules in the module comment). */
export function labelLines(expr: Expr, lines: string[]): StepLabel[] {
  let state = expr;
  let last = expr.values[0]!;
  let pendingSlip = false;
  const done = new Set<string>();
  const labels: StepLabel[] = [];
  const slip = (): StepLabel => {
    pendingSlip = true;
    return "slip";
  };
  for (const line of lines) {
    const p = parseLine(line);
    let label: StepLabel;
    if (p.kind === "empty") label = "redundant";
    else if (p.kind === "unknown") label = slip();
    else if (p.kind === "answer") label = "answer";
    else if (p.kind === "restate") label = p.value === last ? "redundant" : slip();
    else {
      const { a, op, b, c } = p.comp;
      const v = applyOp(a, op, b);
      if (v === null || v !== c) label = slip();
      else if (p.kind === "check") label = "redundant";
      else {
        const i = findValidReduction(state, a, op, b);
        if (i >= 0) {
          label = p.kind === "fix" && pendingSlip ? "fix" : "essential";
          state = reduceAt(state, i)!;
          last = c;
          done.add(key(p.comp));
          pendingSlip = false;
        } else if (p.kind === "fix" && pendingSlip && done.has(key(p.comp))) {
          label = "fix";
          pendingSlip = false;
        } else if (isNoOp(op, b) || done.has(key(p.comp))) label = "redundant";
        else label = slip();
      }
    }
    labels.push(label);
  }
  return labels;
}

/**
 * Fraction of step lines (all lines but answer lines) labelled redundant; 0 when there are none.
 * @example redundantStepFraction(["essential", "redundant", "essential", "answer"]) // 1/3
 */
export function redundantStepFraction(labels: readonly StepLabel[]): number {
  const steps = labels.filter((l) => l !== "answer");
  if (steps.length === 0) return 0;
  return steps.filter((l) => l === "redundant").length / steps.length;
}
