/**
 * The arena (examples/arena/*.sw): every arm compiles, the arms share one budget (seed, warm start,
 * world, evaluation, prompts and responses per iteration, length limit, learning rate), the arm
 * list covers the methods the arena compares, and a smoke comparison runs every arm for one
 * iteration on a tiny world and tabulates them.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { compile } from "../../dsl/index.js";
import type { ExperimentPlan, StagePlan } from "../../dsl/plan.js";
import { runPlan } from "../../src/run/runner.js";
import { compareRuns } from "../../src/analytics/compare.js";
import type { MetricsRow } from "../../src/run/types.js";

const ARENA = path.join(import.meta.dirname, "..", "..", "examples", "arena");
const files = fs.readdirSync(ARENA).filter((f) => f.endsWith(".sw")).sort();

const arms = files.map((file) => {
  const { plan, diagnostics } = compile(fs.readFileSync(path.join(ARENA, file), "utf8"), { file, purpose: "run" });
  const errors = diagnostics.filter((d) => d.severity === "error");
  assert.deepEqual(errors.map((d) => `${file}:${d.line}:${d.column} ${d.message}`), []);
  return { file, plan: plan! };
});

const armStage = (p: ExperimentPlan): StagePlan => p.train.find((s) => s.kind === "rl" || s.kind === "step_dpo")!;

test("every arena arm compiles clean (but for the warm start checkpoint npm run warmstart:hard makes)", () => {
  assert.ok(arms.length >= 11, `${arms.length} arms`);
  for (const f of files) {
    const { diagnostics } = compile(fs.readFileSync(path.join(ARENA, f), "utf8"), { file: f, purpose: "run" });
    for (const d of diagnostics) assert.match(d.message, /model path .*arith-hard-sft.* does not exist/, `${f}:${d.line} ${d.message}`);
  }
});

test("the arms cover the arena's methods, with the papers' settings", () => {
  const by = (name: string) => arms.filter((a) => a.plan.method?.name === name);
  for (const m of ["grpo", "dr_grpo", "sspo", "pure", "gspo", "vineppo"]) assert.equal(by(m).length, 1, m);
  const vine = by("vineppo")[0]!.plan.sampler as { valueRollouts?: number };
  assert.ok((vine.valueRollouts ?? 0) > 0, "VinePPO samples its Monte Carlo step values");
  // SPRO at the paper's beta 0.05, which the sweep (examples/arena/spro-sweep/results) also found best
  assert.deepEqual(by("spro").map((a) => a.plan.method!.args.beta), [0.05]);
  const stepDpo = by("step_dpo");
  assert.equal(stepDpo.length, 1);
  assert.deepEqual(stepDpo[0]!.plan.objective, { kind: "step_dpo", beta: 0.4, gamma: 0, marginSign: 1, margin: 0, threshold: 0.5 });
  // SPPD: the dynamic margin with sign +1 and -1, and the fixed-margin ablation (gamma 0, margin > 0)
  const sppd = by("sppd").map((a) => a.plan.objective as { gamma: number; marginSign: number; margin: number });
  assert.deepEqual(sppd.filter((o) => o.gamma > 0 && o.margin === 0).map((o) => o.marginSign).sort(), [-1, 1]);
  assert.equal(sppd.filter((o) => o.gamma === 0 && o.margin > 0).length, 1);
  const gspo = by("gspo")[0]!.plan;
  assert.equal((gspo.objective as { ratio?: string }).ratio, "sequence");
  // GSPO's ratio departs from 1 only from the second gradient step of a batch on
  const rl = armStage(gspo) as Extract<StagePlan, { kind: "rl" }>;
  assert.ok(rl.minibatch < rl.prompts * rl.group, "several gradient steps per rollout batch");
});

test("the arms share one budget: seed, warm start, world, evaluation, prompts and responses per iteration, length limit", () => {
  const first = arms[0]!.plan;
  assert.equal(first.task?.kind === "arithmetic" && first.task.preset, "hard");
  assert.deepEqual(first.model, { kind: "load", path: "../checkpoints/arith-hard-sft" });
  for (const { file, plan } of arms) {
    for (const k of ["seed", "model", "task", "steps", "eval"] as const) assert.deepEqual(plan[k], first[k], `${file}: ${k}`);
    assert.equal(plan.train.length, 1, `${file}: one stage, from the shared warm start`);
    assert.equal(plan.sampler?.temperature, 1, file);
    assert.equal(plan.sampler?.maxTokens, 160, file);
    assert.equal(plan.rewards.filter((r) => r.name !== "step_cost").every((r) => r.name === "correct"), true, `${file}: outcome reward only`);
  }
  const rl = arms.filter((a) => armStage(a.plan).kind === "rl");
  const tree = arms.filter((a) => armStage(a.plan).kind === "step_dpo");
  assert.ok(rl.length >= 7 && tree.length >= 4);
  const r0 = armStage(rl[0]!.plan) as Extract<StagePlan, { kind: "rl" }>;
  for (const { file, plan } of rl) assert.deepEqual(armStage(plan), r0, file);
  for (const { file, plan } of tree) {
    const s = armStage(plan) as Extract<StagePlan, { kind: "step_dpo" }>;
    assert.deepEqual({ iterations: s.iterations, prompts: s.prompts, lr: s.lr }, { iterations: r0.iterations, prompts: r0.prompts, lr: r0.lr }, file);
    // the tree samples as many root-to-leaf paths per prompt as the RL arms sample responses
    assert.equal(plan.sampler?.kind === "tree" && plan.sampler.paths, r0.group, file);
  }
});

/** The arm on a tiny world: a 1-layer model warmed up for 4 SFT steps, then one iteration of the arm's stage. */
function tiny(plan: ExperimentPlan): ExperimentPlan {
  const stage = armStage(plan);
  const small = stage.kind === "rl" ? { ...stage, iterations: 1, prompts: 2, group: 4, minibatch: 4, evalEvery: 0 } : { ...stage, iterations: 1, prompts: 2 };
  const sampler = plan.sampler!.kind === "tree" ? { ...plan.sampler!, paths: 4, maxTokens: 16 } : { ...plan.sampler!, maxTokens: 16, ...(plan.sampler!.valueRollouts ? { valueRollouts: 2 } : {}) };
  return {
    ...plan,
    backend: "cpu",
    model: { kind: "gpt", config: { layers: 1, width: 32, heads: 2, contextLength: 48 } },
    tokenizer: { kind: "chars" },
    task: { kind: "arithmetic", preset: "hard", settings: { operandsMin: 3, operandsMax: 3, valueMin: 1, valueMax: 4, operators: "+-*", verbosity: 0.8, slips: 0.15 } },
    sampler,
    train: [{ kind: "sft", steps: 4, lr: 3e-3, batch: 8, warmup: 1, onlyCorrect: false }, small],
    eval: { ...plan.eval, prompts: 2, maxTokens: 16 },
  };
}

