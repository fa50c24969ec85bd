/** The names a formula reads: what the compiler checks a plan supplies, and what the code generators refuse. */
import type { Formula } from "./plan.js";

/** Every ref of a formula, as "source:name". */
export function refsOf(f: Formula | undefined, out = new Set<string>()): Set<string> {
  if (!f) return out;
  switch (f.op) {
    case "num":
      break;
    case "ref":
      out.add(`${f.source}:${f.name}`);
      break;
    case "unary":
    case "reduce":
    case "group":
    case "scan":
      refsOf(f.arg, out);
      break;
    case "binary":
      refsOf(f.left, out);
      refsOf(f.right, out);
      break;
    case "if":
      refsOf(f.cond, out);
      refsOf(f.then, out);
      refsOf(f.else, out);
      break;
    case "math":
      f.args.forEach((a) => refsOf(a, out));
      break;
    case "gae":
      refsOf(f.reward, out);
      refsOf(f.value, out);
      break;
    default: {
      const never: never = f;
      throw new Error(`unknown formula node ${JSON.stringify(never)}`);
    }
  }
  return out;
}
