/**
 * Refusing `steps split /regex/` patterns that can backtrack catastrophically. JavaScript's
 * engine backtracks, so a pattern such as /(a+)+$/ takes time exponential in the response's
 * length (26 characters: 0.85 s; 40: hours), inside one synchronous call that no interrupt can
 * stop. Segmentation runs on every sampled response, so such a pattern is refused at `check`.
 *
 * The rule is conservative (it may refuse a harmless pattern, never passes a known-bad shape):
 *  - an unbounded quantifier over a part that itself repeats a variable number of times
 *    ("star height" above 1): (a+)+, (a*b*)*, (?:\n\s*)+, (\d{1,3})+;
 *  - an unbounded quantifier over alternatives that can begin with the same character: (a|ab)+,
 *    (\w|\d)*, (.|x)+ (each alternative's first character approximated: a literal, \d \w \s, or
 *    "anything" for ., classes and the rest);
 *  - backreferences (\1, \k<name>), which no linear-time matcher supports.
 * Bounded repetition ({2,5}) and single quantifiers (\n+, Step \d+:) are fine.
 */

export interface RegexHazard {
  /** 0-based index in the pattern of the construct to blame */
  index: number;
  message: string;
}

/** What an alternative can start with: a literal character, a class escape, or anything. */
type First = { lit: string } | { cls: "d" | "w" | "s" } | "any";

interface Node {
  /** contains a quantifier of variable count (?, *, +, {m,n} with n > m) */
  unbounded: boolean;
  /** first characters of its alternatives (one entry per top-level alternative) */
  firsts: First[];
  /** is a group with more than one alternative */
  alternation: boolean;
}

