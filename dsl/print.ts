/**
 * Prints formulas back as source, with the fewest parentheses that keep their meaning.
 * Shared by the formatter and by the compiler (a method argument that is a formula is recorded
 * in the plan as its source text).
 */
import type { Expr } from "./ast.js";

/** Binding strength, loosest first; matches the grammar in parser.ts. */
const PREC: Record<string, number> = {
  if: 0, or: 1, and: 2, not: 3,
  "<": 4, "<=": 4, ">": 4, ">=": 4, "==": 4, "!=": 4,
  "+": 5, "-": 5, "*": 6, "/": 6, neg: 7, "^": 8, atom: 9,
};

function prec(e: Expr): number {
  switch (e.kind) {
    case "if":
      return PREC.if!;
    case "binary":
      return PREC[e.op]!;
    case "unary":
      return e.op === "not" ? PREC.not! : PREC.neg!;
    default:
      return PREC.atom!;
  }
}

const wrap = (s: string, yes: boolean): string => (yes ? `(${s})` : s);

/**
 * @example printExpr(parseExpr("(a+b)*c")) // "(a + b) * c"
 */
export function printExpr(e: Expr): string {
  switch (e.kind) {
    case "num":
      return e.raw;
    case "str":
      return e.raw;
    case "name":
      return e.name;
    case "unary": {
      const p = prec(e);
      // `- -x` must not print as `--x` (not a token, but keep it readable), and `not` needs a space.
      const inner = wrap(printExpr(e.arg), prec(e.arg) < p);
      return e.op === "neg" ? `-${inner}` : `not ${inner}`;
    }
    case "binary": {
      const p = prec(e);
      if (e.op === "^") {
        // right-associative; the exponent is a unary expression in the grammar
        const left = wrap(printExpr(e.left), prec(e.left) <= p);
        const right = wrap(printExpr(e.right), prec(e.right) < PREC.neg!);
        return `${left} ^ ${right}`;
      }
      // comparisons do not chain: both sides must bind tighter
      const cmp = p === 4;
      const left = wrap(printExpr(e.left), cmp ? prec(e.left) <= p : prec(e.left) < p);
      const right = wrap(printExpr(e.right), prec(e.right) <= p);
      return `${left} ${e.op} ${right}`;
    }
    case "if": {
      // `if` extends as far right as it can: inside an operator it needs parentheses (handled by callers)
      return `if ${printExpr(e.cond)} then ${printExpr(e.then)} else ${printExpr(e.else)}`;
    }
    case "call": {
      const parts = e.args.map(printExpr);
      const mods = e.modifiers.map((m) => `${m.kind} ${m.words.join(" ")}`);
      if (mods.length === 0) return `${e.fn}(${parts.join(", ")})`;
      // `sum(x over step)` reads best; several modifiers need commas (see callArgs in parser.ts)
      if (parts.length === 0) return `${e.fn}(${mods.join(" ")})`;
      if (mods.length === 1 && e.modifiers[0]!.kind === "over") return `${e.fn}(${parts.join(", ")} ${mods[0]})`;
      return `${e.fn}(${parts.join(", ")}, ${mods.join(", ")})`;
    }
  }
}
