/**
 * Test helpers for the formula engine: IR builders (what the DSL compiler emits), the methods of
 * ALGORITHMS.md written as IR, fixture loading and reading tensors back as nested arrays.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs-core";
import type { ExperimentPlan, Formula, Granularity } from "../../dsl/plan.js";
import {
  GROUP_OPS, isBuiltin, MATH_FNS, REDUCTIONS, SCANS,
  type BinaryFn, type GroupBy, type GroupFn, type MathFn, type ReduceFn, type ReduceOver, type ScanFn, type UnaryFn,
} from "../../dsl/ops.js";
import type { RolloutBatch } from "../../src/rl/batch.js";
import { finest } from "../../src/rl/formula/types.js";

export const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "fixtures", "batches");

export function loadFixture(name: string): RolloutBatch {
  return JSON.parse(fs.readFileSync(path.join(FIXTURES, name), "utf8")) as RolloutBatch;
}

export const num = (value: number, level: Granularity = "group"): Formula => ({ op: "num", value, level });
/** A name: a built-in of the registry, else a probe at step level, else a let (or reward: both resolve from the plan). */
export const ref = (name: string, level: Granularity): Formula =>
  isBuiltin(name) ? { op: "ref", source: "builtin", name, level } : { op: "ref", source: level === "step" ? "probe" : "let", name, level };
export const bin = (fn: BinaryFn, left: Formula, right: Formula): Formula => ({
  op: "binary",
  fn,
  left,
  right,
  level: finest(left.level, right.level),
});
export const un = (fn: UnaryFn, arg: Formula): Formula => ({ op: "unary", fn, arg, level: arg.level });
const constant = (f: Formula | undefined): number => {
  if (f?.op !== "num") throw new Error("a constant argument must be a number");
  return f.value;
};
/**
 * A function call as the DSL writes it, lowered to its IR node by the registry (dsl/ops.ts):
 * `call("center", [x], "token", { by: "position" })`, `call("sum", [x], "step", { over: "step" })`.
 */
export function call(fn: string, args: Formula[], level: Granularity, opts: { over?: ReduceOver; by?: GroupBy } = {}): Formula {
  const has = (t: object) => Object.hasOwn(t, fn);
  if (has(GROUP_OPS)) return { op: "group", fn: fn as GroupFn, arg: args[0]!, level, ...(opts.by ? { by: opts.by } : {}) };
  if (has(REDUCTIONS) && args.length === 1) return { op: "reduce", fn: fn as ReduceFn, over: opts.over ?? (level === "step" ? "step" : "response"), arg: args[0]!, level };
  if (has(SCANS)) {
    const g = SCANS[fn as ScanFn].gamma;
    return { op: "scan", fn: fn as ScanFn, gamma: g === "arg" ? constant(args[1]) : g, arg: args[0]!, level };
  }
  if (fn === "gae") return { op: "gae", reward: args[0]!, value: args[1]!, gamma: constant(args[2]), lambda: constant(args[3]), level };
  if (has(MATH_FNS)) return { op: "math", fn: fn as MathFn, args, level };
  throw new Error(`not a function of the registry: ${fn}`);
}

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
