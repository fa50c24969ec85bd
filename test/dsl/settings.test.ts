/**
 * The one settings schema (dsl/settings.ts): a plan built by hand, with a component left out or
 * with its optional settings absent, gets from the engine's readers (effective…, the compile
 * targets) exactly the settings `compile` writes into the plan of the same spec; the compiler's
 * plan fields are the schema's; the grammar reference's tables are the schema's.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { compile } from "../../dsl/index.js";
import type { ExperimentPlan } from "../../dsl/plan.js";
import {
  DEFAULTS, effectiveClipped, effectiveEval, effectiveStandard, effectiveStepDpo, effectiveTree, fieldOf, renderSettingsTables, SCHEMAS,
  stageOrDefaults, STAGES,
} from "../../dsl/settings.js";
import { clippedObjective, grpoConfig, rlStage } from "../../src/compile/targets.js";
import { verlConfig } from "../../src/compile/verl-files.js";
import { GRPO_ADVANTAGE } from "../helpers/plans.js";

function plan(src: string): ExperimentPlan {
  const r = compile(src, { file: "t.sw" });
  assert.deepEqual(r.diagnostics.filter((d) => d.severity === "error").map((d) => d.message), [], src);
  return r.plan!;
}

/** The smallest plan a test writes by hand: no objective, no sampler, eval without temperature or samples. */
function handPlan(overrides: Partial<ExperimentPlan> = {}): ExperimentPlan {
  return {
    name: "t",
    seed: 1,
    steps: { kind: "split", delimiter: "\n", minTokens: 1, maxSteps: 64 },
    probes: [],
    rewards: [],
    lets: [],
    advantage: GRPO_ADVANTAGE,
    train: [],
    eval: { prompts: 64, maxTokens: 64 },
    track: [],
    ...overrides,
  };
}

test("clipped objective: left out of a hand-built plan, the engine and the compile targets train what compile writes", () => {
  const compiled = plan("advantage = zscore(reward)\ntrain { rl {} }");
  const hand = handPlan();
  assert.deepEqual(compiled.objective, { kind: "clipped", clip: 0.2, clipHigh: 0.2, kl: 0, entropy: 0, norm: "response", maskTruncated: false });
  assert.deepEqual(effectiveClipped(hand), compiled.objective);
  assert.deepEqual(effectiveClipped(compiled), compiled.objective);
  assert.deepEqual(clippedObjective(hand), clippedObjective(compiled));
});

test("standard sampler: left out of a hand-built plan (or only valueRollouts absent), the same settings as compile's", () => {
  const compiled = plan("advantage = zscore(reward)\ntrain { rl {} }");
  assert.deepEqual(compiled.sampler, { kind: "standard", temperature: 1, topP: 1, topK: 0, maxTokens: 64, valueRollouts: 0 });
  assert.deepEqual(effectiveStandard(handPlan()), compiled.sampler);
  assert.deepEqual(effectiveStandard(compiled), compiled.sampler);
  const partial = handPlan({ sampler: { kind: "standard", temperature: 1, topP: 1, topK: 0, maxTokens: 64 } });
  assert.deepEqual(effectiveStandard(partial), compiled.sampler);
  // a tree sampler's plan: its dpo and rejection-sampling stages sample with the standard defaults
  const tree = plan("objective step_dpo {}\nsampler tree {}\ntrain { dpo {} step_dpo {} }");
  assert.deepEqual(effectiveStandard(tree), compiled.sampler);
});

test("tree sampler and step_dpo objective: left out of a hand-built plan, the same settings as compile's", () => {
  const compiled = plan("objective step_dpo {}\nsampler tree {}\ntrain { step_dpo {} }");
  assert.deepEqual(compiled.sampler, { kind: "tree", children: 2, paths: 16, temperature: 1, maxTokens: 64, valueRollouts: 0 });
  assert.deepEqual(compiled.objective, { kind: "step_dpo", beta: 0.1, gamma: 0, marginSign: 1, margin: 0, threshold: 0.5 });
  const hand = handPlan({ advantage: undefined });
  assert.deepEqual(effectiveTree(hand), compiled.sampler);
  assert.deepEqual(effectiveStepDpo(hand), compiled.objective);
  assert.deepEqual(effectiveTree(compiled), compiled.sampler);
  // without a tree sampler in the spec, a step_dpo stage samples the tree defaults too
  assert.deepEqual(effectiveTree(plan("objective step_dpo {}\ntrain { step_dpo {} }")), compiled.sampler);
});

test("eval: temperature and samples left out of a hand-built plan are compile's defaults", () => {
  const compiled = plan("advantage = zscore(reward)");
  assert.deepEqual(compiled.eval, { prompts: 64, maxTokens: 64, temperature: 0, samples: 1 });
  assert.deepEqual(effectiveEval(handPlan()), compiled.eval);
  assert.deepEqual(effectiveEval(compiled), compiled.eval);
});

test("stages: an empty block compiles to the schema's defaults; a plan without an rl stage compiles to the targets with them", () => {
  for (const kind of ["sft", "rl", "dpo", "step_dpo"] as const) {
    const method = kind === "step_dpo" || kind === "dpo" ? "use sppd" : "use grpo";
    const compiled = plan(`${method}\ntrain { ${kind} {} }`);
    assert.deepEqual(compiled.train[0], DEFAULTS.stages[kind], kind);
    assert.deepEqual(stageOrDefaults(handPlan(), kind), compiled.train[0], kind);
  }
  const compiled = plan("advantage = zscore(reward)\ntrain { rl {} }");
  assert.deepEqual(rlStage(handPlan()), compiled.train[0]);
  assert.deepEqual(grpoConfig(handPlan()), grpoConfig(compiled));
  assert.equal(verlConfig(handPlan(), null), verlConfig({ ...compiled, name: "t" }, null));
});

