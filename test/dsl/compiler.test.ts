import { test } from "node:test";
import assert from "node:assert/strict";
import { compile } from "../../dsl/index.js";
import { loadPrelude } from "../../dsl/prelude.js";
import type { Formula } from "../../dsl/plan.js";
import { at, errors, plan } from "./helpers.js";

const builtin = (name: "reward" | "outcome" | "logratio" | "step_reward", level: Formula["level"]): Formula => ({ op: "ref", source: "builtin", name, level });
const ref = (source: "probe" | "reward" | "let", name: string, level: Formula["level"]): Formula => ({ op: "ref", source, name, level });
const num = (value: number): Formula => ({ op: "num", value, level: "group" });
const zscoreReward: Formula = { op: "group", fn: "zscore", arg: builtin("reward", "response"), level: "response" };

test("the prelude parses clean and defines its methods", () => {
  const p = loadPrelude();
  assert.deepEqual(p.diagnostics, []);
  assert.deepEqual(p.methods.map((m) => m.name), ["grpo", "dr_grpo", "gspo", "spro", "sspo", "pure", "step_dpo", "sppd", "vineppo"]);
});

test("use spro(beta = 0.05) with reward correct = outcome", () => {
  const p = plan("reward correct = outcome\nuse spro(beta = 0.05)", "advantage");
  assert.deepEqual(p.rewards, [{ name: "correct", formula: builtin("outcome", "response") }]);
  // SPRO (arXiv 2507.01551) eq. 13: zscore(r_o) + eq. 12 masked step advantage of eq. 11
  assert.deepEqual(p.advantage, {
    op: "binary", fn: "+", level: "token",
    left: zscoreReward,
    right: {
      op: "group", fn: "center", by: "position", level: "token",
      arg: { op: "binary", fn: "*", left: num(0.05), right: { op: "scan", fn: "cumsum", gamma: 1, arg: builtin("logratio", "token"), level: "token" }, level: "token" },
    },
  });
  assert.deepEqual(p.objective, { kind: "clipped", clip: 0.2, clipHigh: 0.2, kl: 0, entropy: 0, norm: "response", maskTruncated: false });
  assert.deepEqual(p.method, { name: "spro", args: { beta: 0.05 } });
});

test("use grpo and use dr_grpo", () => {
  const g = plan("use grpo", "advantage");
  assert.deepEqual(g.advantage, zscoreReward);
  assert.deepEqual(g.method, { name: "grpo", args: {} });
  const d = plan("use dr_grpo()");
  assert.deepEqual(d.advantage, { op: "group", fn: "center", arg: builtin("reward", "response"), level: "response" });
  assert.equal(d.objective?.kind === "clipped" && d.objective.norm, "constant");
});

test("use sspo(probe = belief, gamma = 0.9, lambda = 0.8) with a declared probe", () => {
  const p = plan('probe belief { prompt "{question}\\n{steps}", score yes_no(" Yes", " No") }\nuse sspo(probe = belief, gamma = 0.9, lambda = 0.8)');
  assert.deepEqual(p.advantage, {
    op: "group", fn: "zscore", level: "step",
    arg: { op: "gae", reward: builtin("step_reward", "step"), value: ref("probe", "belief", "step"), gamma: 0.9, lambda: 0.8, level: "step" },
  });
  assert.deepEqual(p.method, { name: "sspo", args: { probe: "belief", gamma: 0.9, lambda: 0.8 } });
  assert.deepEqual(p.probes[0]!.scorer, { kind: "yes_no", yes: " Yes", no: " No" });
  // defaults gamma 1.0, lambda 0.95 (ALGORITHMS.md, SSPO step 3)
  const d = plan('probe v { prompt "{steps}", score confidence }\nuse sspo(probe = v)');
  assert.deepEqual(d.method!.args, { probe: "v", gamma: 1, lambda: 0.95 });
});

test("sspo without a probe, or with something that is not one, says what to do", () => {
  const e = errors("use sspo");
  assert.equal(e[0]!.message, "method `sspo` needs `probe`");
  assert.match(e[0]!.hint!, /use sspo\(probe = …\)/);
  assert.equal(errors("let x = index\nuse sspo(probe = x)")[0]!.message, "`x` is not a probe");
  // an argument is read in the spec's scope, so its error points at the argument itself
  const u = errors('probe belief { prompt "{steps}", score confidence }\nuse sspo(probe = belif)');
  assert.deepEqual(u.map((d) => `${at(d)} ${d.message} ${d.hint}`), ["2:18 unknown name `belif` did you mean `belief`?"]);
});

