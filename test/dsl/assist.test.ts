/** Completion and inspection tables stay in step with the language (the protocol tests: test/kernel/test_kernel.py). */
import { test } from "node:test";
import assert from "node:assert/strict";
import { DECLARATION_WORDS, completeSpec, inspectSpec, specIsComplete } from "../../dsl/assist.js";
import { DECLARATIONS, STAGES } from "../../dsl/schemas.js";
import { BUILTINS, FUNCTIONS } from "../../dsl/ops.js";
import { loadPrelude } from "../../dsl/prelude.js";

test("every declaration keyword of the lexer has its form and doc, and nothing else does", () => {
  assert.deepEqual([...DECLARATION_WORDS].sort(), Object.keys(DECLARATIONS).sort());
});

test("a formula completes to every built-in quantity and every function of the op registry", () => {
  const src = "reward r = ";
  const names = completeSpec(src, src.length).items.map((i) => i.text);
  for (const q of Object.keys(BUILTINS)) assert.ok(names.includes(q), q);
  for (const f of FUNCTIONS) assert.ok(names.includes(f), f);
});

test("use completes to every prelude method, and a spec's own method comes first", () => {
  const src = "method mine(a = 1) { advantage = zscore(reward) }\nuse ";
  const c = completeSpec(src, src.length);
  assert.deepEqual(c.items.map((i) => i.text), ["mine", ...loadPrelude().methods.map((m) => m.name)]);
  assert.equal(c.items[0]!.signature, "mine(a = 1)");
});

test("stage settings come from the stage's schema; inspection names the type and the doc", () => {
  const src = "train { sft { ";
  assert.deepEqual(completeSpec(src, src.length).items.map((i) => i.text), Object.keys(STAGES.sft!));
  assert.equal(inspectSpec("train { sft { lr 1e-3 } }", 15), "lr: number > 0 — learning rate");
  assert.equal(inspectSpec("reward r = tokens", 13), "tokens: response-level quantity\n\nthe response's token count (a step's, in a `: step` declaration)");
});

test("specIsComplete: open braces are incomplete, with the next line's indent; comments and strings do not count", () => {
  assert.deepEqual(specIsComplete("train {\n  rl {"), { complete: false, indent: "    " });
  assert.deepEqual(specIsComplete('probe p { prompt "{steps}" }\n# {'), { complete: true, indent: "" });
});
