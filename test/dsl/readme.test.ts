/** The grammar reference runs: every spec snippet in dsl/README.md checks clean. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { compile, parse } from "../../dsl/index.js";

const readme = readFileSync(new URL("../../dsl/README.md", import.meta.url), "utf8");
/** Fenced blocks without a language tag (the spec snippets), in order. */
function snippets(md: string): string[] {
  const out: string[] = [];
  let cur: string[] | undefined;
  let lang = "";
  for (const line of md.split("\n")) {
    if (line.startsWith("```")) {
      if (cur) {
        if (lang === "") out.push(cur.join("\n"));
        cur = undefined;
      } else {
        cur = [];
        lang = line.slice(3).trim();
      }
    } else cur?.push(line);
  }
  return out;
}
const blocks = snippets(readme).filter((b) => !b.startsWith("stepwise") && !b.includes("# t.sw:"));
const preamble = 'probe belief { prompt "{steps}", score confidence }\n';

test("README snippets: each declaration checks clean on its own", () => {
  assert.ok(blocks.length >= 12);
  for (const block of blocks) {
    const { spec, diagnostics } = parse(block, "README.md");
    assert.deepEqual(diagnostics, [], block);
    const methods = spec.decls.filter((d) => d.kind === "method").map((d) => block.slice(d.span.offset, d.span.endOffset)).join("\n");
    for (const d of spec.decls) {
      const text = block.slice(d.span.offset, d.span.endOffset);
      const method = d.kind !== "train" ? "" : text.includes("step_dpo") ? "use sppd\n" : "use grpo\n";
      const src = method + (d.kind === "probe" ? "" : preamble) + (d.kind === "method" ? "" : methods) + "\n" + block.slice(d.span.offset, d.span.endOffset);
      const errors = compile(src, { file: "README.md" }).diagnostics.filter((x) => x.severity === "error");
      assert.deepEqual(errors.map((e) => e.message), [], src);
    }
  }
});

test("README: every function and built-in of the op registry (dsl/ops.ts) is documented", async () => {
  const { BUILTINS, FUNCTIONS } = await import("../../dsl/ops.js");
  const section = readme.slice(readme.indexOf("## Formulas"), readme.indexOf("## Diagnostics"));
  for (const name of [...FUNCTIONS, ...Object.keys(BUILTINS)]) assert.match(section, new RegExp(`\\b${name}\\b`), name);
});
