/**
 * runPlan on a hand-built plan that leaves the sampler and the objective out (and eval's
 * temperature and samples) trains exactly as the same plan carrying the settings `compile` writes
 * for a spec that leaves them out: the same metrics, the same rollouts.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { compile } from "../../dsl/index.js";
import { runPlan } from "../../src/run/runner.js";
import { tinyPlan } from "../helpers/plans.js";

const rows = (dir: string) =>
  fs.readFileSync(path.join(dir, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => {
    const r = JSON.parse(l) as Record<string, unknown>;
    for (const k of Object.keys(r)) if (k === "time" || k.startsWith("time/") || k.startsWith("throughput/")) delete r[k];
    return r;
  });

test("a hand-built plan without sampler and objective runs as the compiled defaults", async () => {
  const compiled = compile("advantage = zscore(reward)\ntrain { rl {} }", { file: "t.sw" }).plan!;
  // context 160: room for more than the default 64 response tokens, so the limit is the sampler's
  const base = tinyPlan({ model: { kind: "gpt", config: { layers: 1, width: 32, heads: 2, contextLength: 160 } }, train: [{ kind: "sft", steps: 2, lr: 3e-3, batch: 4, warmup: 1, onlyCorrect: false }, { kind: "rl", iterations: 2, prompts: 2, group: 2, lr: 1e-3, epochs: 1, minibatch: 0, evalEvery: 0 }], eval: { prompts: 2, maxTokens: 12 } });
  const { sampler: _s, objective: _o, ...hand } = base;
  const withDefaults = { ...base, sampler: compiled.sampler, objective: compiled.objective, eval: { ...base.eval, temperature: compiled.eval.temperature, samples: compiled.eval.samples } };
  const dirs = [0, 1].map((i) => fs.mkdtempSync(path.join(os.tmpdir(), `stepwise-defaults-${i}-`)));
  const a = await runPlan(hand, { dir: dirs[0]! });
  const b = await runPlan(withDefaults, { dir: dirs[1]! });
  assert.equal(a.status, "finished", a.message);
  assert.equal(b.status, "finished", b.message);
  assert.deepEqual(rows(dirs[0]!), rows(dirs[1]!));
  for (const it of [0, 1]) {
    const f = (d: string) => fs.readFileSync(path.join(d, "rollouts", `iter-${it}.json`), "utf8");
    assert.equal(f(dirs[0]!), f(dirs[1]!));
  }
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});
