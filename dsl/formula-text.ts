/** The formula IR (plan.ts) back to DSL text: for plan summaries and the headers of generated code. */
import type { Formula } from "./plan.js";
import { SCANS } from "./ops.js";

const PREC: Record<string, number> = { or: 1, and: 2, "==": 3, "!=": 3, "<": 3, "<=": 3, ">": 3, ">=": 3, "+": 4, "-": 4, "*": 5, "/": 5, "^": 6 };

/** Formula IR back to infix DSL text (enough to read it; constants are folded, so not a round trip). */
export function formatFormula(f: Formula, outer = 0): string {
  switch (f.op) {
    case "num":
      return String(f.value);
    case "ref":
      return f.name;
    case "unary":
      return f.fn === "neg" ? `-${formatFormula(f.arg, 7)}` : f.fn === "not" ? `not ${formatFormula(f.arg, 7)}` : `${f.fn}(${formatFormula(f.arg)})`;
    case "binary": {
      const p = PREC[f.fn] ?? 4;
      // ^ is right-associative; the others left-associative
      const s = `${formatFormula(f.left, f.fn === "^" ? p + 1 : p)} ${f.fn} ${formatFormula(f.right, f.fn === "^" ? p : p + 1)}`;
      return p < outer ? `(${s})` : s;
    }
    case "if":
      return `if ${formatFormula(f.cond)} then ${formatFormula(f.then)} else ${formatFormula(f.else)}`;
    case "math":
      return `${f.fn}(${f.args.map((a) => formatFormula(a)).join(", ")})`;
    case "reduce":
      return `${f.fn}(${formatFormula(f.arg)} over ${f.over})`;
    case "group":
      return `${f.fn}(${formatFormula(f.arg)}${f.by ? `, by ${f.by.replace("_", " ")}` : ""})`;
    case "scan":
      return `${f.fn}(${formatFormula(f.arg)}${SCANS[f.fn].gamma === "arg" ? `, ${f.gamma}` : ""})`;
    case "gae":
      return `gae(${formatFormula(f.reward)}, ${formatFormula(f.value)}, ${f.gamma}, ${f.lambda})`;
  }
}

