/**
 * The methods of ALGORITHMS.md as formulas, against numbers worked by hand: GRPO, SPRO, SSPO on
 * ragged groups, a group whose rewards all equal, responses of one step, unequal step counts.
 */
import { before, test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../../src/backend/index.js";
import { toBatchTensors } from "../../src/rl/batch-tensors.js";
import { validateBatch } from "../../src/rl/batch-validate.js";
import { computeAdvantages, fracZeroStd } from "../../src/rl/formula/index.js";
import { assertClose, bin, call, GRPO, loadFixture, num, plan, ref, rows, spro, sspo } from "./formula-helpers.js";

before(async () => {
  await initBackend();
});

// ragged.json, group 0: outcomes 1, 0, 0 with 2, 3, 1 tokens; group 1: outcomes 1, 1 (all equal).
// GRPO (arXiv 2402.03300), A = (r - mean_G) / (std_G + 1e-6):
//   group 0: mean = 1/3; deviations 2/3, -1/3, -1/3
//            sample var = (4/9 + 1/9 + 1/9) / (3 - 1) = 1/3, std = 0.5773503
//            A = (2/3) / (0.5773503 + 1e-6) = 1.1546985,  (-1/3) / (0.5773503 + 1e-6) = -0.5773493
//   group 1: deviations 0, 0 → A = 0 (frac_zero_std counts it)
const A_WIN = 1.1546985;
const A_LOSE = -0.5773493;
const LENGTHS = [2, 3, 1, 2, 1];

test("GRPO: zscore(reward) on a ragged group, and a group whose rewards are all equal", () => {
  const bt = toBatchTensors(validateBatch(loadFixture("ragged.json")));
  const out = computeAdvantages(plan(GRPO), bt);
  assertClose(rows(out.tokenAdvantages, LENGTHS), [[A_WIN, A_WIN], [A_LOSE, A_LOSE, A_LOSE], [A_LOSE], [0, 0], [0]]);
  // padding is 0: response 2 has 1 token of T = 3
  assert.deepEqual((out.tokenAdvantages.arraySync() as number[][])[2].slice(1), [0, 0]);
  assertClose(out.responseReward.arraySync(), [1, 0, 0, 1, 1]);
  // step_reward: outcome on the last step; responses 0 (1 step) and 3 (2 steps)
  assertClose(rows(out.stepReward, [1, 2, 1, 2, 1]), [[1], [0, 0], [0], [0, 1], [1]]);
  assert.equal(fracZeroStd(out.responseReward, bt), 0.5); // 1 of 2 groups
  tf.dispose(out);
  bt.dispose();
});

// SPRO (arXiv 2507.01551) with beta = 0.5; logratio = logp - logp_ref:
//   r0 [0.2, -0.4]  → R = 0.5 * cumsum = [0.1, -0.1]
//   r1 [0.1, 0.3, 0.3] → R = [0.05, 0.2, 0.35]
//   r2 [-0.6]       → R = [-0.3]
// eq. 12, centring by position over the responses alive there:
//   t = 0: r0 r1 r2 alive, mean (0.1 + 0.05 - 0.3) / 3 = -0.05 → MSA 0.15, 0.1, -0.25
//   t = 1: r0 r1 alive, mean (-0.1 + 0.2) / 2 = 0.05 → MSA -0.15, 0.15
//   t = 2: only r1 alive → MSA 0
//   group 1: r3 [0.2, 0.2] → R [0.1, 0.2]; r4 [0.4] → R [0.2]
//   t = 0: mean 0.15 → -0.05, 0.05;  t = 1: only r3 → 0
// eq. 13: A = GRPO + MSA
test("SPRO: masked centring by position; a position where only one response is alive gets 0", () => {
  const bt = toBatchTensors(validateBatch(loadFixture("ragged.json")));
  const out = computeAdvantages(plan(spro(0.5)), bt);
  assertClose(
    rows(out.tokenAdvantages, LENGTHS),
    [
      [A_WIN + 0.15, A_WIN - 0.15],
      [A_LOSE + 0.1, A_LOSE + 0.15, A_LOSE + 0],
      [A_LOSE - 0.25],
      [-0.05, 0],
      [0.05],
    ],
    2e-5,
  );
  tf.dispose(out);
  bt.dispose();
});

test("SPRO at the first iteration (logp = logp_ref) is exactly GRPO", () => {
  const batch = validateBatch(loadFixture("ragged.json"));
  for (const g of batch.groups) for (const r of g.responses) r.token_logp = [...r.token_logp_ref];
  const bt = toBatchTensors(batch);
  const a = computeAdvantages(plan(spro(0.05)), bt);
  const b = computeAdvantages(plan(GRPO), bt);
  assert.deepEqual(a.tokenAdvantages.arraySync(), b.tokenAdvantages.arraySync()); // bit for bit
  assertClose(rows(a.tokenAdvantages, LENGTHS), [[A_WIN, A_WIN], [A_LOSE, A_LOSE, A_LOSE], [A_LOSE], [0, 0], [0]]);
  tf.dispose([a, b]);
  bt.dispose();
});

// SSPO (arXiv 2508.12604, Stepwise's reading), gamma 0.9, lambda 0.8 (gamma*lambda = 0.72), u[K] = 0:
//   r0: steps [0,2) [2,3), u = [0.5, 0.8], rew = [0, 1] (outcome 1 on the last step)
//       delta = [0 + 0.9*0.8 - 0.5, 1 + 0.9*0 - 0.8] = [0.22, 0.2]
//       A = [0.22 + 0.72*0.2, 0.2] = [0.364, 0.2]
//   r1: steps [0,1) [1,2) [2,4), u = [0.5, 0.4, 0.2], rew = [0, 0, 0]
//       delta = [0.9*0.4 - 0.5, 0.9*0.2 - 0.4, 0 - 0.2] = [-0.14, -0.22, -0.2]
//       A2 = -0.2; A1 = -0.22 + 0.72*(-0.2) = -0.364; A0 = -0.14 + 0.72*(-0.364) = -0.40208
//   zscore over the group's 5 steps: mean = -0.40208 / 5 = -0.080416
//       deviations 0.444416, 0.280416, -0.321664, -0.283584, -0.119584; sum sq = 0.47432666
//       sample std = sqrt(0.47432666 / 4) = 0.3443569
//       z = [1.2905643, 0.8143156, -0.9340980, -0.8235153, -0.3472666]
test("SSPO: gae over steps with probe values, zscore over all steps of the group, broadcast to tokens", () => {
  const bt = toBatchTensors(validateBatch(loadFixture("sspo.json")));
  const out = computeAdvantages(plan(sspo("belief", 0.9, 0.8)), bt);
  const z = [1.2905643, 0.8143156, -0.934098, -0.8235153, -0.3472666];
  assertClose(rows(out.tokenAdvantages, [3, 4]), [[z[0], z[0], z[1]], [z[2], z[3], z[4], z[4]]]);
  tf.dispose(out);
  bt.dispose();
});

// Declared rewards: correct = outcome (response), cost = -0.1 * tokens (step: the step's token count)
//   r0 of sspo.json: steps of 2 and 1 tokens → cost [-0.2, -0.1]; step_reward = [-0.2, -0.1 + 1] = [-0.2, 0.9]
//       reward = 1 - 0.3 = 0.7
//   r1: steps of 1, 1, 2 tokens → cost [-0.1, -0.1, -0.2]; step_reward = [-0.1, -0.1, -0.2]; reward = -0.4
//   advantage = reward - 1 (a response value broadcast to every token)
test("declared step and response rewards: step_reward at their steps, reward their sum", () => {
  const bt = toBatchTensors(validateBatch(loadFixture("sspo.json")));
  const p = plan(bin("-", ref("reward", "response"), num(1)), {
    rewards: [
      { name: "correct", formula: ref("outcome", "response") },
      { name: "cost", formula: bin("*", num(-0.1), ref("tokens", "step")) },
    ],
  });
  const out = computeAdvantages(p, bt);
  assertClose(out.responseReward.arraySync(), [0.7, -0.4]);
  assertClose(rows(out.stepReward, [2, 3]), [[-0.2, 0.9], [-0.1, -0.1, -0.2]]);
  assertClose(rows(out.tokenAdvantages, [3, 4]), [[-0.3, -0.3, -0.3], [-1.4, -1.4, -1.4, -1.4]]);
  tf.dispose(out);
  bt.dispose();
});

// lets are evaluated on use, in any order, and may use each other:
//   let base = zscore(reward); let bonus = 0.5 * base; advantage = base + bonus = 1.5 * GRPO
test("lets: named sub-formulas, referenced before their declaration", () => {
  const bt = toBatchTensors(validateBatch(loadFixture("ragged.json")));
  const p = plan(bin("+", ref("base", "response"), ref("bonus", "response")), {
    lets: [
      { name: "bonus", formula: bin("*", num(0.5), ref("base", "response")) },
      { name: "base", formula: GRPO },
    ],
  });
  const out = computeAdvantages(p, bt);
  assertClose(rows(out.tokenAdvantages, [2, 3, 1]).map((r) => r[0]), [1.5 * A_WIN, 1.5 * A_LOSE, 1.5 * A_LOSE]);
  tf.dispose(out);
  const cyclic = plan(ref("a", "response"), { lets: [{ name: "a", formula: bin("+", ref("b", "response"), num(1)) }, { name: "b", formula: ref("a", "response") }] });
  assert.throws(() => computeAdvantages(cyclic, bt), /"a" is defined in terms of itself \(a → b → a\)/);
  bt.dispose();
});

test("memory: numTensors stays flat across repeated computeAdvantages calls", () => {
  const bt = toBatchTensors(validateBatch(loadFixture("sspo.json")));
  const p = plan(bin("+", sspo("belief", 0.9, 0.8), spro(0.1)));
  tf.dispose(computeAdvantages(p, bt)); // warm-up
  const before = tf.memory().numTensors;
  for (let i = 0; i < 5; i++) tf.dispose(computeAdvantages(p, bt));
  assert.equal(tf.memory().numTensors, before);
  // and the three results are the only tensors a call leaves
  const out = computeAdvantages(p, bt);
  assert.equal(tf.memory().numTensors, before + 3);
  tf.dispose(out);
  bt.dispose();
});

test("a plan without an advantage is refused with the fix", () => {
  const bt = toBatchTensors(validateBatch(loadFixture("ragged.json")));
  assert.throws(() => computeAdvantages({ rewards: [], lets: [], probes: [] }, bt), /no advantage formula.*use grpo/);
  assert.throws(() => computeAdvantages(plan(call("zscore", [ref("nonsense", "step")], "step")), bt), /probe "nonsense"/);
  bt.dispose();
});
