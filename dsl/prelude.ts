/** The prelude (`prelude.sw`): the built-in methods, parsed once, on first use. */
import { readFileSync } from "node:fs";
import { parseSource } from "./syntax.js";
import type { Decl } from "./ast.js";
import type { Diagnostic } from "./diagnostics.js";

export type MethodDecl = Extract<Decl, { kind: "method" }>;

let cache: { methods: MethodDecl[]; diagnostics: Diagnostic[]; source: string } | undefined;

/** The prelude's source text, its methods, and its own parse diagnostics (a test keeps them empty). */
export function loadPrelude(): { methods: MethodDecl[]; diagnostics: Diagnostic[]; source: string } {
  if (cache) return cache;
  const source = readFileSync(new URL("./prelude.sw", import.meta.url), "utf8");
  const { spec, bag } = parseSource(source, "dsl/prelude.sw");
  cache = { methods: spec.decls.filter((d): d is MethodDecl => d.kind === "method"), diagnostics: bag.done(), source };
  return cache;
}
