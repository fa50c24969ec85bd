/**
 * Diagnostics: what every stage of the DSL (lexer, parser, checker, compiler) reports.
 * A diagnostic is plain data with a 1-based source range, so the CLI, the notebook kernel
 * and editors can all point at the same place.
 */

export type Severity = "error" | "warning";

export interface Diagnostic {
  file: string;
  /** 1-based line and column of the first character */
  line: number;
  column: number;
  /** 1-based line and column just after the last character */
  endLine: number;
  endColumn: number;
  severity: Severity;
  message: string;
  /** what the language expected at this place, e.g. "a number" */
  expected?: string;
  /** what it found instead, e.g. "`}`" */
  found?: string;
  /** how to fix it, e.g. "did you mean `logratio`?" */
  hint?: string;
}

/** A source range (1-based lines/columns, 0-based offsets; end exclusive). */
export interface Span {
  line: number;
  column: number;
  endLine: number;
  endColumn: number;
  offset: number;
  endOffset: number;
}

export const NO_SPAN: Span = { line: 1, column: 1, endLine: 1, endColumn: 1, offset: 0, endOffset: 0 };

/** Collects diagnostics for one file; caps the count so binary garbage cannot flood the output. */
export class DiagnosticBag {
  readonly items: Diagnostic[] = [];
  private dropped = 0;
  constructor(
    readonly file: string,
    private readonly limit = 100,
  ) {}

  add(span: Span, message: string, extra: Partial<Pick<Diagnostic, "expected" | "found" | "hint" | "severity">> = {}): void {
    if (this.items.length >= this.limit) {
      this.dropped++;
      return;
    }
    this.items.push({
      file: this.file,
      line: span.line,
      column: span.column,
      endLine: span.endLine,
      endColumn: span.endColumn,
      severity: extra.severity ?? "error",
      message,
      ...(extra.expected !== undefined ? { expected: extra.expected } : {}),
      ...(extra.found !== undefined ? { found: extra.found } : {}),
      ...(extra.hint !== undefined ? { hint: extra.hint } : {}),
    });
  }

  warn(span: Span, message: string, extra: Partial<Pick<Diagnostic, "expected" | "found" | "hint">> = {}): void {
    this.add(span, message, { ...extra, severity: "warning" });
  }

  /** true once the limit is reached: callers may stop looking for more */
  get full(): boolean {
    return this.items.length >= this.limit;
  }

  get errorCount(): number {
    return this.items.filter((d) => d.severity === "error").length + this.dropped;
  }

  /** The diagnostics sorted by position, with a final note when some were dropped. */
  done(): Diagnostic[] {
    const out = [...this.items].sort((a, b) => a.line - b.line || a.column - b.column);
    if (this.dropped > 0) {
      const last = out[out.length - 1];
      out.push({
        file: this.file,
        line: last?.line ?? 1,
        column: last?.column ?? 1,
        endLine: last?.endLine ?? 1,
        endColumn: last?.endColumn ?? 1,
        severity: "error",
        message: `${this.dropped} more errors not shown`,
      });
    }
    return out;
  }
}

/**
 * `FILE:LINE:COL: message`, then `  hint: …` on its own line when there is a hint.
 * Warnings say so after the position: `FILE:LINE:COL: warning: message`.
 * @example formatDiagnostic(d) // "spec.sw:3:18: unknown name `logratoi`\n  hint: did you mean `logratio`?"
 */
export function formatDiagnostic(d: Diagnostic): string {
  const head = `${d.file}:${d.line}:${d.column}: ${d.severity === "warning" ? "warning: " : ""}${d.message}`;
  return d.hint ? `${head}\n  hint: ${d.hint}` : head;
}

/** Edit distance with transpositions (optimal string alignment): `beat` is 1 from `beta`. */
export function editDistance(a: string, b: string): number {
  if (a.length > 64 || b.length > 64) return Math.max(a.length, b.length);
  const d: number[][] = [];
  for (let i = 0; i <= a.length; i++) d.push([i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 0; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/** The closest candidate within a distance that scales with the name's length, if any. */
export function closest(name: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  const budget = Math.max(1, Math.min(3, Math.floor(name.length / 3)));
  for (const c of candidates) {
    const d = editDistance(name.toLowerCase(), c.toLowerCase());
    if (d < bestD && d <= budget) {
      best = c;
      bestD = d;
    }
  }
  return best;
}

export function didYouMean(name: string, candidates: Iterable<string>): string | undefined {
  const c = closest(name, candidates);
  return c === undefined ? undefined : `did you mean \`${c}\`?`;
}
