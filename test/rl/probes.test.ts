import { test, before } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../../src/backend/index.js";
import { CharTokenizer } from "../../src/tokenizer/chars.js";
import { continuationLogprobs, fillTemplate, runProbes, runProbesOneByOne, type ScoringModel } from "../../src/rl/probes.js";
import type { ProbePlan } from "../../dsl/plan.js";
import { StandInModel, standInSample } from "./standin-model.js";

before(async () => {
  await initBackend({ backend: "cpu" }); // exact numbers; gradients registered by the backend module
});

const tok = new CharTokenizer();
const near = (a: number, b: number, tol = 1e-5) => assert.ok(Math.abs(a - b) < tol, `${a} != ${b}`);

const probes: ProbePlan[] = [
  { name: "ok", prompt: "{question}\n{steps}ok? ", scorer: { kind: "yes_no", yes: " yes", no: " no" } },
  { name: "belief", prompt: "{question}\n{steps}answer ", scorer: { kind: "likelihood", target: "reference" } },
  { name: "conf", prompt: "{question}\n{step}", scorer: { kind: "confidence", tokens: 3 } },
];
const items = [
  { question: "Q: 3+4*2", reference: "11", stepTexts: ["4*2=8\n", "3+8=11\n", "answer 11"] },
  { question: "Q: 5-1", reference: "4", stepTexts: ["answer 4"] },
  { question: "Q: 9*9-1", reference: "80", stepTexts: [] },
  { question: "Q: a long question that will not fit in the context at all", reference: "2", stepTexts: ["1+1=2\n", "answer 2"] },
];

test("fillTemplate substitutes once and leaves inserted braces alone", () => {
  assert.equal(fillTemplate("{question}|{steps}|{step}|{reference}", { question: "q{step}", steps: "a\nb\n", step: "b\n", reference: "7" }), "q{step}|a\nb\n|b\n|7");
});

test("batched probes equal probes computed one sequence at a time", async () => {
  const model = new StandInModel(tok.vocabSize, 24, 3);
  const before = tf.memory().numTensors;
  const opts = { sample: standInSample };
  const slow = await runProbesOneByOne(model, tok, probes, items, opts);
  for (const chunk of [3, 64]) {
    const fast = await runProbes(model, tok, probes, items, { ...opts, chunk });
    for (const p of probes) {
      assert.equal(fast[p.name].length, items.length);
      fast[p.name].forEach((vals, i) => {
        // K+1 values; an empty response has one empty step, so 2
        assert.equal(vals.length, Math.max(1, items[i].stepTexts.length) + 1);
        vals.forEach((v, k) => {
          assert.ok(v > 0 && v <= 1, `${p.name}[${i}][${k}] = ${v} in (0, 1]`);
          near(v, slow[p.name][i][k]);
        });
      });
    }
  }
  assert.equal(tf.memory().numTensors, before, "probes leave no tensors behind");
  model.dispose();
});

test("probes run as a few fixed-size batched forward passes", async () => {
  const model = new StandInModel(tok.vocabSize, 24, 3);
  let calls = 0;
  let maxRows = 0;
  const counting: ScoringModel = {
    config: model.config,
    logits: (x) => {
      calls++;
      maxRows = Math.max(maxRows, x.shape[0]);
      return model.logits(x);
    },
    score: (x, o) => model.score(x, o),
  };
  const scoredProbes = probes.filter((p) => p.scorer.kind !== "confidence");
  // rows: per probe, K+1 per item = 4 + 2 + 2 + 3 = 11 ; 2 probes -> 22 rows
  await runProbes(counting, tok, scoredProbes, items, { chunk: 8 });
  assert.equal(calls, 3); // ceil(22 / 8)
  assert.equal(maxRows, 8);
  calls = 0;
  await runProbes(counting, tok, scoredProbes, items, { chunk: 64 });
  assert.equal(calls, 1);
  model.dispose();
});

