/**
 * Editor help for specs: completion and inspection at a cursor, as the notebook kernel offers
 * them in `%%stepwise` cells. Everything it knows comes from the language's own tables: the
 * declaration keywords (lexer.ts, schemas.ts DECLARATIONS), each block's settings and component
 * forms (schemas.ts), the built-in quantities and functions (ops.ts), the prelude's methods with
 * their parameters and the comment above each (prelude.sw), and the names the spec declares.
 *
 * The context comes from the text before the cursor: the open `{` blocks (their headers: `train`,
 * `rl`, `model gpt`, …), and the current segment (since the last line break, `{`, `}` or
 * top-level comma). Comments and strings are skipped.
 */
import type { Decl } from "./ast.js";
import type { SettingSpec, SettingType } from "./checker.js";
import { parse } from "./index.js";
import { DECLARATION_KEYWORDS } from "./lexer.js";
import { BUILTINS, GAE, GROUP_BY, GROUP_OPS, MATH_FNS, REDUCE_OVER, REDUCTIONS, SCANS, UNARY_FNS, type FunctionSpec } from "./ops.js";
import { loadPrelude, type MethodDecl } from "./prelude.js";
import * as S from "./schemas.js";

/** One completion candidate. `type` is what Jupyter's `_jupyter_types_experimental` shows. */
export interface CompletionItem {
  text: string;
  type: "keyword" | "setting" | "stage" | "type" | "method" | "quantity" | "function" | "name" | "value" | "metric";
  /** e.g. `spro(beta = 0.05)`, `lr: number > 0 — learning rate`, `outcome: response — …` */
  signature: string;
}

export interface Completion {
  /** the replaced range of the source: the word being typed */
  start: number;
  end: number;
  items: CompletionItem[];
}

/** The keywords that start a declaration, as the lexer defines them. */
export const DECLARATION_WORDS: string[] = DECLARATION_KEYWORDS.map((t) => t.PATTERN!.toString().replace(/^\/|\/$/g, ""));

const COMPONENT_KEYWORDS = Object.keys(S.COMPONENTS) as (keyof typeof S.COMPONENTS)[];

/** Every function of the formula language with its usage line and doc. */
function functionTable(): Map<string, { usage: string; doc: string }> {
  const out = new Map<string, { usage: string; doc: string }>();
  const add = (name: string, args: string, doc: string) => out.set(name, { usage: `${name}(${args})`, doc });
  const call = (spec: FunctionSpec) => [...spec.args, ...(spec.constants ?? []).map((c) => c.name)].join(", ");
  for (const [name, spec] of Object.entries(UNARY_FNS)) if (!("operator" in spec && spec.operator)) add(name, "x", spec.doc);
  for (const [name, spec] of Object.entries(MATH_FNS)) add(name, call(spec), spec.doc);
  for (const [name, spec] of Object.entries(REDUCTIONS)) add(name, `${call(spec)} over ${REDUCE_OVER.join("|")}`, `${spec.doc}, over each ${REDUCE_OVER.join(" or ")}`);
  for (const [name, spec] of Object.entries(GROUP_OPS)) add(name, `${call(spec)}[, by ${GROUP_BY.join("|")}]`, `${spec.doc}, over the prompt's group (by position or step index: at the same one)`);
  for (const [name, spec] of Object.entries(SCANS)) add(name, call(spec), spec.doc);
  add("gae", call(GAE), GAE.doc);
  return out;
}

/** `number > 0`, `integer 1..256`, `one of response, token, constant`, … */
export function describeType(t: SettingType): string {
  switch (t.t) {
    case "number": {
      const kind = t.int ? "integer" : "number";
      if (t.min !== undefined && t.max !== undefined) return `${kind} ${t.min}..${t.max}`;
      if (t.min !== undefined) return `${kind} ${t.minOpen ? ">" : "≥"} ${t.min}`;
      if (t.max !== undefined) return `${kind} ${t.maxOpen ? "<" : "≤"} ${t.max}`;
      return kind;
    }
    case "word":
      return `one of ${t.words.join(", ")}`;
    case "range":
      return `a range LO..HI${t.min !== undefined ? ` (≥ ${t.min})` : ""}${t.max !== undefined ? ` (≤ ${t.max})` : ""}`;
    default:
      return t.t === "expr" ? "a formula" : t.t === "bool" ? "true or false" : t.t === "sign" ? "+1 or -1" : t.t;
  }
}

