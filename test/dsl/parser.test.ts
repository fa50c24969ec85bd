import { test } from "node:test";
import assert from "node:assert/strict";
import { parse } from "../../dsl/index.js";
import type { Decl } from "../../dsl/ast.js";
import { at } from "./helpers.js";

function decls(src: string): Decl[] {
  const r = parse(src, "t.sw");
  assert.deepEqual(r.diagnostics.map((d) => `${d.line}:${d.column} ${d.message}`), []);
  return r.spec.decls;
}
const one = (src: string): Decl => {
  const d = decls(src);
  assert.equal(d.length, 1);
  return d[0]!;
};

test("experiment, seed, backend", () => {
  assert.deepEqual(decls('experiment "x y"\nseed 7\nbackend wasm').map((d) => d.kind), ["experiment", "seed", "backend"]);
  const e = one('experiment "a\\nb"');
  assert.ok(e.kind === "experiment" && e.name === "a\nb");
});

test("components: model, tokenizer, task, steps, objective, sampler", () => {
  const m = one("model gpt { layers 4, width 128 heads 4 }");
  assert.ok(m.kind === "component" && m.keyword === "model" && m.type === "gpt");
  assert.deepEqual(m.block!.settings.map((s) => s.name), ["layers", "width", "heads"]);
  const l = one('model load "ckpt/dir"');
  assert.ok(l.kind === "component" && l.arg?.kind === "string" && l.arg.value === "ckpt/dir");
  assert.ok((one("tokenizer chars") as { type: string }).type === "chars");
  const t = one("task arithmetic { operands 3..5 }");
  assert.ok(t.kind === "component" && t.block!.settings[0]!.upper?.kind === "num");
  const j = one('task jsonl "data/gsm8k.jsonl" { question "q", answer "a" }');
  assert.ok(j.kind === "component" && j.arg?.value === "data/gsm8k.jsonl");
  const r = one("steps split /Step \\d+:/i { min_tokens 2, max_steps 8 }");
  assert.ok(r.kind === "component" && r.arg?.kind === "regex" && r.arg.value === "Step \\d+:" && r.arg.flags === "i");
  const e = one("steps every 16 tokens");
  assert.ok(e.kind === "component" && e.arg?.kind === "count" && e.arg.value === "16" && e.arg.unit === "tokens");
  assert.equal(one("objective clipped { clip 0.2, norm response, mask_truncated true }").kind, "component");
  assert.equal(one("sampler tree { children 2, paths 8 }").kind, "component");
});

test("probe with a template and a scorer call", () => {
  const p = one('probe belief {\n  prompt "{question}\\n{steps}"\n  score yes_no(" Yes", " No")\n}');
  assert.ok(p.kind === "probe" && p.name === "belief");
  const score = p.block.settings[1]!.value;
  assert.ok(score.kind === "call" && score.fn === "yes_no" && score.args.length === 2);
  assert.equal(p.block.multiline, true);
});

test("reward, let with a level, advantage, use", () => {
  const r = one("reward cost: step = -0.01 * tokens");
  assert.ok(r.kind === "reward" && r.level === "step" && r.formula.kind === "binary");
  assert.equal(one("let x = 1").kind, "let");
  assert.equal(one("advantage = zscore(reward)").kind, "advantage");
  const u = one("use sspo(probe = belief, gamma = 0.9)");
  assert.ok(u.kind === "use" && u.parens && u.args.map((a) => a.name).join() === "probe,gamma");
  const g = one("use grpo");
  assert.ok(g.kind === "use" && !g.parens && g.args.length === 0);
});

test("train stages, eval, track, method", () => {
  const t = one("train {\n  sft { steps 600, lr 3e-3 }\n  rl { iterations 3 }\n  dpo\n}");
  assert.ok(t.kind === "train" && t.stages.map((s) => s.name).join() === "sft,rl,dpo" && t.multiline);
  assert.equal(t.stages[0]!.block!.settings[0]!.name, "steps"); // a keyword as a setting name
  assert.equal(one("eval { prompts 8, max_tokens 32 }").kind, "eval");
  const tr = one("track accuracy, reward, steps");
  assert.ok(tr.kind === "track" && tr.names.map((n) => n.name).join() === "accuracy,reward,steps");
  const m = one("method mine(probe, beta = 0.1) {\n  advantage = zscore(reward) + beta * probe\n  objective clipped { clip 0.2 }\n}");
  assert.ok(m.kind === "method" && m.params.map((p) => p.name).join() === "probe,beta" && m.body.length === 2);
  assert.ok(m.params[1]!.default?.kind === "num");
});

