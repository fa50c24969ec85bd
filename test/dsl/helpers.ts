/** Shared helpers for the DSL tests. */
import { compile, type Diagnostic } from "../../dsl/index.js";
import type { ExperimentPlan } from "../../dsl/plan.js";

/** Compiles and fails with the diagnostics when there is an error. */
export function plan(source: string, purpose: "any" | "advantage" | "run" = "any"): ExperimentPlan {
  const r = compile(source, { file: "t.sw", purpose });
  const errors = r.diagnostics.filter((d) => d.severity === "error");
  if (!r.plan || errors.length) throw new Error("unexpected diagnostics:\n" + errors.map((d) => `${d.line}:${d.column}: ${d.message}`).join("\n"));
  return r.plan;
}

/** The errors of a spec as `LINE:COL message` strings. */
export function errors(source: string, purpose: "any" | "advantage" | "run" = "any"): Diagnostic[] {
  return compile(source, { file: "t.sw", purpose }).diagnostics.filter((d) => d.severity === "error");
}

export const at = (d: Diagnostic | undefined): string => (d ? `${d.line}:${d.column}` : "none");
