/** Reading and compiling a spec file for the CLI, with diagnostics printed as FILE:LINE:COL. */
import * as fs from "node:fs";
import { compile } from "../../dsl/index.js";
import { formatDiagnostic } from "../../dsl/diagnostics.js";
import type { ExperimentPlan } from "../../dsl/plan.js";

export function compileSpecFile(file: string, purpose: "any" | "advantage" | "run"): { plan?: ExperimentPlan; text: string } {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    process.stderr.write(`${file}: cannot read the spec (${(err as NodeJS.ErrnoException).code ?? String(err)})\n`);
    return { text: "" };
  }
  const { plan, diagnostics } = compile(text, { file, purpose });
  for (const d of diagnostics) process.stderr.write(formatDiagnostic(d) + "\n");
  if (!plan || diagnostics.some((d) => d.severity === "error")) return { text };
  return { plan, text };
}
