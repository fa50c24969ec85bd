/**
 * The first phase of a run (src/run/runner.ts): everything decided before a byte is written.
 * The plan's name and readiness, the run directory, and on a resume the run it continues (its
 * run.json, its plan unchanged, the overrides it was started with). A refusal here leaves the
 * disk as it was.
 */
import type { ExperimentPlan } from "../../dsl/plan.js";
import { experimentNameProblem } from "../../dsl/experiment-name.js";
import { missingForRun } from "./build.js";
import { planDifference } from "./plan-match.js";
import { holdsRun, runDirFor } from "./run-dir.js";
import { RunStore } from "./store.js";
import type { RunInfo, RunOverrides } from "./types.js";

/** What opening a run reads of the runner's options (RunOptions in src/run/runner.ts). */
export interface OpenOptions extends RunOverrides {
  out?: string;
  dir?: string;
  resume?: boolean;
  overwrite?: boolean;
}

/** A run that may start: its plan (named as the run it resumes), its store and its overrides. */
export interface OpenedRun {
  plan: ExperimentPlan;
  store: RunStore;
  /** run.json of the run being resumed */
  recorded?: RunInfo;
  overrides: RunOverrides;
}

/** Why the run may not start, and the directory it concerns ("" when none was chosen yet). */
export interface Refusal {
  refused: string;
  dir: string;
}

export function openRun(planIn: ExperimentPlan, opts: OpenOptions): OpenedRun | Refusal {
  const nameProblem = opts.dir === undefined ? experimentNameProblem(planIn.name) : null;
  if (nameProblem) return { refused: `${nameProblem} (nothing was written)`, dir: "" };
  const missing = missingForRun(planIn);
  if (missing.length > 0) return { refused: `the spec cannot run yet: it needs ${missing.join("; ")}`, dir: "" };
  const store = new RunStore(opts.dir ?? runDirFor(opts.out ?? "runs", planIn.name));
  const dir = store.dir;

  // a fresh run never takes over a run's directory unasked; a resume continues a run that exists
  let plan = planIn;
  let recorded: RunInfo | undefined;
  if (opts.resume) {
    const resumed = resumeCheck(store, planIn);
    if ("refused" in resumed) return resumed;
    recorded = resumed.recorded;
    plan = { ...planIn, name: recorded.name };
  } else if (holdsRun(dir) && !opts.overwrite) {
    return { refused: `${dir} already holds a run: continue it with --resume, or start again with --overwrite (which deletes that run's files)`, dir };
  }
  const overrides = mergeOverrides(recorded?.options, { iterations: opts.iterations, backend: opts.backend, checkpointEvery: opts.checkpointEvery });
  if (typeof overrides === "string") return { refused: `${store.file("run.json")}: ${overrides}`, dir };
  return { plan, store, recorded, overrides };
}

/** A resume continues the run in `store`: its run.json, and the same spec (the name may differ: spec.sw has no file name of its own). */
function resumeCheck(store: RunStore, plan: ExperimentPlan): { recorded: RunInfo } | Refusal {
  const dir = store.dir;
  if (!store.exists("run.json")) return { refused: `nothing to resume in ${dir}: no run.json (start the run without --resume)`, dir };
  let recorded: RunInfo;
  try {
    recorded = store.readJSON<RunInfo>("run.json");
  } catch (e) {
    return { refused: (e as Error).message, dir };
  }
  if (store.exists("plan.json")) {
    let stored: ExperimentPlan;
    try {
      stored = store.readJSON<ExperimentPlan>("plan.json");
    } catch (e) {
      return { refused: (e as Error).message, dir };
    }
    const difference = planDifference(stored, plan);
    if (difference !== null) {
      return { refused: `${store.file("plan.json")}: the spec differs from the one this run was started with (${difference}); resume with the run's own spec (${store.file("spec.sw")}) or start a new run`, dir };
    }
  }
  return { recorded };
}

/**
 * The overrides of this invocation over the ones the run recorded: a resume reuses what the run
 * was started with; a different value given again is refused (the run would not be the same run).
 */
function mergeOverrides(recorded: RunOverrides | undefined, given: RunOverrides): RunOverrides | string {
  const out: RunOverrides = { ...(recorded ?? {}) };
  for (const [k, v] of Object.entries(given) as [keyof RunOverrides, RunOverrides[keyof RunOverrides]][]) {
    if (v === undefined) continue;
    const before = recorded?.[k];
    if (recorded && before !== v) {
      const flag = k === "checkpointEvery" ? "checkpointEvery" : `--${k}`;
      return before === undefined
        ? `this run was started without ${flag}; resume it without ${flag} ${v} (or start a new run)`
        : `this run was started with ${flag} ${before}; resume it with the same (or without ${flag})`;
    }
    (out as Record<string, unknown>)[k] = v;
  }
  return out;
}
