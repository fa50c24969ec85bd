/**
 * The checker: names, granularity types and settings. It turns AST formulas into the typed
 * Formula IR of `plan.ts` (each node with its inferred level) and reads settings blocks against
 * their schemas, reporting every problem it finds (it never stops at the first).
 *
 * Granularity (ALGORITHMS.md, notation): group < response < step < token, from coarse to fine.
 * A coarser operand broadcasts down to the finer one; going up needs a reduction
 * (`sum(x over step)`, `mean(x over response)`, …).
 */
import type { Formula, Granularity } from "./plan.js";
import type { Block, CallExpr, Expr, Setting, Span } from "./ast.js";
import { didYouMean, type Diagnostic } from "./diagnostics.js";

// ---- reporting ----

export interface Reporter {
  add(span: Span, message: string, extra?: Partial<Pick<Diagnostic, "expected" | "found" | "hint" | "severity">>): void;
  warn(span: Span, message: string, extra?: Partial<Pick<Diagnostic, "expected" | "found" | "hint">>): void;
}

/** Reports everything at one place (a `use` line) for problems found inside a method's body. */
export function relocate(inner: Reporter, at: Span, method: string): Reporter {
  return {
    add: (_s, m, e) => inner.add(at, `in method \`${method}\`: ${m}`, e),
    warn: (_s, m, e) => inner.warn(at, `in method \`${method}\`: ${m}`, e),
  };
}

// ---- levels ----

export const LEVELS: Granularity[] = ["group", "response", "step", "token"];
const rank = (l: Granularity): number => LEVELS.indexOf(l);
/** The finer of two levels: where a binary operation lives after broadcasting. */
export function finer(a: Granularity, b: Granularity): Granularity {
  return rank(a) >= rank(b) ? a : b;
}
export function isFiner(a: Granularity, b: Granularity): boolean {
  return rank(a) > rank(b);
}

/** Built-in quantities by name (see plan.ts). `tokens` is response-level unless in a step context. */
export const BUILTINS: Record<string, Granularity> = {
  logp: "token",
  logp_ref: "token",
  logratio: "token",
  entropy: "token",
  position: "token",
  index: "step",
  label: "step",
  step_reward: "step",
  outcome: "response",
  tokens: "response",
  steps: "response",
  truncated: "response",
  reward: "response",
};

/** Ground-truth step label codes (plan.ts): `label == "redundant"` compares with 1. */
export const LABEL_CODES: Record<string, number> = { essential: 0, redundant: 1, slip: 2, fix: 3, answer: 4, unknown: -1 };

const UNARY_FNS = new Set(["exp", "log", "abs", "sigmoid", "sqrt"]);
const REDUCTIONS = new Set(["sum", "mean", "last", "max", "min"]);
const GROUP_OPS = new Set(["center", "zscore", "rank"]);
const SCANS = new Set(["cumsum", "revcumsum"]);
export const FUNCTIONS = ["exp", "log", "abs", "sigmoid", "sqrt", "min", "max", "clip", "sum", "mean", "last", "center", "zscore", "rank", "cumsum", "revcumsum", "discount", "gae"];

// ---- scopes ----

export interface NameInfo {
  level: Granularity;
  kind: "probe" | "reward" | "let";
  span: Span;
}

export interface Scope {
  /** probes, rewards and lets declared so far */
  names: Map<string, NameInfo>;
  /** declared further down (a use before the declaration gets a precise message) */
  later: Map<string, Span>;
  /** names whose declarations did not parse: uses are not reported again */
  broken: Set<string>;
  /** method parameters: the argument expression and the scope it is read in */
  params: Map<string, { expr: Expr; scope: Scope }>;
  /** inside a `: step` declaration, `tokens` is the step's token count */
  stepContext: boolean;
  /** the task provides ground-truth step labels (false for jsonl tasks) */
  labels: boolean;
  report: Reporter;
}

export function allNames(scope: Scope): string[] {
  return [...Object.keys(BUILTINS), ...scope.names.keys(), ...scope.params.keys()];
}

// ---- formulas ----

const num = (value: number): Formula => ({ op: "num", value, level: "group" });

