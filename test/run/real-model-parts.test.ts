/**
 * The pieces a run on a Hugging Face model directory needs (issue 6), on the tiny Qwen2 fixture:
 * prompt ids without BOS, stop tokens, chat-formatted JSONL prompts, steps found on text and
 * mapped back to BPE tokens, probes without BOS, and buildFromPlan's paths, overrides and refusals.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { before, test } from "node:test";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../../src/backend/index.js";
import { loadHfModel } from "../../src/model/checkpoint.js";
import { runProbes, runProbesOneByOne, type ScoringModel } from "../../src/rl/probes.js";
import { segmentResponse } from "../../src/rl/segment.js";
import { sampleTree } from "../../src/rl/tree.js";
import { buildFromPlan, chatPromptFormatter, checkRunMemory, formatBytes } from "../../src/run/build.js";
import { CharTokenizer } from "../../src/tokenizer/chars.js";
import { HfTokenizer } from "../../src/tokenizer/hf.js";
import { encodePrompt, responseTokenStarts, stopTokenIds } from "../../src/train/context.js";
import { tinyPlan } from "../helpers/plans.js";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const QWEN = path.join(HERE, "..", "fixtures", "tiny-qwen2");
const GSM = path.join(HERE, "..", "fixtures", "gsm-tiny.jsonl");
const IM_START = 557;
const IM_END = 558;
const ENDOFTEXT = 556;

const qwenJson = () => JSON.parse(fs.readFileSync(path.join(QWEN, "tokenizer.json"), "utf8"));
const qwenConfig = () => JSON.parse(fs.readFileSync(path.join(QWEN, "tokenizer_config.json"), "utf8"));
const tmpDir = (tag: string) => fs.mkdtempSync(path.join(os.tmpdir(), `stepwise-${tag}-`));

const jsonlTask = { kind: "jsonl" as const, path: GSM, question: "question", answer: "answer", onError: "refuse" as const, heldOut: 2 };
const hfPlan = (over: Parameters<typeof tinyPlan>[0] = {}) => tinyPlan({ model: { kind: "load", path: QWEN }, task: jsonlTask, ...over });

before(async () => {
  await initBackend({ backend: "cpu" });
});

test("encodePrompt: no BOS for Qwen2 (add_bos_token false), BOS for characters, never a second BOS", () => {
  const qwen = HfTokenizer.fromDirectory(QWEN);
  assert.equal(qwen.addBos, false);
  const prompt = "<|im_start|>user\nTom has 7 apples.<|im_end|>\n";
  const ids = encodePrompt(qwen, { prompt });
  assert.deepEqual(ids, qwen.encode(prompt));
  assert.equal(ids[0], IM_START, "the template's special-token text is one token");

  const chars = new CharTokenizer();
  assert.deepEqual(encodePrompt(chars, { prompt: "1+2\n" }), [chars.bosId, ...chars.encode("1+2\n")]);

  // a Llama-style tokenizer: bos_token set and added; a template that writes it is not doubled
  const withBos = HfTokenizer.fromJSON(qwenJson(), { ...qwenConfig(), bos_token: "<|endoftext|>", add_bos_token: true });
  assert.deepEqual(encodePrompt(withBos, { prompt: "Tom" }), [ENDOFTEXT, ...withBos.encode("Tom")]);
  assert.deepEqual(encodePrompt(withBos, { prompt: "<|endoftext|>Tom" }), [ENDOFTEXT, ...withBos.encode("Tom")]);
});

test("stop tokens: eos, the chat template's end of turn and the end-of-text token; eos alone for characters", () => {
  // Qwen2.5-Instruct: eos <|im_end|>, and <|endoftext|> (its generation_config lists both)
  assert.deepEqual(stopTokenIds(HfTokenizer.fromDirectory(QWEN)), [IM_END, ENDOFTEXT]);
  // a base model: eos <|endoftext|>, no chat template, so <|im_end|> is not a stop token
  const { chat_template: _, ...base } = qwenConfig();
  assert.deepEqual(stopTokenIds(HfTokenizer.fromJSON(qwenJson(), { ...base, eos_token: "<|endoftext|>" })), [ENDOFTEXT]);
  const chars = new CharTokenizer();
  assert.deepEqual(stopTokenIds(chars), [chars.eosId]);
});

test("JSONL questions go through the chat template (one user turn, then the assistant's opening)", () => {
  const format = chatPromptFormatter(HfTokenizer.fromDirectory(QWEN));
  assert.ok(format);
  assert.equal(
    format("What is 2+2?"),
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n",
  );
  const { chat_template: _, ...noTemplate } = qwenConfig();
  assert.equal(chatPromptFormatter(HfTokenizer.fromJSON(qwenJson(), noTemplate)), null);
  assert.equal(chatPromptFormatter(new CharTokenizer()), null);
});

test("steps are found on the text and mapped back to BPE tokens", () => {
  const tok = HfTokenizer.fromDirectory(QWEN);
  const text = "3 + 4 = 7\n#### 7";
  const ids = tok.encode(text);
  // byte-level pieces: 3 Ġ + Ġ 4 Ġ= Ġ 7 Ċ # # # # Ġ 7 (the fixture's merges)
  assert.deepEqual(tok.tokenize(text), ["3", "Ġ", "+", "Ġ", "4", "Ġ=", "Ġ", "7", "Ċ", "#", "#", "#", "#", "Ġ", "7"]);
  const starts = responseTokenStarts(tok, ids);
  assert.deepEqual(starts, [0, 1, 2, 3, 4, 5, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
  const seg = segmentResponse(text, starts, { kind: "split", delimiter: "\n", minTokens: 0, maxSteps: 0 });
  assert.deepEqual(seg, { stepEnds: [9, 15], stepTexts: ["3 + 4 = 7\n", "#### 7"] });

  // multi-byte characters split over byte-level tokens: "€" is 3 tokens, "😀" 4 (each alone decodes to U+FFFD);
  // a token owns its text from where the previous one ended: the partial ones start where the character does
  const uni = "Café costs 5 €.\n😀 naïve über\n#### 5";
  const uids = tok.encode(uni);
  assert.deepEqual(tok.tokenize(uni).slice(5, 14), ["Ġ", "â", "Ĥ", "¬", ".Ċ", "ð", "Ł", "ĺ", "Ģ"]);
  assert.notEqual(uids.map((i) => tok.decode([i])).join(""), uni);
  const fast = responseTokenStarts(tok, uids);
  assert.deepEqual(fast, [0, 4, 6, 10, 11, 12, 13, 13, 13, 14, 16, 16, 16, 16, 18, 21, 24, 25, 29, 30, 31, 32, 33, 34, 35]);
  // each step's tokens decode to exactly its text
  const cut = (a: number, b: number) => tok.decode(uids.slice(a, b));
  const useg = segmentResponse(uni, fast, { kind: "split", delimiter: "\n", minTokens: 0, maxSteps: 0 });
  assert.deepEqual(useg, { stepEnds: [10, 19, 25], stepTexts: ["Café costs 5 €.\n", "😀 naïve über\n", "#### 5"] });
  assert.deepEqual([cut(0, 10), cut(10, 19), cut(19, 25)], useg.stepTexts);
});

test("probes on a Qwen2 model: no BOS in the rows, batched values equal one-by-one", async () => {
  const { model, tokenizer } = await loadHfModel(QWEN, { trainable: false, forTraining: false });
  const firsts: number[] = [];
  const recording: ScoringModel = {
    config: model.config,
    logits: (t) => {
      const first = tf.slice(t, [0, 0], [t.shape[0], 1]); // [B, 1]
      firsts.push(...Array.from(first.dataSync()));
      first.dispose();
      return model.logits(t);
    },
    score: (t, o) => model.score(t, o),
  };
  const probes = [
    { name: "judge", prompt: "{question}\n{steps}\nIs it right?", scorer: { kind: "yes_no" as const, yes: " yes", no: " no" } },
    { name: "belief", prompt: "{question}\n{steps}\n#### ", scorer: { kind: "likelihood" as const, target: "reference" as const } },
  ];
  const items = [
    { question: "Tom has 7 apples and eats 2. How many are left?", reference: "5", stepTexts: ["7-2 = 5\n", "#### 5"] },
    { question: "A box holds 6 eggs.", reference: "24", stepTexts: ["4 x 6 = 24\n"] },
  ];
  try {
    const batched = await runProbes(recording, tokenizer, probes, items);
    assert.ok(firsts.length > 0);
    assert.ok(!firsts.includes(tokenizer.bosId), "Qwen2 rows start with the prompt, not with a BOS");
    const single = await runProbesOneByOne(model, tokenizer, probes, items);
    for (const p of probes) {
      assert.deepEqual(batched[p.name]!.map((r) => r.length), [3, 2]);
      batched[p.name]!.forEach((row, i) =>
        row.forEach((v, k) => {
          assert.ok(v > 0 && v < 1, `${p.name}[${i}][${k}] = ${v} is a probability`);
          assert.ok(Math.abs(v - single[p.name]![i]![k]!) < 1e-5);
        }),
      );
    }
  } finally {
    model.dispose();
  }
});

test("buildFromPlan: a Hugging Face directory and a JSONL file, relative to the spec's directory; chat prompts", async () => {
  const specDir = path.join(HERE, "..", "fixtures", "specs-here");
  const plan = hfPlan({ model: { kind: "load", path: "../tiny-qwen2" }, task: { ...jsonlTask, path: "../gsm-tiny.jsonl" } });
  const built = await buildFromPlan(plan, specDir);
  try {
    assert.equal(built.origin, QWEN);
    assert.equal(built.promptFormat, "chat");
    assert.equal(built.tokenizer.kind, "hf", "`tokenizer chars` (the compiler's default) does not replace the directory's tokenizer");
    assert.equal(built.model.config.family, "llama");
    const [p] = built.task.heldOut(1);
    assert.ok(p);
    assert.equal(p.prompt, chatPromptFormatter(built.tokenizer)!(p.question));
    assert.match(p.solution, /#### \d+$/);
  } finally {
    built.model.dispose();
  }
});

test("buildFromPlan: `tokenizer load` replaces the directory's tokenizer (a directory or a tokenizer.json path)", async () => {
  const dir = tmpDir("tok");
  const { chat_template: _, ...noTemplate } = qwenConfig();
  fs.writeFileSync(path.join(dir, "tokenizer.json"), JSON.stringify(qwenJson()));
  fs.writeFileSync(path.join(dir, "tokenizer_config.json"), JSON.stringify({ ...noTemplate, eos_token: "<|endoftext|>" }));
  for (const p of [dir, path.join(dir, "tokenizer.json")]) {
    const built = await buildFromPlan(hfPlan({ tokenizer: { kind: "hf", path: p } }), "/");
    try {
      assert.equal(built.tokenizer.eosId, ENDOFTEXT);
      assert.equal(built.promptFormat, "plain");
      const [q] = built.task.heldOut(1);
      assert.equal(q!.prompt, `${q!.question}\n`);
    } finally {
      built.model.dispose();
    }
  }
});

test("buildFromPlan: clear messages for a missing directory, a file, a directory without config.json, a missing JSONL file", async () => {
  const empty = tmpDir("empty");
  const cases: [Parameters<typeof hfPlan>[0], RegExp][] = [
    [{ model: { kind: "load", path: "nowhere/Qwen2.5-0.5B" } }, /model load "nowhere\/Qwen2\.5-0\.5B": no such directory .*Nothing is downloaded/],
    [{ model: { kind: "load", path: GSM } }, /is a file, not a directory/],
    [{ model: { kind: "load", path: empty } }, /has no config\.json/],
    [{ task: { ...jsonlTask, path: "missing.jsonl" } }, /task jsonl "missing\.jsonl": no such file/],
    [{ tokenizer: { kind: "hf", path: path.join(empty, "tokenizer.json") } }, /tokenizer load .*no such file/],
  ];
  const before = tf.memory().numTensors;
  for (const [over, re] of cases) await assert.rejects(buildFromPlan(hfPlan(over), empty), re);
  assert.equal(tf.memory().numTensors, before, "a refused build leaves no tensors behind");
});

test("the run's memory check: 4x the weights to train, 1x more for an RL reference, refused with the numbers", () => {
  // tiny-qwen2: embed 576*32 + head 576*32 + final norm 32 + 2 layers * (q 32*32+32, k and v 32*16+16,
  // o 32*32, gate/up/down 3*32*64, two norms 2*32) = 18432*2 + 32 + 2*9344 = 55584 parameters
  const f32 = 55584 * 4; // 222336 bytes
  const sftOnly = tinyPlan({ train: [{ kind: "sft", steps: 1, lr: 1e-3, batch: 1, warmup: 0, onlyCorrect: false }] });
  checkRunMemory(QWEN, sftOnly, { limitBytes: 4 * f32 }); // fits exactly
  assert.throws(() => checkRunMemory(QWEN, sftOnly, { limitBytes: 4 * f32 - 1 }), /0\.1M parameters = 217\.1 KiB as f32; the run needs 4x for AdamW training .* = 868\.5 KiB/);
  const rl = tinyPlan(); // sft + rl: the reference copy adds 1x
  assert.throws(
    () => checkRunMemory(QWEN, rl, { limitBytes: 1e6 }),
    (e: Error) => /4x for AdamW training .* \+ 1x for the frozen reference .* = 1\.06 MiB, more than the memory limit of 976\.6 KiB/.test(e.message) && e.message.includes("model.safetensors"),
  );
  checkRunMemory(QWEN, rl, { limitBytes: 5 * f32 });
  assert.equal(formatBytes(4 * 2 ** 30), "4.00 GiB");
});

test("buildFromPlan: a malformed JSONL line under on_error skip is reported with its line number", async () => {
  const dir = tmpDir("bad-jsonl");
  const good = fs.readFileSync(GSM, "utf8").trim().split("\n");
  fs.writeFileSync(path.join(dir, "data.jsonl"), [good[0], "{not json", ...good.slice(1, 4), '{"q": "3?", "answer": "#### 3"}'].join("\n") + "\n");
  const built = await buildFromPlan(hfPlan({ task: { ...jsonlTask, path: "data.jsonl", onError: "skip" } }), dir);
  try {
    assert.equal(built.warnings.length, 2);
    assert.match(built.warnings[0]!, /^data\.jsonl:2: invalid JSON .*\(line skipped\)$/);
    assert.match(built.warnings[1]!, /^data\.jsonl:6: no field "question"/);
    assert.equal(built.task.train(8).length, 8, "training cycles over the 4 - 2 held-out good records");
  } finally {
    built.model.dispose();
  }
  await assert.rejects(buildFromPlan(hfPlan({ task: { ...jsonlTask, path: "data.jsonl", onError: "refuse" } }), dir), /data\.jsonl:2/);
});

test("the tree sampler on a Qwen2 model: no BOS at the root, stop tokens never inside a step", async () => {
  const { model, tokenizer } = await loadHfModel(QWEN, { trainable: false, forTraining: false });
  try {
    const prompt = chatPromptFormatter(tokenizer)!("Tom has 7 apples and eats 2. How many are left?");
    const [tree] = await sampleTree(model, model, tokenizer, [{ prompt, reference: "5" }], {
      children: 2, paths: 3, temperature: 1, maxStepTokens: 6, maxDepth: 3, delimiter: "\n", verify: () => 0, seed: 4,
    });
    assert.ok(tree);
    assert.deepEqual(tree.nodes[0]!.tokens, encodePrompt(tokenizer, { prompt }));
    assert.equal(tree.eosId, IM_END);
    assert.equal(tree.paths.length, 3);
    for (const n of tree.nodes.slice(1)) {
      assert.ok(n.tokens.every((t) => t !== IM_END && t !== ENDOFTEXT));
      assert.ok(n.tokens.length <= 6);
    }
  } finally {
    model.dispose();
  }
});
