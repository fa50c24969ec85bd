/**
 * An advantage as a sum of terms: `zscore(reward) + center(beta * cumsum(logratio), by position)`
 * has two (SPRO's outcome term and its process term). Each term's rms per iteration goes into the
 * run's metrics as `adv/terms/<i>_rms` (src/rl/iteration.ts), with its source text in the plan
 * (`advantageTerms`), so a negligible term is visible at once.
 *
 * The top-level `+` and `-` of the formula split it (left to right, as the parser associates
 * them); `a - b` has the terms `a` and `-b`. The typed IR and the source split the same way, so
 * term i of the one is term i of the other.
 */
import type { Expr } from "./ast.js";
import type { Formula } from "./plan.js";
import { printExpr } from "./print.js";

/**
 * The terms of a typed formula whose sum it is (one term: the formula itself).
 * @example formulaTerms(ir("zscore(reward) - 0.1 * tokens")) // [zscore(reward), neg(0.1 * tokens)]
 */
export function formulaTerms(f: Formula): Formula[] {
  if (f.op !== "binary" || (f.fn !== "+" && f.fn !== "-")) return [f];
  const right = f.fn === "+" ? f.right : ({ op: "unary", fn: "neg", arg: f.right, level: f.right.level } as Formula);
  return [...formulaTerms(f.left), right];
}

/**
 * The source text of each term of a formula as written.
 * @example exprTerms(parseExpr("zscore(reward) - 0.1 * tokens")) // ["zscore(reward)", "-(0.1 * tokens)"]
 */
export function exprTerms(e: Expr): string[] {
  if (e.kind !== "binary" || (e.op !== "+" && e.op !== "-")) return [printExpr(e)];
  const right = printExpr(e.right);
  const simple = e.right.kind === "num" || e.right.kind === "name" || e.right.kind === "call";
  return [...exprTerms(e.left), e.op === "+" ? right : simple ? `-${right}` : `-(${right})`];
}

/**
 * The plan's `advantageTerms`: the source texts when the advantage is a sum of two or more terms
 * and the typed formula splits into as many (constant folding can merge constant terms), else
 * undefined.
 */
export function advantageTerms(expr: Expr, typed: Formula): string[] | undefined {
  const sources = exprTerms(expr);
  return sources.length >= 2 && formulaTerms(typed).length === sources.length ? sources : undefined;
}