/** Folds an operation on constants (keeps the IR small: `-0.001` is one number). */
function fold(f: Formula): Formula {
  let v: number | undefined;
  if (f.op === "unary" && f.arg.op === "num") {
    const a = f.arg.value;
    v = { neg: -a, not: a === 0 ? 1 : 0, exp: Math.exp(a), log: Math.log(a), abs: Math.abs(a), sigmoid: 1 / (1 + Math.exp(-a)), sqrt: Math.sqrt(a) }[f.fn];
  } else if (f.op === "binary" && f.left.op === "num" && f.right.op === "num") {
    const a = f.left.value;
    const b = f.right.value;
    const ops: Record<string, number> = {
      "+": a + b, "-": a - b, "*": a * b, "/": a / b, "^": a ** b,
      "<": +(a < b), "<=": +(a <= b), ">": +(a > b), ">=": +(a >= b), "==": +(a === b), "!=": +(a !== b),
      and: +(a !== 0 && b !== 0), or: +(a !== 0 || b !== 0),
    };
    v = ops[f.fn];
  }
  return v !== undefined && Number.isFinite(v) ? num(v) : f;
}

const LEVEL_WORD: Record<Granularity, string> = { group: "group-level", response: "response-level", step: "step-level", token: "token-level" };
export const levelWord = (l: Granularity): string => LEVEL_WORD[l];

/** The reduction that brings a value at `from` up to `to`, for hints. */
export function reductionHint(from: Granularity, to: Granularity): string {
  if (to === "step") return "reduce it to its step first, e.g. `sum(… over step)` or `mean(… over step)`";
  return `reduce it over the response first, e.g. \`sum(… over response)\` or \`mean(… over response)\`${from === "token" ? " (or `last(… over response)`)" : ""}`;
}

/**
 * Types a formula and lowers it to the IR. Returns undefined when it has errors (already reported).
 * @example typeFormula(parseExpr("zscore(reward)"), scope) // { op: "call", fn: "zscore", level: "response", … }
 */
export function typeFormula(e: Expr, scope: Scope): Formula | undefined {
  const r = scope.report;
  switch (e.kind) {
    case "num":
      return num(e.value);
    case "str":
      r.add(e.span, `a string cannot be a value in a formula`, { found: e.raw, expected: "a number or a name", hint: 'strings appear only in comparisons with `label`, e.g. `label == "redundant"`' });
      return undefined;
    case "name":
      return typeName(e.name, e.span, scope);
    case "unary": {
      const arg = typeFormula(e.arg, scope);
      return arg && fold({ op: "unary", fn: e.op, arg, level: arg.level });
    }
    case "binary": {
      // `label == "redundant"`: the string lowers to the label's numeric code.
      if ((e.op === "==" || e.op === "!=") && (e.left.kind === "str" || e.right.kind === "str")) return typeLabelCompare(e.op, e.left, e.right, scope);
      const left = typeFormula(e.left, scope);
      const right = typeFormula(e.right, scope);
      if (!left || !right) return undefined;
      return fold({ op: "binary", fn: e.op, left, right, level: finer(left.level, right.level) });
    }
    case "if": {
      const cond = typeFormula(e.cond, scope);
      const then = typeFormula(e.then, scope);
      const els = typeFormula(e.else, scope);
      if (!cond || !then || !els) return undefined;
      return { op: "if", cond, then, else: els, level: finer(cond.level, finer(then.level, els.level)) };
    }
    case "call":
      return typeCall(e, scope);
  }
}

function typeName(name: string, span: Span, scope: Scope): Formula | undefined {
  const param = scope.params.get(name);
  if (param) return typeFormula(param.expr, param.scope);
  const declared = scope.names.get(name);
  if (declared) return { op: "ref", name, level: declared.level };
  if (name === "tokens" && scope.stepContext) return { op: "ref", name, level: "step" };
  const builtin = BUILTINS[name];
  if (builtin) {
    if (name === "label" && !scope.labels) {
      scope.report.add(span, "`label` needs a task with ground-truth step labels", { hint: "the built-in `arithmetic` task labels its steps; a `jsonl` task does not" });
      return undefined;
    }
    return { op: "ref", name, level: builtin };
  }
  if (scope.broken.has(name)) return undefined;
  const later = scope.later.get(name);
  if (later) {
    scope.report.add(span, `\`${name}\` is used before its declaration on line ${later.line}`, { found: `\`${name}\``, hint: "move the declaration above its first use" });
    return undefined;
  }
  if (FUNCTIONS.includes(name)) {
    scope.report.add(span, `\`${name}\` is a function: call it with arguments`, { found: `\`${name}\``, hint: `e.g. \`${name}(x)\`` });
    return undefined;
  }
  const hint = didYouMean(name, allNames(scope));
  scope.report.add(span, `unknown name \`${name}\``, {
    found: `\`${name}\``,
    expected: "a built-in (logp, logratio, entropy, position, index, tokens, outcome, reward, …) or a declared probe, reward or let",
    ...(hint ? { hint } : {}),
  });
  return undefined;
}

