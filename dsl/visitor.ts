/**
 * CST → AST. Grammar-free of meaning on both sides: this only reshapes the concrete tree into the
 * typed AST of `ast.ts` (operator chains into binary trees, tokens into spans, strings decoded).
 * It runs only on declarations that parsed without error, so every required child is present.
 */
import type { CstNode, IToken, CstNodeLocation } from "chevrotain";
import { parser } from "./parser.js";
import type * as C from "./cst.js";
import type { Block, BinaryOp, ComponentArg, ComponentKeyword, Decl, Expr, Modifier, NamedArg, Param, Setting, Span, Stage } from "./ast.js";

export function tokenSpan(t: IToken): Span {
  return {
    line: t.startLine ?? 1,
    column: t.startColumn ?? 1,
    endLine: t.endLine ?? t.startLine ?? 1,
    endColumn: (t.endColumn ?? t.startColumn ?? 0) + 1,
    offset: t.startOffset,
    endOffset: (t.endOffset ?? t.startOffset) + 1,
  };
}

export function nodeSpan(n: CstNode): Span {
  const l = n.location as CstNodeLocation;
  return {
    line: l.startLine ?? 1,
    column: l.startColumn ?? 1,
    endLine: l.endLine ?? l.startLine ?? 1,
    endColumn: (l.endColumn ?? l.startColumn ?? 0) + 1,
    offset: l.startOffset,
    endOffset: (l.endOffset ?? l.startOffset) + 1,
  };
}

export function joinSpans(a: Span, b: Span): Span {
  return { line: a.line, column: a.column, endLine: b.endLine, endColumn: b.endColumn, offset: a.offset, endOffset: b.endOffset };
}

/** Decodes a string literal's escapes: \n \t \r \" \\ (any other `\c` is `c`). */
export function decodeString(raw: string): string {
  const body = raw.slice(1, -1);
  return body.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c === "t" ? "\t" : c === "r" ? "\r" : c));
}

const BaseVisitor = parser.getBaseCstVisitorConstructor();

const first = <T>(xs: T[] | undefined): T => xs![0]!;

/** Builds AST nodes from CST nodes; one method per grammar rule. */
export class AstBuilder extends BaseVisitor implements C.StepwiseCstVisitor<void, unknown> {
  constructor() {
    super();
    this.validateVisitor();
  }

  spec(c: C.SpecCstChildren): Decl[] {
    return (c.declaration ?? []).map((d) => this.visit(d) as Decl);
  }

  declaration(c: C.DeclarationCstChildren): Decl {
    const child = Object.values(c)[0] as CstNode[];
    return this.visit(child[0]!) as Decl;
  }

  experimentDecl(c: C.ExperimentDeclCstChildren, _?: void, node?: CstNode): Decl {
    const s = first(c.StringLit);
    return { kind: "experiment", name: decodeString(s.image), raw: s.image, nameSpan: tokenSpan(s), span: joinSpans(tokenSpan(first(c.Experiment)), tokenSpan(s)) };
  }

  seedDecl(c: C.SeedDeclCstChildren): Decl {
    const n = first(c.NumberLit);
    return { kind: "seed", value: Number(n.image), raw: n.image, span: joinSpans(tokenSpan(first(c.Seed)), tokenSpan(n)) };
  }

  backendDecl(c: C.BackendDeclCstChildren): Decl {
    const id = first(c.Identifier);
    return { kind: "backend", name: id.image, nameSpan: tokenSpan(id), span: joinSpans(tokenSpan(first(c.Backend)), tokenSpan(id)) };
  }

  componentDecl(c: C.ComponentDeclCstChildren): Decl {
    const kw = (c.Model ?? c.Tokenizer ?? c.Task ?? c.Steps ?? c.Objective ?? c.Sampler)![0]!;
    const type = first(c.Identifier);
    const arg = c.componentArg ? (this.visit(c.componentArg[0]!) as ComponentArg) : undefined;
    const block = c.block ? (this.visit(c.block[0]!) as Block) : undefined;
    const end = block?.span ?? arg?.span ?? tokenSpan(type);
    return {
      kind: "component",
      keyword: kw.image as ComponentKeyword,
      type: type.image,
      typeSpan: tokenSpan(type),
      ...(arg ? { arg } : {}),
      ...(block ? { block } : {}),
      span: joinSpans(tokenSpan(kw), end),
    };
  }

  componentArg(c: C.ComponentArgCstChildren): ComponentArg {
    if (c.StringLit) {
      const s = first(c.StringLit);
      return { kind: "string", value: decodeString(s.image), raw: s.image, span: tokenSpan(s) };
    }
    if (c.RegexLit) {
      const r = first(c.RegexLit);
      const cut = r.image.lastIndexOf("/");
      return { kind: "regex", value: r.image.slice(1, cut), flags: r.image.slice(cut + 1), raw: r.image, span: tokenSpan(r) };
    }
    const n = first(c.NumberLit);
    const unit = c.Identifier?.[0];
    return {
      kind: "count",
      value: n.image,
      raw: n.image,
      ...(unit ? { unit: unit.image } : {}),
      span: unit ? joinSpans(tokenSpan(n), tokenSpan(unit)) : tokenSpan(n),
    };
  }

