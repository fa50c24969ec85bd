/**
 * AST → ExperimentPlan. Resolves declarations (each singleton at most once), expands `use` from
 * the prelude (or a method the spec defines), types every formula through the checker, reads
 * every settings block against its schema, applies defaults, and checks that the pieces fit
 * (an `rl` stage needs an advantage and the clipped objective, …). Every problem is reported;
 * a plan comes back only when there is no error.
 */
import type {
  ArithmeticSettings, ExperimentPlan, Formula, Granularity, ModelPlan, ObjectivePlan, ProbePlan, SamplerPlan,
  ScorerPlan, SegmentationPlan, StagePlan, TaskPlan, TokenizerPlan,
} from "./plan.js";
import type { ModelConfig } from "../src/model/types.js";
import type { Block, Decl, Expr, Span, Spec } from "./ast.js";
import { didYouMean, NO_SPAN, type DiagnosticBag } from "./diagnostics.js";
import { experimentNameProblem } from "./experiment-name.js";
import { regexHazard } from "./regex-safety.js";
import {
  constValue, LEVELS, readBlock, relocate, requireAtMost, typeFormula, levelWord,
  type Reporter, type Scope, type SettingSpec, type SettingValue,
} from "./checker.js";
import * as S from "./schemas.js";
import { CONFIDENCE_TOKENS, DEFAULT_SEED, DEFAULTS, readInto } from "./settings.js";
import { isBuiltin } from "./ops.js";
import { printExpr } from "./print.js";
import { advantageTerms } from "./terms.js";
import { refsOf } from "./refs.js";
import { ARITHMETIC_PRESETS, type ArithmeticPreset } from "../src/task/arithmetic-presets.js";

export type Purpose = "any" | "advantage" | "run";

type MethodDecl = Extract<Decl, { kind: "method" }>;
type Component = Extract<Decl, { kind: "component" }>;
type Settings = Map<string, { value: SettingValue }>;

const SINGLETONS = new Set(["experiment", "seed", "backend", "advantage", "use", "train", "eval"]);
const METHOD_BODY = new Set(["let", "advantage", "objective", "sampler"]);
const TEMPLATE_FIELDS = ["question", "steps", "step", "reference"];

/** `model gpt`, `task jsonl`, …: the second word, checked against the kinds the keyword has. */
function kindOf(d: Component, kinds: string[], r: Reporter): string | undefined {
  if (kinds.includes(d.type)) return d.type;
  const hint = didYouMean(d.type, kinds);
  r.add(d.typeSpan, `unknown ${d.keyword} \`${d.type}\``, { found: `\`${d.type}\``, expected: kinds.map((k) => `\`${k}\``).join(", "), hint: hint ?? `write \`${d.keyword} ${kinds[0]}\`` });
  return undefined;
}

function noArg(d: Component, r: Reporter): void {
  if (d.arg) r.add(d.arg.span, `\`${d.keyword} ${d.type}\` takes no ${d.arg.kind === "count" ? "number" : d.arg.kind}`, { found: d.arg.raw });
}
function noBlock(d: Component, r: Reporter): void {
  if (d.block && d.block.settings.length > 0) r.add(d.block.span, `\`${d.keyword} ${d.type}\` takes no settings`);
}
function stringArg(d: Component, r: Reporter, what: string): string | undefined {
  if (d.arg?.kind === "string" && d.arg.value.length > 0) return d.arg.value;
  r.add(d.arg?.span ?? d.typeSpan, `\`${d.keyword} ${d.type}\` needs ${what}`, { expected: "a string", found: d.arg ? d.arg.raw : "nothing", hint: `e.g. \`${d.keyword} ${d.type} "${what === "a path" ? "data/file" : "…"}"\`` });
  return undefined;
}

// ---- components ----

