/**
 * The op registry: the one catalogue of what a formula can name — built-in quantities,
 * operators and functions — with each entry's arity, granularity rule and options. The checker
 * (dsl/checker.ts) types formulas against it, the TF.js evaluator (src/rl/formula) and the
 * Python code generator (src/compile) each implement every entry: their tables are typed
 * `Record<UnaryFn, …>`, `Record<BuiltinName, …>`, …, so an entry added here and missing there is
 * a compile error, and every switch over the IR (dsl/plan.ts `Formula`) is exhaustive.
 *
 * Adding a function is one entry in the right table below (plus its implementation in each
 * backend, which the compiler then demands); adding a built-in quantity is one entry in
 * BUILTINS (plus where each backend reads it from the batch: `BUILTIN_VALUES` in
 * src/rl/formula/evaluate.ts, `Context.builtin` in src/compile/python/stepwise_runtime.py).
 * test/compile/advantages.test.ts generates one spec per entry and checks that the TF.js and the
 * PyTorch engines agree on it, so an entry one engine lacks fails there.
 *
 * Granularity (ALGORITHMS.md, notation): group < response < step < token. The rules:
 *   same    the argument's level (unary functions, group operators)
 *   finest  the finest argument's (math, operators; coarser values broadcast down)
 *   up      the level named by `over`, which must be coarser than the argument (reductions)
 *   along   step or token, the argument's (scans run along a response)
 *   step    step level; arguments at most step level (gae)
 */
import type { Granularity } from "./plan.js";

// ---- built-in quantities ----

export interface BuiltinSpec {
  level: Granularity;
  /** the level inside a step context (a `: step` declaration): `tokens` is then the step's token count */
  stepLevel?: Granularity;
  /** needs a task with ground-truth step labels */
  needsLabels?: boolean;
  doc: string;
}

export const BUILTINS = {
  logp: { level: "token", doc: "the rollout-time policy's log-prob of the token (lp_old)" },
  logp_ref: { level: "token", doc: "the reference model's log-prob of the token (lp_ref)" },
  logratio: { level: "token", doc: "logp − logp_ref" },
  entropy: { level: "token", doc: "the policy's entropy at the token" },
  position: { level: "token", doc: "the token's position in the response, 0-based" },
  index: { level: "step", doc: "the step's index in the response, 0-based" },
  label: { level: "step", needsLabels: true, doc: "the ground-truth step label (essential 0, redundant 1, slip 2, fix 3, answer 4, unknown −1)" },
  step_reward: { level: "step", doc: "declared step rewards at their step, response-level rewards on the last step" },
  mc_value: { level: "step", doc: "V(s_k): the Monte Carlo value of the prefix before the step, the fraction of `value_rollouts` policy completions from it that are correct (VinePPO; needs `sampler standard { value_rollouts K }`)" },
  outcome: { level: "response", doc: "the verifier's result, 0 or 1" },
  tokens: { level: "response", stepLevel: "step", doc: "the response's token count (a step's, in a `: step` declaration)" },
  steps: { level: "response", doc: "the response's step count" },
  truncated: { level: "response", doc: "1 when the response hit the length limit, else 0" },
  reward: { level: "response", doc: "r_o: the sum of the declared rewards, or outcome when none is declared" },
} as const satisfies Record<string, BuiltinSpec>;
export type BuiltinName = keyof typeof BUILTINS;

export function isBuiltin(name: string): name is BuiltinName {
  return Object.hasOwn(BUILTINS, name);
}

/** Ground-truth step label codes: `label == "redundant"` compares with 1. */
export const LABEL_CODES: Record<string, number> = { essential: 0, redundant: 1, slip: 2, fix: 3, answer: 4, unknown: -1 };

// ---- operators ----

export interface UnarySpec {
  /** constant folding in the checker */
  fold: (a: number) => number;
  /** written as an operator (`-x`, `not x`), not a function call */
  operator?: boolean;
  doc: string;
}

export const UNARY_FNS = {
  neg: { operator: true, fold: (a) => -a, doc: "−x" },
  not: { operator: true, fold: (a) => (a === 0 ? 1 : 0), doc: "1 where x is 0, else 0" },
  exp: { fold: Math.exp, doc: "e^x" },
  log: { fold: Math.log, doc: "natural logarithm" },
  abs: { fold: Math.abs, doc: "|x|" },
  sigmoid: { fold: (a) => 1 / (1 + Math.exp(-a)), doc: "1 / (1 + e^−x)" },
  sqrt: { fold: Math.sqrt, doc: "√x" },
  sign: { fold: Math.sign, doc: "−1, 0 or 1" },
  square: { fold: (a) => a * a, doc: "x²" },
  tanh: { fold: Math.tanh, doc: "hyperbolic tangent" },
} as const satisfies Record<string, UnarySpec>;
export type UnaryFn = keyof typeof UNARY_FNS;

export const BINARY_OPS = {
  "+": (a, b) => a + b,
  "-": (a, b) => a - b,
  "*": (a, b) => a * b,
  "/": (a, b) => a / b,
  "^": (a, b) => a ** b,
  "<": (a, b) => +(a < b),
  "<=": (a, b) => +(a <= b),
  ">": (a, b) => +(a > b),
  ">=": (a, b) => +(a >= b),
  "==": (a, b) => +(a === b),
  "!=": (a, b) => +(a !== b),
  and: (a, b) => +(a !== 0 && b !== 0),
  or: (a, b) => +(a !== 0 || b !== 0),
} as const satisfies Record<string, (a: number, b: number) => number>;
export type BinaryFn = keyof typeof BINARY_OPS;

// ---- functions ----

/** A constant-number argument (gamma, lambda), checked against its range. */
export interface ConstantSpec {
  name: string;
  what: string;
  min: number;
  max: number;
}

