/**
 * The runner: executes an ExperimentPlan's stages in order, one loop over the Stage protocol
 * (src/run/stage.ts; a module per stage kind in src/run/stages/), each stage followed by a
 * held-out evaluation, and emits events that the CLI, the notebook kernel and the report writer
 * listen to. Everything it produced is in its run directory (src/run/store.ts).
 *
 * Safety (docs/runs.md):
 *  - confinement: the run directory is <out>/<name> with the name one path segment; a fresh run
 *    refuses a directory holding a run unless `overwrite`, and then deletes only a run's files;
 *  - resume from any point: a checkpoint "last" is written after a whole unit of work (a step, its
 *    rows, its evaluation) and records the position (stage index, steps done); `resume` recovers an
 *    interrupted checkpoint swap, drops the rows written after that position and continues; since
 *    every random draw derives from (seed, stage index, step), the resumed run writes what the
 *    uninterrupted run writes. With no checkpoint yet it starts over in the same directory. The
 *    command-line overrides are recorded in run.json and reused;
 *  - an abort signal (Ctrl-C, a notebook interrupt) stops at the next safe point with a checkpoint;
 *  - a non-finite loss or gradient stops the run before the bad update; every failure, whatever
 *    its path, leaves run.json "failed" with the message.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { ExperimentPlan } from "../../dsl/plan.js";
import { experimentNameProblem } from "../../dsl/experiment-name.js";
import { initBackend } from "../backend/index.js";
import { loadCheckpoint, recoverCheckpoints, saveCheckpoint } from "../model/checkpoint.js";
import type { Transformer } from "../model/transformer.js";
import type { TrainContext } from "../train/context.js";
import { evaluate } from "../train/evaluate.js";
import { AdamW, disposeState } from "../train/optimizer.js";
import { NonFiniteError } from "../train/update.js";
import { currentAbortSignal } from "./interrupt.js";
import { buildFromPlan, missingForRun, type Built } from "./build.js";
import { holdsRun, removeRunFiles, runDirFor } from "./run-dir.js";
import type { Stage } from "./stage.js";
import { createStage, sftProblemOffsets } from "./stages/index.js";
import { RunStore, type RunPosition } from "./store.js";
import type { MetricsRow, RunEvent, RunInfo, RunOverrides } from "./types.js";

export interface RunOptions {
  /** parent of run directories (default "runs"); the run goes to <out>/<plan.name> */
  out?: string;
  /** an exact run directory (overrides out) */
  dir?: string;
  /** continue the run in `dir`/`out` from its last checkpoint (its recorded overrides apply) */
  resume?: boolean;
  /** a fresh run in a directory that holds a run deletes that run's files first (else it refuses) */
  overwrite?: boolean;
  /** override the RL iterations of every rl stage */
  iterations?: number;
  backend?: "tensorflow" | "wasm" | "cpu";
  /** stop at the next safe point, keeping a checkpoint */
  signal?: AbortSignal;
  onEvent?: (event: RunEvent) => void;
  /** the spec's text and file, written to the run directory */
  specText?: string;
  specFile?: string;
  /** checkpoint every N RL iterations (default 5) and at the end of each stage */
  checkpointEvery?: number;
  /** test hook: called before each iteration's update with (stage, iteration) */
  beforeIteration?: (stage: string, iteration: number, ctx: TrainContext) => void;
}

export interface RunResult {
  dir: string;
  status: "finished" | "interrupted" | "failed";
  message?: string;
  /** evaluation rows, in order */
  evals: MetricsRow[];
  backend: string;
}

/** Deterministic seed of a stage's step: every random draw of a run derives from it. */
export function stepSeed(seed: number, stageIndex: number, step: number): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  for (const v of [stageIndex, step]) {
    h = Math.imul(h ^ v, 0x85ebca6b) >>> 0;
    h = (h ^ (h >>> 13)) >>> 0;
  }
  return h;
}

/** What a checkpoint's state.json holds (the position is where the run continues). */
interface CheckpointState extends RunPosition {
  elapsed: number;
  plan: string;
}

const failedResult = (dir: string, message: string, backend = ""): RunResult => ({ dir, status: "failed", message, evals: [], backend });