function modelPlan(d: Component, scope: Scope): ModelPlan | undefined {
  const r = scope.report;
  const kind = kindOf(d, Object.keys(S.COMPONENTS.model), r);
  if (kind === "load") {
    noBlock(d, r);
    const path = stringArg(d, r, "a path");
    return path === undefined ? undefined : { kind: "load", path };
  }
  noArg(d, r);
  const s = readBlock(d.block, S.MODEL_GPT, scope, `model ${d.type}`);
  if (!kind) return undefined;
  // the settings without a default (kv_heads, …) stay absent: the model's own
  const config = readInto<Partial<ModelConfig>>(S.MODEL_GPT, s, { family: kind === "gpt" ? "gpt2" : "llama", ...DEFAULTS.gpt });
  if (config.width! % config.heads! !== 0) {
    r.add(s.get("heads")?.setting.value.span ?? d.typeSpan, `width ${config.width} does not divide into ${config.heads} heads`, { hint: "pick heads that divide width, e.g. width 128, heads 4" });
  }
  if (config.kvHeads !== undefined && config.heads! % config.kvHeads !== 0) {
    r.add(s.get("kv_heads")!.setting.value.span, `${config.heads} heads do not divide into ${config.kvHeads} kv_heads groups`);
  }
  return { kind: "gpt", config };
}

function tokenizerPlan(d: Component, r: Reporter): TokenizerPlan | undefined {
  const kind = kindOf(d, Object.keys(S.COMPONENTS.tokenizer), r);
  noBlock(d, r);
  if (kind === "chars") {
    noArg(d, r);
    return { kind: "chars" };
  }
  if (kind === "load") {
    const path = stringArg(d, r, "a path");
    return path === undefined ? undefined : { kind: "hf", path };
  }
  return undefined;
}

function taskPlan(d: Component, scope: Scope): TaskPlan | undefined {
  const r = scope.report;
  const kind = kindOf(d, Object.keys(S.COMPONENTS.task), r);
  if (kind === "jsonl") {
    const path = stringArg(d, r, "a path");
    const s = readBlock(d.block, S.TASK_JSONL, scope, "task jsonl");
    if (path === undefined) return undefined;
    return readInto<Extract<TaskPlan, { kind: "jsonl" }>>(S.TASK_JSONL, s, { kind: "jsonl", path, ...DEFAULTS.jsonl });
  }
  noArg(d, r);
  const s = readBlock(d.block, S.TASK_ARITHMETIC, scope, "task arithmetic");
  if (!kind) return undefined;
  const preset = s.get("preset")?.value as ArithmeticPreset | undefined;
  const a: ArithmeticSettings = preset ? ARITHMETIC_PRESETS[preset] : DEFAULTS.arithmetic;
  // `operands` and `values` are ranges: one setting, two plan fields each
  const v = readInto(S.TASK_ARITHMETIC, s, { operands: [a.operandsMin, a.operandsMax], values: [a.valueMin, a.valueMax], operators: a.operators, verbosity: a.verbosity, slips: a.slips });
  const [operandsMin, operandsMax] = v.operands;
  const [valueMin, valueMax] = v.values;
  const operators = v.operators;
  const bad = [...operators].filter((c) => !"+-*".includes(c));
  if (bad.length > 0 || operators.length === 0) {
    r.add(s.get("operators")!.setting.value.span, `the arithmetic task knows the operators + - *, not ${bad.length ? bad.map((c) => JSON.stringify(c)).join(" ") : "none"}`, { expected: 'e.g. "+-*"' });
  }
  const settings: ArithmeticSettings = { operandsMin, operandsMax, valueMin, valueMax, operators, verbosity: v.verbosity, slips: v.slips };
  return { kind: "arithmetic", ...(preset ? { preset } : {}), settings };
}

