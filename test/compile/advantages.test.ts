/**
 * One spec, two engines: the PyTorch advantage `stepwise compile` generates equals `stepwise
 * advantage` (the TF.js evaluator) to 1e-6 on every recorded batch fixture and on generated
 * batches (ragged groups, all-equal rewards, one-step responses, probes, unequal step counts),
 * for every prelude method with a clipped objective and every example spec with one.
 */
import { before, test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { compile } from "../../dsl/index.js";
import { refsOf } from "../../dsl/refs.js";
import { loadPrelude } from "../../dsl/prelude.js";
import type { ExperimentPlan } from "../../dsl/plan.js";
import { formatFormula } from "../../dsl/formula-text.js";
import { generateAdvantageModule, pythonSourceDir, RUNTIME_FILES } from "../../src/compile/index.js";
import { runAdvantageCommand } from "../../src/rl/advantage-command.js";
import { makeBatch, SHAPES } from "./batches.js";
import { assertSameAdvantages } from "./helpers.js";
import { pythonSkip, ROOT, runPython } from "../helpers/python.js";
import { FIXTURES } from "../rl/formula-helpers.js";
import { BINARY_OPS, BUILTINS, GROUP_OPS, MATH_FNS, REDUCE_OVER, REDUCTIONS, SCANS, UNARY_FNS } from "../../dsl/ops.js";

/**
 * One spec per entry of the op registry (dsl/ops.ts), generated from it: every built-in, operator
 * and function (each reduction over step and response, each group operator without `by`, by
 * position and by step index, each scan on tokens and steps, gae, if). A registry entry that one
 * engine lacks fails here.
 */
export function registrySpecs(): string[] {
  const pos = "(sigmoid(logratio) + 0.1)"; // token level, positive (log, sqrt)
  const stepX = "sum(logratio over step)";
  const out: string[] = [];
  const spec: Record<string, string> = { tokens: "let t: step = tokens\nadvantage = t + tokens", mc_value: "sampler standard { value_rollouts 4 }\nadvantage = mc_value" };
  for (const b of Object.keys(BUILTINS)) out.push(spec[b] ?? `advantage = ${b}`);
  for (const [fn, spec] of Object.entries(UNARY_FNS)) if (!("operator" in spec)) out.push(`advantage = ${fn}(${pos})`);
  out.push("advantage = -logratio", "advantage = not (logratio > -1)", "advantage = if logratio > -1 then entropy else -entropy");
  for (const op of Object.keys(BINARY_OPS)) out.push(op === "^" ? `advantage = ${pos} ^ logratio` : `advantage = (logratio ${op} ${pos}) + (index ${op} 1)`);
  for (const fn of Object.keys(MATH_FNS)) out.push(fn === "clip" ? "advantage = clip(logratio, -0.5, index * 0.1)" : `advantage = ${fn}(logratio, index * -0.2)`);
  for (const fn of Object.keys(REDUCTIONS)) for (const over of REDUCE_OVER) out.push(`advantage = ${fn}(logratio over ${over})`, `advantage = ${fn}(${stepX} over response) + ${fn}(entropy over ${over})`);
  for (const fn of Object.keys(GROUP_OPS)) {
    out.push(`advantage = ${fn}(reward) + ${fn}(tokens)`, `advantage = ${fn}(${stepX})`, `advantage = ${fn}(entropy)`, `advantage = ${fn}(logratio, by position)`, `advantage = ${fn}(${stepX}, by step index)`);
  }
  for (const [fn, spec] of Object.entries(SCANS)) {
    const g = spec.gamma === "arg" ? ", 0.7" : "";
    out.push(`advantage = ${fn}(logratio${g})`, `advantage = ${fn}(${stepX}${g})`);
  }
  out.push("advantage = gae(step_reward, " + stepX + ", 0.9, 0.8)", "reward r: step = 0.1 * tokens\nreward o = outcome\nadvantage = gae(step_reward, index * 0.1, 1, 1) + reward");
  return out;
}

const skip = pythonSkip();

/** Every spec with a clipped objective and an advantage: the prelude's methods, the examples, the fixtures. */
function specs(): { name: string; plan: ExperimentPlan }[] {
  const out: { name: string; plan: ExperimentPlan }[] = [];
  const probe = 'probe belief { prompt "{question}\\n{steps}", score confidence }\n';
  for (const m of loadPrelude().methods) {
    const hasProbe = m.params.some((p) => p.name === "probe");
    const src = `${hasProbe ? probe : ""}use ${m.name}${hasProbe ? "(probe = belief)" : ""}\n`;
    const { plan } = compile(src, { file: `${m.name}.sw`, purpose: "advantage" });
    // VinePPO's mc_value is refused by every target (src/compile/targets.ts refusals): no completions from prefixes
    if (plan?.advantage && refsOf(plan.advantage).has("builtin:mc_value")) continue;
    if (plan?.advantage && plan.objective?.kind === "clipped") out.push({ name: `prelude ${m.name}`, plan });
  }
  const files = [
    ...fs.readdirSync(path.join(ROOT, "examples")).map((f) => path.join("examples", f)),
    ...fs.readdirSync(path.join(ROOT, "examples", "arena")).map((f) => path.join("examples", "arena", f)),
    ...fs.readdirSync(FIXTURES).map((f) => path.relative(ROOT, path.join(FIXTURES, f))),
  ].filter((f) => f.endsWith(".sw"));
  registrySpecs().forEach((src, i) => {
    const { plan, diagnostics } = compile(src, { file: `registry-${i}.sw`, purpose: "advantage" });
    if (!plan) throw new Error(`${src}: ${diagnostics.map((d) => d.message).join("; ")}`);
    out.push({ name: `registry: ${src.replace(/\n/g, "; ")}`, plan });
  });
  for (const f of files) {
    const { plan } = compile(fs.readFileSync(path.join(ROOT, f), "utf8"), { file: f, purpose: "advantage" });
    if (plan?.advantage && plan.objective?.kind === "clipped") out.push({ name: f, plan });
  }
  return out;
}

let dir: string;
let cases: { name: string; plan: ExperimentPlan; pkg: string }[];
let batches: string[];

before(() => {
  if (skip) return;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "stepwise-compile-"));
  const all = specs();
  const probes = [...new Set(all.flatMap((s) => s.plan.probes.map((p) => p.name)))];
  batches = fs.readdirSync(FIXTURES).filter((f) => f.endsWith(".json") && !f.endsWith(".plan.json")).map((f) => path.join(FIXTURES, f));
  Object.entries(SHAPES).forEach(([name, shape], i) => {
    const file = path.join(dir, `${name}.json`);
    fs.writeFileSync(file, JSON.stringify(makeBatch(100 + i, shape, probes)));
    batches.push(file);
  });
  cases = all.map((s, i) => {
    const pkg = path.join(dir, `pkg${i}`);
    fs.mkdirSync(pkg);
    fs.writeFileSync(path.join(pkg, "plan.json"), JSON.stringify(s.plan));
    fs.writeFileSync(path.join(pkg, "stepwise_advantages.py"), generateAdvantageModule(s.plan, s.name, formatFormula));
    for (const f of RUNTIME_FILES) fs.copyFileSync(path.join(pythonSourceDir(), f), path.join(pkg, f));
    return { ...s, pkg };
  });
});

