/**
 * An advantage as a sum of terms (dsl/terms.ts): the plan records each term's source text, and
 * each term's rms over the batch's tokens is what `adv/terms/<i>_rms` reports (src/rl/iteration.ts).
 */
import assert from "node:assert/strict";
import { before, test } from "node:test";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../../src/backend/index.js";
import { toBatchTensors } from "../../src/rl/batch-tensors.js";
import { termRms } from "../../src/rl/formula/index.js";
import { formulaTerms } from "../../dsl/terms.js";
import { plan as compilePlan } from "../dsl/helpers.js";
import { bin, call, GRPO, loadFixture, num, plan, ref } from "./formula-helpers.js";

before(async () => {
  await initBackend({ backend: "cpu" });
});

test("the plan names the terms of a sum, as written (a method's too); a single term or a folded constant gives none", () => {
  assert.deepEqual(compilePlan("use spro(beta = 0.05)").advantageTerms, ["zscore(reward)", "center(beta * cumsum(logratio), by position)"]);
  assert.deepEqual(compilePlan("advantage = zscore(reward) - 0.1 * tokens + 0.5").advantageTerms, ["zscore(reward)", "-(0.1 * tokens)", "0.5"]);
  assert.equal(compilePlan("use grpo").advantageTerms, undefined);
  assert.equal(compilePlan("advantage = zscore(reward) * 2").advantageTerms, undefined);
  // 1 + 2 folds to one constant: the typed formula has fewer terms than the text, so none are named
  assert.equal(compilePlan("advantage = 1 + 2").advantageTerms, undefined);
  const p = compilePlan("advantage = zscore(reward) - 0.1 * tokens");
  const terms = formulaTerms(p.advantage!);
  assert.equal(terms.length, 2);
  assert.equal(terms[1]!.op, "unary"); // -b is the term of `a - b`
});

test("term rms against numbers worked by hand on the ragged fixture", () => {
  // ragged.json: group 0 outcomes [1, 0, 0] with 2, 3, 1 tokens; group 1 outcomes [1, 1] with 2, 1 tokens.
  // zscore: group 0 mean 1/3, sample std sqrt(1/3) -> z = [1.1547, -0.57735, -0.57735]; group 1 std 0 -> z = 0.
  // rms of term 0 over the 9 tokens: sqrt((2 * 4/3 + 3 * 1/3 + 1 * 1/3) / 9) = sqrt(4/9) = 0.666667
  // term 1 = 0.5 everywhere -> 0.5; term 2 = -0.25 * outcome on 5 tokens -> sqrt(5 * 0.0625 / 9) = 0.186339
  const adv = bin("-", bin("+", GRPO, num(0.5)), bin("*", num(0.25), ref("outcome", "response")));
  const terms = formulaTerms(adv);
  assert.deepEqual(terms.map((t) => t.op), ["group", "num", "unary"]);
  const bt = toBatchTensors(loadFixture("ragged.json"));
  const before = tf.memory().numTensors;
  const rms = termRms(plan(adv), terms, bt);
  assert.equal(tf.memory().numTensors, before, "no tensor left behind");
  [0.666667, 0.5, 0.186339].forEach((v, i) => assert.ok(Math.abs(rms[i]! - v) < 1e-5, `term ${i}: ${rms[i]} vs ${v}`));
  // SPRO's process term is exactly 0 where logratio is 0 (lp_ref = lp_old, as at the first iteration)
  const zero = loadFixture("ragged.json");
  for (const g of zero.groups) for (const r of g.responses) r.token_logp_ref = [...r.token_logp];
  const bz = toBatchTensors(zero);
  const spro = bin("+", GRPO, call("center", [bin("*", num(0.05), call("cumsum", [ref("logratio", "token")], "token"))], "token", { by: "position" }));
  const [outcome, process] = termRms(plan(spro), formulaTerms(spro), bz);
  assert.ok(Math.abs(outcome! - 0.666667) < 1e-5);
  assert.equal(process, 0);
  bt.dispose();
  bz.dispose();
});