test("formulas: precedence, if, comparisons, calls with over / by", () => {
  const f = (src: string) => (one(`advantage = ${src}`) as Extract<Decl, { kind: "advantage" }>).formula;
  const e = f("1 + 2 * 3 ^ 2");
  assert.ok(e.kind === "binary" && e.op === "+" && e.right.kind === "binary" && e.right.op === "*" && e.right.right.kind === "binary" && e.right.right.op === "^");
  const neg = f("-2 ^ 2"); // -(2^2)
  assert.ok(neg.kind === "unary" && neg.arg.kind === "binary");
  const sub = f("a - b - c"); // left-associative
  assert.ok(sub.kind === "binary" && sub.left.kind === "binary");
  const i = f('if label == "slip" and x > 0 then 1 else 0');
  assert.ok(i.kind === "if" && i.cond.kind === "binary" && i.cond.op === "and");
  const red = f("sum(logp over step)");
  assert.ok(red.kind === "call" && red.modifiers[0]!.kind === "over" && red.modifiers[0]!.value === "step");
  const g = f("center(x, by step index)");
  assert.ok(g.kind === "call" && g.args.length === 1 && g.modifiers[0]!.value === "step_index");
  const n = f("not a < b");
  assert.ok(n.kind === "unary" && n.op === "not" && n.arg.kind === "binary");
  const k = f("steps + reward"); // built-ins that are keywords
  assert.ok(k.kind === "binary" && k.left.kind === "name" && k.left.name === "steps");
});

test("spans are 1-based and exact", () => {
  const d = one("reward  short = -0.002 * tokens");
  assert.ok(d.kind === "reward");
  assert.equal(at({ ...d.nameSpan, file: "", severity: "error", message: "" }), "1:9");
  assert.equal(d.formula.span.column, 17);
  assert.equal(d.formula.span.endColumn, 32);
});

// ---- errors: one test per class, exact positions ----

const errs = (src: string) => parse(src, "t.sw").diagnostics;

test("error: unexpected character", () => {
  const [d] = errs("seed 1\nreward x = 1 @ 2");
  assert.equal(at(d), "2:14");
  assert.match(d!.message, /unexpected character `@`/);
});

test("error: a missing token (mismatch)", () => {
  const [d] = errs("reward x outcome");
  assert.equal(at(d), "1:10");
  assert.equal(d!.expected, "`=`");
  assert.equal(d!.found, "`outcome`");
});

test("error: no formula where one is needed", () => {
  const [d] = errs("advantage = * 2");
  assert.equal(at(d), "1:13");
  assert.match(d!.message, /expected a formula.*found `\*`/);
});

test("error: an unclosed block at the end of the file", () => {
  const [d] = errs("model gpt { layers 4");
  assert.equal(at(d), "1:21");
  assert.equal(d!.found, "the end of the file");
  assert.match(d!.hint ?? "", /close the block/);
});

test("error: leftover tokens after a declaration", () => {
  const [d] = errs("seed 1 2");
  assert.equal(at(d), "1:8");
});

test("error: a misspelt declaration keyword gets a suggestion", () => {
  const [d] = errs("rewad x = 1");
  assert.equal(at(d), "1:1");
  assert.equal(d!.hint, "did you mean `reward`?");
});

test("error: `=` where a comparison was meant", () => {
  const [d] = errs("advantage = if a = 1 then 1 else 0");
  assert.equal(at(d), "1:18");
  assert.equal(d!.hint, "to compare, write `==`");
});

test("error: an unterminated string", () => {
  const ds = errs('experiment "abc\nseed 1');
  assert.equal(at(ds[0]), "1:12");
});

test("recovery: every broken declaration is reported, the rest still parse", () => {
  const src = ["seed 1", "model gpt { layers }", "reward a = 1 +", "rewad b = 2", "let c = 1", "advantage = (c", "track x"].join("\n");
  const r = parse(src, "t.sw");
  assert.deepEqual(r.diagnostics.map((d) => d.line), [2, 3, 4, 6]);
  assert.deepEqual(r.spec.decls.map((d) => d.kind), ["seed", "let", "track"]);
  assert.deepEqual(r.spec.brokenNames, ["a"]);
});

test("error: nesting too deep, binary data, an oversized file — one clear diagnostic each", () => {
  const deep = errs("seed 1\nadvantage = " + "(".repeat(150) + "1" + ")".repeat(150));
  assert.equal(deep.length, 1);
  assert.equal(at(deep[0]), "2:113");
  assert.equal(deep[0]!.message, "nested too deeply (more than 100 levels)");
  const bin = errs("seed 1\nab\u0000cd");
  assert.deepEqual(bin.map((d) => `${at(d)} ${d.message}`), ["2:3 this looks like binary data, not a Stepwise spec (character 0x00)"]);
  const long = errs("# x\n".repeat(20000));
  assert.equal(long.length, 1);
  assert.match(long[0]!.message, /the spec is too long: 80000 characters \(at most 50000\)/);
  assert.equal(at(long[0]), "12501:1");
});
