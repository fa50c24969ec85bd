/**
 * The formula IR (dsl/plan.ts) → PyTorch source: `stepwise_advantages.py` of a compiled package.
 * Each IR node becomes one assignment (no deep nesting for Python's parser) calling the runtime
 * (src/compile/python/stepwise_runtime.py), which implements the registry's ops with the
 * semantics of the TF.js evaluator (src/rl/formula). The tables below are typed by the registry
 * (dsl/ops.ts): a new op without its Python form does not compile.
 */
import type { ExperimentPlan, Formula } from "../../dsl/plan.js";
import { SCANS, type BinaryFn, type MathFn, type UnaryFn } from "../../dsl/ops.js";

export type AdvantagePlan = Pick<ExperimentPlan, "rewards" | "lets" | "advantage" | "probes" | "name">;

/** The runtime function each elementwise op of the registry calls (torch.* or rt.*). */
const UNARY_PY: Record<UnaryFn, string> = {
  neg: "torch.neg",
  not: "rt.f_not",
  exp: "torch.exp",
  log: "torch.log",
  abs: "torch.abs",
  sigmoid: "torch.sigmoid",
  sqrt: "torch.sqrt",
  sign: "torch.sign",
  square: "torch.square",
  tanh: "torch.tanh",
};
const BINARY_PY: Record<BinaryFn, string> = {
  "+": "torch.add",
  "-": "torch.sub",
  "*": "torch.mul",
  "/": "torch.div",
  "^": "torch.pow",
  "<": "rt.f_cmp(torch.lt)",
  "<=": "rt.f_cmp(torch.le)",
  ">": "rt.f_cmp(torch.gt)",
  ">=": "rt.f_cmp(torch.ge)",
  "==": "rt.f_cmp(torch.eq)",
  "!=": "rt.f_cmp(torch.ne)",
  and: "rt.f_and",
  or: "rt.f_or",
};
const MATH_PY: Record<MathFn, string> = { min: "torch.minimum", max: "torch.maximum", clip: "rt.f_clip" };

/** A number as a Python float literal. */
export function pyNumber(x: number): string {
  if (Number.isNaN(x)) return 'float("nan")';
  if (!Number.isFinite(x)) return x > 0 ? 'float("inf")' : '-float("inf")';
  const s = String(x);
  return /[.e]/.test(s) ? s : `${s}.0`;
}

/** A string as a Python literal (JSON strings are valid Python strings). */
export const pyString = (s: string): string => JSON.stringify(s);

/** One formula as straight-line Python: the statements and the name of the value. */
function emit(f: Formula, lines: string[], fresh: () => string): string {
  const q = pyString;
  const out = (expr: string): string => {
    const v = fresh();
    lines.push(`    ${v} = ${expr}`);
    return v;
  };
  switch (f.op) {
    case "num":
      return out(`rt.num(${pyNumber(f.value)})`);
    case "ref":
      switch (f.source) {
        case "builtin":
          return out(`ctx.builtin(${q(f.name)}, ${q(f.level)})`);
        case "probe":
          return out(`ctx.probe(${q(f.name)})`);
        case "reward":
        case "let":
          return out(`ctx.declared(${q(f.name)})`);
      }
      break;
    case "unary": {
      const a = emit(f.arg, lines, fresh);
      return out(`rt.elementwise(${q(f.level)}, ${UNARY_PY[f.fn]}, ctx.b, ${a})`);
    }
    case "binary": {
      const a = emit(f.left, lines, fresh);
      const b = emit(f.right, lines, fresh);
      return out(`rt.elementwise(${q(f.level)}, ${BINARY_PY[f.fn]}, ctx.b, ${a}, ${b})`);
    }
    case "if": {
      const c = emit(f.cond, lines, fresh);
      const t = emit(f.then, lines, fresh);
      const e = emit(f.else, lines, fresh);
      return out(`rt.where(${q(f.level)}, ctx.b, ${c}, ${t}, ${e})`);
    }
    case "math": {
      const args = f.args.map((a) => emit(a, lines, fresh));
      return out(`rt.elementwise(${q(f.level)}, ${MATH_PY[f.fn]}, ctx.b, ${args.join(", ")})`);
    }
    case "reduce": {
      const a = emit(f.arg, lines, fresh);
      return out(`rt.reduce(${q(f.fn)}, ${a}, ${q(f.over)}, ctx.b)`);
    }
    case "group": {
      const a = emit(f.arg, lines, fresh);
      return out(`rt.group(${q(f.fn)}, ${a}, ${q(f.level)}, ${f.by ? q(f.by) : "None"}, ctx.b)`);
    }
    case "scan": {
      const a = emit(f.arg, lines, fresh);
      return out(`rt.scan(${q(SCANS[f.fn].direction)}, ${pyNumber(f.gamma)}, ${a}, ${q(f.level)}, ctx.b)`);
    }
    case "gae": {
      const r = emit(f.reward, lines, fresh);
      const u = emit(f.value, lines, fresh);
      return out(`rt.gae(${r}, ${u}, ${pyNumber(f.gamma)}, ${pyNumber(f.lambda)}, ${q(f.level)}, ctx.b)`);
    }
    default: {
      const unknown: never = f;
      throw new Error(`unknown formula node ${JSON.stringify((unknown as { op?: unknown }).op)}`);
    }
  }
  throw new Error("unreachable");
}

