/**
 * The formula engine: the Formula IR of dsl/plan.ts evaluated as a tensor program over the padded
 * batch tensors (src/rl/batch-tensors.ts), on the active TF.js backend.
 *
 * `computeAdvantages` runs a plan's rewards, lets and advantage over a batch and returns the
 * per-token advantages [N, T] (0 at padding), the response reward and the step rewards.
 */
import * as tf from "@tensorflow/tfjs-core";
import type { ExperimentPlan, Formula } from "../../../dsl/plan.js";
import type { BatchTensors } from "../batch-tensors.js";
import { SCANS, type BinaryFn, type BuiltinName, type MathFn, type UnaryFn } from "../../../dsl/ops.js";
import { groupOp } from "./group.js";
import { clean, maskOf, shapeOf, toLevel } from "./levels.js";
import { reduce } from "./reduce.js";
import { gae, scan } from "./scan.js";
import { finest, FormulaError, type FormulaContext, type Granularity, type Leveled } from "./types.js";

export type AdvantagePlan = Pick<ExperimentPlan, "rewards" | "lets" | "advantage" | "probes">;

/** A type alias (not an interface) so that it is a tf.TensorContainer: `tf.dispose(advantages)` works. */
export type Advantages = {
  /** [N, T] per-token advantage, 0 at padding */
  tokenAdvantages: tf.Tensor2D;
  /** [N] r_o: the sum of the declared rewards (step and token rewards summed), or outcome when none is declared */
  responseReward: tf.Tensor1D;
  /** [N, K] declared step-level rewards at their step + response-level rewards on the last step; 0 at padding */
  stepReward: tf.Tensor2D;
};

/**
 * Evaluates `f` over the batch; returns a new tensor at f's level with its full shape
 * ([N] for group and response, [N, K] step, [N, T] token). Padding is not zeroed. The caller
 * disposes the result.
 * @example const a = evaluateFormula({ op: "ref", name: "logratio", level: "token" }, { batch: bt });
 */
export function evaluateFormula(f: Formula, ctx: FormulaContext): tf.Tensor {
  return tf.tidy(() => {
    const v = evalNode(f, ctx);
    // clone: a bare ref returns a batch tensor, which the caller must not dispose
    return tf.clone(toLevel(v, finest(v.level, f.level), ctx.batch, true));
  });
}

/**
 * Runs a plan's formulas over a batch: 1) declared rewards, 2) the built-ins `reward` and
 * `step_reward`, 3) lets, 4) the advantage, broadcast to the tokens. Names are evaluated on first
 * use (so declaration order does not matter) and once each. One tidy scope: only the three
 * returned tensors survive; the caller disposes them.
 * @example const { tokenAdvantages } = computeAdvantages(plan, toBatchTensors(batch));
 */
export function computeAdvantages(plan: AdvantagePlan, bt: BatchTensors): Advantages {
  if (plan.advantage === undefined) {
    throw new FormulaError(`the plan has no advantage formula: declare one (advantage = …) or use a method (use grpo)`);
  }
  const advantage = plan.advantage;
  return tf.tidy(() => {
    const env = new Environment(plan, bt);
    const ctx: FormulaContext = { batch: bt, resolve: (name) => env.resolve(name, ctx) };
    const adv = evalNode(advantage, ctx);
    const tokenAdvantages = clean(toLevel(adv, "token", bt, true), bt.tokenMask) as tf.Tensor2D; // [N, T]
    const rr = env.resolve("reward", ctx)!;
    const sr = env.resolve("step_reward", ctx)!;
    return {
      tokenAdvantages,
      responseReward: tf.clone(toLevel(rr, "response", bt, true)) as tf.Tensor1D, // a new tensor, never bt.outcome
      stepReward: clean(toLevel(sr, "step", bt, true), bt.stepMask) as tf.Tensor2D,
    };
  });
}

/**
 * The rms over the batch's tokens of each of `terms` (the terms of the advantage, dsl/terms.ts
 * formulaTerms), evaluated as the advantage is (broadcast to tokens, 0 at padding):
 * sqrt( sum_{i,t} mask[i,t] * term[i,t]^2 / sum_{i,t} mask[i,t] ).
 * @example termRms(plan, formulaTerms(plan.advantage), bt) // [0.98, 0.021] for SPRO early on
 */