export interface FunctionSpec {
  /** formula arguments, by name (for usage lines) */
  args: readonly string[];
  /** constant-number arguments after the formula arguments */
  constants?: readonly ConstantSpec[];
  doc: string;
}

const GAMMA: ConstantSpec = { name: "gamma", what: "gamma (the discount)", min: 0, max: 1 };
const LAMBDA: ConstantSpec = { name: "lambda", what: "lambda (the GAE weight)", min: 0, max: 1 };

export interface MathSpec extends FunctionSpec {
  /** constant folding in the checker */
  fold: (...xs: number[]) => number;
}
/** Elementwise functions of several arguments; level rule `finest`. */
export const MATH_FNS = {
  min: { args: ["a", "b"], fold: (a, b) => Math.min(a!, b!), doc: "the smaller of a and b" },
  max: { args: ["a", "b"], fold: (a, b) => Math.max(a!, b!), doc: "the larger of a and b" },
  clip: { args: ["x", "lo", "hi"], fold: (x, lo, hi) => Math.min(Math.max(x!, lo!), hi!), doc: "min(max(x, lo), hi)" },
} as const satisfies Record<string, MathSpec>;
export type MathFn = keyof typeof MATH_FNS;

/** Reductions one level up, masked; `over step` (token → step) or `over response` (token/step → response). Level rule `up`. An empty set reduces to 0. */
export const REDUCTIONS = {
  sum: { args: ["x"], doc: "the sum" },
  mean: { args: ["x"], doc: "the mean" },
  last: { args: ["x"], doc: "the last element" },
  max: { args: ["x"], doc: "the largest element" },
  min: { args: ["x"], doc: "the smallest element" },
} as const satisfies Record<string, FunctionSpec>;
export type ReduceFn = keyof typeof REDUCTIONS;
export const REDUCE_OVER = ["step", "response"] as const;
export type ReduceOver = (typeof REDUCE_OVER)[number];

/**
 * Group operators: statistics within the responses to one prompt (level rule `same`). The
 * comparison set: without `by`, every valid element of the group at x's level; `by position`,
 * token level, the group's responses alive at token t (SPRO arXiv 2507.01551 eq. 12);
 * `by step_index`, step level, the group's responses that have a step k.
 */
export const GROUP_OPS = {
  center: { args: ["x"], doc: "x − mean" },
  zscore: { args: ["x"], doc: "(x − mean) / (std + 1e-6), sample std (n − 1), as TRL and verl (GRPO arXiv 2402.03300)" },
  rank: { args: ["x"], doc: "the mid-rank scaled to [0, 1]: (#{x_j < x_i} + 0.5·#{j ≠ i: x_j = x_i}) / (n − 1); 0.5 for a set of one" },
} as const satisfies Record<string, FunctionSpec>;
export type GroupFn = keyof typeof GROUP_OPS;
export const GROUP_BY = ["position", "step_index"] as const;
export type GroupBy = (typeof GROUP_BY)[number];
/** the level `by` needs its argument at */
export const GROUP_BY_LEVEL: Record<GroupBy, Granularity> = { position: "token", step_index: "step" };
/** zscore's denominator: std + STD_EPS (ALGORITHMS.md: every division by a std adds 1e-6, as TRL and verl) */
export const STD_EPS = 1e-6;

/**
 * Scans along a response's tokens or steps (level rule `along`), each y = x W with an [L, L]
 * matrix: forward W[l', l] = 1 for l' <= l (y[l] = sum_{l' <= l} x[l']); backward
 * W[l', l] = gamma^(l' − l) for l' >= l (y[l] = sum_{m >= 0} gamma^m x[l + m]).
 * `gamma`: a fixed discount, or "arg" for the constant argument.
 */
export interface ScanSpec extends FunctionSpec {
  direction: "forward" | "backward";
  gamma: number | "arg";
}
export const SCANS = {
  cumsum: { args: ["x"], direction: "forward", gamma: 1, doc: "sum_{l' <= l} x[l'] (SPRO eq. 11)" },
  revcumsum: { args: ["x"], direction: "backward", gamma: 1, doc: "sum_{l' >= l} x[l'] (reward-to-go)" },
  discount: { args: ["x"], constants: [GAMMA], direction: "backward", gamma: "arg", doc: "sum_m gamma^m x[l + m]" },
} as const satisfies Record<string, ScanSpec>;
export type ScanFn = keyof typeof SCANS;

/**
 * GAE over steps (level rule `step`), SSPO (arXiv 2508.12604) as ALGORITHMS.md reads it (GAE:
 * Schulman et al. 2016, eqs. 11-16), terminal value u[K] = 0:
 *   delta[k] = reward[k] + gamma * value[k+1] − value[k];  A[k] = sum_l (gamma·lambda)^l delta[k+l]
 */
export const GAE = { args: ["reward", "value"], constants: [GAMMA, LAMBDA], doc: "generalised advantage estimation over steps, u[K] = 0" } as const satisfies FunctionSpec;

/** Every function name the DSL accepts, for messages and completion. */
export const FUNCTIONS: readonly string[] = [
  ...new Set([
    ...Object.keys(UNARY_FNS).filter((k) => !(UNARY_FNS[k as UnaryFn] as UnarySpec).operator),
    ...Object.keys(MATH_FNS),
    ...Object.keys(REDUCTIONS),
    ...Object.keys(GROUP_OPS),
    ...Object.keys(SCANS),
    "gae",
  ]),
];

/** `discount(x, gamma)`: how a function is called, for messages. */
export function usage(name: string, spec: FunctionSpec): string {
  return `${name}(${[...spec.args, ...(spec.constants ?? []).map((c) => c.name)].join(", ")})`;
}
