/**
 * Runs that cannot hurt you: names confined to one path segment, a fresh run that never takes
 * over a run's directory unasked and deletes only a run's files, hostile inputs refused with a
 * message naming the file (or the spec position), and the pieces resume rests on (checkpoint swap
 * recovery, truncation keyed on stage index). Fault injection end to end: faults.test.ts.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import * as tf from "@tensorflow/tfjs-core";
import { compile } from "../../dsl/index.js";
import { initBackend } from "../../src/backend/index.js";
import { readSafetensors, writeSafetensors } from "../../src/io/safetensors.js";
import { gptConfig } from "../../src/model/config.js";
import { loadCheckpoint, loadHfModel, recoverCheckpoints, saveCheckpoint } from "../../src/model/checkpoint.js";
import { configParams } from "../../src/model/memory.js";
import { hfLayout, Transformer } from "../../src/model/transformer.js";
import { removeRunFiles } from "../../src/run/run-dir.js";
import { runPlan } from "../../src/run/runner.js";
import { RunStore } from "../../src/run/store.js";
import { CharTokenizer } from "../../src/tokenizer/chars.js";
import { tinyPlan } from "../helpers/plans.js";

await initBackend({ backend: "cpu" });
const tmp = (tag: string) => fs.mkdtempSync(path.join(os.tmpdir(), `stepwise-safety-${tag}-`));

/** Every file under `dir` with its bytes (a snapshot to compare). */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out[path.relative(dir, p)] = fs.readFileSync(p).toString("base64");
    }
  };
  walk(dir);
  return out;
}

test("an experiment name that is a path is a positioned diagnostic of check", () => {
  for (const [name, col] of [["../../victim", 12], ["a/b", 12], ["/etc", 12], ["..", 12], [".hidden", 12]] as const) {
    const { plan, diagnostics } = compile(`experiment "${name}"\n`, { file: "names.sw" });
    assert.equal(plan, undefined, name);
    const d = diagnostics.find((x) => /experiment name/.test(x.message));
    assert.ok(d, `${name}: ${JSON.stringify(diagnostics)}`);
    assert.deepEqual([d.file, d.line, d.column], ["names.sw", 1, col], name);
  }
  assert.match(compile(`experiment "../../victim"\n`).diagnostics[0]!.message, /is a path: .* one path segment/);
  for (const ok of ["grpo-baseline", "run_2.b", "A1"]) {
    assert.ok(!compile(`experiment "${ok}"\n`).diagnostics.some((x) => /experiment name/.test(x.message)), ok);
  }
});

test("a run named out of its root writes nothing, and the victim beside it stays byte-identical", async () => {
  const root = tmp("confine");
  const victim = path.join(root, "victim");
  fs.mkdirSync(path.join(victim, "checkpoints", "x"), { recursive: true });
  for (const f of ["metrics.jsonl", "steps.jsonl", "run.json", "report.html", "notes.txt", "checkpoints/x/state.json"]) fs.writeFileSync(path.join(victim, f), `precious ${f}\n`);
  const before = snapshot(root);
  for (const name of ["../victim", "../../victim", path.join(root, "victim"), "a/../../victim"]) {
    const res = await runPlan(tinyPlan({ name }), { out: path.join(root, "runs") });
    assert.equal(res.status, "failed", name);
    assert.match(res.message!, /experiment name .* (is a path|characters)/, name);
  }
  assert.deepEqual(snapshot(root), before);
  assert.ok(!fs.existsSync(path.join(root, "runs")), "not even the runs root is created");
});

test("a fresh run refuses a directory that holds a run, naming --resume and --overwrite; --overwrite deletes only a run's files", async () => {
  const dir = tmp("taken");
  fs.writeFileSync(path.join(dir, "run.json"), `{"name":"tiny","status":"finished"}\n`);
  fs.writeFileSync(path.join(dir, "metrics.jsonl"), `{"stage":"sft"}\n`);
  const before = snapshot(dir);
  const res = await runPlan(tinyPlan(), { dir });
  assert.equal(res.status, "failed");
  assert.match(res.message!, /already holds a run: continue it with --resume, or start again with --overwrite/);
  assert.deepEqual(snapshot(dir), before, "nothing touched");

  // what --overwrite deletes: the run's own files, not the user's beside or inside them
  fs.mkdirSync(path.join(dir, "rollouts"));
  fs.mkdirSync(path.join(dir, "checkpoints", "last"), { recursive: true });
  fs.mkdirSync(path.join(dir, "checkpoints", "mine"), { recursive: true });
  for (const f of ["spec.sw", "plan.json", "steps.jsonl", "report.html", "rollouts/iter-0.json", "rollouts/iter-0.advantages.json", "checkpoints/last/state.json", "checkpoints/last/model.safetensors"]) fs.writeFileSync(path.join(dir, f), "x");
  for (const f of ["notes.txt", "rollouts/analysis.csv", "checkpoints/mine/notes.md", "checkpoints/last/README"]) fs.writeFileSync(path.join(dir, f), "mine");
  removeRunFiles(dir);
  assert.deepEqual(Object.keys(snapshot(dir)).sort(), ["checkpoints/last/README", "checkpoints/mine/notes.md", "notes.txt", "rollouts/analysis.csv"]);
});