function typeLabelCompare(op: "==" | "!=", a: Expr, b: Expr, scope: Scope): Formula | undefined {
  const str = a.kind === "str" ? a : b;
  const other = a.kind === "str" ? b : a;
  if (str.kind !== "str") return undefined;
  if (!(other.kind === "name" && other.name === "label")) {
    scope.report.add(str.span, "a string can only be compared with `label`", { found: str.raw, hint: 'e.g. `label == "redundant"`' });
    return undefined;
  }
  const left = typeFormula(other, scope);
  const code = LABEL_CODES[str.value];
  if (code === undefined) {
    const hint = didYouMean(str.value, Object.keys(LABEL_CODES));
    scope.report.add(str.span, `unknown step label ${str.raw}`, { found: str.raw, expected: Object.keys(LABEL_CODES).map((k) => `"${k}"`).join(", "), ...(hint ? { hint } : {}) });
    return undefined;
  }
  if (!left) return undefined;
  return { op: "binary", fn: op, left, right: num(code), level: left.level };
}

/** A constant number argument (gamma, lambda): folded, checked against a range. */
function constantArg(e: Expr, scope: Scope, what: string, min: number, max: number): Formula | undefined {
  const f = typeFormula(e, scope);
  if (!f) return undefined;
  if (f.op !== "num") {
    scope.report.add(e.span, `${what} must be a constant number`, { expected: "a number", hint: `e.g. ${what.split(" ")[0]} 0.95` });
    return undefined;
  }
  if (f.value < min || f.value > max) {
    scope.report.add(e.span, `${what} must be between ${min} and ${max}, not ${f.value}`, { expected: `a number in [${min}, ${max}]`, found: String(f.value) });
    return undefined;
  }
  return f;
}

function argCount(e: CallExpr, scope: Scope, n: number, usage: string): boolean {
  if (e.args.length === n) return true;
  scope.report.add(e.span, `\`${e.fn}\` takes ${n} argument${n === 1 ? "" : "s"}, not ${e.args.length}`, { expected: usage, hint: `write \`${usage}\`` });
  return false;
}

