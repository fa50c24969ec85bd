/** toBatchTensors: padded tensors, masks and index maps of a ragged batch, checked element by element. */
import { before, test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../../src/backend/index.js";
import { labelCode, toBatchTensors } from "../../src/rl/batch-tensors.js";
import { validateBatch } from "../../src/rl/batch-validate.js";
import { loadFixture } from "./formula-helpers.js";

before(async () => {
  await initBackend();
});

test("ragged batch: shapes, padding, masks, token → step maps, groups", () => {
  const start = tf.memory().numTensors;
  const bt = toBatchTensors(validateBatch(loadFixture("ragged.json")));
  assert.equal(tf.memory().numTensors, start + 21); // 21 tensors (no probes)
  // 5 responses, the longest has 3 tokens and 2 steps, 2 groups
  assert.deepEqual([bt.N, bt.T, bt.K, bt.groupCount], [5, 3, 2, 2]);
  assert.deepEqual(bt.tokenMask.arraySync(), [[1, 1, 0], [1, 1, 1], [1, 0, 0], [1, 1, 0], [1, 0, 0]]);
  assert.deepEqual(bt.stepMask.arraySync(), [[1, 0], [1, 1], [1, 0], [1, 1], [1, 0]]);
  assert.deepEqual(bt.position.arraySync(), [[0, 1, 0], [0, 1, 2], [0, 0, 0], [0, 1, 0], [0, 0, 0]]);
  const lp = bt.logp.arraySync();
  assert.ok(Math.abs(lp[1][2] - -0.7) < 1e-6 && lp[2][1] === 0);
  // r1: step_ends [1, 3] → tokens 0 | 1 2; step token counts 1, 2
  assert.deepEqual(bt.tokenStep.arraySync()[1], [0, 1, 1]);
  assert.deepEqual(bt.stepTokens.arraySync()[1], [1, 2]);
  assert.deepEqual(bt.tokenStepOneHot.arraySync()[1], [[1, 0], [0, 1], [0, 1]]);
  assert.deepEqual(bt.stepLastToken.arraySync()[1], [[1, 0], [0, 0], [0, 1]]);
  assert.deepEqual(bt.tokenLast.arraySync()[0], [0, 1, 0]);
  assert.deepEqual(bt.stepLast.arraySync(), [[1, 0], [0, 1], [1, 0], [0, 1], [1, 0]]);
  assert.deepEqual(bt.outcome.arraySync(), [1, 0, 0, 1, 1]);
  assert.deepEqual(bt.truncated.arraySync(), [0, 0, 1, 0, 0]);
  assert.deepEqual(bt.responseTokens.arraySync(), [2, 3, 1, 2, 1]);
  assert.deepEqual(bt.responseSteps.arraySync(), [1, 2, 1, 2, 1]);
  assert.deepEqual(bt.groupId.arraySync(), [0, 0, 0, 1, 1]);
  assert.deepEqual(bt.groupOneHot.arraySync(), [[1, 0], [1, 0], [1, 0], [0, 1], [0, 1]]);
  assert.deepEqual(bt.groupSizes.arraySync(), [3, 2]);
  assert.deepEqual([bt.groupStarts, bt.tokenCounts, bt.stepCounts], [[0, 3], [2, 3, 1, 2, 1], [1, 2, 1, 2, 1]]);
  assert.deepEqual(Object.keys(bt.probes), []);
  bt.dispose();
  assert.equal(tf.memory().numTensors, start); // dispose frees every tensor it made
});

test("probes split into u[0..K-1] and the final value; labels to codes", () => {
  const bt = toBatchTensors(validateBatch(loadFixture("sspo.json")));
  assert.deepEqual(bt.probes.belief.arraySync().map((r) => r.map((v) => Math.round(v * 10) / 10)), [[0.5, 0.8, 0], [0.5, 0.4, 0.2]]);
  assert.deepEqual(bt.probesFinal.belief.arraySync().map((v) => Math.round(v * 10) / 10), [0.9, 0.1]);
  // essential 0, answer 4 | slip 2, redundant 1, answer 4; padding -1
  assert.deepEqual(bt.stepLabel.arraySync(), [[0, 4, -1], [2, 1, 4]]);
  assert.deepEqual([labelCode("fix"), labelCode("odd"), labelCode(undefined)], [3, -1, -1]);
  bt.dispose();
});
