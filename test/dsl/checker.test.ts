import { test } from "node:test";
import assert from "node:assert/strict";
import { at, errors, plan } from "./helpers.js";

const adv = (src: string, pre = "") => plan(`${pre}\nadvantage = ${src}`).advantage!;

test("levels: built-ins, broadcasting down to the finer operand", () => {
  assert.equal(adv("outcome").level, "response");
  assert.equal(adv("index").level, "step");
  assert.equal(adv("logp").level, "token");
  assert.equal(adv("1").level, "group");
  assert.equal(adv("outcome * logratio").level, "token");
  assert.equal(adv("outcome + index").level, "step");
  assert.equal(adv("if truncated then 0 else entropy").level, "token");
});

test("reductions go up one or two levels", () => {
  assert.deepEqual(adv("sum(logp over step)"), {
    op: "reduce", fn: "sum", arg: { op: "ref", source: "builtin", name: "logp", level: "token" }, over: "step", level: "step",
  });
  assert.equal(adv("mean(entropy over response)").level, "response");
  assert.equal(adv("max(index over response)").level, "response");
  assert.equal(adv("last(logp over step)").level, "step");
});

test("group operators keep the level; by position needs tokens, by step index needs steps", () => {
  assert.deepEqual((adv("center(logratio, by position)") as { by?: string }).by, "position");
  assert.deepEqual((adv("rank(index by step index)") as { by?: string }).by, "step_index");
  assert.equal(adv("zscore(outcome)").level, "response");
  let e = errors("advantage = center(outcome, by position)");
  assert.equal(e.length, 1);
  assert.equal(at(e[0]), "1:29");
  assert.equal(e[0]!.message, "`by position` groups tokens, but the argument is response-level");
  e = errors("advantage = zscore(logp, by step index)");
  assert.equal(e[0]!.message, "`by step index` groups steps, but the argument is token-level");
  assert.match(e[0]!.hint!, /sum\(… over step\)/);
  e = errors("advantage = zscore(3)");
  assert.match(e[0]!.message, /group-level value is constant/);
});

test("a token-level reward is rejected with the reduction that fixes it", () => {
  const e = errors("reward r = logp");
  assert.equal(e.length, 1);
  assert.equal(at(e[0]), "1:12");
  assert.equal(e[0]!.message, "reward `r` is token-level, but a response-level value is needed here");
  assert.match(e[0]!.hint!, /`sum\(… over response\)`/);
  assert.equal(plan("reward r = sum(logp over response)").rewards[0]!.formula.level, "response");
});

test("a step reward takes step values; `tokens` there is the step's count", () => {
  const p = plan("reward c: step = -0.1 * tokens");
  assert.deepEqual(p.rewards[0]!.formula, { op: "binary", fn: "*", left: { op: "num", value: -0.1, level: "group" }, right: { op: "ref", source: "builtin", name: "tokens", level: "step" }, level: "step" });
  assert.equal(plan("reward c = -0.1 * tokens").rewards[0]!.formula.level, "response");
  assert.match(errors("reward c: step = logp")[0]!.hint!, /over step/);
  assert.match(errors("reward c: token = logp")[0]!.message, /`token` is not a level for a reward/);
});

test("reductions need a finer argument and an `over`", () => {
  let e = errors("advantage = sum(outcome over step)");
  assert.equal(e[0]!.message, "`sum(… over step)` needs a finer argument, but this is response-level");
  e = errors("advantage = sum(logp)");
  assert.equal(e[0]!.message, "`sum` needs `over step` or `over response`");
  e = errors("advantage = sum(logp over stp)");
  assert.equal(e[0]!.hint, "did you mean `step`?");
  assert.equal(at(e[0]), "1:22");
});