test("smoke comparison: every arm runs one iteration on a tiny world, and the comparison tabulates them all", async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "stepwise-arena-"));
  const dirs: string[] = [];
  const names: string[] = [];
  try {
    for (const { file, plan } of arms) {
      const dir = path.join(root, path.basename(file, ".sw"));
      const res = await runPlan(tiny(plan), { dir });
      assert.equal(res.status, "finished", `${file}: ${res.message}`);
      const rows = fs.readFileSync(path.join(dir, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as MetricsRow);
      const it = rows.filter((r) => r.stage === armStage(plan).kind);
      assert.equal(it.length, 1, `${file}: one ${armStage(plan).kind} iteration`);
      const row = it[0]!;
      if (row.stage === "rl") assert.ok(Number.isFinite(row.loss as number) && Number.isFinite(row.grad_norm as number), `${file}: a finite loss (${row.loss})`);
      else {
        // a tree arm: leaves sampled; an update ran wherever sibling steps differed enough in value
        assert.ok((row["tree/leaves"] as number) > 0, `${file}: tree leaves`);
        assert.ok(row.pairs === 0 || Number.isFinite(row.loss as number), `${file}: ${row.pairs} pairs, loss ${row.loss}`);
      }
      dirs.push(dir);
      names.push(path.basename(file, ".sw"));
    }
    const table = await compareRuns(dirs, names);
    for (const n of names) assert.match(table.markdown, new RegExp(`\\| ${n.replace(/[.]/g, "\\.")} \\|`), n);
    // every arm's sampling cost is counted, RL and tree arms alike (the budget the arena equalises)
    for (const r of table.runs) assert.ok(r.tokens_sampled > 0, `${r.method}: tokens sampled ${r.tokens_sampled}`);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
