/**
 * RL rollouts train what they sample: a stopped response carries its stop token (id, lp_old,
 * lp_ref, entropy, advantage) into the batch and the loss, a truncated one does not; log-probs are
 * taken at the sampling temperature, log_softmax(logits / T), as TRL and verl take them.
 */
import assert from "node:assert/strict";
import { before, test } from "node:test";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../../src/backend/index.js";
import { buildFromPlan } from "../../src/run/build.js";
import { collectRollouts } from "../../src/rl/rollout.js";
import { validateBatch } from "../../src/rl/batch-validate.js";
import { clippedPolicyLoss } from "../../src/rl/objectives.js";
import { updatePolicy } from "../../src/rl/policy-update.js";
import { DEFAULTS } from "../../dsl/settings.js";

const DEFAULT_CLIPPED = DEFAULTS.clipped;
import { AdamW } from "../../src/train/optimizer.js";
import { responseGrid, tokensTensor } from "../../src/train/sequences.js";
import type { TrainContext } from "../../src/train/context.js";
import type { Transformer } from "../../src/model/transformer.js";
import { tinyPlan } from "../helpers/plans.js";

before(async () => {
  await initBackend({ backend: "cpu" });
});

const T = 0.7;
const plan = tinyPlan({ sampler: { kind: "standard", temperature: T, topP: 1, topK: 0, maxTokens: 10 } });

async function context(): Promise<{ ctx: TrainContext; reference: Transformer }> {
  const built = await buildFromPlan(plan);
  const ctx: TrainContext = { model: built.model, tokenizer: built.tokenizer, task: built.task, segmentation: plan.steps };
  // make stopping likely (about 1 in 8 tokens) in an untrained model: the final norm's bias along
  // eos's row of the tied head raises the eos logit by 1.5 at every position
  tf.tidy(() => {
    const e = ctx.model.params.get("wte.weight")!;
    const row = tf.reshape(tf.slice(e, [ctx.tokenizer.eosId, 0], [1, -1]), [-1]);
    const b = ctx.model.params.get("ln_f.bias")!;
    b.assign(tf.add(b, tf.mul(row, 1.5 / (tf.sum(tf.square(row)).dataSync()[0] as number))));
  });
  const reference = (await buildFromPlan(plan)).model;
  for (const [name, v] of ctx.model.params) reference.params.get(name)!.assign(v);
  return { ctx, reference };
}

async function rollouts(ctx: TrainContext, reference: Transformer) {
  const problems = ctx.task.train(8, 0);
  const sampler = plan.sampler as Extract<NonNullable<typeof plan.sampler>, { kind: "standard" }>;
  return collectRollouts(ctx, reference, problems, { group: 4, sampler, probes: [], seed: 9 });
}

test("a stopped response ends with its stop token (in every per-token array and the last step); a truncated one has none", async () => {
  const { ctx, reference } = await context();
  const ro = await rollouts(ctx, reference);
  const responses = ro.batch.groups.flatMap((g) => g.responses);
  const stopped = responses.filter((r) => r.finish === "stop");
  const truncated = responses.filter((r) => r.finish === "length");
  assert.ok(stopped.length >= 3 && truncated.length >= 3, `both kinds sampled (${stopped.length} stopped, ${truncated.length} truncated)`);
  for (const r of responses) {
    const n = r.tokens!.length;
    for (const arr of [r.token_logp, r.token_logp_ref, r.token_entropy]) assert.equal(arr.length, n);
    assert.equal(r.step_ends[r.step_ends.length - 1], n, "the steps cover exactly the tokens");
    assert.equal(r.truncated, r.finish === "length");
    assert.equal(r.text, ctx.tokenizer.decode(r.tokens!));
  }
  for (const r of stopped) assert.equal(r.tokens![r.tokens!.length - 1], ctx.tokenizer.eosId);
  for (const r of truncated) {
    assert.equal(r.tokens!.length, 10, "a truncated response used the whole budget");
    assert.ok(!r.tokens!.includes(ctx.tokenizer.eosId));
  }
  // the sequences the update trains on hold the stop token too
  responses.forEach((r, i) => assert.deepEqual(ro.seq.tokens[i]!.slice(ro.seq.promptLen[i]!, ro.seq.promptLen[i]! + ro.seq.responseLen[i]!), r.tokens));
  // the batch is well-formed for `stepwise advantage`, new fields included
  assert.equal(validateBatch(JSON.parse(JSON.stringify(ro.batch))).temperature, T);
  ctx.model.dispose();
  reference.dispose();
});

