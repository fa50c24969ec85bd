/**
 * What running a plan again does, for the callers that are run again and again: `sw.run` and a
 * notebook's `%%stepwise run` cell (Run All after an edit). Decided before the runner starts,
 * from what the plan's run directory holds; nothing is written here.
 *
 *   nothing there                     start the run
 *   a run of the same plan, finished  show it from its records, without training again
 *   a run of the same plan, not       continue it from its last checkpoint (the runner's resume)
 *     finished (interrupted, failed,
 *     killed)
 *   a run of another plan             refused: `overwrite` replaces it, `suffix` keeps both
 *
 * "The same plan" is the compiled plan (plan-match.ts), not the spec's text, and the same
 * overrides (iterations, backend, checkpointEvery) as run.json recorded. The CLI's
 * `stepwise run` keeps its own rule (a directory holding a run is refused unless --resume or
 * --overwrite, src/run/open-run.ts): a command line says what it wants each time.
 */
import type { ExperimentPlan } from "../../dsl/plan.js";
import { experimentNameProblem } from "../../dsl/experiment-name.js";
import { planDifference } from "./plan-match.js";
import { holdsRun, runDirFor } from "./run-dir.js";
import { RunStore } from "./store.js";
import type { RunInfo, RunOverrides } from "./types.js";

/** What a re-run reads of its caller's options (`sw.run`'s; the `%%stepwise run` line's). */
export interface RerunOptions extends RunOverrides {
  /** parent of run directories (default "runs") */
  out?: string;
  /** an exact run directory (instead of out/name) */
  dir?: string;
  /** delete the run in the directory, if any, and start again */
  overwrite?: boolean;
  /** continue the run in the directory (refused when there is none); a finished one is shown */
  resume?: boolean;
  /** run as `<name>-<suffix>`, in `<out>/<name>-<suffix>`, keeping the run under the plain name */
  suffix?: string;
}

export type RerunDecision =
  /** a fresh run (`overwrite`: the directory's run files are deleted first) */
  | { action: "start"; plan: ExperimentPlan; dir: string; overwrite: boolean }
  /** the runner's resume of the run in `dir` */
  | { action: "continue"; plan: ExperimentPlan; dir: string; info: RunInfo }
  /** the finished run in `dir`, shown from its records */
  | { action: "show"; plan: ExperimentPlan; dir: string; info: RunInfo }
  | { action: "refuse"; refusal: RerunRefusal };

export type RerunRefusal =
  /** `of`: the plan differs, or the overrides (iterations, backend, checkpointEvery) the run was started with */
  | { kind: "changed"; dir: string; difference: string; of: "spec" | "options" }
  | { kind: "unreadable"; dir: string; problem: string }
  | { kind: "nothing-to-resume"; dir: string }
  | { kind: "conflict"; problem: string };

/** How a caller spells its options in a refusal: `sw.run`'s object keys, or the magic line's flags (kernel/dsl-cell.ts). */
export interface OptionSpelling {
  overwrite: string;
  resume: string;
  suffix(name: string): string;
  /** where the options go ("to sw.run's options") */
  where: string;
}

export const CALL_SPELLING: OptionSpelling = {
  overwrite: "`overwrite: true`",
  resume: "`resume: true`",
  suffix: (name) => `\`suffix: "${name}"\``,
  where: "to sw.run's options",
};

/** A run that was refused, or that failed: the cell that asked for it fails with it. */
export class RunError extends Error {
  constructor(
    message: string,
    /** the runner's result, when the runner ran */
    readonly result?: unknown,
  ) {
    super(message);
    this.name = "RunError";
  }
}

