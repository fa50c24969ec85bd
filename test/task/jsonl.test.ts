import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createJsonlTask, JsonlError } from "../../src/task/jsonl.js";
import { createTask } from "../../src/task/index.js";
import { defaultArithmeticSettings } from "../../src/task/arithmetic.js";

const dir = mkdtempSync(join(tmpdir(), "stepwise-jsonl-"));
function file(name: string, lines: string[]): string {
  const p = join(dir, name);
  writeFileSync(p, lines.join("\n") + "\n");
  return p;
}
const gsm = (i: number) => JSON.stringify({ question: `What is ${i} + ${i}?`, answer: `${i} + ${i} = <<${i}+${i}=${2 * i}>>${2 * i}\n#### ${(2 * i).toLocaleString("en-US")}` });

test("GSM8K-style records: reference extracted, prompt formatted, verifier numeric", () => {
  const path = file("gsm.jsonl", Array.from({ length: 10 }, (_, i) => gsm(i * 300)));
  const task = createJsonlTask({ path, heldOut: 3 }, 1);
  assert.deepEqual(task.sizes, { train: 7, heldOut: 3 });
  const p = task.train(7).find((q) => q.question === "What is 600 + 600?")!;
  assert.equal(p.reference, "1,200");
  assert.equal(p.prompt, "What is 600 + 600?\n");
  assert.equal(p.id, "jsonl/line-3");
  assert.match(p.solution, /<<600\+600=1200>>/);
  assert.equal(task.verify("600 and 600 make 1200.0\n#### 1200.0", p.reference), 1);
  assert.equal(task.verify("The answer is $1,200.", p.reference), 1);
  assert.equal(task.verify("The answer is \\boxed{1201}.", p.reference), 0);
  assert.equal(task.verify("1200", p.reference), 0, "a bare number is not an extracted answer");
});

test("splits are disjoint, exact in size, independent of the seed; train order follows the seed", () => {
  const path = file("many.jsonl", Array.from({ length: 40 }, (_, i) => gsm(i)));
  const a = createJsonlTask({ path, heldOut: 8 }, 1);
  const b = createJsonlTask({ path, heldOut: 8 }, 2);
  const heldA = a.heldOut(100).map((p) => p.question);
  assert.equal(heldA.length, 8);
  assert.deepEqual(heldA, b.heldOut(100).map((p) => p.question));
  const trainA = a.train(32).map((p) => p.question);
  assert.equal(new Set(trainA).size, 32);
  for (const q of heldA) assert.ok(!trainA.includes(q));
  assert.notDeepEqual(trainA, b.train(32).map((p) => p.question));
  assert.deepEqual(a.train(3, 31).map((p) => p.question), [trainA[31], trainA[0], trainA[1]], "train cycles");
  assert.deepEqual(createJsonlTask({ path, heldOut: 8 }, 1).train(32), a.train(32), "deterministic from the seed");
});

test("malformed lines are refused with their line number, or skipped with warnings", () => {
  const path = file("bad.jsonl", [
    gsm(1),
    "",
    "{not json",
    gsm(2),
    "[1, 2]",
    JSON.stringify({ question: "q?", solution: "#### 1" }),
    JSON.stringify({ question: "q2?", answer: null }),
    gsm(3),
  ]);
  assert.throws(
    () => createJsonlTask({ path, onError: "refuse" }),
    (e: unknown) => e instanceof JsonlError && e.line === 3 && e.message.startsWith(`${path}:3: invalid JSON`),
  );
  const task = createJsonlTask({ path, onError: "skip", heldOut: 1 });
  assert.deepEqual(task.warnings.map((w) => w.line), [3, 5, 6, 7]);
  assert.match(task.warnings[1]!.message, /expected a JSON object, got an array/);
  assert.match(task.warnings[2]!.message, /no field "answer" \(fields here: question, solution\)/);
  assert.match(task.warnings[3]!.message, /field "answer" must be a string or a number, got null/);
  assert.deepEqual(task.sizes, { train: 2, heldOut: 1 });
});

test("configurable and dotted field names; numbers accepted as answers", () => {
  const path = file("fields.jsonl", [
    JSON.stringify({ problem: "1+1?", meta: { final: 2 } }),
    JSON.stringify({ problem: "2+2?", meta: { final: "\\boxed{4}" } }),
  ]);
  const task = createJsonlTask({ path, question: "problem", answer: "meta.final" });
  const refs = task.train(2).map((p) => `${p.question}=${p.reference}`).sort();
  assert.deepEqual(refs, ["1+1?=2", "2+2?=4"]);
});

test("clear errors for a missing file and an impossible held-out count", () => {
  assert.throws(() => createJsonlTask({ path: join(dir, "nope.jsonl") }), /cannot read .*nope\.jsonl \(ENOENT\)/);
  const path = file("two.jsonl", [gsm(1), gsm(2)]);
  assert.throws(() => createJsonlTask({ path, heldOut: 2 }), /heldOut 2 leaves no training problems .* set heldOut below 2/);
});

test("createTask dispatches on the plan's kind", () => {
  const arith = createTask({ kind: "arithmetic", settings: defaultArithmeticSettings }, 5);
  assert.equal(arith.name, "arithmetic");
  assert.match(arith.train(1)[0]!.prompt, /^Q: [-0-9+*]+\n$/);
  const path = file("plan.jsonl", [gsm(1), gsm(2), gsm(3)]);
  const j = createTask({ kind: "jsonl", path, question: "question", answer: "answer", onError: "refuse", heldOut: 1 }, 5, {
    formatPrompt: (q) => `<q>${q}</q>`,
  });
  assert.match(j.heldOut(1)[0]!.prompt, /^<q>What is \d \+ \d\?<\/q>$/);
  assert.throws(() => createTask({ kind: "nope" } as never, 0), /unknown task kind "nope"/);
});
