/** SFT stages of one plan draw consecutive training problems: a second SFT stage trains on new ones. */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { StagePlan } from "../../dsl/plan.js";
import { createStage, sftProblemOffsets } from "../../src/run/stages/index.js";
import { SftStage } from "../../src/run/stages/sft.js";

const sft = (steps: number, batch: number): StagePlan => ({ kind: "sft", steps, lr: 1e-3, batch, warmup: 0, onlyCorrect: false });
const rl: StagePlan = { kind: "rl", iterations: 3, prompts: 4, group: 2, lr: 1e-4, epochs: 1, minibatch: 8, evalEvery: 0 } as StagePlan;

test("sftProblemOffsets: each stage starts after the problems earlier SFT stages drew (steps × batch), by hand", () => {
  assert.deepEqual(sftProblemOffsets([sft(10, 4), rl, sft(5, 2), sft(1, 1)]), [0, 40, 40, 50]);
  assert.deepEqual(sftProblemOffsets([rl, sft(3, 2)]), [0, 0], "RL and preference stages draw their own prompts from the start");
});

test("createStage passes the offset to SFT stages", () => {
  const offsets = sftProblemOffsets([sft(10, 4), sft(5, 2)]);
  const second = createStage(sft(5, 2), 1, undefined, offsets[1]);
  assert.ok(second instanceof SftStage);
  assert.equal((second as SftStage).firstProblem, 40);
});
