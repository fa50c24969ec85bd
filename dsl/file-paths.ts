/**
 * `stepwise check`'s look at the file system: the paths a spec reads (`model load`, `tokenizer
 * load`, `task jsonl`) that do not exist, as warnings at the path's position. Paths are resolved
 * against the spec file's folder, as the runner resolves them (src/run/build.ts). The checker
 * itself stays pure; only the check command calls this.
 */
import { existsSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type { Spec } from "./ast.js";
import type { Diagnostic } from "./diagnostics.js";

const READS: Record<string, string> = { "model load": "model", "tokenizer load": "tokenizer", "task jsonl": "task data" };

/**
 * @example missingPathWarnings(parse('model load "nowhere"', "a.sw").spec, "a.sw")
 *   // [{ severity: "warning", message: "model path `nowhere` does not exist (…/nowhere)", line: 1, column: 12, … }]
 */
export function missingPathWarnings(spec: Spec, file: string): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const d of spec.decls) {
    if (d.kind !== "component" || d.arg?.kind !== "string") continue;
    const what = READS[`${d.keyword} ${d.type}`];
    if (what === undefined) continue;
    const full = resolve(dirname(file), d.arg.value);
    if (existsSync(full)) continue;
    const s = d.arg.span;
    out.push({
      file,
      line: s.line,
      column: s.column,
      endLine: s.endLine,
      endColumn: s.endColumn,
      severity: "warning",
      message: `${what} path \`${d.arg.value}\` does not exist (${full})`,
      hint: "paths are relative to the spec file's folder; nothing is downloaded, so put the files there first",
    });
  }
  return out;
}