test("a catastrophic steps split regex is refused by check at its position; safe ones pass", () => {
  const spec = (re: string) => `experiment "rx"\nsteps split ${re}\n`;
  const { diagnostics } = compile(spec("/(a+)+$/"), { file: "rx.sw" });
  const d = diagnostics.find((x) => /steps split/.test(x.message));
  assert.ok(d, JSON.stringify(diagnostics));
  assert.deepEqual([d.line, d.column], [2, 14]); // the group "(a+)" after "steps split /"
  assert.match(d.message, /nested repetition.*backtracks exponentially/);
  for (const bad of ["/(x*y*)*/", "/(a|ab)+/", "/(\\d{1,3})+:/", "/(?:\\n\\s*)+/", "/(a)\\1/"]) {
    assert.ok(compile(spec(bad)).diagnostics.some((x) => /steps split/.test(x.message)), bad);
  }
  for (const good of ["/\\n+/", "/Step \\d+:/", "/(?:\\n|\\. )+/", "/\\n\\n+/", "/(\\s|,)+/"]) {
    assert.ok(!compile(spec(good)).diagnostics.some((x) => /steps split/.test(x.message)), good);
  }
});

test("a config.json whose sizes cannot fit is refused before allocation, naming config.json and the field", async () => {
  const dir = tmp("huge");
  const src = path.join("test", "fixtures", "tiny-qwen2");
  for (const f of fs.readdirSync(src)) fs.copyFileSync(path.join(src, f), path.join(dir, f));
  const cfg = JSON.parse(fs.readFileSync(path.join(dir, "config.json"), "utf8"));
  fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify({ ...cfg, num_hidden_layers: 1_000_000_000 }));
  const t0 = Date.now();
  await assert.rejects(loadHfModel(dir), (e: Error) => {
    assert.match(e.message, /config\.json: num_hidden_layers 1000000000 makes the model .* more than .*Nothing was allocated/);
    return true;
  });
  assert.ok(Date.now() - t0 < 2000, "refused at once");
  // a fresh model from the spec: the spec's field is named
  const res = await runPlan(tinyPlan({ model: { kind: "gpt", config: { layers: 1, width: 200_000, heads: 1, contextLength: 48 } } }), { dir: tmp("huge-fresh") });
  assert.equal(res.status, "failed");
  assert.match(res.message!, /the spec's model declaration: width 200000 makes the model/);
});

test("configParams equals the layout's parameter count", () => {
  const c = gptConfig({ layers: 3, width: 32, heads: 2, vocabSize: 40, contextLength: 48 });
  assert.equal(configParams(c), hfLayout(c).reduce((a, s) => a + s.shape.reduce((x, y) => x * y, 1), 0));
});

test("NaN or infinite weights are refused with the tensor's name and file", async () => {
  const dir = path.join(tmp("nan"), "ck");
  const model = Transformer.create(gptConfig({ layers: 1, width: 16, heads: 2, vocabSize: new CharTokenizer().vocabSize, contextLength: 32 }));
  await saveCheckpoint(dir, { model, tokenizer: new CharTokenizer() });
  model.dispose();
  const file = path.join(dir, "model.safetensors");
  const { tensors, metadata } = readSafetensors(file);
  const name = [...tensors.keys()][1]!;
  tensors.get(name)!.data[5] = NaN;
  tensors.get(name)!.data[7] = Infinity;
  writeSafetensors(file, tensors, { metadata });
  const n = tf.memory().numTensors;
  await assert.rejects(loadCheckpoint(dir), (e: Error) => {
    assert.ok(e.message.startsWith(`${file}: tensor "${name}" holds 2 non-finite value(s) (the first, NaN, at flat index 5)`), e.message);
    return true;
  });
  assert.equal(tf.memory().numTensors, n, "nothing leaks");
});