function typeCall(e: CallExpr, scope: Scope): Formula | undefined {
  const r = scope.report;
  const fn = e.fn;
  const over = e.modifiers.filter((m) => m.kind === "over");
  const by = e.modifiers.filter((m) => m.kind === "by");
  const isReduction = REDUCTIONS.has(fn) && (over.length > 0 || ((fn === "min" || fn === "max") ? e.args.length === 1 : true));
  // Modifiers only where they mean something.
  for (const m of over) if (!isReduction) r.add(m.span, `\`over\` belongs to reductions (sum, mean, last, max, min), not \`${fn}\``);
  for (const m of by) if (!GROUP_OPS.has(fn)) r.add(m.span, `\`by\` belongs to group operators (center, zscore, rank), not \`${fn}\``);
  if (over.length > 1) r.add(over[1]!.span, "one `over` per reduction");
  if (by.length > 1) r.add(by[1]!.span, "one `by` per group operator");

  if (UNARY_FNS.has(fn)) {
    if (!argCount(e, scope, 1, `${fn}(x)`)) return undefined;
    const arg = typeFormula(e.args[0]!, scope);
    return arg && fold({ op: "unary", fn, arg, level: arg.level });
  }
  if (isReduction) {
    if (!argCount(e, scope, 1, `${fn}(x over step)`)) return undefined;
    const arg = typeFormula(e.args[0]!, scope);
    const m = over[0];
    if (!m) {
      r.add(e.span, `\`${fn}\` needs \`over step\` or \`over response\``, { expected: "`over step` or `over response`", hint: `e.g. \`${fn}(x over response)\`` });
      return undefined;
    }
    if (m.value !== "step" && m.value !== "response") {
      const hint = didYouMean(m.value, ["step", "response"]);
      r.add(m.span, `cannot reduce over \`${m.words.join(" ")}\``, { expected: "`over step` or `over response`", found: `\`${m.words.join(" ")}\``, ...(hint ? { hint } : {}) });
      return undefined;
    }
    if (!arg) return undefined;
    const to = m.value as Granularity;
    if (!isFiner(arg.level, to)) {
      r.add(e.args[0]!.span, `\`${fn}(… over ${to})\` needs a finer argument, but this is ${levelWord(arg.level)}`, {
        expected: to === "step" ? "a token-level value" : "a token- or step-level value",
        found: levelWord(arg.level),
        hint: `a ${levelWord(arg.level)} value needs no reduction to reach the ${to} level: use it as it is`,
      });
      return undefined;
    }
    return { op: "call", fn, args: [arg], opts: { over: to }, level: to };
  }
  if (fn === "min" || fn === "max") {
    if (!argCount(e, scope, 2, `${fn}(a, b)`)) return undefined;
    const a = typeFormula(e.args[0]!, scope);
    const b = typeFormula(e.args[1]!, scope);
    if (!a || !b) return undefined;
    if (a.op === "num" && b.op === "num") return num(fn === "min" ? Math.min(a.value, b.value) : Math.max(a.value, b.value));
    return { op: "call", fn, args: [a, b], opts: {}, level: finer(a.level, b.level) };
  }
  if (fn === "clip") {
    if (!argCount(e, scope, 3, "clip(x, lo, hi)")) return undefined;
    const args = e.args.map((a) => typeFormula(a, scope));
    if (args.some((a) => !a)) return undefined;
    const [x, lo, hi] = args as Formula[];
    return { op: "call", fn, args: [x!, lo!, hi!], opts: {}, level: finer(x!.level, finer(lo!.level, hi!.level)) };
  }
  if (GROUP_OPS.has(fn)) {
    if (!argCount(e, scope, 1, `${fn}(x)`)) return undefined;
    const arg = typeFormula(e.args[0]!, scope);
    const m = by[0];
    let byValue: string | undefined;
    if (m) {
      if (m.value !== "position" && m.value !== "step_index") {
        const hint = didYouMean(m.value, ["position", "step_index"]);
        r.add(m.span, `cannot group by \`${m.words.join(" ")}\``, { expected: "`by position` or `by step index`", found: `\`${m.words.join(" ")}\``, ...(hint ? { hint: hint.replace("step_index", "step index") } : {}) });
        return undefined;
      }
      byValue = m.value;
    }
    if (!arg) return undefined;
    if (arg.level === "group") {
      r.add(e.args[0]!.span, `\`${fn}\` of a group-level value is constant within the group`, { found: "group-level", expected: "a response-, step- or token-level value", hint: "normalise something that varies between responses, e.g. `reward`" });
      return undefined;
    }
    if (byValue === "position" && arg.level !== "token") {
      r.add(m!.span, `\`by position\` groups tokens, but the argument is ${levelWord(arg.level)}`, { expected: "a token-level argument", found: levelWord(arg.level), hint: arg.level === "step" ? "use `by step index` for step-level values" : "drop `by position`" });
      return undefined;
    }
    if (byValue === "step_index" && arg.level !== "step") {
      r.add(m!.span, `\`by step index\` groups steps, but the argument is ${levelWord(arg.level)}`, {
        expected: "a step-level argument",
        found: levelWord(arg.level),
        hint: arg.level === "token" ? `${reductionHint("token", "step")}, or use \`by position\`` : "drop `by step index`",
      });
      return undefined;
    }
    return { op: "call", fn, args: [arg], opts: byValue ? { by: byValue } : {}, level: arg.level };
  }
  if (SCANS.has(fn) || fn === "discount") {
    const usage = fn === "discount" ? "discount(x, gamma)" : `${fn}(x)`;
    if (!argCount(e, scope, fn === "discount" ? 2 : 1, usage)) return undefined;
    const arg = typeFormula(e.args[0]!, scope);
    const gamma = fn === "discount" ? constantArg(e.args[1]!, scope, "gamma (the discount)", 0, 1) : undefined;
    if (!arg || (fn === "discount" && !gamma)) return undefined;
    if (arg.level !== "step" && arg.level !== "token") {
      r.add(e.args[0]!.span, `\`${fn}\` runs along a response's steps or tokens, but the argument is ${levelWord(arg.level)}`, { expected: "a step- or token-level value", found: levelWord(arg.level) });
      return undefined;
    }
    return { op: "call", fn, args: gamma ? [arg, gamma] : [arg], opts: {}, level: arg.level };
  }
  if (fn === "gae") {
    if (!argCount(e, scope, 4, "gae(reward, value, gamma, lambda)")) return undefined;
    const rew = typeFormula(e.args[0]!, scope);
    const val = typeFormula(e.args[1]!, scope);
    const gamma = constantArg(e.args[2]!, scope, "gamma (the discount)", 0, 1);
    const lambda = constantArg(e.args[3]!, scope, "lambda (the GAE weight)", 0, 1);
    let ok = !!(rew && val && gamma && lambda);
    for (const [f, a, what] of [[rew, e.args[0]!, "reward"], [val, e.args[1]!, "value"]] as const) {
      if (f && f.level === "token") {
        r.add(a.span, `the ${what} of \`gae\` is step-level, but this is token-level`, { expected: "a step-level value", found: "token-level", hint: reductionHint("token", "step") });
        ok = false;
      }
    }
    if (!ok) return undefined;
    // SSPO (arXiv 2508.12604), Stepwise's reading: delta[k] = rew[k] + gamma*u[k+1] - u[k], u[K] = 0.
    return { op: "call", fn, args: [rew!, val!, gamma!, lambda!], opts: {}, level: "step" };
  }
  if (REDUCTIONS.has(fn)) return undefined; // (min/max with two args handled above)
  const hint = didYouMean(fn, FUNCTIONS);
  r.add(e.fnSpan, `unknown function \`${fn}\``, { found: `\`${fn}\``, expected: `one of ${FUNCTIONS.join(", ")}`, ...(hint ? { hint } : {}) });
  for (const a of e.args) typeFormula(a, scope); // still report the arguments' own problems
  return undefined;
}