export function termRms(plan: AdvantagePlan, terms: Formula[], bt: BatchTensors): number[] {
  if (terms.length === 0) return [];
  const rms = tf.tidy(() => {
    const env = new Environment(plan, bt);
    const ctx: FormulaContext = { batch: bt, resolve: (name) => env.resolve(name, ctx) };
    const live = tf.maximum(tf.sum(bt.tokenMask), 1);
    return tf.stack(
      terms.map((t) => {
        const x = clean(toLevel(evalNode(t, ctx), "token", bt, true), bt.tokenMask); // [N, T]
        return tf.sqrt(tf.div(tf.sum(tf.square(x)), live));
      }),
    );
  });
  const out = Array.from(rms.dataSync());
  rms.dispose();
  return out;
}

/**
 * The fraction of groups whose response rewards all equal (sample std below 1e-8, or a single
 * response): their GRPO advantage is 0 everywhere (ALGORITHMS.md, `reward/frac_zero_std`).
 */
export function fracZeroStd(responseReward: tf.Tensor1D, bt: BatchTensors): number {
  const frac = tf.tidy(() => {
    const x = { level: "response" as const, value: responseReward };
    const dev = groupOp("center", x, "response", undefined, bt).value; // [N] r - mean_G
    const ss = tf.matMul(bt.groupOneHot, tf.reshape(tf.square(dev), [bt.N, 1]), true, false); // [Gc, 1]
    const std = tf.sqrt(tf.div(tf.reshape(ss, [bt.groupCount]), tf.maximum(tf.sub(bt.groupSizes, 1), 1)));
    return tf.mean(tf.cast(tf.less(std, 1e-8), "float32"));
  });
  const v = frac.dataSync()[0];
  frac.dispose();
  return v;
}

/** Declared rewards and lets, evaluated lazily and once; cycles are reported. */
class Environment {
  private readonly formulas = new Map<string, Formula>();
  private readonly rewardNames: string[];
  private readonly values = new Map<string, Leveled>();
  private readonly active = new Set<string>();

  constructor(plan: AdvantagePlan, private readonly bt: BatchTensors) {
    for (const r of plan.rewards) this.formulas.set(r.name, r.formula);
    for (const l of plan.lets) this.formulas.set(l.name, l.formula);
    this.rewardNames = plan.rewards.map((r) => r.name);
  }

  resolve(name: string, ctx: FormulaContext): Leveled | undefined {
    const known = this.values.get(name);
    if (known) return known;
    let v: Leveled | undefined;
    if (this.formulas.has(name)) {
      if (this.active.has(name)) throw new FormulaError(`"${name}" is defined in terms of itself (${[...this.active, name].join(" → ")})`);
      this.active.add(name);
      v = evalNode(this.formulas.get(name)!, ctx);
      this.active.delete(name);
    } else if (name === "reward" || name === "step_reward") {
      const [resp, step] = this.rewardTotals(ctx);
      this.values.set("reward", resp);
      this.values.set("step_reward", step);
      return this.values.get(name);
    } else {
      return undefined;
    }
    this.values.set(name, v);
    return v;
  }

  /**
   * r_o (ALGORITHMS.md, notation): the sum of the declared rewards, or outcome when none is
   * declared; step_reward: declared step (and token, summed per step) rewards at their step plus
   * the response-level rewards on the last step (SSPO reading, step 2), so sum_k step_reward = r_o.
   */
  private rewardTotals(ctx: FormulaContext): [Leveled, Leveled] {
    const bt = this.bt;
    if (this.rewardNames.length === 0) {
      return [
        { level: "response", value: bt.outcome },
        { level: "step", value: tf.mul(bt.stepLast, tf.reshape(bt.outcome, [bt.N, 1])) },
      ];
    }
    let coarse: tf.Tensor = tf.zeros([bt.N]); // response-level part [N]
    let steps: tf.Tensor = tf.zeros([bt.N, bt.K]); // step-level part [N, K]
    for (const name of this.rewardNames) {
      const v = this.resolve(name, ctx)!;
      if (v.level === "token") steps = tf.add(steps, reduce("sum", v, "step", bt).value);
      else if (v.level === "step") steps = tf.add(steps, clean(toLevel(v, "step", bt, true), bt.stepMask));
      else coarse = tf.add(coarse, toLevel(v, "response", bt, true));
    }
    const response = tf.add(coarse, tf.sum(steps, 1)); // [N]
    const step = tf.add(steps, tf.mul(bt.stepLast, tf.reshape(coarse, [bt.N, 1]))); // [N, K]
    return [
      { level: "response", value: response },
      { level: "step", value: step },
    ];
  }
}

