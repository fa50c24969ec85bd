/**
 * Whether a run directory's plan.json is the plan of a spec: what a resume checks (open-run.ts)
 * and what a notebook's re-run checks (rerun.ts). Plans are compared as data, so a spec whose
 * text changed only in whitespace, comments or the order of its settings is the same plan. The
 * name is not compared: it is the run directory's, and a spec.sw resumed by path has none.
 */
import type { ExperimentPlan } from "../../dsl/plan.js";

/** Where two plans first differ, as `path: A in the run, B in this spec`; null when they are the same plan. */
export function planDifference(recorded: ExperimentPlan, plan: ExperimentPlan): string | null {
  // through JSON, as plan.json holds it: undefined fields are absent on both sides
  const a = JSON.parse(JSON.stringify({ ...recorded, name: "" })) as unknown;
  const b = JSON.parse(JSON.stringify({ ...plan, name: "" })) as unknown;
  const at = firstDifference(a, b, "");
  if (at === null) return null;
  return `${at.path || "the plan"}: ${show(at.a)} in the run, ${show(at.b)} in this spec`;
}

interface Difference {
  path: string;
  a: unknown;
  b: unknown;
}

function firstDifference(a: unknown, b: unknown, path: string): Difference | null {
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      const d = firstDifference(a[i], b[i], `${path}[${i}]`);
      if (d) return d;
    }
    return null;
  }
  if (isRecord(a) && isRecord(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
    for (const k of keys) {
      const d = firstDifference(a[k], b[k], path ? `${path}.${k}` : k);
      if (d) return d;
    }
    return null;
  }
  return a === b ? null : { path, a, b };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function show(v: unknown): string {
  if (v === undefined) return "absent";
  const s = JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}