function stepsPlan(d: Component, scope: Scope): SegmentationPlan | undefined {
  const r = scope.report;
  const kind = kindOf(d, Object.keys(S.COMPONENTS.steps), r);
  const s = readBlock(d.block, S.STEPS, scope, "steps");
  const common = readInto(S.STEPS, s, { minTokens: DEFAULTS.steps.minTokens, maxSteps: DEFAULTS.steps.maxSteps });
  if (kind === "split") {
    if (d.arg?.kind === "string" && d.arg.value.length > 0) return { kind: "split", delimiter: d.arg.value, ...common };
    if (d.arg?.kind === "regex") {
      try {
        new RegExp(d.arg.value, d.arg.flags);
      } catch (err) {
        r.add(d.arg.span, `invalid regex: ${(err as Error).message}`, { found: d.arg.raw });
        return undefined;
      }
      // segmentation runs on every response in one synchronous call: no backtracking blow-up (dsl/regex-safety.ts)
      const hazard = regexHazard(d.arg.value);
      if (hazard) {
        const at = d.arg.span.column + 1 + hazard.index; // the span starts at the opening "/"
        const span = { ...d.arg.span, column: at, offset: d.arg.span.offset + 1 + hazard.index, endLine: d.arg.span.line, endColumn: at + 1, endOffset: d.arg.span.offset + 2 + hazard.index };
        r.add(span, `steps split ${d.arg.raw}: ${hazard.message}`, { hint: "segmentation runs on every sampled response and cannot be interrupted: use a pattern without nested repetition, e.g. /\\n+/ or /Step \\d+:/" });
        return undefined;
      }
      return { kind: "regex", pattern: d.arg.value, flags: d.arg.flags ?? "", ...common };
    }
    r.add(d.arg?.span ?? d.typeSpan, "`steps split` needs a delimiter", { expected: 'a non-empty string or a /regex/', found: d.arg?.raw ?? "nothing", hint: 'e.g. `steps split "\\n"` or `steps split /Step \\d+:/`' });
    return undefined;
  }
  if (kind === "every") {
    const n = d.arg?.kind === "count" ? Number(d.arg.value) : NaN;
    if (!(Number.isInteger(n) && n >= 1) || (d.arg?.unit !== undefined && d.arg.unit !== "tokens")) {
      r.add(d.arg?.span ?? d.typeSpan, "`steps every` needs a whole number of tokens", { expected: "e.g. `every 16 tokens`", found: d.arg?.raw ?? "nothing" });
      return undefined;
    }
    return { kind: "every", tokens: n, ...common };
  }
  return undefined;
}

function objectivePlan(d: Component, scope: Scope): ObjectivePlan | undefined {
  const r = scope.report;
  const kind = kindOf(d, Object.keys(S.COMPONENTS.objective), r);
  noArg(d, r);
  if (kind === "step_dpo") {
    const s = readBlock(d.block, S.OBJECTIVE_STEP_DPO, scope, "objective step_dpo");
    return readInto(S.OBJECTIVE_STEP_DPO, s, DEFAULTS.stepDpo);
  }
  const s = readBlock(d.block, S.OBJECTIVE_CLIPPED, scope, "objective clipped");
  if (!kind) return undefined;
  const { ratio, ...o } = readInto(S.OBJECTIVE_CLIPPED, s, DEFAULTS.clipped);
  return {
    ...o,
    clipHigh: s.has("clip_high") ? o.clipHigh : o.clip, // clip-higher is off unless set
    // absent means per token (the default), so plans of specs that never mention it are unchanged
    ...(ratio === "sequence" ? { ratio } : {}),
  };
}

/**
 * A sampler block. `base`: the `use`d method's sampler; a spec's sampler of the same kind keeps
 * the method's settings it does not set (`use vineppo` + `sampler standard { max_tokens 160 }`
 * keeps the method's value_rollouts).
 */
function samplerPlan(d: Component, scope: Scope, base?: SamplerPlan): SamplerPlan | undefined {
  const r = scope.report;
  const kind = kindOf(d, Object.keys(S.COMPONENTS.sampler), r);
  noArg(d, r);
  if (kind === "tree") {
    const s = readBlock(d.block, S.SAMPLER_TREE, scope, "sampler tree");
    return readInto(S.SAMPLER_TREE, s, base?.kind === "tree" ? { ...DEFAULTS.tree, ...base } : DEFAULTS.tree);
  }
  const s = readBlock(d.block, S.SAMPLER_STANDARD, scope, "sampler standard");
  if (!kind) return undefined;
  const v = readInto(S.SAMPLER_STANDARD, s, base?.kind === "standard" ? { ...DEFAULTS.standard, ...base } : DEFAULTS.standard);
  // the field order compiled plans have always had for a sampler block (a resume compares plan.json as text)
  return { kind: "standard", topP: v.topP, topK: v.topK, temperature: v.temperature, maxTokens: v.maxTokens, valueRollouts: v.valueRollouts };
}

// ---- probes ----