/**
 * Every built-in of the registry (dsl/ops.ts BUILTINS), read from the batch. `tokens` is the
 * step's token count at step/token level, the response's above. `reward` and `step_reward` come
 * from the declared rewards (Environment.rewardTotals) when the context resolves them; without
 * declared rewards r_o = outcome, on the last step.
 */
const BUILTIN_VALUES: Record<BuiltinName, (bt: BatchTensors, level: Granularity) => Leveled> = {
  logp: (bt) => ({ level: "token", value: bt.logp }),
  logp_ref: (bt) => ({ level: "token", value: bt.logpRef }),
  logratio: (bt) => ({ level: "token", value: tf.sub(bt.logp, bt.logpRef) }), // log(pi_old / pi_ref) per token
  entropy: (bt) => ({ level: "token", value: bt.entropy }),
  position: (bt) => ({ level: "token", value: bt.position }),
  index: (bt) => ({ level: "step", value: bt.stepIndex }),
  label: (bt) => ({ level: "step", value: bt.stepLabel }),
  tokens: (bt, level) => (level === "step" || level === "token" ? { level: "step", value: bt.stepTokens } : { level: "response", value: bt.responseTokens }),
  outcome: (bt) => ({ level: "response", value: bt.outcome }),
  steps: (bt) => ({ level: "response", value: bt.responseSteps }),
  truncated: (bt) => ({ level: "response", value: bt.truncated }),
  reward: (bt) => ({ level: "response", value: bt.outcome }),
  step_reward: (bt) => ({ level: "step", value: tf.mul(bt.stepLast, tf.reshape(bt.outcome, [bt.N, 1])) }),
  mc_value: (bt) => {
    if (!bt.mcValue) throw new FormulaError("`mc_value`: the batch records no Monte Carlo values (responses[].mc_value); sample them with `sampler standard { value_rollouts 4 }` (`use vineppo` sets it)");
    return { level: "step", value: bt.mcValue }; // V(s_k) before step k
  },
};

function resolveRef(f: Extract<Formula, { op: "ref" }>, ctx: FormulaContext): Leveled {
  const bt = ctx.batch;
  const { name, level } = f;
  switch (f.source) {
    case "builtin":
      return (f.name === "reward" || f.name === "step_reward" ? ctx.resolve?.(f.name) : undefined) ?? BUILTIN_VALUES[f.name](bt, level);
    case "probe": {
      const probe = bt.probes[name];
      if (probe) return { level: "step", value: probe }; // u[k]: the probe's value before step k
      throw new FormulaError(
        Object.keys(bt.probes).length === 0
          ? `probe "${name}": the batch records no probes (responses[].probes.${name})`
          : `probe "${name}" is not recorded in the batch (it has ${Object.keys(bt.probes).join(", ")})`,
      );
    }
    case "reward":
    case "let": {
      const v = ctx.resolve?.(name);
      if (v) return v;
      throw new FormulaError(`unknown ${f.source} "${name}": the plan declares no ${f.source} of that name`);
    }
  }
}

/** A number known when the formula is evaluated (gamma, lambda): a constant, or a rank-0 value. */
function constant(f: Formula, ctx: FormulaContext, what: string): number {
  if (f.op === "num") return f.value;
  const v = evalNode(f, ctx).value;
  if (v.rank !== 0) throw new FormulaError(`${what} must be a constant number, found a ${f.level}-level value`);
  return v.dataSync()[0];
}

