/** A one-screen summary of an ExperimentPlan: an HTML table and the same as plain text. */
import type { ExperimentPlan, StagePlan } from "../dsl/plan.js";
import { formatFormula } from "../dsl/formula-text.js";
import { rowsTableBundle } from "../src/display/bundles.js";
import type { MimeBundle } from "../src/display/types.js";

export { formatFormula };

function kv(o: object): string {
  return Object.entries(o)
    .filter(([k, v]) => k !== "kind" && v !== undefined && typeof v !== "object")
    .map(([k, v]) => `${k} ${v}`)
    .join(", ");
}

function stage(s: StagePlan): string {
  return `${s.kind}: ${kv(s)}`;
}

/** Rows of (field, value) describing the plan. */
export function planRows(plan: ExperimentPlan): [string, string][] {
  const rows: [string, string][] = [
    ["name", plan.name],
    ["seed", String(plan.seed)],
  ];
  if (plan.backend) rows.push(["backend", plan.backend]);
  if (plan.method) rows.push(["method", `${plan.method.name}(${kv(plan.method.args)})`]);
  if (plan.model) rows.push(["model", plan.model.kind === "load" ? `load ${plan.model.path}` : `gpt ${kv(plan.model.config)}`]);
  if (plan.tokenizer) rows.push(["tokenizer", plan.tokenizer.kind === "hf" ? `hf ${plan.tokenizer.path}` : "chars"]);
  if (plan.task) rows.push(["task", plan.task.kind === "arithmetic" ? `arithmetic ${kv(plan.task.settings)}` : `jsonl ${plan.task.path}`]);
  rows.push(["steps", `${plan.steps.kind}: ${kv(plan.steps)}${plan.steps.kind === "split" ? ` delimiter ${JSON.stringify(plan.steps.delimiter)}` : ""}`]);
  for (const p of plan.probes) rows.push([`probe ${p.name}`, `${p.scorer.kind}: ${JSON.stringify(p.prompt).slice(0, 80)}`]);
  for (const r of plan.rewards) rows.push([`reward ${r.name}`, formatFormula(r.formula)]);
  for (const l of plan.lets) rows.push([`let ${l.name}`, formatFormula(l.formula)]);
  if (plan.advantage) rows.push(["advantage", formatFormula(plan.advantage)]);
  if (plan.objective) rows.push(["objective", `${plan.objective.kind}: ${kv(plan.objective)}`]);
  if (plan.sampler) rows.push(["sampler", `${plan.sampler.kind}: ${kv(plan.sampler)}`]);
  plan.train.forEach((s, i) => rows.push([`train ${i + 1}`, stage(s)]));
  rows.push(["eval", kv(plan.eval)]);
  if (plan.track.length) rows.push(["track", plan.track.join(", ")]);
  return rows;
}

export function planSummaryBundle(plan: ExperimentPlan, variable?: string): MimeBundle {
  const rows = planRows(plan);
  const caption = `Stepwise plan "${plan.name}"${variable ? ` (bound to \`${variable}\`)` : ""}`;
  return rowsTableBundle(["field", "value"], rows, { limit: rows.length, caption });
}
