/**
 * `stepwise compile`: the package it writes (every Python file parses; the launch script carries
 * the spec's settings), what it refuses by name (the tree sampler, step DPO, probes on verl), and
 * the folder rules (never writes into a folder that is neither empty nor an earlier compile).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { compileCommand, grpoConfig } from "../../src/compile/index.js";
import { compile } from "../../dsl/index.js";
import { pythonSkip, ROOT, runPython } from "../helpers/python.js";

const skip = pythonSkip();
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "stepwise-compile-cmd-"));

test("quickstart → trl: a package whose Python files all parse, settings mapped to GRPOConfig", { skip }, async () => {
  const out = path.join(tmp(), "pkg");
  const r = await compileCommand(path.join(ROOT, "examples/quickstart.sw"), { target: "trl", out });
  assert.equal(r.stderr, "");
  assert.equal(r.exitCode, 0);
  const files = fs.readdirSync(out).sort();
  for (const f of ["README.md", "prompts.jsonl", "stepwise_advantages.py", "stepwise_probes.py", "stepwise_runtime.py", "stepwise_spec.json", "stepwise_steps.py", "stepwise_task.py", "stepwise_trl.py", "train_trl.py"]) assert.ok(files.includes(f), f);
  runPython(["-c", "import ast, sys\nfor f in sys.argv[1:]: ast.parse(open(f).read(), f)", ...files.filter((f) => f.endsWith(".py")).map((f) => path.join(out, f))]);
  const script = fs.readFileSync(path.join(out, "train_trl.py"), "utf8");
  // quickstart: rl { iterations 80, prompts 16, group 8, lr 1e-4 }, use grpo (clip 0.2, kl 0, norm response), max_tokens 64
  for (const line of ["num_generations=8,", "generation_batch_size=128,", "per_device_train_batch_size=64,", "max_steps=160,", "learning_rate=0.0001,", "epsilon=0.2,", "beta=0,", 'loss_type="grpo",', "max_completion_length=64,", "seed=7,"]) {
    assert.ok(script.includes(line), line);
  }
  assert.equal(fs.readFileSync(path.join(out, "prompts.jsonl"), "utf8").trim().split("\n").length, 80 * 16);
  // a second compile into the same folder replaces its files
  assert.equal((await compileCommand(path.join(ROOT, "examples/quickstart.sw"), { target: "trl", out })).exitCode, 0);
});

test("the GRPOConfig mapping: norm → loss_type, clip_high → epsilon_high, kl → beta, epochs → num_iterations", () => {
  const { plan } = compile("task arithmetic\nuse dr_grpo\nobjective clipped { clip 0.1, clip_high 0.3, kl 0.04, norm token, mask_truncated true }\nsampler standard { temperature 0.7, top_p 0.9, max_tokens 32 }\ntrain { rl { iterations 3, prompts 6, group 4, epochs 2, minibatch 16, lr 1e-5 } }", { purpose: "advantage" });
  const c = grpoConfig(plan!);
  assert.deepEqual(
    [c.loss_type, c.epsilon, c.epsilon_high, c.beta, c.num_iterations, c.mask_truncated_completions, c.temperature, c.top_p, c.max_completion_length],
    ["dapo", 0.1, 0.3, 0.04, 2, true, 0.7, 0.9, 32],
  );
  // 6 prompts × 4 = 24 rows per generation, split into per-device batches of 12 (the largest divisor ≤ 16): 2 steps per generation
  assert.deepEqual([c.generation_batch_size, c.per_device_train_batch_size, c.max_steps], [24, 12, 3 * 2 * 2]);
});

test("what a target cannot express is refused, naming the construct", async () => {
  const out = path.join(tmp(), "pkg");
  let r = await compileCommand(path.join(ROOT, "examples/sppd-tree.sw"), { target: "trl", out });
  assert.equal(r.exitCode, 1);
  assert.match(r.stderr, /cannot compile to trl: `sampler tree`/);
  assert.match(r.stderr, /cannot compile to trl: `objective step_dpo`/);
  assert.match(r.stderr, /the `sft` stage/);
  assert.equal(fs.existsSync(out), false);
  r = await compileCommand(path.join(ROOT, "examples/arena/sspo.sw"), { target: "verl", out });
  assert.equal(r.exitCode, 1);
  assert.match(r.stderr, /probe `\w+`: verl calls an advantage estimator without the policy/);
  r = await compileCommand(path.join(ROOT, "examples/quickstart.sw"), { target: "openrlhf", out });
  assert.equal(r.exitCode, 2);
  assert.match(r.stderr, /--target must be trl or verl/);
});

test("a folder that is not empty and holds no earlier compile is refused; nothing in it is touched", async () => {
  const out = tmp();
  fs.writeFileSync(path.join(out, "notes.txt"), "mine");
  const r = await compileCommand(path.join(ROOT, "examples/quickstart.sw"), { target: "verl", out });
  assert.equal(r.exitCode, 1);
  assert.match(r.stderr, /not empty and holds no earlier compile/);
  assert.deepEqual(fs.readdirSync(out), ["notes.txt"]);
  const bad = path.join(out, "bad.sw");
  fs.writeFileSync(bad, "use grpoo\n");
  const e = await compileCommand(bad, { target: "trl", out: path.join(out, "x") });
  assert.equal(e.exitCode, 1);
  assert.match(e.stderr, /bad\.sw:1:5: unknown method `grpoo`/);
});