const UNARY: Record<UnaryFn, (x: tf.Tensor) => tf.Tensor> = {
  neg: (x) => tf.neg(x),
  not: (x) => tf.cast(tf.equal(x, 0), "float32"),
  exp: (x) => tf.exp(x),
  log: (x) => tf.log(x),
  abs: (x) => tf.abs(x),
  sigmoid: (x) => tf.sigmoid(x),
  sqrt: (x) => tf.sqrt(x),
  sign: (x) => tf.sign(x),
  square: (x) => tf.square(x),
  tanh: (x) => tf.tanh(x),
};

const asFloat = (b: tf.Tensor) => tf.cast(b, "float32");
const truthy = (x: tf.Tensor) => tf.notEqual(x, 0);
const BINARY: Record<BinaryFn, (a: tf.Tensor, b: tf.Tensor) => tf.Tensor> = {
  "+": (a, b) => tf.add(a, b),
  "-": (a, b) => tf.sub(a, b),
  "*": (a, b) => tf.mul(a, b),
  "/": (a, b) => tf.div(a, b),
  "^": (a, b) => tf.pow(a, b),
  "<": (a, b) => asFloat(tf.less(a, b)),
  "<=": (a, b) => asFloat(tf.lessEqual(a, b)),
  ">": (a, b) => asFloat(tf.greater(a, b)),
  ">=": (a, b) => asFloat(tf.greaterEqual(a, b)),
  "==": (a, b) => asFloat(tf.equal(a, b)),
  "!=": (a, b) => asFloat(tf.notEqual(a, b)),
  and: (a, b) => asFloat(tf.logicalAnd(truthy(a), truthy(b))),
  or: (a, b) => asFloat(tf.logicalOr(truthy(a), truthy(b))),
};

const MATH: Record<MathFn, (...xs: tf.Tensor[]) => tf.Tensor> = {
  min: (a, b) => tf.minimum(a!, b!),
  max: (a, b) => tf.maximum(a!, b!),
  clip: (x, lo, hi) => tf.minimum(tf.maximum(x!, lo!), hi!),
};

/** Broadcasts operands to their finest level (and the node's), then applies `op`. */
function elementwise(node: Formula, args: Leveled[], ctx: FormulaContext, op: (...xs: tf.Tensor[]) => tf.Tensor): Leveled {
  const level = finest(node.level, ...args.map((a) => a.level));
  const allScalar = args.every((a) => a.value.rank === 0);
  if (allScalar) return { level, value: op(...args.map((a) => a.value)) };
  return { level, value: op(...args.map((a) => toLevel(a, level, ctx.batch, true))) };
}

function evalNode(f: Formula, ctx: FormulaContext): Leveled {
  const bt = ctx.batch;
  switch (f.op) {
    case "num":
      return { level: f.level, value: tf.scalar(f.value, "float32") };
    case "ref":
      return resolveRef(f, ctx);
    case "unary":
      return elementwise(f, [evalNode(f.arg, ctx)], ctx, UNARY[f.fn]);
    case "binary":
      return elementwise(f, [evalNode(f.left, ctx), evalNode(f.right, ctx)], ctx, BINARY[f.fn]);
    case "if":
      return elementwise(f, [evalNode(f.cond, ctx), evalNode(f.then, ctx), evalNode(f.else, ctx)], ctx, (c, a, b) =>
        tf.where(truthy(c), a, b),
      );
    case "math":
      return elementwise(f, f.args.map((a) => evalNode(a, ctx)), ctx, MATH[f.fn]);
    case "reduce":
      return reduce(f.fn, evalNode(f.arg, ctx), f.over, bt);
    case "group":
      return groupOp(f.fn, evalNode(f.arg, ctx), f.level, f.by, bt);
    case "scan":
      return scan(SCANS[f.fn].direction, f.gamma, evalNode(f.arg, ctx), f.level, bt);
    case "gae":
      return gae(evalNode(f.reward, ctx), evalNode(f.value, ctx), f.gamma, f.lambda, f.level, bt);
    default: {
      const unknown: never = f;
      throw new FormulaError(
        `unknown formula node ${JSON.stringify((unknown as { op?: unknown }).op)}: the plan was compiled by another version of Stepwise; compile the spec again`,
      );
    }
  }
}

export { maskOf, shapeOf };
