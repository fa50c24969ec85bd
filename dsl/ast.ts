/**
 * The typed AST of a Stepwise spec: what the visitor builds from the CST, what the checker,
 * compiler and formatter read. Every node carries its source span.
 */
import type { Span } from "./diagnostics.js";

export type { Span };

// ---- formulas ----

export type Expr = NumExpr | StrExpr | NameExpr | UnaryExpr | BinaryExpr | IfExpr | CallExpr;

export interface NumExpr {
  kind: "num";
  value: number;
  /** the source text, kept so the formatter writes `3e-3` back as written */
  raw: string;
  span: Span;
}
export interface StrExpr {
  kind: "str";
  value: string;
  raw: string;
  span: Span;
}
export interface NameExpr {
  kind: "name";
  name: string;
  span: Span;
}
export interface UnaryExpr {
  kind: "unary";
  op: "neg" | "not";
  arg: Expr;
  span: Span;
}
export type BinaryOp = "+" | "-" | "*" | "/" | "^" | "<" | "<=" | ">" | ">=" | "==" | "!=" | "and" | "or";
export interface BinaryExpr {
  kind: "binary";
  op: BinaryOp;
  left: Expr;
  right: Expr;
  span: Span;
}
export interface IfExpr {
  kind: "if";
  cond: Expr;
  then: Expr;
  else: Expr;
  span: Span;
}
/** `over step` / `by position` / `by step index` inside a call's parentheses. */
export interface Modifier {
  kind: "over" | "by";
  /** words after the keyword, joined by "_": "step", "response", "position", "step_index" */
  value: string;
  words: string[];
  span: Span;
}
export interface CallExpr {
  kind: "call";
  fn: string;
  fnSpan: Span;
  args: Expr[];
  modifiers: Modifier[];
  span: Span;
}

// ---- settings blocks ----

export interface Setting {
  name: string;
  nameSpan: Span;
  value: Expr;
  /** `operands 3..5`: the upper bound of a range */
  upper?: Expr;
  span: Span;
}
export interface Block {
  settings: Setting[];
  /** whether the source wrote it over several lines (the formatter keeps that choice) */
  multiline: boolean;
  span: Span;
}

// ---- declarations ----

export type ComponentKeyword = "model" | "tokenizer" | "task" | "steps" | "objective" | "sampler";

/** `model gpt { … }`, `model load "PATH"`, `task jsonl "PATH" { … }`, `steps split "\n"`, `steps every 16 tokens`, … */
export interface ComponentArg {
  kind: "string" | "regex" | "count";
  /** string: the decoded text; regex: the pattern; count: the number as text */
  value: string;
  raw: string;
  flags?: string;
  /** count: the unit word (`tokens`) */
  unit?: string;
  span: Span;
}

export type Decl =
  | { kind: "experiment"; name: string; nameSpan: Span; raw: string; span: Span }
  | { kind: "seed"; value: number; raw: string; span: Span }
  | { kind: "backend"; name: string; nameSpan: Span; span: Span }
  | { kind: "component"; keyword: ComponentKeyword; type: string; typeSpan: Span; arg?: ComponentArg; block?: Block; span: Span }
  | { kind: "probe"; name: string; nameSpan: Span; block: Block; span: Span }
  | { kind: "reward" | "let"; name: string; nameSpan: Span; level?: string; levelSpan?: Span; formula: Expr; span: Span }
  | { kind: "advantage"; formula: Expr; span: Span }
  | { kind: "use"; name: string; nameSpan: Span; args: NamedArg[]; parens: boolean; span: Span }
  | { kind: "train"; stages: Stage[]; multiline: boolean; span: Span }
  | { kind: "eval"; block: Block; span: Span }
  | { kind: "track"; names: { name: string; span: Span }[]; span: Span }
  | { kind: "method"; name: string; nameSpan: Span; params: Param[]; body: Decl[]; span: Span };

export interface NamedArg {
  name: string;
  nameSpan: Span;
  value: Expr;
  span: Span;
}
export interface Param {
  name: string;
  span: Span;
  default?: Expr;
}
export interface Stage {
  name: string;
  nameSpan: Span;
  block?: Block;
  span: Span;
}

/** A comment from the source (`# …`), with its text and position. */
export interface Comment {
  text: string;
  span: Span;
}

export interface Spec {
  file: string;
  decls: Decl[];
  comments: Comment[];
  /**
   * Names whose declaration failed to parse (`reward oops = 1 +`): the checker does not report
   * uses of them as unknown, so one typo gives one error, not a cascade.
   */
  brokenNames: string[];
}

export type DeclKind = Decl["kind"];
