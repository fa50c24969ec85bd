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
import {
  BINARY_OPS, BUILTINS, FUNCTIONS, GAE, GROUP_BY, GROUP_BY_LEVEL, GROUP_OPS, isBuiltin, LABEL_CODES, MATH_FNS, REDUCE_OVER,
  REDUCTIONS, SCANS, UNARY_FNS, usage, type ConstantSpec, type GroupBy, type MathSpec, type ReduceOver, type UnarySpec,
} from "./ops.js";
import type { Block, CallExpr, Expr, Setting, Span } from "./ast.js";
import { didYouMean, type Diagnostic } from "./diagnostics.js";
import type { SettingSpec, SettingType, SettingValue } from "./settings.js";

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

/** The registry's built-ins, label codes and function names (dsl/ops.ts), re-exported for the compiler and the kernel. */
export { BUILTINS, FUNCTIONS, LABEL_CODES } from "./ops.js";

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
  /** method parameters and a method body's own `let`s (local: formulas only, never a setting's word):
   *  the expression and the scope it is read in */
  params: Map<string, { expr: Expr; scope: Scope; local?: boolean }>;
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

/** Folds an operation on constants (keeps the IR small: `-0.001` is one number), with the registry's arithmetic. */
function fold(f: Formula): Formula {
  let v: number | undefined;
  if (f.op === "unary" && f.arg.op === "num") v = UNARY_FNS[f.fn].fold(f.arg.value);
  else if (f.op === "binary" && f.left.op === "num" && f.right.op === "num") v = BINARY_OPS[f.fn](f.left.value, f.right.value);
  else if (f.op === "math" && f.args.every((a) => a.op === "num")) v = (MATH_FNS[f.fn] as MathSpec).fold(...f.args.map((a) => (a as { value: number }).value));
  return v !== undefined && Number.isFinite(v) ? num(v) : f;
}