test("gae is step-level; a token-level argument names the fix", () => {
  assert.equal(adv("gae(step_reward, index, 0.9, 0.95)").level, "step");
  const e = errors("advantage = gae(logp, index, 0.9, 0.95)");
  assert.equal(e[0]!.message, "the reward of `gae` is step-level, but this is token-level");
  assert.match(e[0]!.hint!, /sum\(… over step\)/);
  assert.match(errors("advantage = gae(step_reward, index, 1.5, 0.95)")[0]!.message, /gamma \(the discount\) must be between 0 and 1/);
  assert.match(errors("advantage = discount(outcome, 0.9)")[0]!.message, /runs along a response's steps or tokens/);
});

test("unknown names and functions get suggestions; all errors are reported", () => {
  const e = errors("reward a = outcom\nlet b = logratoi + entopy\nadvantage = zscor(a)");
  assert.deepEqual(e.map((d) => `${at(d)} ${d.hint}`), [
    "1:12 did you mean `outcome`?",
    "2:9 did you mean `logratio`?",
    "2:20 did you mean `entropy`?",
    "3:13 did you mean `zscore`?",
  ]);
});

test("use before declaration, duplicates, built-in names", () => {
  assert.equal(errors("let a = b\nlet b = 1")[0]!.message, "`b` is used before its declaration on line 2");
  assert.equal(errors("let a = 1\nlet a = 2")[0]!.message, "`a` is declared twice");
  assert.equal(errors("reward outcome = 1")[0]!.message, "`outcome` is a built-in name");
  assert.equal(at(errors("seed 1\nseed 2")[0]), "2:1");
});

test("a broken declaration does not cascade into unknown-name errors", () => {
  const e = errors("reward a = 1 +\nadvantage = zscore(a)");
  assert.equal(e.length, 1);
  assert.equal(e[0]!.line, 1);
});

test("label comparisons lower to the numeric code; unknown labels are caught", () => {
  assert.deepEqual(adv('label == "redundant"'), { op: "binary", fn: "==", left: { op: "ref", source: "builtin", name: "label", level: "step" }, right: { op: "num", value: 1, level: "group" }, level: "step" });
  assert.equal(errors('advantage = label == "redundnt"')[0]!.hint, "did you mean `redundant`?");
  assert.match(errors('advantage = outcome == "x"')[0]!.message, /only be compared with `label`/);
  assert.match(errors('task jsonl "d.jsonl"\nadvantage = label')[0]!.message, /needs a task with ground-truth step labels/);
});

test("refs name their source: built-in, probe, reward or let", () => {
  const pre = 'probe belief { prompt "{steps}", score confidence }\nreward r = outcome\nlet l = 2 * r';
  const p = plan(`${pre}\nadvantage = l + r + belief + outcome`);
  const sources: string[] = [];
  const walk = (f: { op: string; source?: string; name?: string; left?: unknown; right?: unknown }): void => {
    if (f.op === "ref") sources.push(`${f.name}:${f.source}`);
    if (f.op === "binary") (walk(f.left as typeof f), walk(f.right as typeof f));
  };
  walk(p.advantage!);
  assert.deepEqual(sources, ["l:let", "r:reward", "belief:probe", "outcome:builtin"]);
});

test("the registry's sign, square and tanh are reachable from the DSL", () => {
  assert.deepEqual(adv("square(logratio)"), { op: "unary", fn: "square", arg: { op: "ref", source: "builtin", name: "logratio", level: "token" }, level: "token" });
  assert.deepEqual(adv("sign(-3) + tanh(0)"), { op: "num", value: -1, level: "group" });
  assert.deepEqual(adv("clip(5, 0, 1)"), { op: "num", value: 1, level: "group" });
});

test("constants fold; `-0.5` is one number", () => {
  assert.deepEqual(adv("-0.5 * 2"), { op: "num", value: -1, level: "group" });
  assert.deepEqual(adv("min(1, 2) + exp(0)"), { op: "num", value: 2, level: "group" });
});

test("settings: unknown names, types, ranges and duplicates, all at once", () => {
  const e = errors("model gpt { layrs 4, width 130, heads 4 }\nsampler standard { temperature 0, top_p 2 }\nobjective clipped { norm respons, clip 0.2, clip 0.3 }\ntask arithmetic { operands 5..3 }\ntrain { rl { group 1 } }");
  assert.deepEqual(e.map((d) => `${at(d)} ${d.message}`), [
    "1:13 unknown setting `layrs` in model gpt",
    "1:39 width 130 does not divide into 4 heads",
    "2:32 `temperature` must be a number > 0",
    "2:41 `top_p` must be a number > 0 and ≤ 1",
    "3:26 `norm` must be `response` or `token` or `constant`",
    "3:45 `clip` is set twice in objective clipped",
    "4:19 the range of `operands` is empty: 5 > 3",
    "5:9 the rl stage needs an advantage",
    "5:20 `group` must be an integer ≥ 2",
  ]);
  assert.equal(e[0]!.hint, "did you mean `layers`?");
  assert.equal(e.find((d) => d.message.startsWith("`norm`"))!.hint, "did you mean `response`?");
});

test("probes: templates and scorers are checked", () => {
  const p = plan('probe b { prompt "{question}{steps}", score confidence }\nadvantage = b');
  assert.deepEqual(p.probes, [{ name: "b", prompt: "{question}{steps}", scorer: { kind: "confidence", tokens: 8 } }]);
  assert.equal(p.advantage!.level, "step");
  const e = errors('probe b { prompt "{questoin}", score yes_no("Y") }');
  assert.equal(e[0]!.message, "unknown template field `{questoin}` in probe `b`");
  assert.equal(e[0]!.hint, "did you mean `question`?");
  assert.equal(e[1]!.message, "unknown scorer");
});
