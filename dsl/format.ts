/**
 * The formatter: AST → canonical source. Idempotent (fmt(fmt(x)) = fmt(x)), meaning-preserving
 * (compile(fmt(x)) = compile(x)), and it keeps every comment.
 *
 * Layout rules: one declaration per line; a settings block stays on one line unless the source
 * wrote it over several lines or a comment sits inside it; two-space indentation; formulas with
 * the fewest parentheses (print.ts); one blank line kept where the source had one or more.
 *
 * Comments are attached to "anchors" (declarations, settings, training stages):
 *   - after code on the same line: trailing comment of the outermost anchor that ends on that line;
 *   - on a line of its own: leading comment of the next anchor in the same container
 *     (the closing comments of the container when there is none).
 */
import type { IToken } from "chevrotain";
import type { Block, Comment, Decl, Setting, Spec, Stage } from "./ast.js";
import type { Span } from "./diagnostics.js";
import { parseSource } from "./syntax.js";
import { printExpr } from "./print.js";
import type { Diagnostic } from "./diagnostics.js";

interface Anchor {
  span: Span;
  node: Decl | Setting | Stage;
  parent: Anchor | undefined;
  children: Anchor[];
  /** a container prints `{ … }` and can hold closing comments */
  container: boolean;
  leading: string[];
  trailing: string[];
  closing: string[];
  /** source lines of the leading comments (for blank-line decisions) */
  leadingLines: number[];
}

function blockOf(d: Decl): Block | undefined {
  return d.kind === "component" || d.kind === "probe" || d.kind === "eval" ? d.block : undefined;
}

function anchor(span: Span, node: Decl | Setting | Stage, parent: Anchor | undefined, container = false): Anchor {
  return { span, node, parent, children: [], container, leading: [], trailing: [], closing: [], leadingLines: [] };
}

function buildAnchors(decls: Decl[], parent: Anchor | undefined, out: Anchor[]): Anchor[] {
  const level: Anchor[] = [];
  for (const d of decls) {
    const a = anchor(d.span, d, parent);
    level.push(a);
    out.push(a);
    if (d.kind === "method") {
      a.container = true;
      a.children = buildAnchors(d.body, a, out);
    } else if (d.kind === "train") {
      a.container = true;
      for (const st of d.stages) {
        const sa = anchor(st.span, st, a, !!st.block);
        a.children.push(sa);
        out.push(sa);
        if (st.block) sa.children = settingAnchors(st.block, sa, out);
      }
    } else {
      const b = blockOf(d);
      if (b) {
        a.container = true;
        a.children = settingAnchors(b, a, out);
      }
    }
  }
  return level;
}

function settingAnchors(b: Block, parent: Anchor, out: Anchor[]): Anchor[] {
  return b.settings.map((s) => {
    const a = anchor(s.span, s, parent);
    out.push(a);
    return a;
  });
}

const depth = (a: Anchor): number => (a.parent ? depth(a.parent) + 1 : 0);

function attachComments(comments: Comment[], tokens: IToken[], top: Anchor[], all: Anchor[], fileEnd: string[]): void {
  // earliest end offset of a token on each line: a comment after it is a trailing comment
  const firstEnd = new Map<number, number>();
  for (const t of tokens) {
    const line = t.endLine ?? 0;
    const end = (t.endOffset ?? t.startOffset) + 1;
    if (!firstEnd.has(line) || end < firstEnd.get(line)!) firstEnd.set(line, end);
  }
  for (const c of comments) {
    const o = c.span.offset;
    const L = c.span.line;
    if ((firstEnd.get(L) ?? Infinity) <= o) {
      let best: Anchor | undefined;
      for (const a of all) {
        if (a.span.endLine !== L || a.span.endOffset > o) continue;
        if (!best || a.span.endOffset > best.span.endOffset || (a.span.endOffset === best.span.endOffset && depth(a) < depth(best))) best = a;
      }
      if (best) {
        best.trailing.push(c.text);
        continue;
      }
    }
    // own line (or after an opening brace): find the deepest anchor around the comment
    let inside: Anchor | undefined;
    for (const a of all) if (a.span.offset < o && o < a.span.endOffset && (!inside || depth(a) > depth(inside))) inside = a;
    if (inside && !inside.container) {
      inside.leading.push(c.text);
      inside.leadingLines.push(L);
      continue;
    }
    const siblings = inside ? inside.children : top;
    const next = siblings.find((a) => a.span.offset > o);
    if (next) {
      next.leading.push(c.text);
      next.leadingLines.push(L);
    }
    else if (inside) inside.closing.push(c.text);
    else fileEnd.push(c.text);
  }
}

const hasInnerComments = (a: Anchor): boolean => a.closing.length > 0 || a.children.some((c) => c.leading.length > 0 || c.trailing.length > 0 || hasInnerComments(c));

class Printer {
  readonly lines: string[] = [];
  constructor(private readonly anchorOf: Map<object, Anchor>) {}

  private comments(texts: string[], indent: string): void {
    for (const t of texts) this.lines.push(indent + t);
  }

  /** Appends a trailing comment to the last line written. */
  private trail(a: Anchor): void {
    if (a.trailing.length === 0) return;
    this.lines[this.lines.length - 1] += "  " + a.trailing.join(" ");
  }

  setting(s: Setting): string {
    return `${s.name} ${printExpr(s.value)}${s.upper ? ".." + printExpr(s.upper) : ""}`;
  }

