/**
 * Issue 6 end to end: a Hugging Face-layout directory (the tiny Qwen2 fixture) with a GSM8K-style
 * JSONL task loads, samples, scores and trains through the runner and through `stepwise run`.
 * Wasm backend (the default; the cpu backend is ~10x slower on these shapes).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs-core";
import type { ExperimentPlan } from "../../dsl/plan.js";
import { loadHfModel } from "../../src/model/checkpoint.js";
import type { RolloutBatch } from "../../src/rl/batch.js";
import { batchAdvantages } from "../../src/rl/iteration.js";
import { buildFromPlan } from "../../src/run/build.js";
import { runPlan } from "../../src/run/runner.js";
import type { MetricsRow } from "../../src/run/types.js";
import { HfTokenizer } from "../../src/tokenizer/hf.js";
import { GRPO_ADVANTAGE, tinyPlan } from "../helpers/plans.js";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.join(HERE, "..", "..");
const QWEN = path.join(HERE, "..", "fixtures", "tiny-qwen2");
const GSM = path.join(HERE, "..", "fixtures", "gsm-tiny.jsonl");
const STOPS = [558, 556]; // <|im_end|> (eos), <|endoftext|>

const tmpDir = (tag: string) => fs.mkdtempSync(path.join(os.tmpdir(), `stepwise-${tag}-`));
const readJsonl = <T>(file: string): T[] => fs.readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l) as T);

/** SFT 2 steps, then 2 GRPO iterations; the reward counts the response's lines, so groups differ. */
function realPlan(): ExperimentPlan {
  return tinyPlan({
    name: "real-model",
    seed: 5,
    backend: "wasm",
    model: { kind: "load", path: QWEN },
    task: { kind: "jsonl", path: GSM, question: "question", answer: "answer", onError: "refuse", heldOut: 2 },
    rewards: [
      { name: "correct", formula: { op: "ref", source: "builtin", name: "outcome", level: "response" } },
      { name: "lines", formula: { op: "ref", source: "builtin", name: "steps", level: "response" } },
    ],
    advantage: GRPO_ADVANTAGE,
    sampler: { kind: "standard", temperature: 1, topP: 1, topK: 0, maxTokens: 16 },
    train: [
      { kind: "sft", steps: 2, lr: 1e-3, batch: 4, warmup: 0, onlyCorrect: false },
      { kind: "rl", iterations: 2, prompts: 2, group: 4, lr: 1e-3, epochs: 1, minibatch: 0, evalEvery: 0 },
    ],
    eval: { prompts: 2, maxTokens: 16 },
  });
}

test("SFT + 2 GRPO iterations on the tiny Qwen2 directory with a JSONL task: metrics, replayable rollouts, chat prompts, trained weights", async () => {
  const dir = tmpDir("real");
  const plan = realPlan();
  const res = await runPlan(plan, { dir });
  assert.equal(res.status, "finished", res.message);
  assert.equal(res.backend, "wasm");

  const rows = readJsonl<MetricsRow>(path.join(dir, "metrics.jsonl"));
  assert.deepEqual(rows.map((r) => `${r.stage}:${r.stage === "eval" ? r.after : r.iteration}`), ["eval:start", "sft:0", "sft:1", "eval:sft", "rl:0", "rl:1", "eval:rl"]);
  for (const r of rows.filter((x) => x.stage !== "eval")) assert.ok(Number.isFinite(r.loss as number) && Number.isFinite(r.grad_norm as number), `${r.stage} ${r.iteration}: finite loss`);
  const rl = rows.filter((r) => r.stage === "rl");
  assert.ok(rl.some((r) => (r["reward/frac_zero_std"] as number) < 1), "some group's rewards differ, so GRPO has a signal");

  const tok = HfTokenizer.fromDirectory(QWEN);
  for (let it = 0; it < 2; it++) {
    const batch = JSON.parse(fs.readFileSync(path.join(dir, "rollouts", `iter-${it}.json`), "utf8")) as RolloutBatch;
    // prompts are the chat template's, responses are BPE tokens that decode to the recorded text, cut before any stop token
    for (const g of batch.groups) {
      assert.match(g.prompt, /^<\|im_start\|>system\nYou are a helpful assistant\.<\|im_end\|>\n<\|im_start\|>user\n.+<\|im_end\|>\n<\|im_start\|>assistant\n$/s);
      assert.match(g.reference, /^\d+$/);
      for (const r of g.responses) {
        const tokens = r.tokens ?? [];
        assert.ok(r.tokens, "rollouts record their tokens");
        assert.equal(tok.decode(tokens), r.text);
        assert.ok(tokens.every((t) => !STOPS.includes(t)), "stop tokens end a response and are not part of it");
        assert.equal(r.step_ends.at(-1), tokens.length);
        assert.equal(r.token_logp.length, tokens.length);
        // steps split on "\n" in the text: every step but the last ends with the newline's token
        for (const e of r.step_ends.slice(0, -1)) assert.ok(tok.decode(tokens.slice(0, e)).endsWith("\n"), `a step ends at a newline (${e})`);
      }
    }
    // replay: the recorded batch through the plan's formulas gives the advantages the update used
    const used = JSON.parse(fs.readFileSync(path.join(dir, "rollouts", `iter-${it}.advantages.json`), "utf8")).advantages as number[][];
    const replay = batchAdvantages(plan, batch).advantages;
    replay.forEach((row, i) => row.forEach((v, t) => assert.ok(Math.abs(v - used[i]![t]!) < 1e-6)));
  }

  // the final checkpoint is a Stepwise checkpoint: `model load` of it keeps the chat template, and
  // its weights moved away from the fixture's
  const final = path.join(dir, "checkpoints", "final");
  const again = await buildFromPlan({ ...plan, model: { kind: "load", path: "checkpoints/final" } }, dir);
  const orig = await loadHfModel(QWEN, { forTraining: false });
  try {
    assert.equal(again.origin, final);
    assert.equal(again.promptFormat, "chat");
    // every parameter is there under its Hugging Face name; SFT and RL moved them
    assert.deepEqual([...again.model.params.keys()].sort(), [...orig.model.params.keys()].sort());
    let diff = 0;
    for (const [name, v] of again.model.params) diff = Math.max(diff, tf.tidy(() => tf.max(tf.abs(tf.sub(v, orig.model.params.get(name)!))).dataSync()[0]!));
    assert.ok(diff > 1e-5, `training changed the weights (max |diff| ${diff})`);
  } finally {
    again.model.dispose();
    orig.model.dispose();
  }
});

