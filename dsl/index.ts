/**
 * The Stepwise DSL, public API: `compile`, `check`, `parse`, `format`.
 *
 * @example
 *   const { plan, diagnostics } = compile('reward correct = outcome\nuse spro(beta = 0.05)', { purpose: "advantage" });
 *   for (const d of diagnostics) console.error(formatDiagnostic(d));
 */
import type { ExperimentPlan } from "./plan.js";
import { DiagnosticBag, NO_SPAN, formatDiagnostic, type Diagnostic } from "./diagnostics.js";
import { parseSource } from "./syntax.js";
import { compileSpec, type Purpose } from "./compiler.js";
import { loadPrelude } from "./prelude.js";
import { formatSource } from "./format.js";
import type { Spec } from "./ast.js";

export type { Diagnostic, ExperimentPlan, Purpose, Spec };
export { formatDiagnostic };

export interface CompileOptions {
  /** the name diagnostics carry (default "<spec>") */
  file?: string;
  /**
   * "any": whatever the spec holds; "advantage": also needs an advantage (`stepwise advantage`);
   * "run": also needs a model, a task, a train block and an advantage or a method (`stepwise run`).
   */
  purpose?: Purpose;
}

export interface CompileResult {
  /** present when there is no error (warnings allowed) */
  plan?: ExperimentPlan;
  diagnostics: Diagnostic[];
}

/** A last line of defence: a bug in the compiler becomes a diagnostic, never a stack trace. */
function internalError(file: string, err: unknown): Diagnostic {
  return { file, line: NO_SPAN.line, column: NO_SPAN.column, endLine: 1, endColumn: 1, severity: "error", message: `internal error in the Stepwise compiler: ${err instanceof Error ? err.message : String(err)}`, hint: "please report this spec" };
}

/**
 * Source → plan, with every diagnostic. Never throws.
 * @example compile("use grpo", { purpose: "advantage" }).plan?.advantage // zscore(reward)
 */
export function compile(source: string, opts: CompileOptions = {}): CompileResult {
  const file = opts.file ?? "<spec>";
  try {
    const { spec, bag } = parseSource(String(source), file);
    const plan = compileSpec({ spec, bag, purpose: opts.purpose ?? "any", prelude: loadPrelude().methods });
    const diagnostics = bag.done();
    return plan && !diagnostics.some((d) => d.severity === "error") ? { plan, diagnostics } : { diagnostics };
  } catch (err) {
    return { diagnostics: [internalError(file, err)] };
  }
}

/** The diagnostics of a spec (what `stepwise check` prints). */
export function check(source: string, file = "<spec>", purpose: Purpose = "any"): Diagnostic[] {
  return compile(source, { file, purpose }).diagnostics;
}

/** Source → AST and syntax diagnostics (no checking). Never throws. */
export function parse(source: string, file = "<spec>"): { spec: Spec; diagnostics: Diagnostic[] } {
  try {
    const { spec, bag } = parseSource(String(source), file);
    return { spec, diagnostics: bag.done() };
  } catch (err) {
    return { spec: { file, decls: [], comments: [], brokenNames: [] }, diagnostics: [internalError(file, err)] };
  }
}

/**
 * The formatted spec, or the source unchanged when it does not parse (see `formatWithDiagnostics`
 * for why). Never throws.
 */
export function format(source: string): string {
  return formatWithDiagnostics(source).text;
}

/** The formatted text and the syntax diagnostics; `text` is the input itself when there are errors. */
export function formatWithDiagnostics(source: string, file = "<spec>"): { text: string; diagnostics: Diagnostic[]; changed: boolean } {
  try {
    return formatSource(String(source), file);
  } catch (err) {
    return { text: source, diagnostics: [internalError(file, err)], changed: false };
  }
}

export { DiagnosticBag };