/**
 * Requires a formula to live at `target` or coarser (it then broadcasts up to `target` as a value).
 * `what` names the place, e.g. "reward `short`".
 */
export function requireAtMost(f: Formula, target: Granularity, span: Span, what: string, scope: Scope, extraHint = ""): boolean {
  if (!isFiner(f.level, target)) return true;
  scope.report.add(span, `${what} is ${levelWord(f.level)}, but a ${levelWord(target)} value is needed here`, {
    expected: `a ${levelWord(target)} value`,
    found: levelWord(f.level),
    hint: reductionHint(f.level, target) + extraHint,
  });
  return false;
}

// ---- settings ----

export type SettingType =
  | { t: "number"; min?: number; max?: number; minOpen?: boolean; maxOpen?: boolean; int?: boolean }
  | { t: "bool" }
  | { t: "word"; words: string[] }
  | { t: "string" }
  | { t: "range"; min: number; max?: number }
  | { t: "sign" }
  | { t: "expr" }; // left to the caller (probe scorers)

export type SettingValue = number | string | boolean | [number, number] | Expr;

export interface SettingSpec {
  type: SettingType;
  doc: string;
}

/** A constant: a number (arithmetic folded), a string, or a bare word (`response`, `true`). */
export function constValue(e: Expr, scope: Scope): number | string | { word: string } | undefined {
  if (e.kind === "num") return e.value;
  if (e.kind === "str") return e.value;
  if (e.kind === "name") {
    const p = scope.params.get(e.name);
    if (p) return constValue(p.expr, p.scope);
    return { word: e.name };
  }
  if (e.kind === "unary" || e.kind === "binary") {
    const quiet: Scope = { ...scope, report: { add() {}, warn() {} }, names: new Map(), params: scope.params };
    const f = typeFormula(e, quiet);
    if (f?.op === "num") return f.value;
  }
  return undefined;
}

function describeType(t: SettingType): string {
  switch (t.t) {
    case "number": {
      const lo = t.min === undefined ? "" : `${t.minOpen ? ">" : "≥"} ${t.min}`;
      const hi = t.max === undefined ? "" : `${t.maxOpen ? "<" : "≤"} ${t.max}`;
      return `${t.int ? "an integer" : "a number"}${lo || hi ? " " + [lo, hi].filter(Boolean).join(" and ") : ""}`;
    }
    case "bool":
      return "`true` or `false`";
    case "word":
      return t.words.map((w) => `\`${w}\``).join(" or ");
    case "string":
      return "a string";
    case "range":
      return "a range such as `2..4`";
    case "sign":
      return "`1` or `-1`";
    case "expr":
      return "a value";
  }
}