test("`stepwise run` on a spec with `model load`, `task jsonl` and a probe (SSPO) runs an RL iteration on the fixture", () => {
  const dir = tmpDir("real-cli");
  const rel = (p: string) => path.relative(dir, p).split(path.sep).join("/");
  const spec = `experiment "real-cli"
seed 2
backend wasm
model load "${rel(QWEN)}"
task jsonl "${rel(GSM)}" { question "question", answer "answer", on_error refuse, held_out 2 }
steps split "\\n" { min_tokens 1, max_steps 8 }
probe belief {
  prompt "{question}\\n{steps}\\n#### "
  score likelihood(reference)
}
reward correct = outcome
use sspo(probe = belief, gamma = 0.9, lambda = 0.8)
sampler standard { temperature 1.0, max_tokens 12 }
train {
  rl { iterations 1, prompts 2, group 2, lr 1e-3 }
}
eval { prompts 2, max_tokens 8 }
`;
  const file = path.join(dir, "spec.sw");
  fs.writeFileSync(file, spec);
  const out = path.join(dir, "runs");
  const r = spawnSync(process.execPath, [path.join(ROOT, "bin", "stepwise.js"), "run", file, "--out", out], { cwd: os.tmpdir(), encoding: "utf8", timeout: 120_000 });
  assert.equal(r.status, 0, `exit ${r.status}\n${r.stdout}\n${r.stderr}`);
  const run = path.join(out, "real-cli");
  const rows = readJsonl<MetricsRow>(path.join(run, "metrics.jsonl"));
  assert.deepEqual(rows.map((x) => `${x.stage}:${x.stage === "eval" ? x.after : x.iteration}`), ["eval:start", "rl:0", "eval:rl"]);
  const batch = JSON.parse(fs.readFileSync(path.join(run, "rollouts", "iter-0.json"), "utf8")) as RolloutBatch;
  assert.equal(batch.groups.length, 2);
  for (const g of batch.groups) {
    assert.match(g.prompt, /<\|im_start\|>assistant\n$/);
    for (const resp of g.responses) {
      const u = resp.probes?.belief;
      assert.ok(u, "the probe ran on every response");
      assert.equal(u.length, resp.step_ends.length + 1, "one value before each step and one after the last");
      assert.ok(u.every((v) => v > 0 && v < 1), `belief values are probabilities: ${u}`);
    }
  }
  assert.ok(fs.existsSync(path.join(run, "checkpoints", "final", "model.safetensors")));
});

test("`stepwise run` with a model directory that is not there says so, and that nothing is downloaded", () => {
  const dir = tmpDir("real-missing");
  const file = path.join(dir, "spec.sw");
  fs.writeFileSync(file, `experiment "missing"\nmodel load "models/Qwen2.5-0.5B-Instruct"\ntask jsonl "${path.relative(dir, GSM).split(path.sep).join("/")}" { held_out 2 }\nuse grpo\ntrain { rl { iterations 1 } }\n`);
  const r = spawnSync(process.execPath, [path.join(ROOT, "bin", "stepwise.js"), "run", file, "--out", path.join(dir, "runs")], { cwd: dir, encoding: "utf8", timeout: 60_000 });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /model load "models\/Qwen2\.5-0\.5B-Instruct": no such directory \(.*models\/Qwen2\.5-0\.5B-Instruct\)/);
  assert.match(r.stderr, /Nothing is downloaded/);
  assert.doesNotMatch(r.stderr, /\n\s+at /, "a message, not a stack trace");
});
