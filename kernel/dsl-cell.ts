/**
 * `%%stepwise` cells. The first line is the magic; the rest is a Stepwise spec.
 *
 *   %%stepwise            compile; show the plan's summary; bind it to `plan`
 *   %%stepwise NAME       ... bind it to NAME
 *   %%stepwise run [NAME] compile, bind the plan (to `plan` or NAME), run it with a live display,
 *                         bind the result to `run` (or NAMERun)
 *
 * Line numbers: diagnostics use the cell's own lines, as the notebook shows them: the `%%stepwise`
 * line is line 1, the spec's first line is line 2. (The compiler gets the cell with its first line
 * blanked, so its positions are the cell's with no remapping.)
 */
import type { ExperimentPlan } from "../dsl/plan.js";

export interface DslDiagnostic {
  file: string;
  line: number;
  column: number;
  message: string;
  hint?: string;
}

export type CompileFn = (
  source: string,
  opts?: { file?: string; purpose?: string },
) => { plan?: ExperimentPlan; diagnostics: DslDiagnostic[] };

export interface DslCommand {
  run: boolean;
  /** variable the plan is bound to */
  planVar: string;
  /** variable the run result is bound to (run only) */
  runVar: string;
}

const MAGIC = /^%%stepwise\b(.*)$/;

export function isDslCell(code: string): boolean {
  return MAGIC.test(code.split("\n", 1)[0]!.trim());
}

/** Parses the magic line; throws with a usage message on bad arguments. */
export function parseMagic(firstLine: string): DslCommand {
  const m = MAGIC.exec(firstLine.trim());
  if (!m) throw new Error("not a %%stepwise cell");
  const args = m[1]!.trim().split(/\s+/).filter(Boolean);
  const run = args[0] === "run";
  if (run) args.shift();
  if (args.length > 1 || (args[0] !== undefined && !/^[A-Za-z_$][\w$]*$/.test(args[0]))) {
    throw new Error(`usage: %%stepwise [run] [NAME] (NAME a TypeScript identifier); got "${firstLine.trim()}"`);
  }
  const planVar = args[0] ?? "plan";
  return { run, planVar, runVar: args[0] ? `${args[0]}Run` : "run" };
}

/** The spec with the magic line blanked, so compiler positions are cell positions. */
export function specSource(code: string): string {
  const nl = code.indexOf("\n");
  return nl < 0 ? "" : "\n" + code.slice(nl + 1);
}

/** dsl/index.ts's `compile`, imported on the first DSL cell (the kernel starts without the DSL loaded). */
export async function loadCompiler(): Promise<CompileFn> {
  return (await import("../dsl/index.js")).compile as CompileFn;
}

/** A Jupyter error for compile diagnostics: traceback lines `cell:LINE:COL: message`. */
export function diagnosticsError(diags: DslDiagnostic[]): { ename: string; evalue: string; traceback: string[] } {
  const traceback: string[] = [];
  for (const d of diags) {
    traceback.push(`cell:${d.line}:${d.column}: ${d.message}`);
    if (d.hint) traceback.push(`  hint: ${d.hint}`);
  }
  return { ename: "StepwiseError", evalue: diags[0]?.message ?? "compile failed", traceback };
}