  probeDecl(c: C.ProbeDeclCstChildren): Decl {
    const id = first(c.Identifier);
    const block = this.visit(first(c.block)) as Block;
    return { kind: "probe", name: id.image, nameSpan: tokenSpan(id), block, span: joinSpans(tokenSpan(first(c.Probe)), block.span) };
  }

  valueDecl(c: C.ValueDeclCstChildren): Decl {
    const kw = (c.Reward ?? c.Let)![0]!;
    const id = first(c.Identifier);
    const formula = this.visit(first(c.expression)) as Expr;
    const level = c.level?.[0];
    return {
      kind: kw.image as "reward" | "let",
      name: id.image,
      nameSpan: tokenSpan(id),
      ...(level ? { level: level.image, levelSpan: tokenSpan(level) } : {}),
      formula,
      span: joinSpans(tokenSpan(kw), formula.span),
    };
  }

  advantageDecl(c: C.AdvantageDeclCstChildren): Decl {
    const formula = this.visit(first(c.expression)) as Expr;
    return { kind: "advantage", formula, span: joinSpans(tokenSpan(first(c.Advantage)), formula.span) };
  }

  useDecl(c: C.UseDeclCstChildren, _?: void): Decl {
    const id = first(c.Identifier);
    const args = (c.namedArg ?? []).map((a) => this.visit(a) as NamedArg);
    const end = c.RParen ? tokenSpan(first(c.RParen)) : tokenSpan(id);
    return { kind: "use", name: id.image, nameSpan: tokenSpan(id), args, parens: !!c.LParen, span: joinSpans(tokenSpan(first(c.Use)), end) };
  }

  namedArg(c: C.NamedArgCstChildren): NamedArg {
    const id = this.visit(first(c.name)) as { name: string; span: Span };
    const value = this.visit(first(c.expression)) as Expr;
    return { name: id.name, nameSpan: id.span, value, span: joinSpans(id.span, value.span) };
  }

  trainDecl(c: C.TrainDeclCstChildren): Decl {
    const open = tokenSpan(first(c.LBrace));
    const close = tokenSpan(first(c.RBrace));
    return {
      kind: "train",
      stages: (c.stage ?? []).map((s) => this.visit(s) as Stage),
      multiline: close.line > open.line,
      span: joinSpans(tokenSpan(first(c.Train)), close),
    };
  }

  stage(c: C.StageCstChildren): Stage {
    const id = first(c.Identifier);
    const block = c.block ? (this.visit(c.block[0]!) as Block) : undefined;
    return { name: id.image, nameSpan: tokenSpan(id), ...(block ? { block } : {}), span: joinSpans(tokenSpan(id), block?.span ?? tokenSpan(id)) };
  }

  evalDecl(c: C.EvalDeclCstChildren): Decl {
    const block = this.visit(first(c.block)) as Block;
    return { kind: "eval", block, span: joinSpans(tokenSpan(first(c.Eval)), block.span) };
  }

  trackDecl(c: C.TrackDeclCstChildren): Decl {
    const names = (c.name ?? []).map((n) => this.visit(n) as { name: string; span: Span });
    return { kind: "track", names, span: joinSpans(tokenSpan(first(c.Track)), names[names.length - 1]!.span) };
  }

  methodDecl(c: C.MethodDeclCstChildren): Decl {
    const id = first(c.Identifier);
    return {
      kind: "method",
      name: id.image,
      nameSpan: tokenSpan(id),
      params: (c.param ?? []).map((p) => this.visit(p) as Param),
      body: (c.declaration ?? []).map((d) => this.visit(d) as Decl),
      span: joinSpans(tokenSpan(first(c.Method)), tokenSpan(first(c.RBrace))),
    };
  }

  param(c: C.ParamCstChildren): Param {
    const id = this.visit(first(c.name)) as { name: string; span: Span };
    return { name: id.name, span: id.span, ...(c.expression ? { default: this.visit(c.expression[0]!) as Expr } : {}) };
  }

  block(c: C.BlockCstChildren): Block {
    const open = tokenSpan(first(c.LBrace));
    const close = tokenSpan(first(c.RBrace));
    return { settings: (c.setting ?? []).map((s) => this.visit(s) as Setting), multiline: close.line > open.line, span: joinSpans(open, close) };
  }

  setting(c: C.SettingCstChildren): Setting {
    const name = this.visit(first(c.name)) as { name: string; span: Span };
    const value = this.visit(first(c.expression)) as Expr;
    const upper = c.upper ? (this.visit(c.upper[0]!) as Expr) : undefined;
    return { name: name.name, nameSpan: name.span, value, ...(upper ? { upper } : {}), span: joinSpans(name.span, (upper ?? value).span) };
  }