test("an interrupted checkpoint swap is recovered and stale temporaries removed", () => {
  const parent = tmp("swap");
  const write = (d: string, v: string) => (fs.mkdirSync(path.join(parent, d)), fs.writeFileSync(path.join(parent, d, "state.json"), v));
  // killed between the renames: "last" is gone, the new copy and the old one are both complete
  write(".last.tmp-AbC123", "new");
  write(".last.tmp-AbC123.old", "old");
  // an unfinished save of another tag, and a finished swap's leftover
  write(".final.tmp-zzz999", "partial");
  write("sft-0", "sft");
  write(".sft-0.tmp-QQQ111.old", "older");
  const done = recoverCheckpoints(parent);
  assert.equal(fs.readFileSync(path.join(parent, "last", "state.json"), "utf8"), "new");
  assert.deepEqual(fs.readdirSync(parent).sort(), ["last", "sft-0"]);
  assert.equal(fs.readFileSync(path.join(parent, "sft-0", "state.json"), "utf8"), "sft");
  assert.ok(done.some((l) => /checkpoint "last" restored/.test(l)), done.join("\n"));
  // killed after the first rename with no new copy left: the old one comes back
  write(".ref-1.tmp-Old000.old", "ref");
  recoverCheckpoints(parent);
  assert.equal(fs.readFileSync(path.join(parent, "ref-1", "state.json"), "utf8"), "ref");
});

test("resume truncation keys on (stage index, iteration): two stages of one kind, rl@N evaluations", () => {
  const store = new RunStore(tmp("trunc"));
  store.init();
  // plan: sft, rl (eval_every 1), sft: rows as the runner writes them
  const rows = [
    { stage: "eval", stage_index: 0, iteration: 0, after: "init" },
    { stage: "sft", stage_index: 0, iteration: 0 },
    { stage: "sft", stage_index: 0, iteration: 1 },
    { stage: "eval", stage_index: 0, iteration: 2, after: "sft" },
    { stage: "rl", stage_index: 1, iteration: 0 },
    { stage: "eval", stage_index: 1, iteration: 1, after: "rl@1" },
    { stage: "rl", stage_index: 1, iteration: 1 },
    { stage: "eval", stage_index: 1, iteration: 2, after: "rl" },
    { stage: "sft", stage_index: 2, iteration: 0 },
    { stage: "sft", stage_index: 2, iteration: 1 },
  ];
  const write = () => fs.writeFileSync(store.file("metrics.jsonl"), rows.map((r) => JSON.stringify({ ...r, time: 1 })).join("\n") + "\n" + '{"stage":"sft","stage_ind');
  const kept = () => store.readMetrics().map((r) => `${r.stage_index}:${r.after ?? r.stage}:${r.iteration}`);
  write();
  store.truncateTo({ stageIndex: 1, done: 1 }); // after rl iteration 0 and its rl@1 evaluation
  assert.deepEqual(kept(), ["0:init:0", "0:sft:0", "0:sft:1", "0:sft:2", "1:rl:0", "1:rl@1:1"]);
  write();
  store.truncateTo({ stageIndex: 2, done: 1 }); // in the second sft: the first sft's rows all stay
  assert.deepEqual(kept(), ["0:init:0", "0:sft:0", "0:sft:1", "0:sft:2", "1:rl:0", "1:rl@1:1", "1:rl:1", "1:rl:2", "2:sft:0"]);
  write();
  store.truncateTo({ stageIndex: 1, done: 0 }); // the rl stage not begun: its rows go, the torn line too
  assert.deepEqual(kept(), ["0:init:0", "0:sft:0", "0:sft:1", "0:sft:2"]);
});

test("a corrupt state.json on resume names the file, and run.json says failed", async () => {
  const dir = tmp("state");
  const plan = tinyPlan({ name: "state", train: [{ kind: "sft", steps: 2, lr: 3e-3, batch: 4, warmup: 0, onlyCorrect: false }], eval: { prompts: 2, maxTokens: 8 } });
  const a = await runPlan(plan, { dir });
  assert.equal(a.status, "finished", a.message);
  const state = path.join(dir, "checkpoints", "last", "state.json");
  fs.writeFileSync(state, fs.readFileSync(state, "utf8").slice(0, 10));
  const b = await runPlan(plan, { dir, resume: true });
  assert.equal(b.status, "failed");
  assert.match(b.message!, new RegExp(`^${state.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}: not valid JSON`));
  const info = JSON.parse(fs.readFileSync(path.join(dir, "run.json"), "utf8"));
  assert.equal(info.status, "failed");
  assert.equal(info.message, b.message);
});