function settingSignature(name: string, spec: SettingSpec): string {
  return `${name}: ${describeType(spec.type)} — ${spec.doc}`;
}

/** The comment lines right above a method of the prelude: its documentation. */
function methodDoc(m: MethodDecl, source: string): string {
  const lines = source.split("\n");
  const doc: string[] = [];
  for (let i = m.span.line - 2; i >= 0 && lines[i]!.startsWith("#"); i--) doc.unshift(lines[i]!.replace(/^#\s?/, ""));
  return doc.join("\n");
}

function methodSignature(m: MethodDecl, source: string): string {
  const params = m.params.map((p) => (p.default ? `${p.name} = ${source.slice(p.default.span.offset, p.default.span.endOffset)}` : p.name));
  return `${m.name}(${params.join(", ")})`;
}

/** The methods `use` can name: the prelude's, then the spec's own. */
function methods(spec: Decl[], specSource: string): { name: string; signature: string; doc: string; body: string }[] {
  const prelude = loadPrelude();
  const fromPrelude = prelude.methods.map((m) => ({
    name: m.name,
    signature: methodSignature(m, prelude.source),
    doc: methodDoc(m, prelude.source),
    body: prelude.source.slice(m.span.offset, m.span.endOffset),
  }));
  const own = spec
    .filter((d): d is MethodDecl => d.kind === "method")
    .map((m) => ({ name: m.name, signature: methodSignature(m, specSource), doc: "defined in this spec", body: specSource.slice(m.span.offset, m.span.endOffset) }));
  return [...own, ...fromPrelude.filter((p) => !own.some((o) => o.name === p.name))];
}

/** Names the spec declares (rewards, lets, probes), with their granularity where declared. */
function declaredNames(decls: Decl[]): CompletionItem[] {
  const out: CompletionItem[] = [];
  for (const d of decls) {
    if (d.kind === "reward" || d.kind === "let") out.push({ text: d.name, type: "name", signature: `${d.name}: ${d.kind}${d.level ? ` (${d.level})` : d.kind === "reward" ? " (response)" : ""}` });
    if (d.kind === "probe") out.push({ text: d.name, type: "name", signature: `${d.name}: probe (step) — the probe's value before each step` });
  }
  return out;
}

interface Context {
  /** the headers of the open blocks, outermost first: ["train", "rl"] */
  blocks: string[];
  /** the text of the current segment before the word being typed */
  before: string;
  /** open parentheses in the segment */
  parens: number;
}

/** The block stack and current segment at `cursor` (comments and strings skipped). */
function contextAt(source: string, cursor: number): Context {
  const blocks: string[] = [];
  let segment = "";
  let parens = 0;
  for (let i = 0; i < cursor; i++) {
    const c = source[i]!;
    if (c === "#") {
      while (i < cursor && source[i] !== "\n") i++;
      segment = "";
      continue;
    }
    if (c === '"') {
      let j = i + 1;
      while (j < cursor && source[j] !== '"' && source[j] !== "\n") j += source[j] === "\\" ? 2 : 1;
      segment += source.slice(i, Math.min(j + 1, cursor));
      i = j;
      continue;
    }
    if (c === "{") {
      blocks.push(segment.trim().replace(/\s+/g, " "));
      segment = "";
      parens = 0;
    } else if (c === "}") {
      blocks.pop();
      segment = "";
      parens = 0;
    } else if (c === "\n" || (c === "," && parens === 0)) {
      segment = "";
      parens = 0;
    } else {
      if (c === "(") parens++;
      if (c === ")") parens = Math.max(0, parens - 1);
      segment += c;
    }
  }
  return { blocks, before: segment, parens };
}

/** The schema of the innermost open block, or the names that start its entries. */
function blockEntries(blocks: string[]): { settings?: Record<string, SettingSpec>; stages?: boolean; top?: boolean } {
  const header = blocks.at(-1);
  if (header === undefined || header.startsWith("method ")) return { top: true };
  const words = header.split(" ");
  if (words[0] === "train") return { stages: true };
  if (blocks.length >= 2 && blocks.at(-2) === "train") return { settings: S.STAGES[words[0]!] ?? {} };
  if (words[0] === "eval") return { settings: S.EVAL };
  if (words[0] === "probe") return { settings: S.PROBE };
  const forms = S.COMPONENTS[words[0] as keyof typeof S.COMPONENTS];
  if (forms) return { settings: forms[words[1] ?? ""] ?? {} };
  return {};
}

function byPrefix(items: CompletionItem[], prefix: string): CompletionItem[] {
  const seen = new Set<string>();
  return items.filter((i) => i.text.startsWith(prefix) && !seen.has(i.text) && (seen.add(i.text), true));
}

/**
 * Completions at `cursor` in a spec.
 * @example completeSpec("use sp", 6).items.map((i) => i.signature) // ["spro(beta = 0.05)", …]
 * @example completeSpec("reward r = ent", 14).items[0] // { text: "entropy", type: "quantity", signature: "entropy: token — …" }
 */
export function completeSpec(source: string, cursor: number): Completion {
  let start = cursor;
  while (start > 0 && /[A-Za-z0-9_]/.test(source[start - 1]!)) start--;
  let end = cursor;
  while (end < source.length && /[A-Za-z0-9_]/.test(source[end]!)) end++;
  const prefix = source.slice(start, cursor);
  const ctx = contextAt(source, start);
  const before = ctx.before.trimStart();
  const entries = blockEntries(ctx.blocks);
  const decls = parse(source).spec.decls;
  const result = (items: CompletionItem[]): Completion => ({ start, end, items: byPrefix(items, prefix) });

  // 1) the first word of an entry: a declaration keyword, a stage, or a block's setting
  if (before === "") {
    if (entries.top) return result(DECLARATION_WORDS.map((k) => ({ text: k, type: "keyword", signature: `${S.DECLARATIONS[k]?.form ?? k} — ${S.DECLARATIONS[k]?.doc ?? ""}` })));
    if (entries.stages) return result(Object.keys(S.STAGES).map((k) => ({ text: k, type: "stage", signature: `${k} { ${Object.keys(S.STAGES[k]!).join(", ")} }` })));
    if (entries.settings) return result(Object.entries(entries.settings).map(([k, spec]) => ({ text: k, type: "setting", signature: settingSignature(k, spec) })));
  }
  // 2) `use NAME`: the methods, with their parameters
  if (/^use\s+$/.test(before)) return result(methods(decls, source).map((m) => ({ text: m.name, type: "method", signature: m.signature })));
  // 3) `model gpt`, `task jsonl`, …: the forms of a component
  const comp = /^(\w+)\s+$/.exec(before);
  if (comp && COMPONENT_KEYWORDS.includes(comp[1] as keyof typeof S.COMPONENTS)) {
    const forms = S.COMPONENTS[comp[1] as keyof typeof S.COMPONENTS];
    return result(Object.entries(forms).map(([t, schema]) => ({ text: t, type: "type", signature: `${comp[1]} ${t}${schema ? ` { ${Object.keys(schema).join(", ")} }` : ""}` })));
  }
  // 4) a word-valued setting: its words
  const setting = /^(\w+)\s+$/.exec(before);
  const spec = setting && entries.settings?.[setting[1]!];
  if (spec && spec.type.t === "word") return result(spec.type.words.map((w) => ({ text: w, type: "value", signature: `${setting[1]} ${w}` })));
  // 5) `track …`: metrics and the spec's names
  if (/^track\b/.test(before)) return result([...S.METRICS.map((m) => ({ text: m, type: "metric" as const, signature: m })), ...declaredNames(decls)]);
  // 6) after `over` / `by`: what a reduction or group operation runs over
  if (/\bover\s+$/.test(before)) return result(REDUCE_OVER.map((w) => ({ text: w, type: "value", signature: `over ${w}` })));
  if (/\bby\s+$/.test(before)) return result(GROUP_BY.map((w) => ({ text: w, type: "value", signature: `by ${w}` })));
  // 7) a formula: the spec's names, the built-in quantities with their granularity, the functions
  const fns = functionTable();
  return result([
    ...declaredNames(decls),
    ...Object.entries(BUILTINS).map(([k, b]) => ({ text: k, type: "quantity" as const, signature: `${k}: ${b.level} — ${b.doc}` })),
    ...[...fns].map(([k, f]) => ({ text: k, type: "function" as const, signature: `${f.usage} — ${f.doc}` })),
    ...["if", "then", "else", "and", "or", "not"].map((k) => ({ text: k, type: "keyword" as const, signature: k })),
  ]);
}

/**
 * What the word at `cursor` is, as plain text (Markdown-friendly), or undefined.
 * @example inspectSpec("use spro", 6) // "spro(beta = 0.05)\n\nSPRO (arXiv 2507.01551): …"
 */
export function inspectSpec(source: string, cursor: number): string | undefined {
  let start = cursor;
  while (start > 0 && /[A-Za-z0-9_]/.test(source[start - 1]!)) start--;
  let end = cursor;
  while (end < source.length && /[A-Za-z0-9_]/.test(source[end]!)) end++;
  const word = source.slice(start, end);
  if (word === "") return undefined;
  const ctx = contextAt(source, start);
  const before = ctx.before.trimStart();
  const entries = blockEntries(ctx.blocks);
  const decls = parse(source).spec.decls;

  if (before === "" && entries.settings?.[word]) return settingSignature(word, entries.settings[word]);
  if (before === "" && entries.stages && S.STAGES[word]) {
    return `${word} stage\n\n${Object.entries(S.STAGES[word]).map(([k, s]) => settingSignature(k, s)).join("\n")}`;
  }
  if (/^use\s+$/.test(before) || (/^use\s+\w*$/.test(before + word) && before.startsWith("use"))) {
    const m = methods(decls, source).find((x) => x.name === word);
    if (m) return `${m.signature}\n\n${m.doc}\n\n${m.body}`;
  }
  const comp = /^(\w+)\s+$/.exec(before);
  if (comp && COMPONENT_KEYWORDS.includes(comp[1] as keyof typeof S.COMPONENTS)) {
    const schema = S.COMPONENTS[comp[1] as keyof typeof S.COMPONENTS][word];
    if (schema !== undefined) return `${comp[1]} ${word}\n\n${schema ? Object.entries(schema).map(([k, s]) => settingSignature(k, s)).join("\n") : "(no settings)"}`;
  }
  if (before === "" && S.DECLARATIONS[word]) return `${S.DECLARATIONS[word].form}\n\n${S.DECLARATIONS[word].doc}`;
  const own = declaredNames(decls).find((n) => n.text === word);
  if (own) return own.signature;
  if (Object.hasOwn(BUILTINS, word)) {
    const b = BUILTINS[word as keyof typeof BUILTINS] as { level: string; doc: string; needsLabels?: boolean };
    return `${word}: ${b.level}-level quantity\n\n${b.doc}${b.needsLabels ? "\n(needs a task with ground-truth step labels)" : ""}`;
  }
  const f = functionTable().get(word);
  if (f) return `${f.usage}\n\n${f.doc}`;
  const m = methods(decls, source).find((x) => x.name === word);
  if (m) return `${m.signature}\n\n${m.doc}\n\n${m.body}`;
  if (S.DECLARATIONS[word]) return `${S.DECLARATIONS[word].form}\n\n${S.DECLARATIONS[word].doc}`;
  return undefined;
}

/**
 * Whether a spec is complete enough to run, for Jupyter's `is_complete`: "incomplete" while a
 * `{` or `(` is open (with the indent the next line wants), else "complete".
 * @example specIsComplete("train {\n  rl {") // { complete: false, indent: "    " }
 */
export function specIsComplete(source: string): { complete: boolean; indent: string } {
  const ctx = contextAt(source, source.length);
  const depth = ctx.blocks.length;
  const complete = depth === 0 && ctx.parens === 0;
  return { complete, indent: "  ".repeat(depth) };
}