function checkNumber(v: number, t: Extract<SettingType, { t: "number" }>): boolean {
  if (t.int && !Number.isInteger(v)) return false;
  if (t.min !== undefined && (t.minOpen ? v <= t.min : v < t.min)) return false;
  if (t.max !== undefined && (t.maxOpen ? v >= t.max : v > t.max)) return false;
  return true;
}

/**
 * Reads a settings block against a schema: unknown names (with a suggestion), duplicates,
 * types and ranges are all reported; the valid settings come back by name.
 */
export function readBlock(block: Block | undefined, schema: Record<string, SettingSpec>, scope: Scope, where: string): Map<string, { value: SettingValue; setting: Setting }> {
  const out = new Map<string, { value: SettingValue; setting: Setting }>();
  if (!block) return out;
  const r = scope.report;
  for (const s of block.settings) {
    const spec = schema[s.name];
    if (!spec) {
      const hint = didYouMean(s.name, Object.keys(schema));
      r.add(s.nameSpan, `unknown setting \`${s.name}\` in ${where}`, { found: `\`${s.name}\``, expected: Object.keys(schema).map((k) => `\`${k}\``).join(", "), ...(hint ? { hint } : { hint: `${where} takes ${Object.keys(schema).join(", ")}` }) });
      continue;
    }
    if (out.has(s.name)) {
      r.add(s.nameSpan, `\`${s.name}\` is set twice in ${where}`, { hint: `the first is on line ${out.get(s.name)!.setting.span.line}` });
      continue;
    }
    const t = spec.type;
    if (s.upper && t.t !== "range") {
      r.add(s.span, `\`${s.name}\` takes ${describeType(t)}, not a range`, { expected: describeType(t), found: "a range" });
      continue;
    }
    const bad = (found: string) => r.add(s.value.span, `\`${s.name}\` must be ${describeType(t)}`, { expected: describeType(t), found, hint: spec.doc });
    if (t.t === "expr") {
      out.set(s.name, { value: s.value, setting: s });
      continue;
    }
    const v = constValue(s.value, scope);
    const found = v === undefined ? "a formula" : typeof v === "object" ? `\`${v.word}\`` : typeof v === "string" ? JSON.stringify(v) : String(v);
    if (t.t === "range") {
      const lo = v;
      const hi = s.upper ? constValue(s.upper, scope) : v;
      if (typeof lo !== "number" || typeof hi !== "number" || !Number.isInteger(lo) || !Number.isInteger(hi) || lo < t.min || (t.max !== undefined && hi > t.max)) {
        bad(s.upper ? "a range of non-integers or out of bounds" : found);
        continue;
      }
      if (lo > hi) {
        r.add(s.span, `the range of \`${s.name}\` is empty: ${lo} > ${hi}`, { hint: `write \`${hi}..${lo}\`` });
        continue;
      }
      out.set(s.name, { value: [lo, hi], setting: s });
      continue;
    }
    if (t.t === "number") {
      if (typeof v !== "number" || !checkNumber(v, t)) bad(found);
      else out.set(s.name, { value: v, setting: s });
    } else if (t.t === "sign") {
      if (v !== 1 && v !== -1) bad(found);
      else out.set(s.name, { value: v, setting: s });
    } else if (t.t === "bool") {
      if (typeof v === "object" && (v.word === "true" || v.word === "false")) out.set(s.name, { value: v.word === "true", setting: s });
      else bad(found);
    } else if (t.t === "word") {
      if (typeof v === "object" && t.words.includes(v.word)) out.set(s.name, { value: v.word, setting: s });
      else {
        const hint = typeof v === "object" ? didYouMean(v.word, t.words) : undefined;
        r.add(s.value.span, `\`${s.name}\` must be ${describeType(t)}`, { expected: describeType(t), found, hint: hint ?? spec.doc });
      }
    } else if (t.t === "string") {
      if (typeof v === "string") out.set(s.name, { value: v, setting: s });
      else bad(found);
    }
  }
  return out;
}