export function decideRerun(planIn: ExperimentPlan, opts: RerunOptions): RerunDecision {
  const refuse = (refusal: RerunRefusal): RerunDecision => ({ action: "refuse", refusal });
  if (opts.overwrite && opts.resume) return refuse({ kind: "conflict", problem: "overwrite and resume contradict each other: give one of them" });
  let plan = planIn;
  if (opts.suffix !== undefined) {
    if (opts.dir !== undefined) return refuse({ kind: "conflict", problem: "a suffix names the run directory, and so does dir: give one of them" });
    const name = `${planIn.name}-${opts.suffix}`;
    const problem = experimentNameProblem(name);
    if (problem) return refuse({ kind: "conflict", problem: `suffix ${JSON.stringify(opts.suffix)}: ${problem}` });
    plan = { ...planIn, name };
  }
  let dir: string;
  try {
    dir = new RunStore(opts.dir ?? runDirFor(opts.out ?? "runs", plan.name)).dir;
  } catch (e) {
    return refuse({ kind: "conflict", problem: (e as Error).message });
  }
  const store = new RunStore(dir);

  if (!holdsRun(dir)) return opts.resume ? refuse({ kind: "nothing-to-resume", dir }) : { action: "start", plan, dir, overwrite: false };
  if (opts.overwrite) return { action: "start", plan, dir, overwrite: true };

  const recorded = readRecord(store);
  if ("problem" in recorded) return refuse({ kind: "unreadable", dir, problem: recorded.problem });
  const planDiff = planDifference(recorded.plan, plan);
  if (planDiff !== null) return refuse({ kind: "changed", dir, difference: planDiff, of: "spec" });
  const optionsDiff = overridesDifference(recorded.info?.options, opts, Boolean(opts.resume));
  if (optionsDiff !== null) return refuse({ kind: "changed", dir, difference: optionsDiff, of: "options" });
  // plan.json without run.json: a start of this very plan cut before it wrote run.json
  if (!recorded.info) return { action: "start", plan, dir, overwrite: true };
  if (recorded.info.status === "finished") return { action: "show", plan, dir, info: recorded.info };
  return { action: "continue", plan, dir, info: recorded.info };
}

/** plan.json (required to compare) and run.json (absent before the run's first write of it). */
function readRecord(store: RunStore): { plan: ExperimentPlan; info?: RunInfo } | { problem: string } {
  if (!store.exists("plan.json")) return { problem: `${store.file("plan.json")} is missing, so its spec is unknown` };
  try {
    const plan = store.readJSON<ExperimentPlan>("plan.json");
    return store.exists("run.json") ? { plan, info: store.readJSON<RunInfo>("run.json") } : { plan };
  } catch (e) {
    return { problem: (e as Error).message };
  }
}

/**
 * The overrides given against those the run recorded. A resume asked for by name keeps the
 * recorded ones that are not given again (the runner's rule); any other re-run is the same run
 * only with the same overrides.
 */
function overridesDifference(recorded: RunOverrides | undefined, given: RunOverrides, resume: boolean): string | null {
  for (const k of ["iterations", "backend", "checkpointEvery"] as const) {
    const before = recorded?.[k];
    const now = given[k];
    if (now === undefined && resume) continue;
    if (before !== now) return `${k}: ${before === undefined ? "not given" : JSON.stringify(before)} in the run, ${now === undefined ? "not given" : JSON.stringify(now)} now`;
  }
  return null;
}

/** The refusal in the caller's words: what is in the way, and each option that gets past it. */
export function refusalMessage(r: RerunRefusal, spell: OptionSpelling): string {
  switch (r.kind) {
    case "changed":
      return (
        `${r.dir} holds a run ${r.of === "spec" ? "of a different spec" : "started with other options"} (${r.difference}). ` +
        `Add ${spell.overwrite} ${spell.where} to delete that run and train this spec, or ${spell.suffix("NAME")} to keep both ` +
        `(this one then runs in ${r.dir}-NAME); or ${r.of === "spec" ? `put back the spec that run was made with (${r.dir}/spec.sw)` : "give the options that run was started with"}.`
      );
    case "unreadable":
      return `${r.dir} holds a run that cannot be compared with this spec (${r.problem}). Add ${spell.overwrite} ${spell.where} to delete it and start again, or ${spell.suffix("NAME")} to run in ${r.dir}-NAME.`;
    case "nothing-to-resume":
      return `nothing to resume: ${r.dir} holds no run. Leave out ${spell.resume} to start one.`;
    case "conflict":
      return r.problem;
  }
}
