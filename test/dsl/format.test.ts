import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { compile, format, formatWithDiagnostics } from "../../dsl/index.js";

const root = new URL("../../", import.meta.url);
const files = [
  ...readdirSync(new URL("examples/", root)).filter((f) => f.endsWith(".sw")).map((f) => `examples/${f}`),
  "dsl/prelude.sw",
];

/** The plan without the parts that name the file. */
const meaning = (src: string) => compile(src, { file: "same.sw" });

for (const file of files) {
  test(`fmt is idempotent and keeps the meaning and the comments: ${file}`, () => {
    const src = readFileSync(new URL(file, root), "utf8");
    const once = format(src);
    assert.equal(format(once), once);
    assert.deepEqual(meaning(once), meaning(src));
    const comments = (s: string) => s.split("\n").flatMap((l) => (l.includes("#") ? [l.slice(l.indexOf("#")).trim()] : []));
    assert.deepEqual(comments(once).sort(), comments(src).sort());
  });
}

test("every example is already formatted (fmt --check passes)", () => {
  for (const file of files.filter((f) => f.startsWith("examples/"))) {
    const src = readFileSync(new URL(file, root), "utf8");
    assert.equal(format(src), src, file);
  }
});

test("canonical layout: spacing, minimal parentheses, blank lines collapsed to one", () => {
  const src = "seed   3\n\n\n\nreward  a=(outcome)*(1+2)   # keep\nadvantage=((a - 1) - (a - 2))  /  -(a ^ 2)\nmodel gpt{layers 4,width 128}";
  assert.equal(format(src), "seed 3\n\nreward a = outcome * (1 + 2)  # keep\nadvantage = (a - 1 - (a - 2)) / -a ^ 2\nmodel gpt { layers 4, width 128 }\n");
});

test("blocks written over several lines stay so; comments inside go with their setting", () => {
  const src = "objective clipped {   # the loss\n  clip 0.2   # eps\n\n  # no KL\n  kl 0\n  # closing\n}\n# the end\n";
  const out = format(src);
  assert.equal(out, "objective clipped {\n  # the loss\n  clip 0.2  # eps\n  # no KL\n  kl 0\n  # closing\n}\n# the end\n");
  assert.equal(format(out), out);
});

test("comments in train blocks and method bodies are kept in place", () => {
  const src = "train {\n  # warm start\n  sft { steps 10 }  # short\n  rl\n}\nmethod m(beta = 1) {\n  # the advantage\n  advantage = beta * zscore(reward)\n}\n";
  assert.equal(format(src), src);
});

test("calls print their modifiers the way they read", () => {
  const src = "advantage = sum(logp   over   step) + center(logratio , by position) + zscore(index by step index)";
  assert.equal(format(src), "advantage = sum(logp over step) + center(logratio, by position) + zscore(index, by step index)\n");
});

test("a spec with syntax errors comes back unchanged, with diagnostics", () => {
  const src = "reward x = = 1\nseed 3";
  const r = formatWithDiagnostics(src, "t.sw");
  assert.equal(r.text, src);
  assert.equal(r.changed, false);
  assert.equal(r.diagnostics[0]!.line, 1);
  assert.equal(format(src), src);
});
