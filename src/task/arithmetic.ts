/**
 * The built-in `arithmetic` task: multi-operation integer expressions whose worked solutions write
 * one line per step, with redundant lines and slip + fix pairs at declared rates, every line labelled.
 *
 *   prompt    `Q: 3+4*2-5\n`
 *   solution  `4*2=8\ncheck 4*2=8\n3+8=12\nfix 3+8=11\n11-5=6\nanswer 6`
 *   labels     essential, redundant, slip, fix, essential, answer
 *
 * Steps follow precedence: the leftmost * or / first, then + and - left to right (nextStepIndex).
 * The line formats and the labelling rules for any response are in arithmetic-lines.ts.
 *
 * Splits: an expression is held out when a fixed hash of its text falls in 1 of 8 buckets. The
 * partition does not depend on the seed, so no seed's training set ever contains another seed's
 * held-out expression. Problem i of a split comes from a generator derived from (seed, split, i),
 * so `train(n, offset)` is cheap and deterministic.
 */
import type { ArithmeticSettings } from "../../dsl/plan.js";
import type { Problem, StepLabel, Task } from "./types.js";
import { Rng, fnv1a } from "../random.js";
import { applyOp, evaluate, formatExpr, nextStepIndex, parseExpr, reduceAt, type Expr, type Op, OPS } from "./arithmetic-expr.js";
import { findValidReduction, formatComputation, labelLines, parseLine, type Computation } from "./arithmetic-lines.js";

export { redundantStepFraction } from "./arithmetic-lines.js";

export const defaultArithmeticSettings: ArithmeticSettings = {
  operandsMin: 3, // 2 steps at least: the smallest problem where order and credit matter
  operandsMax: 4, // prompt + solution stay under ~100 characters (model context 128)
  valueMin: 1,
  valueMax: 9, // one-digit operands keep products at two digits
  operators: "+-*", // "/" is allowed; divisions are then generated exact
  verbosity: 0.3, // P(redundant line after each essential step)
  slips: 0.1, // P(slip + fix at each essential step)
};

/** 1 in HELD_OUT_BUCKETS expressions is held out */
export const HELD_OUT_BUCKETS = 8;
const MAX_TRIES = 10_000;

export type Split = "train" | "heldout";

/** The split an expression text belongs to (independent of the seed). */
export function splitOf(expressionText: string): Split {
  return fnv1a(`stepwise-arith-split/${expressionText}`) % HELD_OUT_BUCKETS === 0 ? "heldout" : "train";
}

/** Fail early, with the fix, on settings that cannot produce problems. */
export function validateArithmeticSettings(s: ArithmeticSettings): void {
  const int = (name: string, v: number) => {
    if (!Number.isInteger(v)) throw new Error(`arithmetic: ${name} must be an integer (got ${v})`);
  };
  int("operandsMin", s.operandsMin);
  int("operandsMax", s.operandsMax);
  int("valueMin", s.valueMin);
  int("valueMax", s.valueMax);
  if (s.operandsMin < 2) throw new Error(`arithmetic: operands must be at least 2 (got ${s.operandsMin}): set operands 2..N or more`);
  if (s.operandsMax < s.operandsMin) throw new Error(`arithmetic: operands range ${s.operandsMin}..${s.operandsMax} is empty`);
  if (s.valueMax < s.valueMin) throw new Error(`arithmetic: value range ${s.valueMin}..${s.valueMax} is empty`);
  const ops = Array.from(s.operators);
  if (ops.length === 0 || ops.some((o) => !OPS.includes(o as Op))) {
    throw new Error(`arithmetic: operators must be a non-empty string of + - * / (got ${JSON.stringify(s.operators)})`);
  }
  for (const [name, p] of [["verbosity", s.verbosity], ["slips", s.slips]] as const) {
    if (!(p >= 0 && p <= 1)) throw new Error(`arithmetic: ${name} is a probability, in [0, 1] (got ${p})`);
  }
}

/** A random expression whose value is defined (exact divisions), or null after too many tries. */
function randomExpr(rng: Rng, s: ArithmeticSettings): Expr | null {
  const ops = Array.from(s.operators) as Op[];
  for (let t = 0; t < 100; t++) {
    const n = rng.int(s.operandsMin, s.operandsMax);
    const values = Array.from({ length: n }, () => rng.int(s.valueMin, s.valueMax));
    const e: Expr = { values, ops: Array.from({ length: n - 1 }, () => rng.pick(ops)) };
    if (evaluate(e) !== null) return e;
  }
  return null;
}

interface Line {
  text: string;
  label: StepLabel;
}

/** A wrong result near the right one: off by 1..3, or by 10 (a carry slip). */
function slipValue(rng: Rng, c: number): number {
  const d = rng.pick([1, 2, 3, 10]);
  return rng.chance(0.5) ? c + d : c - d;
}