test("step_dpo and sppd set the step_dpo objective and the tree sampler", () => {
  const s = plan("use step_dpo(beta = 0.3)");
  assert.equal(s.advantage, undefined);
  assert.deepEqual(s.objective, { kind: "step_dpo", beta: 0.3, gamma: 0, marginSign: 1, margin: 0, threshold: 0.5 });
  assert.deepEqual(s.sampler, { kind: "tree", children: 2, paths: 64, temperature: 1, maxTokens: 64, valueRollouts: 0 });
  const p = plan("use sppd(gamma = 2, margin_sign = -1, paths = 8)");
  assert.deepEqual(p.objective, { kind: "step_dpo", beta: 0.1, gamma: 2, marginSign: -1, margin: 0, threshold: 0.5 });
  assert.deepEqual(p.sampler, { kind: "tree", children: 2, paths: 8, temperature: 1, maxTokens: 64, valueRollouts: 0 });
  assert.deepEqual(p.method, { name: "sppd", args: { beta: 0.1, gamma: 2, margin_sign: -1, margin: 0, threshold: 0.5, children: 2, paths: 8, value_rollouts: 0 } });
  // a fixed margin (SPPD's ablation), through the method or the objective block
  assert.equal((plan("use sppd(gamma = 0, margin = 0.5)").objective as { margin: number }).margin, 0.5);
  assert.equal((plan("use sppd\nobjective step_dpo { margin 0.25 }").objective as { margin: number }).margin, 0.25);
});

test("method arguments: unknown, duplicate, out of range (reported at the use line)", () => {
  assert.equal(errors("use spro(beat = 0.1)")[0]!.hint, "did you mean `beta`?");
  assert.equal(errors("use spro(beta = 1, beta = 2)")[0]!.message, "`beta` is given twice");
  const e = errors("seed 1\nuse sppd(margin_sign = 2)");
  assert.equal(at(e[0]), "2:1");
  assert.equal(e[0]!.message, "in method `sppd`: `margin_sign` must be `1` or `-1`");
  assert.equal(errors("use sprO")[0]!.hint, "did you mean `spro`?");
});

test("a method defined in the spec, copied and edited from the prelude", () => {
  const p = plan("method my_spro(beta = 0.05, w = 0.5) {\n  advantage = zscore(reward) + w * center(beta * cumsum(logratio), by position)\n  objective clipped { clip 0.2, kl 0 }\n}\nuse my_spro(w = 2)");
  assert.equal(p.method!.name, "my_spro");
  assert.deepEqual(p.method!.args, { beta: 0.05, w: 2 });
  assert.ok(p.advantage!.op === "binary" && p.advantage!.right.op === "binary" && p.advantage!.right.left.op === "num" && p.advantage!.right.left.value === 2);
  assert.match(errors("method m() {\n  seed 3\n}")[0]!.message, /a method body holds let, advantage, objective and sampler/);
});

test("an explicit objective or sampler wins over the method's; an explicit advantage warns", () => {
  const p = plan("use grpo\nobjective clipped { clip 0.1, kl 0.02 }");
  assert.deepEqual(p.objective, { kind: "clipped", clip: 0.1, clipHigh: 0.1, kl: 0.02, entropy: 0, norm: "response", maskTruncated: false });
  const r = compile("use grpo\nadvantage = center(reward)", { file: "t.sw" });
  assert.equal(r.diagnostics.length, 1);
  assert.equal(r.diagnostics[0]!.severity, "warning");
  assert.equal(r.plan!.advantage!.op === "group" && r.plan!.advantage!.fn, "center");
});