function scorerPlan(e: Expr, scope: Scope): ScorerPlan | undefined {
  const r = scope.report;
  const usage = 'yes_no(" Yes", " No"), likelihood(reference) or confidence';
  if (e.kind === "name" && e.name === "confidence") return { kind: "confidence", tokens: CONFIDENCE_TOKENS };
  if (e.kind === "call" && e.modifiers.length === 0) {
    if (e.fn === "yes_no" && e.args.length === 2 && e.args.every((a) => a.kind === "str" && a.value.length > 0)) {
      return { kind: "yes_no", yes: (e.args[0] as { value: string }).value, no: (e.args[1] as { value: string }).value };
    }
    if (e.fn === "likelihood" && e.args.length === 1 && e.args[0]!.kind === "name" && e.args[0]!.name === "reference") return { kind: "likelihood", target: "reference" };
    if (e.fn === "confidence" && e.args.length === 1) {
      const n = constValue(e.args[0]!, scope);
      if (typeof n === "number" && Number.isInteger(n) && n >= 1) return { kind: "confidence", tokens: n };
    }
  }
  const name = e.kind === "call" ? e.fn : e.kind === "name" ? e.name : "";
  const hint = name ? didYouMean(name, ["yes_no", "likelihood", "confidence"]) : undefined;
  r.add(e.span, "unknown scorer", { expected: usage, found: `\`${printExpr(e)}\``, hint: hint ?? `write \`score ${usage.split(",")[0]}\`` });
  return undefined;
}

function probePlan(d: Extract<Decl, { kind: "probe" }>, scope: Scope): ProbePlan | undefined {
  const r = scope.report;
  const s = readBlock(d.block, S.PROBE, scope, `probe ${d.name}`);
  const prompt = s.get("prompt");
  const score = s.get("score");
  if (!prompt) r.add(d.block.span, `probe \`${d.name}\` needs a \`prompt\``, { hint: 'e.g. prompt "{question}\\n{steps}\\nIs this right?"' });
  if (!score) r.add(d.block.span, `probe \`${d.name}\` needs a \`score\``, { hint: 'e.g. score yes_no(" Yes", " No")' });
  if (!prompt || !score) return undefined;
  const text = prompt.value as string;
  let ok = true;
  for (const m of text.matchAll(/\{([^{}]*)\}/g)) {
    if (!TEMPLATE_FIELDS.includes(m[1]!)) {
      const hint = didYouMean(m[1]!, TEMPLATE_FIELDS);
      r.add(prompt.setting.value.span, `unknown template field \`{${m[1]}}\` in probe \`${d.name}\``, { expected: TEMPLATE_FIELDS.map((f) => `{${f}}`).join(", "), ...(hint ? { hint } : {}) });
      ok = false;
    }
  }
  const scorer = scorerPlan(score.setting.value, scope);
  return ok && scorer ? { name: d.name, prompt: text, scorer } : undefined;
}

// ---- the spec ----

export interface CompileContext {
  spec: Spec;
  bag: DiagnosticBag;
  purpose: Purpose;
  /** the prelude's methods (prelude.ts) */
  prelude: MethodDecl[];
}