/** The worked solution of `e`, with redundant lines and slips at the declared rates. */
export function solve(e: Expr, s: Pick<ArithmeticSettings, "verbosity" | "slips">, rng: Rng): Line[] {
  const lines: Line[] = [];
  const done: Computation[] = [];
  let state = e;
  while (state.ops.length > 0) {
    // 1) the next step by precedence, possibly as a slip followed by its fix
    const i = nextStepIndex(state);
    const comp: Computation = { a: state.values[i]!, op: state.ops[i]!, b: state.values[i + 1]!, c: 0 };
    comp.c = applyOp(comp.a, comp.op, comp.b)!;
    if (rng.chance(s.slips)) {
      lines.push({ text: formatComputation({ ...comp, c: slipValue(rng, comp.c) }), label: "slip" });
      lines.push({ text: `fix ${formatComputation(comp)}`, label: "fix" });
    } else {
      lines.push({ text: formatComputation(comp), label: "essential" });
    }
    state = reduceAt(state, i)!;
    done.push(comp);
    // 2) maybe one redundant line: a re-check, a restatement or a no-op detour
    if (rng.chance(s.verbosity)) {
      const kind = rng.pick(["check", "restate", "detour"] as const);
      const x = comp.c;
      const detourOp: Op = x === 0 ? "*" : "+"; // X*1 when X = 0 is still a no-op
      const detour: Computation = { a: x, op: detourOp, b: detourOp === "+" ? 0 : 1, c: x };
      if (kind === "check") lines.push({ text: `check ${formatComputation(rng.pick(done))}`, label: "redundant" });
      else if (kind === "detour" && findValidReduction(state, detour.a, detour.op, detour.b) < 0) {
        // (a detour that happens to be a real step of the state would be essential: restate instead)
        lines.push({ text: formatComputation(detour), label: "redundant" });
      } else lines.push({ text: `so far ${x}`, label: "redundant" });
    }
  }
  lines.push({ text: `answer ${state.values[0]}`, label: "answer" });
  return lines;
}

export const QUESTION_PREFIX = "Q: ";

/** The expression of a question `Q: 3+4*2-5` (or of the bare expression), or null. */
export function parseQuestion(question: string): Expr | null {
  const q = question.trim();
  return parseExpr(q.startsWith(QUESTION_PREFIX.trim()) ? q.slice(QUESTION_PREFIX.trim().length) : q);
}

/** The first `answer X` line of a response (X an integer), or null. */
export function extractArithmeticAnswer(response: string): string | null {
  for (const line of response.split("\n")) {
    const p = parseLine(line);
    if (p.kind === "answer") return /^-?\d+$/.test(p.value) ? p.value : null;
  }
  return null;
}

const STEP_PRIORITY: StepLabel[] = ["answer", "fix", "slip", "essential", "redundant"];

export class ArithmeticTask implements Task {
  readonly name = "arithmetic";
  readonly settings: ArithmeticSettings;
  readonly seed: number;
  private readonly heldOutCache: Problem[] = [];
  private readonly heldOutSeen = new Set<string>();
  private heldOutNext = 0;

  constructor(settings: Partial<ArithmeticSettings> = {}, seed = 0) {
    this.settings = { ...defaultArithmeticSettings, ...settings };
    validateArithmeticSettings(this.settings);
    this.seed = seed;
  }

  /** Problem `index` of `split`: deterministic from (seed, split, index). */
  problem(split: Split, index: number): Problem {
    const rng = Rng.derive(this.seed, `${split}/${index}`);
    for (let t = 0; t < MAX_TRIES; t++) {
      const e = randomExpr(rng, this.settings);
      if (!e) break;
      const text = formatExpr(e);
      if (splitOf(text) !== split) continue;
      const lines = solve(e, this.settings, rng);
      const question = QUESTION_PREFIX + text;
      return {
        id: `arithmetic/${split}/${index}`,
        prompt: question + "\n",
        question,
        reference: String(evaluate(e)),
        solution: lines.map((l) => l.text).join("\n"),
        labels: lines.map((l) => l.label),
      };
    }
    throw new Error(
      `arithmetic: could not draw a ${split} problem from these settings (operands ${this.settings.operandsMin}..${this.settings.operandsMax}, ` +
        `values ${this.settings.valueMin}..${this.settings.valueMax}, operators "${this.settings.operators}"): widen the ranges`,
    );
  }

  train(n: number, offset = 0): Problem[] {
    return Array.from({ length: n }, (_, i) => this.problem("train", offset + i));
  }

  /** The first n distinct held-out problems (fewer only when the settings allow fewer distinct expressions). */
  heldOut(n: number): Problem[] {
    let misses = 0;
    while (this.heldOutCache.length < n && misses < 200) {
      const p = this.problem("heldout", this.heldOutNext++);
      if (this.heldOutSeen.has(p.question)) misses++;
      else {
        misses = 0;
        this.heldOutSeen.add(p.question);
        this.heldOutCache.push(p);
      }
    }
    return this.heldOutCache.slice(0, n);
  }

  extractAnswer(response: string): string | null {
    return extractArithmeticAnswer(response);
  }

  verify(response: string, reference: string): number {
    const a = this.extractAnswer(response);
    return a !== null && Number(a) === Number(reference.trim()) ? 1 : 0;
  }

  /**
   * Labels of the steps of any response to `problem` (line rules in arithmetic-lines.ts). A step is
   * normally one line; a step text holding several lines gets one label from its lines, in priority
   * answer > fix > slip > essential > redundant (a slip corrected within the same step is a fix).
   */
  labelSteps(problem: Problem, stepTexts: string[]): StepLabel[] {
    const e = parseQuestion(problem.question);
    if (!e) throw new Error(`arithmetic: cannot parse the question ${JSON.stringify(problem.question)}`);
    const linesOf = stepTexts.map((t) => {
      const ls = t.split("\n").filter((l) => l.trim() !== "");
      return ls.length > 0 ? ls : [t];
    });
    const flat = labelLines(e, linesOf.flat());
    let at = 0;
    return linesOf.map((ls) => {
      const labels = flat.slice(at, (at += ls.length));
      return STEP_PRIORITY.find((l) => labels.includes(l))!;
    });
  }
}

/** @example createArithmeticTask({ operandsMax: 5 }, 7).train(2) */
export function createArithmeticTask(settings: Partial<ArithmeticSettings> = {}, seed = 0): ArithmeticTask {
  return new ArithmeticTask(settings, seed);
}