/** `def NAME(ctx): …` evaluating one formula. */
function pyFunction(name: string, doc: string, f: Formula): string {
  const lines: string[] = [];
  let n = 0;
  const v = emit(f, lines, () => `v${n++}`);
  return [`def ${name}(ctx: rt.Context) -> rt.V:`, `    """${doc.replace(/"""/g, "'''").replace(/\\/g, "\\\\")}"""`, ...lines, `    return ${v}`, ""].join("\n");
}

const ident = (prefix: string, name: string) => `${prefix}_${name.replace(/[^A-Za-z0-9_]/g, "_")}`;

/**
 * The Python module of a plan's rewards, lets and advantage. `source` says where it came from (the
 * spec file), for the header. The module defines `advantages(batch) -> Tensor [N, T]` (the tensor
 * level the trainers call) and `advantages_from_batch(batch: dict) -> list[list[float]]` (the
 * `stepwise advantage` batch format, one list of per-token advantages per response, in batch order).
 * @example generateAdvantageModule(plan, "examples/quickstart.sw")
 */
export function generateAdvantageModule(plan: AdvantagePlan, source: string, describe: (f: Formula) => string): string {
  if (!plan.advantage) throw new Error(`${source}: the spec declares no advantage`);
  const parts: string[] = [];
  const formulas: string[] = [];
  for (const r of plan.rewards) {
    const fn = ident("reward", r.name);
    parts.push(pyFunction(fn, `reward ${r.name} = ${describe(r.formula)}`, r.formula));
    formulas.push(`    ${pyString(r.name)}: ${fn},`);
  }
  for (const l of plan.lets) {
    const fn = ident("let", l.name);
    parts.push(pyFunction(fn, `let ${l.name} = ${describe(l.formula)}`, l.formula));
    formulas.push(`    ${pyString(l.name)}: ${fn},`);
  }
  parts.push(pyFunction("advantage", `advantage = ${describe(plan.advantage)}`, plan.advantage));
  const probes = plan.probes.map((p) => pyString(p.name)).join(", ");
  return `"""The advantage of experiment ${pyString(plan.name)} as PyTorch code, generated by \`stepwise compile\`
from ${source}. Do not edit: compile the spec again.

    advantages(batch: stepwise_runtime.Batch) -> torch.Tensor         # [N, T], 0 at padding
    advantages_from_batch(batch: dict) -> list[list[float]]             # the \`stepwise advantage\` batch format
"""
from __future__ import annotations

import torch

import stepwise_runtime as rt

#: the probes the advantage reads (their values per step come with the batch)
PROBES: list[str] = [${probes}]
#: the declared rewards, summed into \`reward\` (r_o); none: r_o = outcome
REWARDS: list[str] = [${plan.rewards.map((r) => pyString(r.name)).join(", ")}]


${parts.join("\n\n")}

FORMULAS = {
${formulas.join("\n")}
}


def advantages(batch: rt.Batch) -> torch.Tensor:
    """Per-token advantages [N, T] (float64), 0 at padding."""
    ctx = rt.Context(batch, FORMULAS, REWARDS)
    return rt.token_advantages(advantage(ctx), batch)


def response_rewards(batch: rt.Batch) -> torch.Tensor:
    """r_o per response [N]: the sum of the declared rewards, or outcome when none is declared."""
    ctx = rt.Context(batch, FORMULAS, REWARDS)
    return rt.to_level(ctx.builtin("reward", "response"), "response", batch)


def advantages_from_batch(batch: dict) -> list[list[float]]:
    """The parsed JSON of a \`stepwise advantage\` batch → one list of per-token advantages per response."""
    b = rt.batch_from_json(batch)
    return rt.unpad(advantages(b), b)
`;
}