/** Compiles a parsed spec; returns the plan when there is no error. */
export function compileSpec(ctx: CompileContext): ExperimentPlan | undefined {
  const { spec, bag, purpose } = ctx;
  const first = new Map<string, Decl>();
  const methods = new Map<string, MethodDecl>(ctx.prelude.map((m) => [m.name, m]));
  const userMethods = new Set<string>();
  const later = new Map<string, Span>();

  // 1) singletons, declared names, methods
  for (const d of spec.decls) {
    const key = d.kind === "component" ? d.keyword : d.kind;
    if (d.kind === "component" || SINGLETONS.has(d.kind)) {
      const prev = first.get(key);
      if (prev) {
        bag.add(d.span, `\`${key}\` is declared twice`, { hint: `the first is on line ${prev.span.line}; keep one` });
        continue;
      }
      first.set(key, d);
    }
    if (d.kind === "reward" || d.kind === "let" || d.kind === "probe") {
      if (later.has(d.name)) bag.add(d.nameSpan, `\`${d.name}\` is declared twice`, { hint: `the first is on line ${later.get(d.name)!.line}` });
      else if (isBuiltin(d.name)) bag.add(d.nameSpan, `\`${d.name}\` is a built-in name`, { hint: `pick another name, e.g. \`my_${d.name}\`` });
      else later.set(d.name, d.nameSpan);
    }
    if (d.kind === "method") {
      if (userMethods.has(d.name)) bag.add(d.nameSpan, `method \`${d.name}\` is defined twice`);
      userMethods.add(d.name);
      methods.set(d.name, d);
      checkMethodShape(d, bag);
    }
  }
  const comp = (k: string) => first.get(k) as Component | undefined;

  // 2) settings that formulas do not depend on
  const scope: Scope = { names: new Map(), later, broken: new Set(spec.brokenNames), params: new Map(), stepContext: false, labels: true, report: bag };
  const task = comp("task") && taskPlan(comp("task")!, scope);
  scope.labels = comp("task")?.type !== "jsonl";
  const model = comp("model") && modelPlan(comp("model")!, scope);
  const tokenizer = comp("tokenizer") ? tokenizerPlan(comp("tokenizer")!, bag) : model ? ({ kind: "chars" } as TokenizerPlan) : undefined;
  const steps = comp("steps") ? stepsPlan(comp("steps")!, scope) : DEFAULTS.steps;

  // 3) probes (step-level values, usable anywhere), then rewards and lets in order
  const probes: ProbePlan[] = [];
  for (const d of spec.decls) {
    if (d.kind !== "probe") continue;
    const p = probePlan(d, scope);
    if (p) probes.push(p);
    scope.names.set(d.name, { level: "step", kind: "probe", span: d.nameSpan });
    later.delete(d.name);
  }
  const rewards: ExperimentPlan["rewards"] = [];
  const lets: ExperimentPlan["lets"] = [];
  for (const d of spec.decls) {
    if (d.kind !== "reward" && d.kind !== "let") continue;
    later.delete(d.name);
    const level = declLevel(d, bag);
    const f = typeFormula(d.formula, { ...scope, stepContext: level === "step" });
    let declared: Granularity | undefined = level ?? f?.level;
    if (f && d.kind === "reward") {
      const target = level ?? "response";
      const what = `reward \`${d.name}\``;
      if (requireAtMost(f, target, d.formula.span, what, scope, target === "response" ? `, or declare a step reward: \`reward ${d.name}: step = ${f.level === "token" ? "sum(… over step)" : "…"}\`` : "")) {
        if (target === "step" && f.level !== "step") {
          bag.add(d.formula.span, `step reward \`${d.name}\` is ${levelWord(f.level)}; a step reward needs a value per step`, { hint: `drop \`: step\` for a response-level reward, or use a step quantity such as \`tokens\` or \`index\`` });
        } else rewards.push({ name: d.name, formula: f });
      }
      declared = target;
    } else if (f && d.kind === "let") {
      if (!level || requireAtMost(f, level, d.formula.span, `let \`${d.name}\``, scope)) lets.push({ name: d.name, formula: f });
      declared = level ?? f.level; // a declared level is the name's level (a coarser formula broadcasts up to it)
    }
    if (declared) scope.names.set(d.name, { level: declared, kind: d.kind, span: d.nameSpan });
    else scope.broken.add(d.name); // its uses are not reported again
  }

  // 4) a method from `use`
  let method: ExperimentPlan["method"];
  let mAdvantage: Formula | undefined;
  let mAdvantageExpr: Expr | undefined;
  let mObjective: ObjectivePlan | undefined;
  let mSampler: SamplerPlan | undefined;
  const use = first.get("use") as Extract<Decl, { kind: "use" }> | undefined;
  let methodOk = true;
  if (use) {
    const m = methods.get(use.name);
    if (!m) {
      const hint = didYouMean(use.name, methods.keys());
      bag.add(use.nameSpan, `unknown method \`${use.name}\``, { found: `\`${use.name}\``, expected: [...methods.keys()].join(", "), hint: hint ?? `the prelude has ${[...methods.keys()].join(", ")}` });
      methodOk = false;
    } else {
      const r = expandMethod(m, use, scope);
      methodOk = r.ok;
      method = r.method;
      mAdvantage = r.advantage;
      mAdvantageExpr = r.advantageExpr;
      mObjective = r.objective;
      mSampler = r.sampler;
    }
  }

  // 5) the advantage, objective and sampler: an explicit declaration wins over the method's
  const advDecl = first.get("advantage") as Extract<Decl, { kind: "advantage" }> | undefined;
  let advantage = mAdvantage;
  let advantageExpr = mAdvantageExpr;
  let advantageOk = true;
  if (advDecl) {
    const f = typeFormula(advDecl.formula, scope);
    advantageOk = !!f;
    if (use && mAdvantage) bag.warn(advDecl.span, `this advantage replaces the one of \`use ${use.name}\``, { hint: "drop one of the two" });
    advantage = f;
    advantageExpr = advDecl.formula;
  }
  let objective = comp("objective") ? objectivePlan(comp("objective")!, scope) : mObjective;
  if (!objective && (advantage || advDecl)) objective = { ...DEFAULTS.clipped };
  if (objective?.kind === "step_dpo" && advantage) {
    if (advDecl) bag.warn(advDecl.span, "the step_dpo objective does not use an advantage", { hint: "use `objective clipped` to train on this advantage" });
    advantage = undefined;
  }
  const sampler = comp("sampler") ? samplerPlan(comp("sampler")!, scope, mSampler) : mSampler ?? DEFAULTS.standard;
  // mc_value is sampled at rollout time: the sampler must ask for the completions
  const reads = new Set<string>();
  for (const f of [advantage, ...rewards.map((x) => x.formula), ...lets.map((x) => x.formula)]) refsOf(f, reads);
  if (reads.has("builtin:mc_value") && !(sampler?.kind === "standard" && (sampler.valueRollouts ?? 0) > 0)) {
    bag.add(advDecl?.span ?? use?.span ?? NO_SPAN, "`mc_value` needs Monte Carlo completions from every step, and the sampler samples none", {
      hint: "set `sampler standard { value_rollouts 4 }` (or `use vineppo(rollouts = 4)`)",
    });
  }

  // 6) stages, evaluation, tracking
  const train: StagePlan[] = [];
  const trainDecl = first.get("train") as Extract<Decl, { kind: "train" }> | undefined;
  for (const st of trainDecl?.stages ?? []) {
    const schema = S.STAGES[st.name];
    if (!schema) {
      const hint = didYouMean(st.name, Object.keys(S.STAGES));
      bag.add(st.nameSpan, `unknown training stage \`${st.name}\``, { found: `\`${st.name}\``, expected: Object.keys(S.STAGES).join(", "), ...(hint ? { hint } : {}) });
      continue;
    }
    const s = readBlock(st.block, schema, scope, `the ${st.name} stage`);
    const stage = stagePlan(st.name as StagePlan["kind"], s);
    train.push(stage);
    const hasAdvantage = !!advantage || (!advantageOk || !methodOk);
    if (stage.kind === "rl" && !hasAdvantage && objective?.kind !== "step_dpo") bag.add(st.nameSpan, "the rl stage needs an advantage", { hint: "declare `advantage = …` or `use grpo` (or another method)" });
    if (stage.kind === "rl" && objective?.kind === "step_dpo") bag.add(st.nameSpan, "the rl stage trains the clipped objective, but the objective is step_dpo", { hint: "use a `step_dpo { … }` stage, or `objective clipped`" });
    if (stage.kind === "step_dpo" && objective?.kind !== "step_dpo" && methodOk) bag.add(st.nameSpan, "the step_dpo stage needs the step_dpo objective", { hint: "`use sppd` or `use step_dpo`, or declare `objective step_dpo { … }`" });
  }
  const evalDecl = first.get("eval") as Extract<Decl, { kind: "eval" }> | undefined;
  const es = readBlock(evalDecl?.block, S.EVAL, scope, "eval");
  const track: string[] = [];
  const known = new Set([...S.METRICS, ...scope.names.keys()]);
  for (const d of spec.decls) {
    if (d.kind !== "track") continue;
    for (const n of d.names) {
      if (!known.has(n.name)) {
        const hint = didYouMean(n.name, known);
        bag.warn(n.span, `unknown metric \`${n.name}\``, { expected: [...known].join(", "), ...(hint ? { hint } : {}) });
      }
      if (!track.includes(n.name) && track.length < 1000) track.push(n.name);
    }
  }

  // 7) what the purpose needs
  const needs = (what: string, hint: string) => bag.add(NO_SPAN, `\`stepwise ${purpose}\` needs ${what}`, { expected: what, hint });
  if (purpose === "advantage" && !advantage && advantageOk && methodOk) {
    needs("an advantage", "declare `advantage = …` or `use grpo` (or another method with an advantage)");
  }
  if (purpose === "run") {
    if (!first.has("model")) needs("a model", "e.g. `model gpt { layers 4, width 128, heads 4, context 128 }`");
    if (!first.has("task")) needs("a task", "e.g. `task arithmetic { operands 2..4 }`");
    if (!first.has("train")) needs("a `train { … }` block", "e.g. `train { rl { iterations 50 } }`");
    else if (train.length === 0 && trainDecl?.stages.length === 0) needs("at least one training stage", "e.g. `train { rl { iterations 50 } }`");
    // only an rl stage reads the advantage (an SFT-only warm start needs none); a train block with
    // an rl stage already says "the rl stage needs an advantage", so this covers a missing block
    if (!first.has("train") && !advantage && objective?.kind !== "step_dpo" && advantageOk && methodOk && !use) needs("an advantage or a method", "declare `advantage = …` or `use grpo`");
  }

  // the name is the run directory's (runs/<name>): one path segment (dsl/experiment-name.ts)
  const experiment = first.get("experiment") as { name: string; nameSpan: Span } | undefined;
  const nameProblem = experiment ? experimentNameProblem(experiment.name) : null;
  if (experiment && nameProblem) bag.add(experiment.nameSpan, nameProblem, { found: JSON.stringify(experiment.name), expected: "one path segment: letters, digits, -, _, .", hint: 'e.g. `experiment "grpo-baseline"`' });

  if (bag.errorCount > 0 || !steps) return undefined;
  // a name from the file name (no `experiment` line) is made a valid one
  const name = experiment?.name ?? (spec.file.replace(/^.*[\\/]/, "").replace(/\.sw$/, "").replace(/[^A-Za-z0-9._-]+/g, "-").replace(/^[^A-Za-z0-9]+/, "").slice(0, 100) || "experiment");
  const terms = advantage && advantageExpr ? advantageTerms(advantageExpr, advantage) : undefined;
  const seedDecl = first.get("seed") as { value: number } | undefined;
  const backend = (first.get("backend") as { name: string } | undefined)?.name as ExperimentPlan["backend"];
  return {
    name,
    seed: seedDecl?.value ?? DEFAULT_SEED,
    ...(backend ? { backend } : {}),
    ...(model ? { model } : {}),
    ...(tokenizer ? { tokenizer } : {}),
    ...(task ? { task } : {}),
    steps,
    probes,
    rewards,
    lets,
    ...(advantage ? { advantage } : {}),
    ...(terms ? { advantageTerms: terms } : {}),
    ...(objective ? { objective } : {}),
    ...(sampler ? { sampler } : {}),
    ...(method ? { method } : {}),
    train,
    eval: readInto(S.EVAL, es, DEFAULTS.eval),
    track,
  };
}

