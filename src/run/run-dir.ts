/**
 * Where a run may write, and what it may delete. A run directory is `<out>/<experiment name>`
 * with the name one path segment (dsl/experiment-name.ts), so nothing outside the runs root is
 * created; a fresh run refuses a directory that already holds a run unless told to overwrite it,
 * and then deletes only the files a run writes (the layout in src/run/types.ts), nothing else a
 * user may have put there.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { experimentNameProblem } from "../../dsl/experiment-name.js";
import { CONFIG_FILE, OPTIMIZER_FILE, STATE_FILE, TOKENIZER_FILE } from "../model/checkpoint.js";
import { WEIGHTS_FILE } from "../io/weights.js";

/** The files at a run directory's top level that a run writes. */
export const RUN_FILES = ["spec.sw", "plan.json", "run.json", "metrics.jsonl", "steps.jsonl", "report.html"] as const;
/** The files of a checkpoint directory (src/model/checkpoint.ts). */
const CHECKPOINT_FILES = [CONFIG_FILE, WEIGHTS_FILE, TOKENIZER_FILE, "tokenizer_config.json", OPTIMIZER_FILE, STATE_FILE];
/** A rollouts file: iter-N.json, iter-N.advantages.json, or a store temporary of one. */
const ROLLOUT_FILE = /^iter-\d+(\.advantages)?\.json(\.tmp-\d+)?$/;
/** A store temporary at the top level (RunStore.writeText). */
const TOP_TMP = new RegExp(`^(${RUN_FILES.map((f) => f.replace(".", "\\.")).join("|")})\\.tmp-\\d+$`);

/** The run directory of a plan name under `out`; throws when the name is not one path segment. */
export function runDirFor(out: string, name: string): string {
  const problem = experimentNameProblem(name);
  if (problem) throw new Error(problem);
  return path.join(out, name);
}

/** Whether `dir` holds (part of) a run: run.json, metrics.jsonl, plan.json or checkpoints/. */
export function holdsRun(dir: string): boolean {
  return ["run.json", "metrics.jsonl", "plan.json", "checkpoints"].some((f) => fs.existsSync(path.join(dir, f)));
}

/**
 * Deletes what a run writes in `dir` and nothing else: the RUN_FILES, rollouts/iter-N files,
 * checkpoint directories' own files and temporaries; a folder is removed only once empty.
 */
export function removeRunFiles(dir: string): void {
  for (const f of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
    if ((RUN_FILES as readonly string[]).includes(f) || TOP_TMP.test(f)) fs.rmSync(path.join(dir, f), { force: true });
  }
  const rollouts = path.join(dir, "rollouts");
  for (const f of listDir(rollouts)) if (ROLLOUT_FILE.test(f)) fs.rmSync(path.join(rollouts, f), { force: true });
  removeIfEmpty(rollouts);
  const checkpoints = path.join(dir, "checkpoints");
  for (const tag of listDir(checkpoints)) {
    const ck = path.join(checkpoints, tag);
    if (!fs.statSync(ck).isDirectory()) continue;
    // a checkpoint (any tag) or a save's temporary (.TAG.tmp-XXXXXX): only its own files go
    for (const f of listDir(ck)) if (CHECKPOINT_FILES.includes(f)) fs.rmSync(path.join(ck, f), { force: true });
    removeIfEmpty(ck);
  }
  removeIfEmpty(checkpoints);
}

function listDir(dir: string): string[] {
  return fs.existsSync(dir) && fs.statSync(dir).isDirectory() ? fs.readdirSync(dir) : [];
}

function removeIfEmpty(dir: string): void {
  if (fs.existsSync(dir) && fs.statSync(dir).isDirectory() && fs.readdirSync(dir).length === 0) fs.rmdirSync(dir);
}