export async function runPlan(planIn: ExperimentPlan, opts: RunOptions = {}): Promise<RunResult> {
  let plan = planIn;
  const emit = (e: RunEvent): void => {
    try {
      opts.onEvent?.(e);
    } catch {
      /* a listener's failure never stops the run */
    }
  };
  const refuse = (message: string, dir = "", backend = ""): RunResult => {
    emit({ type: "failed", message });
    return failedResult(dir, message, backend);
  };
  // in a notebook, the running cell's interrupt stops the run (src/run/interrupt.ts; never aborts elsewhere)
  const signal = opts.signal ?? currentAbortSignal();
  const nameProblem = opts.dir === undefined ? experimentNameProblem(plan.name) : null;
  if (nameProblem) return refuse(`${nameProblem} (nothing was written)`);
  const missing = missingForRun(plan);
  if (missing.length > 0) return refuse(`the spec cannot run yet: it needs ${missing.join("; ")}`);
  const store = new RunStore(opts.dir ?? runDirFor(opts.out ?? "runs", plan.name));
  const dir = store.dir;

  // before anything is written: a fresh run never takes over a run's directory unasked; a resume
  // continues a run that exists, with the overrides it was started with
  let recorded: RunInfo | undefined;
  if (opts.resume) {
    if (!store.exists("run.json")) return refuse(`nothing to resume in ${dir}: no run.json (start the run without --resume)`, dir);
    try {
      recorded = store.readJSON<RunInfo>("run.json");
    } catch (e) {
      return refuse((e as Error).message, dir);
    }
    // the same run: the spec may not have changed since it started (the name may: spec.sw has no file name of its own)
    if (store.exists("plan.json")) {
      let stored: ExperimentPlan;
      try {
        stored = store.readJSON<ExperimentPlan>("plan.json");
      } catch (e) {
        return refuse((e as Error).message, dir);
      }
      if (JSON.stringify({ ...stored, name: "" }) !== JSON.stringify({ ...plan, name: "" })) {
        return refuse(`${store.file("plan.json")}: the spec differs from the one this run was started with; resume with the run's own spec (${store.file("spec.sw")}) or start a new run`, dir);
      }
    }
    plan = { ...plan, name: recorded.name };
  } else if (holdsRun(dir) && !opts.overwrite) {
    return refuse(`${dir} already holds a run: continue it with --resume, or start again with --overwrite (which deletes that run's files)`, dir);
  }
  const overrides = mergeOverrides(recorded?.options, { iterations: opts.iterations, backend: opts.backend, checkpointEvery: opts.checkpointEvery });
  if (typeof overrides === "string") return refuse(`${store.file("run.json")}: ${overrides}`, dir);

  let backendName = "";
  let info: RunInfo | undefined;
  let resources: { ctx?: TrainContext; optimizer?: AdamW; reference?: Transformer | null } = {};
  const release = (): void => {
    resources.reference?.dispose();
    resources.optimizer?.dispose();
    resources.ctx?.model.dispose();
    resources = {};
  };
  // every failure from here on leaves run.json "failed" with the message
  const fail = (err: unknown): RunResult => {
    // STEPWISE_DEBUG=1 shows where an unexpected error came from (the message alone is the user's view)
    if (process.env.STEPWISE_DEBUG && err instanceof Error && !(err instanceof NonFiniteError)) process.stderr.write(`${err.stack}\n`);
    release();
    const last = store.file("checkpoints", "last");
    const checkpoint = fs.existsSync(path.join(last, "state.json")) ? last : undefined;
    let message = err instanceof Error ? err.message : String(err);
    // NonFiniteError says the last good checkpoint is kept: say which, or that there is none
    message = message.replace("(the last good checkpoint is kept)", checkpoint ? `(the last good checkpoint is kept: ${checkpoint})` : "(no checkpoint had been written yet)");
    try {
      const base = info ?? recorded;
      if (base) store.setInfo({ ...base, status: "failed", message });
    } catch {
      /* the disk may be full: the message still reaches the caller */
    }
    emit({ type: "failed", message, checkpoint });
    return failedResult(dir, message, backendName);
  };

  try {
    const backend = await initBackend({ backend: overrides.backend ?? plan.backend });
    backendName = backend.name;
    if (opts.overwrite && !opts.resume) removeRunFiles(dir);
    store.init();
    const repaired = recoverCheckpoints(store.file("checkpoints"));
    for (const r of repaired) emit({ type: "warning", message: `${store.file("checkpoints")}: ${r}` });
    const lastState = path.join("checkpoints", "last", "state.json");
    const resuming = Boolean(opts.resume) && store.exists(lastState);
    if (opts.resume && !resuming) {
      // killed before the first checkpoint: start over in the same directory, as the uninterrupted run did
      removeRunFiles(dir);
      store.init();
    }
    if (opts.specText !== undefined) store.writeText("spec.sw", opts.specText);
    store.writeJSON("plan.json", plan);
    const state = resuming ? store.readJSON<CheckpointState>(lastState) : undefined;
    if (state && !(Number.isInteger(state.stageIndex) && Number.isInteger(state.done) && state.stageIndex >= 0 && state.stageIndex <= plan.train.length)) {
      throw new Error(`${store.file(lastState)}: no valid position (stageIndex ${JSON.stringify(state.stageIndex)}, done ${JSON.stringify(state.done)})`);
    }
    const t0 = Date.now() - (state?.elapsed ?? 0) * 1000;
    const specDirNow = recorded?.specDir ?? (opts.specFile ? path.dirname(path.resolve(opts.specFile)) : process.cwd());
    info = { name: plan.name, backend: backend.name, started: recorded?.started ?? new Date().toISOString(), seed: plan.seed, status: "running", options: overrides, specDir: specDirNow };
    store.setInfo(info);

    // relative paths of the spec (model load, task jsonl) resolve where the run was started, also on a resume from the run's spec.sw
    const specDir = specDirNow;
    const built: Built = await buildFromPlan(plan, specDir);
    for (const w of built.warnings ?? []) emit({ type: "warning", message: w });
    const ctx: TrainContext = { model: built.model, tokenizer: built.tokenizer, task: built.task, segmentation: plan.steps };
    resources.ctx = ctx;
    const firstProblems = sftProblemOffsets(plan.train);
    const stages: Stage[] = plan.train.map((p, i) => createStage(p, i, overrides.iterations, firstProblems[i]));
    let optimizer = new AdamW(ctx.model.params);
    resources.optimizer = optimizer;
    let position: RunPosition = { stageIndex: 0, done: 0 };
    const evals: MetricsRow[] = [];
    const heldOut = ctx.task.heldOut(plan.eval.prompts);
    const time = (): number => (Date.now() - t0) / 1000;
    const every = overrides.checkpointEvery ?? 5;

    const checkpoint = async (tag: string): Promise<string> => {
      const target = store.file("checkpoints", tag);
      const st: CheckpointState = { stageIndex: position.stageIndex, done: position.done, elapsed: time(), plan: plan.name };
      await saveCheckpoint(target, { model: ctx.model, tokenizer: ctx.tokenizer, optimizer, state: st });
      emit({ type: "checkpoint", path: target });
      return target;
    };

    // resume: weights, optimizer moments and position from checkpoints/last
    if (state) {
      const ck = await loadCheckpoint(store.file("checkpoints", "last"));
      ctx.model.dispose();
      ctx.model = ck.model;
      optimizer.dispose();
      optimizer = new AdamW(ctx.model.params, { weightDecay: stages[state.stageIndex]?.weightDecay ?? 0 });
      resources.optimizer = optimizer;
      if (ck.optimizerState) {
        optimizer.setState(ck.optimizerState);
        disposeState(ck.optimizerState);
      }
      position = { stageIndex: state.stageIndex, done: state.done };
      store.truncateTo(position);
      for (const row of store.readMetrics()) if (row.stage === "eval") evals.push(row);
    }

    const runEval = async (after: string, stageIndex: number, done: number): Promise<void> => {
      emit({ type: "stage", stage: `eval after ${after}`, total: heldOut.length });
      const r = await evaluate(ctx, heldOut, { maxTokens: plan.eval.maxTokens, temperature: plan.eval.temperature, samples: plan.eval.samples, seed: plan.seed });
      const row: MetricsRow = {
        stage: "eval",
        stage_index: stageIndex,
        iteration: done,
        after,
        time: time(),
        accuracy: r.accuracy,
        mean_tokens: r.mean_tokens,
        mean_steps: r.mean_steps,
        redundant_step_frac: r.redundant_step_frac ?? undefined,
        greedy_accuracy: r.greedy_accuracy,
        decoding: (plan.eval.temperature ?? 0) > 0 ? `sampled T=${plan.eval.temperature} x${plan.eval.samples ?? 1}` : "greedy",
      };
      store.appendMetrics(row);
      evals.push(row);
      emit({ type: "eval", row, samples: r.samples });
    };

    if (!state) await runEval(plan.train[0]?.kind === "sft" && built.origin === "fresh" ? "init" : "start", 0, 0);
    for (let si = position.stageIndex; si < stages.length; si++) {
      const stage = stages[si]!;
      const total = stage.total;
      // a fresh optimizer per stage (its own learning rate and moments), unless resuming mid-stage
      if (position.done === 0) {
        optimizer.dispose();
        optimizer = new AdamW(ctx.model.params, { weightDecay: stage.weightDecay });
        resources.optimizer = optimizer;
      }
      // the frozen reference: the model as the stage began, saved then, reloaded on a resume
      resources.reference?.dispose();
      resources.reference = null;
      if (stage.usesReference) {
        const refDir = store.file("checkpoints", `ref-${si}`);
        if (position.done === 0) {
          resources.reference = ctx.model.clone(false);
          await saveCheckpoint(refDir, { model: resources.reference, tokenizer: ctx.tokenizer });
        } else {
          if (!fs.existsSync(path.join(refDir, "state.json"))) throw new Error(`${refDir}: missing, but stage ${si} (${stage.label}) resumes at step ${position.done} against the reference saved when it began`);
          resources.reference = (await loadCheckpoint(refDir, { trainable: false, forTraining: false })).model;
        }
      }
      emit({ type: "stage", stage: stage.label, total });
      if (total === 0) {
        await checkpoint(`${stage.label}-${si}`);
        await runEval(stage.label, si, 0);
      }
      for (let step = position.done; step < total; step++) {
        const lr = stage.lr(step);
        opts.beforeIteration?.(stage.label, step, ctx);
        const res = await stage.run({ ctx, plan, optimizer, reference: resources.reference, store, seed: stepSeed(plan.seed, si, step), lr }, step);
        const row: MetricsRow = { ...res.row, stage_index: si, time: time() };
        const steps = res.steps?.map((r) => ({ ...r, stage_index: si }));
        if (steps) store.appendSteps(steps);
        store.appendMetrics(row);
        const done = step + 1;
        emit({ type: "iteration", row, steps });
        emit({ type: "progress", stage: stage.label, done, total, metrics: numeric(row) });
        // the unit of work ends with its evaluation: the stage's own after its last step
        const finished = done === total;
        if (finished) await checkpoint(`${stage.label}-${si}`);
        const evalLabel = finished ? stage.label : stage.evalAfter(done);
        if (evalLabel) await runEval(evalLabel, si, done);
        position = finished ? { stageIndex: si + 1, done: 0 } : { stageIndex: si, done };
        await new Promise((r) => setImmediate(r));
        if (signal.aborted) {
          const ck = await checkpoint("last");
          release();
          store.setInfo({ ...info, status: "interrupted", message: `interrupted at ${stage.label} ${done}/${total}` });
          emit({ type: "interrupted", checkpoint: ck });
          return { dir, status: "interrupted", message: `interrupted at ${stage.label} ${done}/${total}; resume with --resume`, evals, backend: backend.name };
        }
        if (finished || stage.checkpointAfter(done, every)) await checkpoint("last");
      }
      if (total === 0) {
        position = { stageIndex: si + 1, done: 0 };
        await checkpoint("last");
      }
    }
    await checkpoint("final");
    release();
    store.setInfo({ ...info, status: "finished" });
    emit({ type: "finished", summary: summarise(evals) });
    return { dir, status: "finished", evals, backend: backend.name };
  } catch (err) {
    return fail(err);
  }
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

function numeric(row: MetricsRow): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(row)) if (typeof v === "number") out[k] = v;
  return out;
}

/** Before/after of the first and last evaluation. */
export function summarise(evals: MetricsRow[]): Record<string, number | string> {
  if (evals.length === 0) return {};
  const first = evals[0]!;
  const last = evals[evals.length - 1]!;
  const out: Record<string, number | string> = { first: String(first.after), last: String(last.after) };
  for (const k of ["accuracy", "mean_tokens", "mean_steps", "redundant_step_frac"]) {
    if (typeof first[k] === "number") out[`${k}/first`] = first[k] as number;
    if (typeof last[k] === "number") out[`${k}/last`] = last[k] as number;
  }
  return out;
}