test(`at temperature ${T} the recorded log-probs and entropies equal log_softmax(logits / T) computed from the model's logits`, async () => {
  const { ctx, reference } = await context();
  const ro = await rollouts(ctx, reference);
  const responses = ro.batch.groups.flatMap((g) => g.responses);
  let compared = 0;
  responses.forEach((r, i) => {
    const row = ro.seq.tokens[i]!.slice(0, ro.seq.promptLen[i]! + ro.seq.responseLen[i]!);
    const logits = tf.tidy(() => ctx.model.logits(tf.tensor2d([row], [1, row.length], "int32")).arraySync()[0]!);
    r.tokens!.forEach((tok, j) => {
      const l = logits[ro.seq.promptLen[i]! - 1 + j]!.map((x) => x / T); // position p predicts token p+1
      const max = Math.max(...l);
      const lse = max + Math.log(l.reduce((a, x) => a + Math.exp(x - max), 0));
      const entropy = -l.reduce((a, x) => a + Math.exp(x - lse) * (x - lse), 0);
      assert.ok(Math.abs(r.token_logp[j]! - (l[tok]! - lse)) < 1e-4, `response ${i} token ${j}: ${r.token_logp[j]} vs ${l[tok]! - lse}`);
      assert.ok(Math.abs(r.token_logp_ref[j]! - (l[tok]! - lse)) < 1e-4, "lp_ref at the same temperature (reference = policy here)");
      assert.ok(Math.abs(r.token_entropy[j]! - entropy) < 1e-4, `entropy of response ${i} token ${j}`);
      compared++;
    });
  });
  assert.ok(compared > 100, `compared ${compared} tokens`);
  ctx.model.dispose();
  reference.dispose();
});

test("the loss has a non-zero gradient on the stop logit of a stopped response, and an update on the stop token's advantage raises its probability", async () => {
  const { ctx, reference } = await context();
  const ro = await rollouts(ctx, reference);
  const responses = ro.batch.groups.flatMap((g) => g.responses);
  const i = responses.findIndex((r) => r.finish === "stop");
  const r = responses[i]!;
  const n = r.tokens!.length;
  // advantage 1 on the stop token of response i, 0 on every other token of the batch
  const advantages = responses.map((x, k) => x.token_logp.map((_, t) => (k === i && t === n - 1 ? 1 : 0)));
  const stopColumn = ro.seq.promptLen[i]! - 1 + n - 1; // the grid column that predicts the stop token
  const eos = ctx.tokenizer.eosId;

  // 1) d loss / d logits at the stop position: the stop logit's entry is negative (raising it lowers the loss)
  const tokens = tokensTensor(ro.seq);
  const mask = responseGrid(ro.seq, null);
  const logpOld = responseGrid(ro.seq, responses.map((x) => x.token_logp));
  const adv = responseGrid(ro.seq, advantages);
  const logits = tf.tidy(() => ctx.model.logits(tokens));
  const [B, L, V] = logits.shape;
  const grad = tf.grad((lg: tf.Tensor) => {
    const lp = tf.logSoftmax(tf.div(tf.slice(lg, [0, 0, 0], [B, L - 1, V]), T)); // [B, L-1, V]
    const next = tf.slice(tokens, [0, 1], [B, L - 1]);
    const picked = tf.sum(tf.mul(lp, tf.oneHot(next, V)), 2) as tf.Tensor2D; // [B, L-1]
    return clippedPolicyLoss({ logp: picked, logpOld, advantages: adv, mask }, DEFAULT_CLIPPED).loss;
  })(logits);
  const g = grad.arraySync() as number[][][];
  assert.ok(g[i]![stopColumn]![eos]! < -1e-4, `d loss / d stop logit = ${g[i]![stopColumn]![eos]}`);
  tf.dispose([tokens, mask, logpOld, adv, logits, grad]);

  // 2) one update through the RL loop's own update step raises the stop token's log-prob
  const optimizer = new AdamW(ctx.model.params);
  updatePolicy(ctx, optimizer, ro.seq, ro.batch, advantages, { objective: DEFAULT_CLIPPED, epochs: 1, minibatch: 0, lr: 1e-2, maxTokens: 10, temperature: T });
  const row = ro.seq.tokens[i]!.slice(0, ro.seq.promptLen[i]! + n);
  const lpAfter = tf.tidy(() => ctx.model.score(tf.tensor2d([row], [1, row.length], "int32"), { temperature: T }).logp.arraySync()[0]![row.length - 2]!);
  assert.ok(lpAfter > r.token_logp[n - 1]! + 1e-3, `stop token log-prob ${r.token_logp[n - 1]} -> ${lpAfter}`);
  optimizer.dispose();
  ctx.model.dispose();
  reference.dispose();
});
