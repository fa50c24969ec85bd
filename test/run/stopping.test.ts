/**
 * RL learns to stop: with a reward that depends only on the response length (shorter is better),
 * a short run from a fresh model raises the probability of the stop token, so the mean length
 * falls. The stop token is in the loss (src/rl/rollout.ts), so the decision to stop gets credit.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { runPlan } from "../../src/run/runner.js";
import type { MetricsRow } from "../../src/run/types.js";
import { tinyPlan } from "../helpers/plans.js";

test("a reward that only prefers stopping early makes the mean response length fall", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "stepwise-stop-"));
  const plan = tinyPlan({
    name: "stop-early",
    // reward = -tokens: nothing but the length counts
    rewards: [{ name: "short", formula: { op: "unary", fn: "neg", arg: { op: "ref", source: "builtin", name: "tokens", level: "response" }, level: "response" } }],
    sampler: { kind: "standard", temperature: 1, topP: 1, topK: 0, maxTokens: 16 },
    train: [{ kind: "rl", iterations: 8, prompts: 4, group: 8, lr: 1e-2, epochs: 1, minibatch: 0, evalEvery: 0 }],
    eval: { prompts: 2, maxTokens: 8 },
  });
  const res = await runPlan(plan, { dir });
  assert.equal(res.status, "finished", res.message);
  const rl = fs.readFileSync(path.join(dir, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as MetricsRow).filter((r) => r.stage === "rl");
  const len = rl.map((r) => r["completions/mean_length"] as number);
  const first = (len[0]! + len[1]!) / 2;
  const last = (len[len.length - 2]! + len[len.length - 1]!) / 2;
  assert.ok(last < first - 3, `mean length should fall: ${len.map((x) => x.toFixed(1)).join(", ")}`);
});