test("components with every setting left out: model, tasks, steps compile to the schema's defaults", () => {
  const p = plan('model gpt {}\ntask arithmetic {}\nadvantage = zscore(reward)');
  assert.deepEqual(p.model, { kind: "gpt", config: { family: "gpt2", ...DEFAULTS.gpt } });
  assert.deepEqual(p.task, { kind: "arithmetic", settings: DEFAULTS.arithmetic });
  assert.deepEqual(p.steps, DEFAULTS.steps);
  assert.deepEqual(plan('task jsonl "d.jsonl"\nadvantage = zscore(reward)').task, { kind: "jsonl", path: "d.jsonl", ...DEFAULTS.jsonl });
  // `thinking off` is stored as the boolean the chat template takes
  assert.deepEqual(plan('task jsonl "d.jsonl" { thinking off }\nadvantage = zscore(reward)').task, { kind: "jsonl", path: "d.jsonl", ...DEFAULTS.jsonl, thinking: false });
});

test("every setting of a block lands in the plan field the schema names", () => {
  // each setting set to a value that differs from its default, then read back from the plan's field
  const cases: [string, string, Record<string, unknown>, (p: ExperimentPlan) => Record<string, unknown>][] = [
    ["sampler standard", "sampler standard { temperature 0.5, top_p 0.5, top_k 3, max_tokens 7, value_rollouts 2 }\nadvantage = gae(step_reward, mc_value, 1, 0)", { temperature: 0.5, top_p: 0.5, top_k: 3, max_tokens: 7, value_rollouts: 2 }, (p) => p.sampler!],
    ["sampler tree", "objective step_dpo {}\nsampler tree { children 3, paths 5, temperature 0.5, max_tokens 7, value_rollouts 2 }", { children: 3, paths: 5, temperature: 0.5, max_tokens: 7, value_rollouts: 2 }, (p) => p.sampler!],
    ["objective clipped", "advantage = zscore(reward)\nobjective clipped { clip 0.1, clip_high 0.3, kl 0.01, entropy 0.02, norm token, mask_truncated true, ratio sequence }", { clip: 0.1, clip_high: 0.3, kl: 0.01, entropy: 0.02, norm: "token", mask_truncated: true, ratio: "sequence" }, (p) => p.objective!],
    ["objective step_dpo", "objective step_dpo { beta 0.3, gamma 2, margin_sign -1, margin 0.5, threshold 0.2 }", { beta: 0.3, gamma: 2, margin_sign: -1, margin: 0.5, threshold: 0.2 }, (p) => p.objective!],
    ["eval", "advantage = zscore(reward)\neval { prompts 3, max_tokens 9, temperature 0.7, samples 2 }", { prompts: 3, max_tokens: 9, temperature: 0.7, samples: 2 }, (p) => p.eval],
    ["stage rl", "use grpo\ntrain { rl { iterations 2, prompts 3, group 4, lr 0.1, epochs 2, minibatch 5, eval_every 1 } }", { iterations: 2, prompts: 3, group: 4, lr: 0.1, epochs: 2, minibatch: 5, eval_every: 1 }, (p) => p.train[0]!],
    ["stage sft", "use grpo\ntrain { sft { steps 2, lr 0.1, batch 3, warmup 1, only_correct true } }", { steps: 2, lr: 0.1, batch: 3, warmup: 1, only_correct: true }, (p) => p.train[0]!],
  ];
  for (const [name, src, values, part] of cases) {
    const schema = SCHEMAS[name]!;
    assert.deepEqual(Object.keys(values).sort(), Object.keys(schema).sort(), `${name}: the case sets every setting`);
    const got = part(plan(src));
    for (const [k, v] of Object.entries(values)) assert.deepEqual(got[fieldOf(k, schema[k]!)], v, `${name} ${k}`);
  }
});

test("every default of the schema is a plan field of its component's defaults", () => {
  const parts: [string, Record<string, unknown>][] = [
    ["sampler standard", DEFAULTS.standard], ["sampler tree", DEFAULTS.tree], ["objective step_dpo", DEFAULTS.stepDpo],
    ["eval", DEFAULTS.eval], ["steps", DEFAULTS.steps], ["task jsonl", DEFAULTS.jsonl],
    ...Object.keys(STAGES).map((k) => [`stage ${k}`, DEFAULTS.stages[k as keyof typeof DEFAULTS.stages]] as [string, Record<string, unknown>]),
  ];
  for (const [name, defaults] of parts) {
    for (const [k, spec] of Object.entries(SCHEMAS[name]!)) if (spec.default !== undefined) assert.deepEqual(defaults[fieldOf(k, spec)], spec.default, `${name} ${k}`);
  }
});

test("dsl/README.md's settings tables are the schema's (node --import tsx scripts/settings-tables.ts rewrites them)", () => {
  const readme = readFileSync(new URL("../../dsl/README.md", import.meta.url), "utf8");
  const marked = [...readme.matchAll(/<!-- settings: ([^>]+?) -->/g)].map((m) => m[1]);
  assert.deepEqual(marked.sort(), Object.keys(SCHEMAS).filter((k) => k !== "probe").sort(), "every schema but probe's has a table");
  assert.equal(renderSettingsTables(readme), readme);
});
