/** A method body's own `let`s: names for parts of the method's formula, expanded where they are used. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { compile, format } from "../../dsl/index.js";

const PROBE = 'probe b { prompt "{steps}", score confidence }\nreward correct = outcome\n';

function run(src: string) {
  const { plan, diagnostics } = compile(PROBE + src, { file: "m.sw", purpose: "advantage" });
  return { plan, errors: diagnostics.filter((d) => d.severity === "error") };
}

test("a local let expands inline: the same plan as the method written as one formula", () => {
  const withLets = run(`method m(p, k = 2) {
  let scaled: step = k * p
  let share: step = scaled / sum(scaled over response)
  advantage = zscore(reward) + center(share)
}
use m(p = b)
`);
  const inline = run(`method m(p, k = 2) {
  advantage = zscore(reward) + center(k * p / sum(k * p over response))
}
use m(p = b)
`);
  assert.deepEqual(withLets.errors, []);
  assert.deepEqual(withLets.plan!.advantage, inline.plan!.advantage);
  assert.deepEqual(withLets.plan!.lets, [], "a method's lets are not the plan's");
  assert.deepEqual(withLets.plan!.method, { name: "m", args: { p: "b", k: 2 } });
});

test("a local let sees the parameters and the lets above it, shadows a spec name inside the method only, and never a setting's word", () => {
  const r = run(`let share = 5
method m(p) {
  let share: step = p * 3
  let constant = 0.5
  advantage = share + constant
  objective clipped { norm constant }
}
use m(p = b)
advantage = share
`);
  // (the explicit advantage replaces the method's with a warning; the spec's `share` is its own)
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.plan!.advantage, { op: "ref", source: "let", name: "share", level: "group" });
  assert.equal((r.plan!.objective as { norm: string }).norm, "constant");
  const m = run(`method m(p) {
  let share: step = p * 3
  let constant = 0.5
  advantage = share + constant
  objective clipped { norm constant }
}
use m(p = b)
`);
  assert.deepEqual(m.errors, []);
  assert.equal(JSON.stringify(m.plan!.advantage).includes('"name":"b"'), true);
  assert.equal((m.plan!.objective as { norm: string }).norm, "constant");
});

test("local lets: a later let is not visible, names must be new, the level is checked (errors at the use line)", () => {
  const later = run(`method m(p) {
  let a = c * 2
  let c = p
  advantage = a
}
use m(p = b)
`);
  assert.deepEqual(later.errors.map((e) => [e.line, e.message]), [[8, "in method `m`: unknown name `c`"]]); // once, at the use line
  const dup = run(`method m(p) {
  let p = 1
  let logratio = 2
  advantage = p
}
use m(p = b)
`);
  assert.deepEqual(dup.errors.map((e) => e.message), ["`p` is already a parameter or a let of method `m`", "`logratio` is a built-in name"]);
  const level = run(`method m(p) {
  let a: response = p * 2
  advantage = a
}
use m(p = b)
`);
  assert.equal(level.errors.length, 1);
  assert.match(level.errors[0]!.message, /let `a`/);
  assert.equal(level.errors[0]!.line, 7); // the use line
});

test("fmt keeps a method's lets, idempotently", () => {
  const src = "method m(p) {\n  let a: step = p*2   # doubled\n  advantage = center(a)\n}\n";
  const once = format(src);
  assert.match(once, /let a: step = p \* 2/);
  assert.equal(format(once), once);
});
