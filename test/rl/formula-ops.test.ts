/**
 * Each operation of the formula IR on a small batch, against numbers worked by hand:
 * broadcasting, reductions, group ops (with and without `by`), scans, math and conditionals.
 *
 * The batch (one group of 2 responses, then a group of 1):
 *   r0: tokens x = [1, 2, 3, 4, 5], steps [0,2) [2,5)      (K = 2)
 *   r1: tokens x = [6, 7],          steps [0,1) [1,2)      (K = 2)
 *   r2: tokens x = [8, 9, 10],      one step [0,3)         (K = 1)   (a group of one)
 * x is stored as token_entropy and read with the built-in `entropy`.
 */
import { before, test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import type { Formula } from "../../dsl/plan.js";
import { initBackend } from "../../src/backend/index.js";
import type { RolloutBatch, RolloutResponse } from "../../src/rl/batch.js";
import { toBatchTensors, type BatchTensors } from "../../src/rl/batch-tensors.js";
import { evaluateFormula } from "../../src/rl/formula/index.js";
import { assertClose, bin, call, num, ref, rows, un } from "./formula-helpers.js";

function response(x: number[], stepEnds: number[], outcome: number, extra: Partial<RolloutResponse> = {}): RolloutResponse {
  return {
    text: "",
    token_logp: x.map(() => -1),
    token_logp_ref: x.map(() => -1),
    token_entropy: x,
    step_ends: stepEnds,
    outcome,
    ...extra,
  };
}
const BATCH: RolloutBatch = {
  groups: [
    {
      prompt: "a",
      reference: "",
      responses: [
        response([1, 2, 3, 4, 5], [2, 5], 1, { probes: { v: [10, 20, 30] } }),
        response([6, 7], [1, 2], 0, { probes: { v: [40, 50, 60] }, truncated: true }),
      ],
    },
    { prompt: "b", reference: "", responses: [response([8, 9, 10], [3], 1, { probes: { v: [70, 80] } })] },
  ],
};
const TOK = [5, 2, 3];
const STEPS = [2, 2, 1];
const x = ref("entropy", "token");

let bt: BatchTensors;
before(async () => {
  await initBackend();
  bt = toBatchTensors(BATCH);
});

function ev(f: Formula): unknown {
  const t = evaluateFormula(f, { batch: bt });
  const out = f.level === "token" ? rows(t, TOK) : f.level === "step" ? rows(t, STEPS) : t.arraySync();
  t.dispose();
  return out;
}

test("built-ins and broadcasting: group → response → step → token", () => {
  assert.deepEqual(ev(ref("position", "token")), [[0, 1, 2, 3, 4], [0, 1], [0, 1, 2]]);
  assert.deepEqual(ev(ref("index", "step")), [[0, 1], [0, 1], [0]]);
  assert.deepEqual(ev(ref("tokens", "step")), [[2, 3], [1, 1], [3]]);
  assert.deepEqual(ev(ref("tokens", "response")), [5, 2, 3]);
  assert.deepEqual(ev(ref("steps", "response")), [2, 2, 1]);
  assert.deepEqual(ev(ref("truncated", "response")), [0, 1, 0]);
  assert.deepEqual(ev(ref("label", "step")), [[-1, -1], [-1, -1], [-1]]); // no labels recorded
  assert.deepEqual(ev(ref("v", "step")), [[10, 20], [40, 50], [70]]); // u[k], the value before step k
  // a step value applies to every token of its step; a response value to every token
  assert.deepEqual(ev(bin("+", ref("index", "step"), ref("position", "token"))), [[0, 1, 3, 4, 5], [0, 2], [0, 1, 2]]);
  assert.deepEqual(ev(bin("*", ref("outcome", "response"), ref("v", "step"))), [[10, 20], [0, 0], [70]]);
  assert.deepEqual(ev(bin("+", num(1), ref("v", "step"))), [[11, 21], [41, 51], [71]]);
  assert.deepEqual(ev(num(2, "response")), [2, 2, 2]);
});

test("reductions over step (token → step), masked to each step's tokens", () => {
  // r0 steps hold x = [1, 2] and [3, 4, 5]; r1 [6] [7]; r2 [8, 9, 10]
  assert.deepEqual(ev(call("sum", [x], "step", { over: "step" })), [[3, 12], [6, 7], [27]]);
  assert.deepEqual(ev(call("mean", [x], "step", { over: "step" })), [[1.5, 4], [6, 7], [9]]);
  assert.deepEqual(ev(call("last", [x], "step", { over: "step" })), [[2, 5], [6, 7], [10]]);
  assert.deepEqual(ev(call("max", [x], "step", { over: "step" })), [[2, 5], [6, 7], [10]]);
  assert.deepEqual(ev(call("min", [x], "step", { over: "step" })), [[1, 3], [6, 7], [8]]);
  // negative values: max must not see the zero padding
  assert.deepEqual(ev(call("max", [un("neg", x)], "step", { over: "step" })), [[-1, -3], [-6, -7], [-8]]);
});

test("reductions over response, from tokens and from steps", () => {
  assert.deepEqual(ev(call("sum", [x], "response", { over: "response" })), [15, 13, 27]);
  assert.deepEqual(ev(call("mean", [x], "response", { over: "response" })), [3, 6.5, 9]);
  assert.deepEqual(ev(call("last", [x], "response", { over: "response" })), [5, 7, 10]);
  assert.deepEqual(ev(call("max", [un("neg", x)], "response", { over: "response" })), [-1, -6, -8]);
  assert.deepEqual(ev(call("min", [x], "response", { over: "response" })), [1, 6, 8]);
  const v = ref("v", "step"); // [[10, 20], [40, 50], [70]]
  assert.deepEqual(ev(call("sum", [v], "response", { over: "response" })), [30, 90, 70]);
  assert.deepEqual(ev(call("mean", [v], "response", { over: "response" })), [15, 45, 70]);
  assert.deepEqual(ev(call("last", [v], "response", { over: "response" })), [20, 50, 70]);
  assert.deepEqual(ev(call("min", [v], "response", { over: "response" })), [10, 40, 70]);
  // without `over`, the node's level says where to: sum of a token value at response level
  assert.deepEqual(ev(call("sum", [x], "response")), [15, 13, 27]);
});

test("group ops without by: over all valid elements of the group at x's level", () => {
  // response level, group 0 = {1, 0}: mean 0.5, sample std sqrt(0.5) = 0.7071068
  //   zscore = ±0.5 / (0.7071068 + 1e-6) = ±0.7071058; group 1 has one response → 0
  const o = ref("outcome", "response");
  assert.deepEqual(ev(call("center", [o], "response")), [0.5, -0.5, 0]);
  assertClose(ev(call("zscore", [o], "response")), [0.7071058, -0.7071058, 0]);
  // step level, group 0 = steps {10, 20, 40, 50}: mean 30, deviations -20 -10 10 20,
  //   sample var = (400 + 100 + 100 + 400) / 3 = 333.33, std = 18.257419 → z = dev / 18.257420
  const v = ref("v", "step");
  assert.deepEqual(ev(call("center", [v], "step")), [[-20, -10], [10, 20], [0]]);
  assertClose(ev(call("zscore", [v], "step")), [[-1.0954451, -0.5477226], [0.5477226, 1.0954451], [0]]);
  // token level, group 0 = tokens {1..7}: mean 4 → center = x - 4; r2: {8, 9, 10} mean 9
  assert.deepEqual(ev(call("center", [x], "token")), [[-3, -2, -1, 0, 1], [2, 3], [-1, 0, 1]]);
  // sample std of 1..7 = sqrt(28 / 6) = 2.1602469; of 8, 9, 10 = 1
  assertClose(ev(call("zscore", [x], "token")), [[-3, -2, -1, 0, 1].map((d) => d / 2.1602479), [2, 3].map((d) => d / 2.1602479), [-1, 0, 1].map((d) => d / 1.000001)]);
});

test("group ops by position and by step_index: only the responses alive there", () => {
  // by position, group 0: t = 0 {1, 6} mean 3.5; t = 1 {2, 7} mean 4.5; t >= 2 only r0 → 0
  assert.deepEqual(ev(call("center", [x], "token", { by: "position" })), [[-2.5, -2.5, 0, 0, 0], [2.5, 2.5], [0, 0, 0]]);
  // zscore: two values d and -d have sample std sqrt(2) d → ±1/sqrt(2) = ±0.7071068 (less the 1e-6)
  assertClose(ev(call("zscore", [x], "token", { by: "position" })), [[-0.7071066, -0.7071066, 0, 0, 0], [0.7071066, 0.7071066], [0, 0, 0]]);
  // by step_index, group 0: k = 0 {10, 40} mean 25; k = 1 {20, 50} mean 35
  assert.deepEqual(ev(call("center", [ref("v", "step")], "step", { by: "step_index" })), [[-15, -15], [15, 15], [0]]);
  assert.throws(() => ev(call("center", [x], "token", { by: "step_index" })), /by step_index compares steps/);
});

test("rank: mid-rank in [0, 1], ties share, a set of one gets 0.5", () => {
  // group 0 tokens {1..7}: rank = (#less) / 6; r2 {8, 9, 10}: 0, 0.5, 1
  assertClose(ev(call("rank", [x], "token")), [[0, 1, 2, 3, 4].map((k) => k / 6), [5 / 6, 1], [0, 0.5, 1]]);
  // response level with a tie: outcomes {1, 0} → 1, 0; group of one → 0.5
  assertClose(ev(call("rank", [ref("outcome", "response")], "response")), [1, 0, 0.5]);
  // ties: rank of {2, 2} → (0 + 0.5 * 1) / 1 = 0.5 each
  assertClose(ev(call("rank", [ref("steps", "response")], "response")), [0.5, 0.5, 0.5]);
  // by position: t = 0 {1, 6} → 0, 1; t = 1 {2, 7} → 0, 1; positions alive in one response → 0.5
  assertClose(ev(call("rank", [x], "token", { by: "position" })), [[0, 0, 0.5, 0.5, 0.5], [1, 1], [0.5, 0.5, 0.5]]);
});

test("scans within a response: cumsum, revcumsum, discount over tokens and steps", () => {
  assert.deepEqual(ev(call("cumsum", [x], "token")), [[1, 3, 6, 10, 15], [6, 13], [8, 17, 27]]);
  assert.deepEqual(ev(call("revcumsum", [x], "token")), [[15, 14, 12, 9, 5], [13, 7], [27, 19, 10]]);
  // discount(x, 0.5): y[t] = x[t] + 0.5 y[t+1]
  //   r0: y4 = 5, y3 = 4 + 2.5 = 6.5, y2 = 3 + 3.25 = 6.25, y1 = 2 + 3.125 = 5.125, y0 = 1 + 2.5625 = 3.5625
  //   r1: y1 = 7, y0 = 6 + 3.5 = 9.5;  r2: y2 = 10, y1 = 9 + 5 = 14, y0 = 8 + 7 = 15
  assertClose(ev(call("discount", [x, num(0.5)], "token")), [[3.5625, 5.125, 6.25, 6.5, 5], [9.5, 7], [15, 14, 10]]);
  const v = ref("v", "step");
  assert.deepEqual(ev(call("cumsum", [v], "step")), [[10, 30], [40, 90], [70]]);
  assert.deepEqual(ev(call("revcumsum", [v], "step")), [[30, 20], [90, 50], [70]]);
  // cumsum of a constant at token level = position + 1
  assert.deepEqual(ev(call("cumsum", [num(1)], "token")), [[1, 2, 3, 4, 5], [1, 2], [1, 2, 3]]);
});

test("gae at step level with the terminal value 0", () => {
  // gae(step_reward, v / 100, gamma 1, lambda 0.5): step_reward = outcome on the last step
  //   r0: u = [0.1, 0.2], rew = [0, 1]: delta = [0 + 0.2 - 0.1, 1 + 0 - 0.2] = [0.1, 0.8]
  //       A = [0.1 + 0.5 * 0.8, 0.8] = [0.5, 0.8]
  //   r1: u = [0.4, 0.5], rew = [0, 0]: delta = [0.5 - 0.4, 0 - 0.5] = [0.1, -0.5]; A = [0.1 - 0.25, -0.5]
  //   r2: u = [0.7], rew = [1]: delta = 1 - 0.7 = 0.3
  const u = bin("/", ref("v", "step"), num(100));
  assertClose(ev(call("gae", [ref("step_reward", "step"), u, num(1), num(0.5)], "step")), [[0.5, 0.8], [-0.15, -0.5], [0.3]]);
  // lambda = 1, gamma = 1 telescopes: A[k] = sum of rewards from k on - u[k]
  assertClose(ev(call("gae", [ref("step_reward", "step"), u, num(1), num(1)], "step")), [[0.9, 0.8], [-0.4, -0.5], [0.3]]);
});

test("math, comparisons and conditionals", () => {
  assertClose(ev(call("clip", [x, num(2), num(4)], "token")), [[2, 2, 3, 4, 4], [4, 4], [4, 4, 4]]);
  assert.deepEqual(ev(call("min", [x, num(3)], "token")), [[1, 2, 3, 3, 3], [3, 3], [3, 3, 3]]);
  assert.deepEqual(ev(call("max", [ref("outcome", "response"), num(0.5)], "response")), [1, 0.5, 1]);
  assert.deepEqual(ev(bin(">", x, num(6))), [[0, 0, 0, 0, 0], [0, 1], [1, 1, 1]]);
  assert.deepEqual(ev(bin("and", bin(">=", x, num(2)), bin("!=", x, num(7)))), [[0, 1, 1, 1, 1], [1, 0], [1, 1, 1]]);
  assert.deepEqual(ev(un("not", ref("outcome", "response"))), [0, 1, 0]);
  const cond: Formula = { op: "if", cond: bin("==", ref("outcome", "response"), num(1)), then: x, else: num(-1), level: "token" };
  assert.deepEqual(ev(cond), [[1, 2, 3, 4, 5], [-1, -1], [8, 9, 10]]);
  assertClose(ev(un("sigmoid", num(0, "response"))), [0.5, 0.5, 0.5]);
  assertClose(ev(bin("^", ref("steps", "response"), num(2))), [4, 4, 1]);
  assertClose(ev(un("log", un("exp", ref("outcome", "response")))), [1, 0, 1]);
  assertClose(ev(un("sqrt", un("abs", num(-4, "response")))), [2, 2, 2]);
});

test("padding never leaks: log of the zero padding does not poison reductions, scans or group ops", () => {
  const lx = un("log", x); // padding: log(0) = -Infinity
  assertClose(ev(call("sum", [lx], "response", { over: "response" })), [Math.log(120), Math.log(42), Math.log(720)], 1e-4);
  assertClose((ev(call("cumsum", [lx], "token")) as number[][])[1], [Math.log(6), Math.log(42)], 1e-5);
  assertClose((ev(call("center", [lx], "token", { by: "position" })) as number[][])[2], [0, 0, 0]);
});