function declLevel(d: Extract<Decl, { kind: "reward" | "let" }>, bag: Reporter): Granularity | undefined {
  if (d.level === undefined) return undefined;
  const allowed: Granularity[] = d.kind === "reward" ? ["response", "step"] : LEVELS;
  if ((allowed as string[]).includes(d.level)) return d.level as Granularity;
  const hint = didYouMean(d.level, allowed);
  bag.add(d.levelSpan!, `\`${d.level}\` is not a level for a ${d.kind}`, { expected: allowed.join(" or "), found: `\`${d.level}\``, ...(hint ? { hint } : {}) });
  return undefined;
}

function stagePlan(name: StagePlan["kind"], s: Settings): StagePlan {
  return readInto<StagePlan>(S.STAGES[name]!, s, DEFAULTS.stages[name]);
}

/** A method definition's own rules: unique parameters, a body of lets and advantage/objective/sampler. */
function checkMethodShape(m: MethodDecl, bag: Reporter): void {
  const seen = new Set<string>();
  for (const p of m.params) {
    if (seen.has(p.name)) bag.add(p.span, `parameter \`${p.name}\` appears twice in method \`${m.name}\``);
    seen.add(p.name);
  }
  const kinds = new Set<string>();
  for (const d of m.body) {
    const key = d.kind === "component" ? d.keyword : d.kind;
    if (!METHOD_BODY.has(key)) bag.add(d.span, `a method body holds let, advantage, objective and sampler, not \`${key}\``, { hint: "declare it at the top level of the spec" });
    else if (d.kind === "let") {
      if (seen.has(d.name)) bag.add(d.nameSpan, `\`${d.name}\` is already a parameter or a let of method \`${m.name}\``);
      else if (isBuiltin(d.name)) bag.add(d.nameSpan, `\`${d.name}\` is a built-in name`, { hint: `pick another name, e.g. \`my_${d.name}\`` });
      seen.add(d.name);
    } else if (kinds.has(key)) bag.add(d.span, `\`${key}\` appears twice in method \`${m.name}\``);
    kinds.add(key);
  }
}