test("the specs under test: every prelude method with a clipped objective and every example spec with one", { skip }, () => {
  const names = cases.map((c) => c.name);
  for (const m of ["grpo", "dr_grpo", "spro", "sspo"]) assert.ok(names.includes(`prelude ${m}`), m);
  assert.ok(names.includes("examples/quickstart.sw") && names.includes("examples/arena/sspo.sw"), names.join(", "));
  assert.ok(batches.length >= 6);
});

test("generated advantages_from_batch equals stepwise advantage to 1e-6 on every batch", { skip, timeout: 300_000 }, async () => {
  const py = JSON.parse(runPython([path.join(ROOT, "test/compile/eval_advantages.py")], { input: JSON.stringify(cases.map((c) => ({ dir: c.pkg, batches }))) })) as {
    results: (number[][] | { error: string })[][];
  };
  let compared = 0;
  for (const [ci, c] of cases.entries()) {
    for (const [bi, batch] of batches.entries()) {
      const where = `${c.name} on ${path.basename(batch)}`;
      const ts = await runAdvantageCommand(path.join(c.pkg, "plan.json"), batch);
      const got = py.results[ci]![bi]!;
      if (ts.exitCode !== 0) {
        // a batch without the values the spec reads (probes, mc_value): both engines refuse it
        assert.ok(!Array.isArray(got), `${where}: stepwise refused (${ts.stderr.trim()}) but Python gave advantages`);
        assert.match(ts.stderr, /probe|mc_value/, where);
        continue;
      }
      assert.ok(Array.isArray(got), `${where}: ${(got as { error: string }).error}`);
      assertSameAdvantages((JSON.parse(ts.stdout) as { advantages: number[][] }).advantages, got, where, "PyTorch");
      compared++;
    }
  }
  assert.ok(compared >= cases.length * 4, `compared ${compared}`);
});
