import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { compareCommand } from "../../src/cli/compare-command.js";
import { pngSize } from "../../src/analytics/render.js";

// the committed warm start on the arena's world (a model that writes labelled steps), with a
// one-step SFT stage the methods share: the shared-warm-start path
const WORLD = `seed 4
backend wasm
model load "${path.resolve("examples/checkpoints/arith-sft")}"
task arithmetic { operands 2..3, values 1..9, operators "+-", verbosity 0.9, slips 0.2 }
steps split "\\n"
eval { prompts 2, max_tokens 40 }
sampler standard { temperature 1.0, max_tokens 40 }
train { sft { steps 1, lr 1e-6, batch 2 } rl { iterations 1, prompts 3, group 4, lr 1e-4 } }
`;

/** Two specs in `dir` on WORLD: GRPO (a.sw) and SPRO (b.sw). */
function twoSpecs(dir: string): [string, string] {
  const a = path.join(dir, "a.sw");
  const b = path.join(dir, "b.sw");
  fs.writeFileSync(a, `experiment "a"\n${WORLD}use grpo\n`);
  fs.writeFileSync(b, `experiment "b"\n${WORLD}reward correct = outcome\nuse spro(beta = 0.05)\n`);
  return [a, b];
}

test("stepwise compare: two methods × two seeds from one warm start per seed; table with intervals, paired differences and charts written", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "stepwise-compare-"));
  const [a, b] = twoSpecs(dir);
  assert.equal(await compareCommand([a, b], { seeds: 2, out: dir, baseline: "nope" }), 2, "an unknown baseline stops before running");
  const code = await compareCommand([a, b], { seeds: 2, out: dir, baseline: "spro" });
  assert.equal(code, 0);
  const root = path.join(dir, "compare-grpo-vs-spro"); // named after the methods by default
  // one warm start per seed, shared by both methods
  for (const s of [4, 5]) assert.ok(fs.existsSync(path.join(root, "warmstart", `seed-${s}`, "checkpoints", "final", "model.safetensors")));
  for (const m of ["grpo", "spro"]) for (const s of [4, 5]) {
    const plan = JSON.parse(fs.readFileSync(path.join(root, m, `seed-${s}`, "plan.json"), "utf8"));
    assert.equal(plan.model.kind, "load");
    assert.equal(plan.seed, s);
    assert.deepEqual(plan.train.map((x: { kind: string }) => x.kind), ["rl"]);
  }
  const csv = fs.readFileSync(path.join(root, "results.csv"), "utf8").trim().split("\n");
  assert.equal(csv.length, 4, "a header, the shared warm start, one row per method");
  const head = csv[0]!.split(",");
  for (const f of ["accuracy", "mean_tokens", "redundant_fraction", "credit_auc_redundant", "credit_auc_slip", "credit_gap_redundant"]) {
    assert.ok(head.includes(`${f}_mean`) && head.includes(`${f}_ci95`), `${f}_mean and ${f}_ci95 columns`);
  }
  assert.match(csv[1]!, /^warm start,2,4 5,/);
  assert.match(csv[2]!, /^grpo,2,4 5,/);
  assert.match(csv[3]!, /^spro,2,4 5,/);
  const cell = (row: string, col: string) => row.split(",")[head.indexOf(col)];
  assert.equal(cell(csv[2]!, "credit_auc_redundant_mean"), "0.5", "GRPO: every step of a response shares its advantage");
  assert.notEqual(cell(csv[2]!, "accuracy_diff"), "", "grpo paired against the baseline spro");
  assert.equal(cell(csv[3]!, "accuracy_diff"), "", "no difference for the baseline itself");
  const md = fs.readFileSync(path.join(root, "results.md"), "utf8");
  assert.match(md, /seeds 4, 5, the same for every method; one shared warm start per seed/);
  assert.match(md, /\(baseline spro\)/);
  assert.match(md, /\| grpo \| 4, 5 \|/);
  assert.match(md, /### Paired difference against spro/);
  for (const chart of ["eval-curves", "credit-auc", "advantage-by-label", "training"]) {
    assert.ok(pngSize(fs.readFileSync(path.join(root, `${chart}.png`))).width > 100, chart);
    assert.ok(fs.existsSync(path.join(root, `${chart}.svg`)), chart);
  }
});

test("stepwise compare --jobs 2: runs in child processes write the same table as one process; killed runs continue with --resume", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "stepwise-compare-jobs-"));
  const [a, b] = twoSpecs(dir);
  // the figures of a results.csv without the wall time (the one column that differs between runs)
  const figures = (root: string): string[][] => {
    const rows = fs.readFileSync(path.join(root, "results.csv"), "utf8").trim().split("\n").map((l) => l.split(","));
    const keep = rows[0]!.map((h, i) => (h.startsWith("wall_time") ? -1 : i)).filter((i) => i >= 0);
    return rows.map((r) => keep.map((i) => r[i]!));
  };
  assert.equal(await compareCommand([a, b], { seeds: 1, out: path.join(dir, "one"), name: "x" }), 0);
  const one = figures(path.join(dir, "one", "compare-x"));

  // every run's process dies at its first rollouts file (the warm start has none and finishes)
  process.env.STEPWISE_FAULT = "rollouts:1";
  try {
    assert.equal(await compareCommand([a, b], { seeds: 1, out: path.join(dir, "two"), name: "x", jobs: 2 }), 1, "a killed run fails the comparison");
  } finally {
    delete process.env.STEPWISE_FAULT;
  }
  const root = path.join(dir, "two", "compare-x");
  assert.ok(!fs.existsSync(path.join(root, "results.csv")), "no table from unfinished runs");
  const warmLog = path.join(root, "warmstart", "seed-4", "metrics.jsonl");
  const warmBefore = fs.readFileSync(warmLog, "utf8");
  const warmMtime = fs.statSync(warmLog).mtimeMs;
  assert.equal(await compareCommand([a, b], { seeds: 1, out: path.join(dir, "two"), name: "x", jobs: 2, resume: true, results: path.join(dir, "committed") }), 0);
  for (const f of ["results.csv", "results.md", "eval-curves.png"]) assert.deepEqual(fs.readFileSync(path.join(dir, "committed", f)), fs.readFileSync(path.join(root, f)), `--results copies ${f}`);
  assert.equal(fs.statSync(warmLog).mtimeMs, warmMtime, "the finished warm start is kept, not rerun");
  assert.equal(fs.readFileSync(warmLog, "utf8"), warmBefore);
  assert.deepEqual(figures(root), one, "same figures from two processes after a kill and a resume as from one process");
  for (const m of ["grpo", "spro"]) assert.equal(JSON.parse(fs.readFileSync(path.join(root, m, "seed-4", "run.json"), "utf8")).status, "finished");
});
