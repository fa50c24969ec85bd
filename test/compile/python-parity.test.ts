/**
 * The compiled package's Python segmentation and verifier against Stepwise's own (src/rl/segment.ts,
 * src/task): the same step ends and step texts for every rule (split, regex separators and headers,
 * zero-width regexes, every N tokens, min_tokens, max_steps, the final answer line, multi-character
 * tokens), and the same verdicts for the arithmetic and JSONL answer formats.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as path from "node:path";
import type { SegmentationPlan } from "../../dsl/plan.js";
import { pythonSourceDir } from "../../src/compile/index.js";
import { segmentResponse } from "../../src/rl/segment.js";
import { answersEqual, createArithmeticTask, defaultArithmeticSettings, extractFinalAnswer } from "../../src/task/index.js";
import { pythonSkip, ROOT, runPython } from "../helpers/python.js";

const skip = pythonSkip();
const chars = (t: string) => [...t].map((_, i) => i);
/** tokens of 1-3 characters, deterministic */
const pieces = (t: string) => {
  const out: number[] = [];
  for (let i = 0, k = 0; i < t.length; i += 1 + (k++ % 3)) out.push(i);
  return out;
};
const plan = (p: Partial<SegmentationPlan> & Pick<SegmentationPlan, "kind">): SegmentationPlan => ({ minTokens: 0, maxSteps: 0, ...p }) as SegmentationPlan;

const TEXTS = ["1+2=3\n3*4=12\nanswer 12", "Step 1: add.\nStep 2: multiply.\nThe answer is 7.", "a b  c d e f g h", "so far 3\n\n\nanswer 3\n", "x", "one\ntwo", "Step 1 x Step 2 y Step 3 z"];
const PLANS: SegmentationPlan[] = [
  plan({ kind: "split", delimiter: "\n" }),
  plan({ kind: "split", delimiter: " ", minTokens: 3 }),
  plan({ kind: "split", delimiter: "\n", maxSteps: 2 }),
  plan({ kind: "regex", pattern: "\\n+", flags: "" }),
  plan({ kind: "regex", pattern: "Step \\d+:?", flags: "" }),
  plan({ kind: "regex", pattern: "(?=step)", flags: "i" }),
  plan({ kind: "every", tokens: 3 }),
  plan({ kind: "every", tokens: 2, minTokens: 3, maxSteps: 3 }),
];

test("segmentation: Python step ends and texts equal src/rl/segment.ts for every rule", { skip }, () => {
  const cases = TEXTS.flatMap((text) => PLANS.flatMap((steps) => [chars, pieces].map((tok) => ({ text, offsets: tok(text), steps }))));
  const py = JSON.parse(runPython([path.join(ROOT, "test/compile/parity.py"), pythonSourceDir()], { input: JSON.stringify({ segment: cases, verify: [] }) })) as { segment: number[][]; texts: string[][] };
  cases.forEach((c, i) => {
    const want = segmentResponse(c.text, c.offsets, c.steps);
    assert.deepEqual(py.segment[i], want.stepEnds, `${JSON.stringify(c.text)} ${JSON.stringify(c.steps)}`);
    assert.deepEqual(py.texts[i], want.stepTexts, `${JSON.stringify(c.text)} ${JSON.stringify(c.steps)}`);
  });
});

test("verifier: Python verdicts equal the arithmetic and JSONL tasks'", { skip }, () => {
  const task = createArithmeticTask(defaultArithmeticSettings, 1);
  const jsonl = (response: string, reference: string) => {
    const a = extractFinalAnswer(response);
    return a !== null && answersEqual(reference, a) ? 1 : 0;
  };
  const cases = [
    ...[["3+4=7\nanswer 7", "7"], ["answer 8", "7"], ["answer -2\nanswer 3", "-2"], ["answer 7.0", "7"], ["no answer", "7"], ["  answer   12  ", "12"]].map(([response, reference]) => ({ kind: "arithmetic", response: response!, reference: reference!, want: task.verify(response!, reference!) })),
    ...[["so #### 1,000", "1000"], ["\\boxed{\\frac{1}{2}}", "0.5"], ["The final answer is: $5 dollars.", "5"], ["the answer is 3/4.", "0.75"], ["#### abc", "ABC"], ["x = 5 so \\boxed{x = 5}", "5"], ["nothing", "5"], ["The answer is 5cm", "5"]].map(([response, reference]) => ({ kind: "jsonl", response: response!, reference: reference!, want: jsonl(response!, reference!) })),
  ];
  const py = JSON.parse(runPython([path.join(ROOT, "test/compile/parity.py"), pythonSourceDir()], { input: JSON.stringify({ segment: [], verify: cases }) })) as { verify: number[] };
  cases.forEach((c, i) => assert.equal(py.verify[i], c.want, `${c.kind} ${JSON.stringify(c.response)} vs ${c.reference}`));
  assert.ok(cases.some((c) => c.want === 1) && cases.some((c) => c.want === 0));
});

test("probes: Python run_probes (transformers) equals src/rl/probes.ts runProbes (TF.js) on the tiny Qwen2", { skip, timeout: 120_000 }, async () => {
  const { initBackend } = await import("../../src/backend/index.js");
  const { loadHfModel } = await import("../../src/model/checkpoint.js");
  const { runProbes } = await import("../../src/rl/probes.js");
  await initBackend();
  const QWEN = path.join(ROOT, "test/fixtures/tiny-qwen2");
  const { model, tokenizer } = await loadHfModel(QWEN);
  const probes = [
    { name: "judge", prompt: "{question}\n{steps}Is this right?", scorer: { kind: "yes_no" as const, yes: " Yes", no: " No" } },
    { name: "belief", prompt: "{question}\n{steps}So the answer is ", scorer: { kind: "likelihood" as const, target: "reference" as const } },
  ];
  const items = [
    { question: "Q: 3+4", reference: "7", stepTexts: ["3+4=7\n", "answer 7"] },
    { question: "Q: 9+8", reference: "17", stepTexts: ["9+8=16\n", "so far 16\n", "answer 16"] },
    { question: "Q: 1+1", reference: "2", stepTexts: ["answer 2"] },
  ];
  const want = await runProbes(model, tokenizer, probes, items, { chunk: 4 });
  const got = JSON.parse(runPython([path.join(ROOT, "test/compile/probes_eval.py"), pythonSourceDir(), QWEN], {
    input: JSON.stringify({ probes, items: items.map((it) => ({ question: it.question, reference: it.reference, step_texts: it.stepTexts })) }),
  })) as Record<string, number[][]>;
  for (const p of probes) {
    want[p.name]!.forEach((row, i) => {
      assert.equal(got[p.name]![i]!.length, row.length);
      row.forEach((v, k) => assert.ok(Math.abs(v - got[p.name]![i]![k]!) <= 1e-5, `${p.name} item ${i} u[${k}]: stepwise ${v}, Python ${got[p.name]![i]![k]}`));
    });
  }
  (model as { dispose?: () => void }).dispose?.();
});