  name(c: C.NameCstChildren): { name: string; span: Span } {
    const t = (c.Identifier ?? c.Keyword)![0]!;
    return { name: t.image, span: tokenSpan(t) };
  }

  // ---- formulas ----

  expression(c: C.ExpressionCstChildren): Expr {
    return this.visit((c.ifExpr ?? c.orExpr)![0]!) as Expr;
  }

  ifExpr(c: C.IfExprCstChildren): Expr {
    const e = this.visit(first(c.else)) as Expr;
    return {
      kind: "if",
      cond: this.visit(first(c.cond)) as Expr,
      then: this.visit(first(c.then)) as Expr,
      else: e,
      span: joinSpans(tokenSpan(first(c.If)), e.span),
    };
  }

  /** operands[0] op[0] operands[1] op[1] … → a left-leaning binary tree. */
  private chain(operands: CstNode[], ops: IToken[] | undefined): Expr {
    let acc = this.visit(operands[0]!) as Expr;
    for (let i = 1; i < operands.length; i++) {
      const right = this.visit(operands[i]!) as Expr;
      acc = { kind: "binary", op: ops![i - 1]!.image as BinaryOp, left: acc, right, span: joinSpans(acc.span, right.span) };
    }
    return acc;
  }

  orExpr(c: C.OrExprCstChildren): Expr {
    return this.chain(c.operands, c.Or);
  }
  andExpr(c: C.AndExprCstChildren): Expr {
    return this.chain(c.operands, c.And);
  }
  notExpr(c: C.NotExprCstChildren): Expr {
    if (c.Not) {
      const arg = this.visit(first(c.notExpr)) as Expr;
      return { kind: "unary", op: "not", arg, span: joinSpans(tokenSpan(first(c.Not)), arg.span) };
    }
    return this.visit(first(c.compareExpr)) as Expr;
  }
  compareExpr(c: C.CompareExprCstChildren): Expr {
    return this.chain(c.operands, c.CompareOp);
  }
  additiveExpr(c: C.AdditiveExprCstChildren): Expr {
    return this.chain(c.operands, c.AddOp);
  }
  multiplicativeExpr(c: C.MultiplicativeExprCstChildren): Expr {
    return this.chain(c.operands, c.MulOp);
  }
  unaryExpr(c: C.UnaryExprCstChildren): Expr {
    if (c.Minus) {
      const arg = this.visit(first(c.unaryExpr)) as Expr;
      return { kind: "unary", op: "neg", arg, span: joinSpans(tokenSpan(first(c.Minus)), arg.span) };
    }
    return this.visit(first(c.powerExpr)) as Expr;
  }
  powerExpr(c: C.PowerExprCstChildren): Expr {
    const base = this.visit(first(c.atom)) as Expr;
    if (!c.exponent) return base;
    const exp = this.visit(c.exponent[0]!) as Expr;
    return { kind: "binary", op: "^", left: base, right: exp, span: joinSpans(base.span, exp.span) };
  }
  atom(c: C.AtomCstChildren): Expr {
    if (c.NumberLit) {
      const t = first(c.NumberLit);
      return { kind: "num", value: Number(t.image), raw: t.image, span: tokenSpan(t) };
    }
    if (c.StringLit) {
      const t = first(c.StringLit);
      return { kind: "str", value: decodeString(t.image), raw: t.image, span: tokenSpan(t) };
    }
    if (c.expression) {
      const inner = this.visit(c.expression[0]!) as Expr;
      // Parentheses leave no node; the span widens to include them so errors point at the whole group.
      return { ...inner, span: joinSpans(tokenSpan(first(c.LParen)), tokenSpan(first(c.RParen))) };
    }
    return this.visit(first(c.reference)) as Expr;
  }
  reference(c: C.ReferenceCstChildren): Expr {
    const t = (c.Identifier ?? c.DeclKeyword)![0]!;
    if (!c.LParen) return { kind: "name", name: t.image, span: tokenSpan(t) };
    const inner = this.visit(first(c.callArgs)) as { args: Expr[]; modifiers: Modifier[] };
    return { kind: "call", fn: t.image, fnSpan: tokenSpan(t), ...inner, span: joinSpans(tokenSpan(t), tokenSpan(first(c.RParen))) };
  }
  callArgs(c: C.CallArgsCstChildren): { args: Expr[]; modifiers: Modifier[] } {
    return {
      args: (c.args ?? []).map((a) => this.visit(a) as Expr),
      modifiers: (c.modifier ?? []).map((m) => this.visit(m) as Modifier),
    };
  }
  modifier(c: C.ModifierCstChildren): Modifier {
    const kw = (c.Over ?? c.By)![0]!;
    const words = (c.Identifier ?? []).map((t) => t.image);
    const last = c.Identifier![c.Identifier!.length - 1]!;
    return { kind: c.Over ? "over" : "by", value: words.join("_"), words, span: joinSpans(tokenSpan(kw), tokenSpan(last)) };
  }
}

export const astBuilder = new AstBuilder();