/** Expands `use NAME(args)`: parameters bound to argument expressions read in the spec's scope. */
function expandMethod(m: MethodDecl, use: Extract<Decl, { kind: "use" }>, scope: Scope) {
  const r = scope.report;
  let ok = true;
  const params = new Map<string, { expr: Expr; scope: Scope; local?: boolean }>();
  const paramNames = m.params.map((p) => p.name);
  for (const a of use.args) {
    if (!paramNames.includes(a.name)) {
      const hint = didYouMean(a.name, paramNames);
      r.add(a.nameSpan, `method \`${m.name}\` has no parameter \`${a.name}\``, { found: `\`${a.name}\``, expected: paramNames.join(", ") || "no arguments", ...(hint ? { hint } : {}) });
      ok = false;
    } else if (params.has(a.name)) {
      r.add(a.nameSpan, `\`${a.name}\` is given twice`);
      ok = false;
    } else params.set(a.name, { expr: a.value, scope });
  }
  // Defaults are read in the method's own scope (no spec names), errors shown at the use line.
  const bodyReport = relocate(r, use.span, m.name);
  const defaultScope: Scope = { ...scope, names: new Map(), params: new Map(), report: bodyReport };
  for (const p of m.params) {
    if (params.has(p.name)) continue;
    if (p.default) params.set(p.name, { expr: p.default, scope: defaultScope });
    else {
      r.add(use.span, `method \`${m.name}\` needs \`${p.name}\``, { expected: `\`${p.name} = …\``, hint: `write \`use ${m.name}(${p.name} = …)\`${p.name === "probe" ? " with a declared probe" : ""}` });
      ok = false;
    }
  }
  const args: Record<string, number | string> = {};
  for (const [name, { expr, scope: s }] of params) {
    const v = constValue(expr, s);
    args[name] = v === undefined ? printExpr(expr) : typeof v === "object" ? v.word : v;
  }
  const method = { name: m.name, args };
  if (!ok) return { ok, method };
  const body: Scope = { ...scope, params, broken: new Set(scope.broken), report: bodyReport };
  let advantage: Formula | undefined;
  let advantageExpr: Expr | undefined;
  let objective: ObjectivePlan | undefined;
  let sampler: SamplerPlan | undefined;
  for (const d of m.body) {
    if (d.kind === "let") {
      // A method's own let names a formula inside the body: it expands where it is used, like a
      // parameter, and sees the parameters and the lets above it (not the plan's lets).
      const level = declLevel(d, bodyReport);
      const letScope: Scope = { ...body, params: new Map(params), stepContext: level === "step" };
      const f = typeFormula(d.formula, letScope);
      if (!f) {
        body.broken.add(d.name); // its uses are not reported again
        ok = false;
        continue;
      }
      if (level && !requireAtMost(f, level, d.formula.span, `let \`${d.name}\``, letScope)) ok = false;
      params.set(d.name, { expr: d.formula, scope: letScope, local: true });
    } else if (d.kind === "advantage") {
      advantage = typeFormula(d.formula, body);
      advantageExpr = d.formula;
      if (!advantage) ok = false;
    } else if (d.kind === "component" && d.keyword === "objective") objective = objectivePlan(d, body);
    else if (d.kind === "component" && d.keyword === "sampler") sampler = samplerPlan(d, body);
  }
  // An argument that names a probe must name a declared one (`use sspo(probe = belief)`).
  for (const a of use.args) {
    if (a.name === "probe" && a.value.kind === "name" && scope.names.get(a.value.name)?.kind !== "probe" && !scope.broken.has(a.value.name)) {
      if (scope.names.has(a.value.name)) {
        r.add(a.value.span, `\`${a.value.name}\` is not a probe`, { hint: "declare one with `probe NAME { prompt \"…\", score … }`" });
        ok = false;
      }
    }
  }
  return { ok, method, advantage, advantageExpr, objective, sampler };
}

export type { Block };