/** The first hazard in `pattern` (a JavaScript regex source), or null when it is safe. */
export function regexHazard(pattern: string): RegexHazard | null {
  let i = 0;
  let hazard: RegexHazard | null = null;
  const fail = (index: number, message: string) => {
    hazard ??= { index, message };
  };

  // alternatives := sequence ('|' sequence)*
  function alternatives(): Node {
    const firsts: First[] = [];
    let unbounded = false;
    let count = 0;
    for (;;) {
      const seq = sequence();
      firsts.push(seq.first);
      unbounded ||= seq.unbounded;
      count++;
      if (pattern[i] !== "|") break;
      i++;
    }
    return { unbounded, firsts, alternation: count > 1 };
  }

  function sequence(): { unbounded: boolean; first: First } {
    let unbounded = false;
    let first: First | null = null;
    while (i < pattern.length && pattern[i] !== "|" && pattern[i] !== ")") {
      const start = i;
      const a = atom();
      if (a === null) continue; // an assertion (^ $ \b): matches no character
      const q = quantifier();
      if (q.unbounded) {
        if (a.unbounded) fail(start, `nested repetition: a part repeated without bound that itself repeats a variable number of times (e.g. /(a+)+/) backtracks exponentially on a non-matching text`);
        else if (a.alternation && overlapping(a.firsts)) fail(start, `repeated alternatives that can begin with the same character (e.g. /(a|ab)+/) backtrack exponentially on a non-matching text`);
      }
      unbounded ||= a.unbounded || q.variable;
      // the first character of the sequence: its first atom's, unless that atom may be absent
      if (first === null) first = q.optional ? "any" : a.firsts.length === 1 ? a.firsts[0]! : "any";
    }
    return { unbounded, first: first ?? "any" };
  }

  function atom(): Node | null {
    const c = pattern[i]!;
    if (c === "^" || c === "$") {
      i++;
      return null;
    }
    if (c === "(") {
      const open = i;
      i++;
      let lookaround = false;
      if (pattern[i] === "?") {
        if (pattern.startsWith("?:", i)) i += 2;
        else if (pattern.startsWith("?=", i) || pattern.startsWith("?!", i)) (i += 2), (lookaround = true);
        else if (pattern.startsWith("?<=", i) || pattern.startsWith("?<!", i)) (i += 3), (lookaround = true);
        else if (pattern.startsWith("?<", i)) i = pattern.indexOf(">", i) + 1 || pattern.length;
      }
      const inner = alternatives();
      if (pattern[i] !== ")") fail(open, "unbalanced parenthesis");
      else i++;
      return lookaround ? { ...inner, firsts: ["any"], alternation: false } : inner;
    }
    if (c === "[") {
      i++;
      if (pattern[i] === "^") i++;
      if (pattern[i] === "]") i++;
      while (i < pattern.length && pattern[i] !== "]") i += pattern[i] === "\\" ? 2 : 1;
      i++;
      return { unbounded: false, firsts: ["any"], alternation: false };
    }
    if (c === "\\") {
      const e = pattern[i + 1] ?? "";
      if (/[1-9]/.test(e) || (e === "k" && pattern[i + 2] === "<")) fail(i, "a backreference needs a backtracking matcher: steps split patterns cannot use one");
      if (e === "b" || e === "B") {
        i += 2;
        return null;
      }
      i += 2;
      if (e === "u" || e === "x" || e === "c" || e === "p" || e === "P") {
        // \uXXXX, \u{…}, \xXX, \cX, \p{…}: skip the rest of the escape
        if (pattern[i] === "{") i = pattern.indexOf("}", i) + 1 || pattern.length;
        else i += e === "u" ? 4 : e === "x" ? 2 : e === "c" ? 1 : 0;
        return { unbounded: false, firsts: ["any"], alternation: false };
      }
      const cls = e.toLowerCase();
      if (cls === "d" || cls === "w" || cls === "s") return { unbounded: false, firsts: [e === cls ? { cls } : "any"], alternation: false };
      const lit = { n: "\n", r: "\r", t: "\t", f: "\f", v: "\v", "0": "\0" }[e] ?? e;
      return { unbounded: false, firsts: [{ lit }], alternation: false };
    }
    i++;
    return { unbounded: false, firsts: [c === "." ? "any" : { lit: c }], alternation: false };
  }

  /** Reads a quantifier after an atom: whether it repeats without bound, and whether the atom may be absent. */
  function quantifier(): { unbounded: boolean; optional: boolean; variable: boolean } {
    const c = pattern[i];
    let q = { unbounded: false, optional: false, variable: false };
    if (c === "*") (q = { unbounded: true, optional: true, variable: true }), i++;
    else if (c === "+") (q = { unbounded: true, optional: false, variable: true }), i++;
    else if (c === "?") (q = { unbounded: false, optional: true, variable: true }), i++;
    else if (c === "{") {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(pattern.slice(i));
      if (m) {
        i += m[0].length;
        const unbounded = m[2] !== undefined && m[3] === "";
        q = { unbounded, optional: m[1] === "0", variable: unbounded || (m[3] !== undefined && Number(m[3]) > Number(m[1])) };
      }
    }
    if ((q.unbounded || q.optional || c === "{") && pattern[i] === "?") i++; // lazy
    return q;
  }

  alternatives();
  if (i < pattern.length) fail(i, "unbalanced parenthesis");
  return hazard;
}

/** Whether two of the alternatives' first characters can be the same character. */
function overlapping(firsts: First[]): boolean {
  for (let a = 0; a < firsts.length; a++) for (let b = a + 1; b < firsts.length; b++) if (mayEqual(firsts[a]!, firsts[b]!)) return true;
  return false;
}

function mayEqual(x: First, y: First): boolean {
  if (x === "any" || y === "any") return true;
  if ("lit" in x && "lit" in y) return x.lit === y.lit;
  if ("cls" in x && "cls" in y) return x.cls === y.cls || (x.cls !== "s" && y.cls !== "s"); // \d ⊂ \w; \s is apart from both
  const lit = "lit" in x ? x.lit : (y as { lit: string }).lit;
  const cls = "cls" in x ? x.cls : (y as { cls: string }).cls;
  return (cls === "d" ? /\d/ : cls === "w" ? /\w/ : /\s/).test(lit);
}
