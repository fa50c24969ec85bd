/**
 * Property tests (fast-check): whatever the input — random text, binary bytes, token soup,
 * or an example with random edits — the front end never throws, never hangs, and every
 * diagnostic has a position inside the source. Where a mutated spec still parses, the
 * formatter is idempotent and keeps its meaning.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import fc from "fast-check";
import { compile, format, formatWithDiagnostics, type Diagnostic } from "../../dsl/index.js";

const root = new URL("../../", import.meta.url);
const examples = readdirSync(new URL("examples/", root)).filter((f) => f.endsWith(".sw")).map((f) => readFileSync(new URL(`examples/${f}`, root), "utf8"));

function wellPositioned(src: string, ds: Diagnostic[]): void {
  const lines = src.split(/\r\n|\r|\n/).length;
  for (const d of ds) {
    assert.ok(Number.isInteger(d.line) && d.line >= 1 && d.line <= lines + 1, `line ${d.line} of ${lines}: ${d.message}`);
    assert.ok(Number.isInteger(d.column) && d.column >= 1, `column ${d.column}`);
    assert.ok(d.endLine >= d.line, "end before start");
    assert.ok(d.message.length > 0 && !/\n\s+at /.test(d.message), "a message, not a stack trace");
    assert.ok(!d.message.startsWith("internal error"), d.message);
  }
}

/** compile + format on any input: no throw, positioned diagnostics, well under a second. */
function robust(src: string): void {
  const t0 = performance.now();
  const r = compile(src, { file: "fuzz.sw", purpose: "run" });
  const f = formatWithDiagnostics(src, "fuzz.sw");
  const ms = performance.now() - t0;
  assert.ok(ms < 1000, `took ${ms.toFixed(0)} ms`);
  wellPositioned(src, r.diagnostics);
  wellPositioned(src, f.diagnostics);
  if (!f.diagnostics.some((d) => d.severity === "error")) {
    // it parsed: the formatter must be idempotent and keep the meaning
    assert.equal(format(f.text), f.text);
    // same plan, same messages (positions move with the layout)
    const a = compile(f.text, { file: "fuzz.sw" });
    const b = compile(src, { file: "fuzz.sw" });
    assert.deepEqual(a.plan, b.plan);
    const messages = (ds: Diagnostic[]) => ds.map((d) => d.message.replace(/line \d+/g, "line N")).sort();
    assert.deepEqual(messages(a.diagnostics), messages(b.diagnostics));
  }
}

const WORDS = [
  "experiment", "seed", "model", "gpt", "load", "tokenizer", "chars", "task", "arithmetic", "jsonl", "steps", "split", "every", "tokens",
  "probe", "prompt", "score", "yes_no", "reward", "let", "advantage", "objective", "clipped", "step_dpo", "sampler", "tree", "use", "spro",
  "grpo", "sspo", "train", "sft", "rl", "eval", "track", "method", "if", "then", "else", "over", "by", "position", "step", "index",
  "and", "or", "not", "zscore", "center", "sum", "gae", "logratio", "outcome", "label", "x", "=", "==", "(", ")", "{", "}", ",", ":",
  "..", "+", "-", "*", "/", "^", "<", "1", "0.5", "3e-3", '"s"', '"\\n"', "/a+/", "#c", "\n", " ",
];

test("random text never throws and always gets positioned diagnostics", () => {
  fc.assert(fc.property(fc.string({ maxLength: 300 }), robust), { numRuns: 300 });
  fc.assert(fc.property(fc.string({ unit: "binary", maxLength: 300 }), robust), { numRuns: 200 });
});

test("binary bytes never throw", () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 2000 }), (bytes) => robust(Buffer.from(bytes).toString("latin1"))), { numRuns: 100 });
});

test("token soup never throws", () => {
  const soup = fc.array(fc.constantFrom(...WORDS), { maxLength: 80 }).map((ws) => ws.join(" "));
  fc.assert(fc.property(soup, robust), { numRuns: 400 });
});

test("examples with random edits never throw; when they parse, fmt keeps their meaning", () => {
  const edit = fc.oneof(
    fc.record({ kind: fc.constant("delete" as const), at: fc.nat(), len: fc.integer({ min: 1, max: 12 }) }),
    fc.record({ kind: fc.constant("insert" as const), at: fc.nat(), text: fc.constantFrom(...WORDS) }),
    fc.record({ kind: fc.constant("dup" as const), at: fc.nat(), len: fc.integer({ min: 1, max: 40 }) }),
  );
  const mutated = fc.tuple(fc.constantFrom(...examples), fc.array(edit, { minLength: 1, maxLength: 4 })).map(([src, edits]) => {
    let s = src;
    for (const e of edits) {
      const at = e.at % (s.length + 1);
      if (e.kind === "delete") s = s.slice(0, at) + s.slice(at + e.len);
      else if (e.kind === "insert") s = s.slice(0, at) + e.text + s.slice(at);
      else s = s.slice(0, at) + s.slice(at, at + e.len) + s.slice(at);
    }
    return s;
  });
  fc.assert(fc.property(mutated, robust), { numRuns: Number(process.env.STEPWISE_FUZZ_RUNS ?? 300) });
});

test("a large broken input is still fast and its diagnostics are capped", () => {
  const src = "reward = = (\n".repeat(3800);
  const t0 = performance.now();
  const r = compile(src, { file: "big.sw" });
  assert.ok(performance.now() - t0 < 1000);
  assert.ok(r.diagnostics.length <= 101);
  assert.match(r.diagnostics[r.diagnostics.length - 1]!.message, /more errors not shown/);
});