  /** Writes `head { … }` (one line or several) for a block anchor. */
  private block(head: string, b: Block, a: Anchor, indent: string): void {
    const multi = b.multiline || hasInnerComments(a);
    if (!multi) {
      this.lines.push(indent + head + (b.settings.length === 0 ? " {}" : ` { ${b.settings.map((s) => this.setting(s)).join(", ")} }`));
      return;
    }
    this.lines.push(indent + head + " {");
    for (const s of b.settings) {
      const sa = this.anchorOf.get(s)!;
      this.comments(sa.leading, indent + "  ");
      this.lines.push(indent + "  " + this.setting(s));
      this.trail(sa);
    }
    this.comments(a.closing, indent + "  ");
    this.lines.push(indent + "}");
  }

  decls(decls: Decl[], indent: string, blankBefore: (d: Decl, i: number) => boolean): void {
    decls.forEach((d, i) => {
      if (blankBefore(d, i)) this.lines.push("");
      this.decl(d, indent);
    });
  }

  decl(d: Decl, indent: string): void {
    const a = this.anchorOf.get(d)!;
    this.comments(a.leading, indent);
    switch (d.kind) {
      case "experiment":
        this.lines.push(`${indent}experiment ${d.raw}`);
        break;
      case "seed":
        this.lines.push(`${indent}seed ${d.raw}`);
        break;
      case "backend":
        this.lines.push(`${indent}backend ${d.name}`);
        break;
      case "component": {
        const arg = d.arg ? ` ${d.arg.raw}${d.arg.unit ? " " + d.arg.unit : ""}` : "";
        const head = `${d.keyword} ${d.type}${arg}`;
        if (d.block) this.block(head, d.block, a, indent);
        else this.lines.push(indent + head);
        break;
      }
      case "probe":
        this.block(`probe ${d.name}`, d.block, a, indent);
        break;
      case "reward":
      case "let":
        this.lines.push(`${indent}${d.kind} ${d.name}${d.level ? `: ${d.level}` : ""} = ${printExpr(d.formula)}`);
        break;
      case "advantage":
        this.lines.push(`${indent}advantage = ${printExpr(d.formula)}`);
        break;
      case "use":
        this.lines.push(`${indent}use ${d.name}${d.parens ? `(${d.args.map((x) => `${x.name} = ${printExpr(x.value)}`).join(", ")})` : ""}`);
        break;
      case "track":
        this.lines.push(`${indent}track ${d.names.map((n) => n.name).join(", ")}`);
        break;
      case "eval":
        this.block("eval", d.block, a, indent);
        break;
      case "train": {
        const multi = d.multiline || hasInnerComments(a);
        const stage = (s: Stage) => (s.block ? undefined : s.name);
        if (!multi) {
          const parts = d.stages.map((s) => stage(s) ?? `${s.name}${s.block!.settings.length ? ` { ${s.block!.settings.map((x) => this.setting(x)).join(", ")} }` : " {}"}`);
          this.lines.push(`${indent}train {${parts.length ? " " + parts.join(" ") + " " : ""}}`);
          break;
        }
        this.lines.push(`${indent}train {`);
        for (const s of d.stages) {
          const sa = this.anchorOf.get(s)!;
          if (s.block) {
            this.comments(sa.leading, indent + "  ");
            this.block(s.name, s.block, { ...sa, leading: [] }, indent + "  ");
          } else {
            this.comments(sa.leading, indent + "  ");
            this.lines.push(indent + "  " + s.name);
          }
          this.trail(sa);
        }
        this.comments(a.closing, indent + "  ");
        this.lines.push(`${indent}}`);
        break;
      }
      case "method": {
        const params = d.params.map((p) => (p.default ? `${p.name} = ${printExpr(p.default)}` : p.name)).join(", ");
        this.lines.push(`${indent}method ${d.name}(${params}) {`);
        this.decls(d.body, indent + "  ", (x, i) => i > 0 && gapBefore(this.anchorOf.get(x)!, this.anchorOf.get(d.body[i - 1]!)!));
        this.comments(a.closing, indent + "  ");
        this.lines.push(`${indent}}`);
        break;
      }
    }
    this.trail(a);
  }
}

/** The source had a blank line between two items (counting their comments). */
function gapBefore(a: Anchor, prev: Anchor): boolean {
  const start = a.leadingLines.length > 0 ? Math.min(a.span.line, ...a.leadingLines) : a.span.line;
  return start - prev.span.endLine >= 2;
}


/** Formats a spec. On syntax errors the text comes back unchanged with the diagnostics. */
export function formatSource(source: string, file = "<spec>"): { text: string; diagnostics: Diagnostic[]; changed: boolean } {
  const { spec, bag, tokens } = parseSource(source, file);
  const diagnostics = bag.done();
  if (diagnostics.some((d) => d.severity === "error")) return { text: source, diagnostics, changed: false };
  const text = formatSpec(spec, tokens);
  return { text, diagnostics, changed: text !== source };
}

export function formatSpec(spec: Spec, tokens: IToken[]): string {
  const all: Anchor[] = [];
  const top = buildAnchors(spec.decls, undefined, all);
  const fileEnd: string[] = [];
  attachComments(spec.comments, tokens, top, all, fileEnd);
  const anchorOf = new Map<object, Anchor>(all.map((a) => [a.node, a]));
  const p = new Printer(anchorOf);
  p.decls(spec.decls, "", (d, i) => i > 0 && gapBefore(top[i]!, top[i - 1]!));
  if (fileEnd.length > 0) {
    const lastEnd = top.length ? top[top.length - 1]!.span.endLine : 0;
    const firstLine = spec.comments.find((c) => fileEnd.includes(c.text) && c.span.line > lastEnd)?.span.line ?? lastEnd + 1;
    if (top.length > 0 && firstLine - lastEnd >= 2) p.lines.push("");
    for (const t of fileEnd) p.lines.push(t);
  }
  return p.lines.length ? p.lines.join("\n") + "\n" : "";
}