test("yes_no and likelihood values worked by hand on a constant-logits model", async () => {
  // every position predicts the same distribution: logit ln 3 for "y", 0 for all others
  //   P(y) = 3 / (V + 2), P(n) = 1 / (V + 2), P(any other) = 1 / (V + 2)
  const V = tok.vocabSize;
  const row = new Array(V).fill(0);
  row[tok.encode("y")[0]] = Math.log(3);
  const constant: ScoringModel = {
    config: { contextLength: 64 },
    logits: (x) => tf.tidy(() => tf.tile(tf.reshape(tf.tensor1d(row), [1, 1, V]), [x.shape[0], x.shape[1], 1]) as tf.Tensor3D),
    score: () => {
      throw new Error("not used");
    },
  };
  const plans: ProbePlan[] = [
    // " yes" / " no": the shared " " moves into the prompt, then y vs n: 3 / (3 + 1) = 0.75
    { name: "yn", prompt: "{question}", scorer: { kind: "yes_no", yes: " yes", no: " no" } },
    // reference "y7": mean(3/(V+2), 1/(V+2)) = 2/(V+2)
    { name: "lik", prompt: "{question}{steps}=", scorer: { kind: "likelihood", target: "reference" } },
  ];
  const out = await runProbes(constant, tok, plans, [{ question: "q", reference: "y7", stepTexts: ["a\n", "b"] }]);
  assert.deepEqual(out.yn[0].map((v) => Math.round(v * 1e6) / 1e6), [0.75, 0.75, 0.75]);
  out.lik[0].forEach((v) => near(v, 2 / (V + 2)));
  // a continuation template: "y{reference}\n" -> tokens y, y, 7, \n: (3 + 3 + 1 + 1) / 4 / (V + 2)
  const cont = await runProbes(constant, tok, plans.slice(1), [{ question: "q", reference: "y7", stepTexts: ["a\n"] }], { continuation: "y{reference}\n" });
  cont.lik[0].forEach((v) => near(v, 2 / (V + 2)));
  const cont2 = await runProbes(constant, tok, plans.slice(1), [{ question: "q", reference: "77", stepTexts: ["a\n"] }], { continuation: "y{reference}" });
  cont2.lik[0].forEach((v) => near(v, (3 + 1 + 1) / 3 / (V + 2)));
});

test("a prompt longer than the context is cut from the left (its end is kept)", async () => {
  const model = new StandInModel(tok.vocabSize, 16, 5);
  const plan: ProbePlan[] = [{ name: "ok", prompt: "{question}{steps} ok? ", scorer: { kind: "yes_no", yes: " yes", no: " no" } }];
  // context 16 = bos + 15 tokens; the row is (prompt + " "), whose last 15 characters decide
  const tail = "what is 2+2?";
  const long = await runProbes(model, tok, plan, [{ question: "zzzzzzzzzzzzzzzzzzzzzzzz " + tail, reference: "4", stepTexts: ["ab\n"] }]);
  const short = await runProbes(model, tok, plan, [{ question: "q " + tail, reference: "4", stepTexts: ["ab\n"] }]);
  // k = 1: "...what is 2+2?ab\n ok? " + " " -> both rows keep the same last 15 characters
  near(long.ok[0][1], short.ok[0][1]);
  // k = 0 keeps "2+2? ok? " plus 6 chars of the question: also equal ("what i" lies inside the tail)
  near(long.ok[0][0], short.ok[0][0]);
  // a question that differs inside the kept window changes the value
  const other = await runProbes(model, tok, plan, [{ question: "q what is 3+3?", reference: "4", stepTexts: ["ab\n"] }]);
  assert.notEqual(Math.round(other.ok[0][1] * 1e6), Math.round(short.ok[0][1] * 1e6));
  model.dispose();
});

test("continuationLogprobs equals the per-token log-probs of a single forward pass", () => {
  const model = new StandInModel(tok.vocabSize, 32, 9);
  const rows = [
    { context: [1, 5, 6, 7], cont: [8, 9] },
    { context: [1, 10], cont: [11, 12, 13, 14] },
  ];
  const got = continuationLogprobs(model, rows, { chunk: 2 });
  rows.forEach((r, i) => {
    const seq = [...r.context, ...r.cont];
    const lp = tf.tidy(() => model.score(tf.tensor2d([seq], [1, seq.length], "int32")).logp);
    const all = Array.from(lp.dataSync());
    lp.dispose();
    assert.equal(got[i].length, r.cont.length);
    got[i].forEach((v, j) => near(v, all[r.context.length - 1 + j]));
  });
  model.dispose();
});

test("with the real Transformer and sampler: batched probes equal one-by-one", async () => {
  const { Transformer } = await import("../../src/model/transformer.js");
  const { gptConfig } = await import("../../src/model/config.js");
  const model = Transformer.create(gptConfig({ vocabSize: tok.vocabSize, contextLength: 32, layers: 1, width: 16, heads: 2, seed: 4 }));
  const before = tf.memory().numTensors;
  const slow = await runProbesOneByOne(model, tok, probes, items);
  const fast = await runProbes(model, tok, probes, items, { chunk: 5 });
  for (const p of probes) fast[p.name].forEach((vals, i) => vals.forEach((v, k) => near(v, slow[p.name][i][k], 1e-4)));
  assert.equal(tf.memory().numTensors, before);
  model.dispose();
});
