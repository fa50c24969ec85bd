/**
 * Test helpers for the formula engine: IR builders (what the DSL compiler emits), the methods of
 * ALGORITHMS.md written as IR, fixture loading and reading tensors back as nested arrays.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs-core";
import type { ExperimentPlan, Formula, Granularity } from "../../dsl/plan.js";
import type { RolloutBatch } from "../../src/rl/batch.js";
import { finest } from "../../src/rl/formula/types.js";

export const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "fixtures", "batches");

export function loadFixture(name: string): RolloutBatch {
  return JSON.parse(fs.readFileSync(path.join(FIXTURES, name), "utf8")) as RolloutBatch;
}

export const num = (value: number, level: Granularity = "group"): Formula => ({ op: "num", value, level });
export const ref = (name: string, level: Granularity): Formula => ({ op: "ref", name, level });
export const bin = (fn: string, left: Formula, right: Formula): Formula => ({
  op: "binary",
  fn,
  left,
  right,
  level: finest(left.level, right.level),
});
export const un = (fn: string, arg: Formula): Formula => ({ op: "unary", fn, arg, level: arg.level });
export const call = (fn: string, args: Formula[], level: Granularity, opts: Record<string, string | number> = {}): Formula => ({
  op: "call",
  fn,
  args,
  opts,
  level,
});

/** GRPO (arXiv 2402.03300): A = zscore(reward) */
export const GRPO: Formula = call("zscore", [ref("reward", "response")], "response");

/** SPRO (arXiv 2507.01551) eq. 13: zscore(reward) + center(beta * cumsum(logratio), by position) */
export function spro(beta: number): Formula {
  const R = bin("*", num(beta), call("cumsum", [ref("logratio", "token")], "token")); // eq. 11
  return bin("+", GRPO, call("center", [R], "token", { by: "position" })); // eq. 12
}

/** SSPO (arXiv 2508.12604, Stepwise's reading): zscore(gae(step_reward, probe, gamma, lambda)) over the group's steps */
export function sspo(probe: string, gamma: number, lambda: number): Formula {
  return call("zscore", [call("gae", [ref("step_reward", "step"), ref(probe, "step"), num(gamma), num(lambda)], "step")], "step");
}

type Plan = Pick<ExperimentPlan, "rewards" | "lets" | "advantage" | "probes">;
export function plan(advantage: Formula, extra: Partial<Plan> = {}): Plan {
  return { rewards: [], lets: [], probes: [], advantage, ...extra };
}

/** A tensor as nested JS arrays. */
export function arr(x: tf.Tensor): unknown {
  return x.arraySync();
}

/** Per-response rows of a padded [N, L] tensor, cut to each response's length. */
export function rows(x: tf.Tensor, lengths: number[]): number[][] {
  const a = x.arraySync() as number[][];
  return lengths.map((n, i) => a[i].slice(0, n));
}

export function assertClose(actual: unknown, expected: unknown, tol = 1e-5, where = "value"): void {
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual) || actual.length !== expected.length) {
      throw new Error(`${where}: expected an array of ${expected.length}, found ${JSON.stringify(actual)}`);
    }
    expected.forEach((e, i) => assertClose(actual[i], e, tol, `${where}[${i}]`));
    return;
  }
  const a = actual as number;
  const e = expected as number;
  if (typeof a !== "number" || !(Math.abs(a - e) <= tol)) {
    throw new Error(`${where}: expected ${e}, found ${a}`);
  }
}