/** `name` is a key of `table` (and not something inherited, such as `constructor`). */
function has<T extends object>(table: T, name: string): name is Extract<keyof T, string> {
  return Object.hasOwn(table, name);
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
  if (declared) return { op: "ref", source: declared.kind, name, level: declared.level };
  if (isBuiltin(name)) {
    const b: { level: Granularity; stepLevel?: Granularity; needsLabels?: boolean } = BUILTINS[name];
    if (b.needsLabels && !scope.labels) {
      scope.report.add(span, `\`${name}\` needs a task with ground-truth step labels`, { hint: "the built-in `arithmetic` task labels its steps; a `jsonl` task does not" });
      return undefined;
    }
    return { op: "ref", source: "builtin", name, level: scope.stepContext && b.stepLevel ? b.stepLevel : b.level };
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

/** A constant number argument (gamma, lambda): folded, checked against its range. */
function constantArg(e: Expr, scope: Scope, c: ConstantSpec): Extract<Formula, { op: "num" }> | undefined {
  const { what, min, max } = c;
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
  // `min`/`max` are reductions with one argument (or with `over`), elementwise with two
  const isReduction = has(REDUCTIONS, fn) && (over.length > 0 || !has(MATH_FNS, fn) || e.args.length === 1);
  // Modifiers only where they mean something.
  for (const m of over) if (!isReduction) r.add(m.span, `\`over\` belongs to reductions (${Object.keys(REDUCTIONS).join(", ")}), not \`${fn}\``);
  for (const m of by) if (!has(GROUP_OPS, fn)) r.add(m.span, `\`by\` belongs to group operators (${Object.keys(GROUP_OPS).join(", ")}), not \`${fn}\``);
  if (over.length > 1) r.add(over[1]!.span, "one `over` per reduction");
  if (by.length > 1) r.add(by[1]!.span, "one `by` per group operator");

  if (has(UNARY_FNS, fn) && !(UNARY_FNS[fn] as UnarySpec).operator) {
    if (!argCount(e, scope, 1, `${fn}(x)`)) return undefined;
    const arg = typeFormula(e.args[0]!, scope);
    return arg && fold({ op: "unary", fn, arg, level: arg.level });
  }
  if (isReduction && has(REDUCTIONS, fn)) {
    if (!argCount(e, scope, 1, `${fn}(x over step)`)) return undefined;
    const arg = typeFormula(e.args[0]!, scope);
    const m = over[0];
    const overWords = REDUCE_OVER.map((w) => `\`over ${w}\``).join(" or ");
    if (!m) {
      r.add(e.span, `\`${fn}\` needs ${overWords}`, { expected: overWords, hint: `e.g. \`${fn}(x over response)\`` });
      return undefined;
    }
    if (!(REDUCE_OVER as readonly string[]).includes(m.value)) {
      const hint = didYouMean(m.value, REDUCE_OVER);
      r.add(m.span, `cannot reduce over \`${m.words.join(" ")}\``, { expected: overWords, found: `\`${m.words.join(" ")}\``, ...(hint ? { hint } : {}) });
      return undefined;
    }
    if (!arg) return undefined;
    const to = m.value as ReduceOver;
    if (!isFiner(arg.level, to)) {
      r.add(e.args[0]!.span, `\`${fn}(… over ${to})\` needs a finer argument, but this is ${levelWord(arg.level)}`, {
        expected: to === "step" ? "a token-level value" : "a token- or step-level value",
        found: levelWord(arg.level),
        hint: `a ${levelWord(arg.level)} value needs no reduction to reach the ${to} level: use it as it is`,
      });
      return undefined;
    }
    return { op: "reduce", fn, over: to, arg, level: to };
  }
  if (has(MATH_FNS, fn)) {
    const spec = MATH_FNS[fn];
    if (!argCount(e, scope, spec.args.length, usage(fn, spec))) return undefined;
    const args = e.args.map((a) => typeFormula(a, scope));
    if (args.some((a) => !a)) return undefined;
    const fs = args as Formula[];
    return fold({ op: "math", fn, args: fs, level: fs.map((a) => a.level).reduce(finer) });
  }
  if (has(GROUP_OPS, fn)) {
    if (!argCount(e, scope, 1, `${fn}(x)`)) return undefined;
    const arg = typeFormula(e.args[0]!, scope);
    const m = by[0];
    let byValue: GroupBy | undefined;
    if (m) {
      if (!(GROUP_BY as readonly string[]).includes(m.value)) {
        const hint = didYouMean(m.value, GROUP_BY);
        r.add(m.span, `cannot group by \`${m.words.join(" ")}\``, { expected: GROUP_BY.map((w) => `\`by ${w.replace("_", " ")}\``).join(" or "), found: `\`${m.words.join(" ")}\``, ...(hint ? { hint: hint.replace("step_index", "step index") } : {}) });
        return undefined;
      }
      byValue = m.value as GroupBy;
    }
    if (!arg) return undefined;
    if (arg.level === "group") {
      r.add(e.args[0]!.span, `\`${fn}\` of a group-level value is constant within the group`, { found: "group-level", expected: "a response-, step- or token-level value", hint: "normalise something that varies between responses, e.g. `reward`" });
      return undefined;
    }
    if (byValue === "position" && arg.level !== GROUP_BY_LEVEL.position) {
      r.add(m!.span, `\`by position\` groups tokens, but the argument is ${levelWord(arg.level)}`, { expected: "a token-level argument", found: levelWord(arg.level), hint: arg.level === "step" ? "use `by step index` for step-level values" : "drop `by position`" });
      return undefined;
    }
    if (byValue === "step_index" && arg.level !== GROUP_BY_LEVEL.step_index) {
      r.add(m!.span, `\`by step index\` groups steps, but the argument is ${levelWord(arg.level)}`, {
        expected: "a step-level argument",
        found: levelWord(arg.level),
        hint: arg.level === "token" ? `${reductionHint("token", "step")}, or use \`by position\`` : "drop `by step index`",
      });
      return undefined;
    }
    return { op: "group", fn, ...(byValue ? { by: byValue } : {}), arg, level: arg.level };
  }
  if (has(SCANS, fn)) {
    const spec = SCANS[fn];
    const constants: readonly ConstantSpec[] = "constants" in spec ? spec.constants : [];
    if (!argCount(e, scope, spec.args.length + constants.length, usage(fn, spec))) return undefined;
    const arg = typeFormula(e.args[0]!, scope);
    const consts = constants.map((c, i) => constantArg(e.args[spec.args.length + i]!, scope, c));
    if (!arg || consts.some((c) => !c)) return undefined;
    if (arg.level !== "step" && arg.level !== "token") {
      r.add(e.args[0]!.span, `\`${fn}\` runs along a response's steps or tokens, but the argument is ${levelWord(arg.level)}`, { expected: "a step- or token-level value", found: levelWord(arg.level) });
      return undefined;
    }
    const gamma = spec.gamma === "arg" ? consts[0]!.value : spec.gamma;
    return { op: "scan", fn, gamma, arg, level: arg.level };
  }
  if (fn === "gae") {
    if (!argCount(e, scope, 4, usage("gae", GAE))) return undefined;
    const rew = typeFormula(e.args[0]!, scope);
    const val = typeFormula(e.args[1]!, scope);
    const gamma = constantArg(e.args[2]!, scope, GAE.constants[0]);
    const lambda = constantArg(e.args[3]!, scope, GAE.constants[1]);
    let ok = !!(rew && val && gamma && lambda);
    for (const [f, a, what] of [[rew, e.args[0]!, "reward"], [val, e.args[1]!, "value"]] as const) {
      if (f && f.level === "token") {
        r.add(a.span, `the ${what} of \`gae\` is step-level, but this is token-level`, { expected: "a step-level value", found: "token-level", hint: reductionHint("token", "step") });
        ok = false;
      }
    }
    if (!ok) return undefined;
    // SSPO (arXiv 2508.12604), Stepwise's reading: delta[k] = rew[k] + gamma*u[k+1] - u[k], u[K] = 0.
    return { op: "gae", reward: rew!, value: val!, gamma: gamma!.value, lambda: lambda!.value, level: "step" };
  }
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

export type { SettingSpec, SettingType, SettingValue } from "./settings.js";

/** A constant: a number (arithmetic folded), a string, or a bare word (`response`, `true`). */
export function constValue(e: Expr, scope: Scope): number | string | { word: string } | undefined {
  if (e.kind === "num") return e.value;
  if (e.kind === "str") return e.value;
  if (e.kind === "name") {
    const p = scope.params.get(e.name);
    if (p && !p.local) return constValue(p.expr, p.scope);
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