test("defaults: an empty spec is a valid partial plan", () => {
  const p = plan("");
  assert.deepEqual(p.steps, { kind: "split", delimiter: "\n", minTokens: 1, maxSteps: 64 });
  assert.equal(p.seed, 1);
  assert.equal(p.name, "t");
  assert.deepEqual([p.rewards, p.lets, p.probes, p.train, p.track], [[], [], [], [], []]);
  assert.equal(p.advantage, undefined);
  assert.equal(p.model, undefined);
  const m = plan("model gpt {}\ntask arithmetic");
  assert.deepEqual(m.model, { kind: "gpt", config: { family: "gpt2", layers: 4, width: 128, heads: 4, contextLength: 128 } });
  assert.deepEqual(m.tokenizer, { kind: "chars" });
  assert.deepEqual(m.task, { kind: "arithmetic", settings: { operandsMin: 2, operandsMax: 4, valueMin: 1, valueMax: 9, operators: "+-*", verbosity: 0.3, slips: 0.1 } });
});

test("components: load paths, jsonl, regex and token-window steps, stages", () => {
  const p = plan('model load "ckpt"\ntokenizer load "tok.json"\ntask jsonl "gsm.jsonl" { question "q", answer "a", on_error refuse }\nsteps split /Step \\d+:/ { max_steps 8 }\nbackend cpu\nexperiment "x"\nseed 4');
  assert.deepEqual(p.model, { kind: "load", path: "ckpt" });
  assert.deepEqual(p.tokenizer, { kind: "hf", path: "tok.json" });
  assert.deepEqual(p.task, { kind: "jsonl", path: "gsm.jsonl", question: "q", answer: "a", onError: "refuse", heldOut: 100 });
  assert.deepEqual(p.steps, { kind: "regex", pattern: "Step \\d+:", flags: "", minTokens: 1, maxSteps: 8 });
  assert.deepEqual([p.backend, p.name, p.seed], ["cpu", "x", 4]);
  assert.deepEqual(plan("steps every 16 tokens").steps, { kind: "every", tokens: 16, minTokens: 1, maxSteps: 64 });
  assert.match(errors("steps split /(/")[0]!.message, /invalid regex/);
  const t = plan("use grpo\ntrain { sft { steps 10 } rl { iterations 2, eval_every 1 } dpo { beta 0.2 } }");
  assert.deepEqual(t.train, [
    { kind: "sft", steps: 10, lr: 3e-3, batch: 32, warmup: 20, onlyCorrect: false },
    { kind: "rl", iterations: 2, prompts: 8, group: 8, lr: 5e-4, epochs: 1, minibatch: 64, evalEvery: 1 },
    { kind: "dpo", steps: 100, lr: 1e-4, beta: 0.2, pairs: 16 },
  ]);
  assert.match(errors("use grpo\ntrain { step_dpo {} }")[0]!.message, /step_dpo stage needs the step_dpo objective/);
  assert.match(errors("use sppd\ntrain { rl {} }")[0]!.message, /the objective is step_dpo/);
});

test("purpose: advantage and run say what is missing", () => {
  assert.deepEqual(errors("reward c = outcome", "advantage").map((d) => d.message), ["`stepwise advantage` needs an advantage"]);
  assert.deepEqual(errors("reward c = outcome", "run").map((d) => d.message), [
    "`stepwise run` needs a model", "`stepwise run` needs a task", "`stepwise run` needs a `train { … }` block", "`stepwise run` needs an advantage or a method",
  ]);
  assert.deepEqual(errors("model gpt {}\ntask arithmetic\nuse grpo\ntrain { rl {} }", "run"), []);
  // an SFT-only warm start reads no advantage
  assert.deepEqual(errors("model gpt {}\ntask arithmetic\ntrain { sft {} }", "run"), []);
  assert.deepEqual(errors("model gpt {}\ntask arithmetic\ntrain { sft {} rl {} }", "run").map((d) => d.message), ["the rl stage needs an advantage"]);
  // a file with just rewards and an advantage is a valid spec for `stepwise advantage`
  assert.equal(plan("reward c = outcome\nreward s = -0.01 * tokens\nadvantage = zscore(reward)", "advantage").rewards.length, 2);
});

test("plans are plain JSON", () => {
  const p = plan('probe b { prompt "{steps}", score likelihood(reference) }\nreward c = outcome\nuse sspo(probe = b)\nmodel gpt {}\ntask arithmetic\ntrain { sft {} rl {} }', "run");
  assert.deepEqual(JSON.parse(JSON.stringify(p)), p);
});
