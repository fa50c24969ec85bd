/**
 * The runner: executes an ExperimentPlan's stages in order, one loop over the Stage protocol
 * (src/run/stage.ts; a module per stage kind in src/run/stages/), each stage followed by a
 * held-out evaluation, and emits events that the CLI, the notebook kernel and the report writer
 * listen to. Everything it produced is in its run directory (src/run/store.ts).
 *
 * A run goes through five phases, one function each, read in order in `runPlan`:
 *   open      (src/run/open-run.ts) name, readiness, run directory, resume check, overrides;
 *             nothing is written
 *   prepare   backend; the directory made ready (overwrite, checkpoint swap recovery, the
 *             position to resume from); spec, plan and run.json written
 *   build     tokenizer, task, model, stages, optimizer; on a resume the checkpoint's weights,
 *             moments and position, and the rows after that position dropped
 *   stages    per stage: its optimizer and frozen reference, then its steps, each followed by its
 *             rows, evaluation and checkpoint; an abort stops here
 *   finish    the final checkpoint, run.json "finished"
 *
 * Safety (docs/runs.md):
 *  - one writer: the run directory has one owner at a time (runPlan, src/run/run-lock.ts);
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
import { effectiveEval } from "../../dsl/settings.js";
import { initBackend } from "../backend/index.js";
import { loadCheckpoint, recoverCheckpoints, saveCheckpoint } from "../model/checkpoint.js";
import type { Transformer } from "../model/transformer.js";
import type { Problem } from "../task/types.js";
import type { TrainContext } from "../train/context.js";
import { evaluate } from "../train/evaluate.js";
import { AdamW, disposeState } from "../train/optimizer.js";
import { NonFiniteError } from "../train/update.js";
import { currentAbortSignal } from "./interrupt.js";
import { buildFromPlan } from "./build.js";
import { openRun, type OpenOptions, type OpenedRun } from "./open-run.js";
import { removeRunFiles, runDirFor } from "./run-dir.js";
import { lockDir, type DirLock } from "./run-lock.js";
import type { Stage } from "./stage.js";
import { createStage, sftProblemOffsets } from "./stages/index.js";
import type { RunPosition, RunStore } from "./store.js";
import type { MetricsRow, RunEvent, RunInfo, RunOverrides } from "./types.js";

export interface RunOptions extends OpenOptions {
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

/**
 * Runs a plan in its run directory as the directory's one owner (src/run/run-lock.ts): the lock
 * is taken before anything is read or written there (so before `overwrite` deletes anything) and
 * released when the run returns, however it ends; a directory that another live process writes
 * is refused, naming that process, with nothing written. Every entry point (the CLI, compare and
 * its workers, `sw.run`, `%%stepwise run`) comes through here.
 */
export async function runPlan(plan: ExperimentPlan, opts: RunOptions = {}): Promise<RunResult> {
  // a name that is not one path segment, or a resume of nothing: openRun refuses it, writing nothing
  const dir = opts.dir ?? (experimentNameProblem(plan.name) ? undefined : runDirFor(opts.out ?? "runs", plan.name));
  if (dir === undefined || (opts.resume && !fs.existsSync(dir))) return runOwned(plan, opts);
  const emit = safeEmitter(opts.onEvent);
  let lock: DirLock;
  try {
    lock = lockDir(dir);
  } catch (e) {
    const message = (e as Error).message;
    emit({ type: "failed", message });
    return failedResult(path.resolve(dir), message);
  }
  if (lock.tookOver) emit({ type: "warning", message: lock.tookOver });
  try {
    return await runOwned(plan, opts);
  } finally {
    lock.release();
  }
}

/** The run's phases, its directory owned by this process (runPlan). */
async function runOwned(plan: ExperimentPlan, opts: RunOptions): Promise<RunResult> {
  const emit = safeEmitter(opts.onEvent);
  const opened = openRun(plan, opts);
  if ("refused" in opened) {
    emit({ type: "failed", message: opened.refused });
    return failedResult(opened.dir, opened.refused);
  }
  const run = new Run(opened, opts, emit);
  try {
    await run.prepare();
    await run.build();
    await run.evaluateStart();
    for (let si = run.position.stageIndex; si < run.stageCount; si++) {
      const interrupted = await run.runStage(si);
      if (interrupted) return interrupted;
    }
    return await run.finish();
  } catch (err) {
    return run.fail(err);
  }
}

/** What a checkpoint's state.json holds (the position is where the run continues). */
interface CheckpointState extends RunPosition {
  elapsed: number;
  plan: string;
}

/** What the build phase makes and the stages train; released on every way out of the run. */
interface Training {
  ctx: TrainContext;
  optimizer: AdamW;
  /** the model as the current stage began (frozen), for stages with `usesReference`; else null */
  reference: Transformer | null;
  stages: Stage[];
  heldOut: Problem[];
  /** where the model came from ("fresh", or the directory it was loaded from) */
  origin: string;
}

/**
 * One run after it opened: its directory and records (store, run.json, events), and, from the
 * build phase on, the model being trained. Each phase is one method; `runPlan` calls them in order.
 */
class Run {
  private readonly plan: ExperimentPlan;
  private readonly store: RunStore;
  private readonly recorded: RunInfo | undefined;
  private readonly overrides: RunOverrides;
  /** in a notebook, the running cell's interrupt stops the run (src/run/interrupt.ts; never aborts elsewhere) */
  private readonly signal: AbortSignal;
  private backendName = "";
  /** run.json as this run writes it (set by prepare) */
  private info: RunInfo | undefined;
  /** the position the run resumes from (set by prepare on a resume with a checkpoint) */
  private resumedFrom: CheckpointState | undefined;
  /** wall-clock origin, shifted back by the time the resumed run had already spent */
  private t0 = Date.now();
  private training: Training | undefined;
  /** where the next step starts; what checkpoints record */
  position: RunPosition = { stageIndex: 0, done: 0 };
  /** the evaluation rows so far (on a resume, those before the position too) */
  private readonly evals: MetricsRow[] = [];

  constructor(
    opened: OpenedRun,
    private readonly opts: RunOptions,
    private readonly emit: (e: RunEvent) => void,
  ) {
    this.plan = opened.plan;
    this.store = opened.store;
    this.recorded = opened.recorded;
    this.overrides = opened.overrides;
    this.signal = opts.signal ?? currentAbortSignal();
  }

  get stageCount(): number {
    return this.plan.train.length;
  }

  /** Phase prepare: the backend, the directory made ready, the position to resume from, run.json. */
  async prepare(): Promise<void> {
    const { store, opts, plan, recorded } = this;
    const backend = await initBackend({ backend: this.overrides.backend ?? plan.backend });
    this.backendName = backend.name;
    if (opts.overwrite && !opts.resume) removeRunFiles(store.dir);
    store.init();
    for (const r of recoverCheckpoints(store.file("checkpoints"))) this.emit({ type: "warning", message: `${store.file("checkpoints")}: ${r}` });
    const lastState = path.join("checkpoints", "last", "state.json");
    const resuming = Boolean(opts.resume) && store.exists(lastState);
    if (opts.resume && !resuming) {
      // killed before the first checkpoint: start over in the same directory, as the uninterrupted run did
      removeRunFiles(store.dir);
      store.init();
    }
    if (opts.specText !== undefined) store.writeText("spec.sw", opts.specText);
    store.writeJSON("plan.json", plan);
    const state = resuming ? store.readJSON<CheckpointState>(lastState) : undefined;
    if (state && !(Number.isInteger(state.stageIndex) && Number.isInteger(state.done) && state.stageIndex >= 0 && state.stageIndex <= plan.train.length)) {
      throw new Error(`${store.file(lastState)}: no valid position (stageIndex ${JSON.stringify(state.stageIndex)}, done ${JSON.stringify(state.done)})`);
    }
    this.resumedFrom = state;
    this.t0 = Date.now() - (state?.elapsed ?? 0) * 1000;
    // relative paths of the spec (model load, task jsonl) resolve where the run was started, also on a resume from the run's spec.sw
    const specDir = recorded?.specDir ?? (opts.specFile ? path.dirname(path.resolve(opts.specFile)) : process.cwd());
    this.info = { name: plan.name, backend: backend.name, started: recorded?.started ?? new Date().toISOString(), seed: plan.seed, status: "running", options: this.overrides, specDir };
    store.setInfo(this.info);
  }

  /** Phase build: tokenizer, task, model, the stages and an optimizer; on a resume, restored from checkpoints/last. */
  async build(): Promise<void> {
    const { plan } = this;
    const built = await buildFromPlan(plan, this.info!.specDir);
    for (const w of built.warnings ?? []) this.emit({ type: "warning", message: w });
    const ctx: TrainContext = { model: built.model, tokenizer: built.tokenizer, task: built.task, segmentation: plan.steps };
    const firstProblems = sftProblemOffsets(plan.train);
    const stages = plan.train.map((p, i) => createStage(p, i, this.overrides.iterations, firstProblems[i]));
    this.training = { ctx, optimizer: new AdamW(ctx.model.params), reference: null, stages, heldOut: ctx.task.heldOut(plan.eval.prompts), origin: built.origin };
    if (this.resumedFrom) await this.restore(this.resumedFrom);
  }

  /** A resume: weights, optimizer moments and position from checkpoints/last; the rows after it dropped. */
  private async restore(state: CheckpointState): Promise<void> {
    const t = this.trained();
    const ck = await loadCheckpoint(this.store.file("checkpoints", "last"));
    t.ctx.model.dispose();
    t.ctx.model = ck.model;
    this.replaceOptimizer(t.stages[state.stageIndex]?.weightDecay ?? 0);
    if (ck.optimizerState) {
      t.optimizer.setState(ck.optimizerState);
      disposeState(ck.optimizerState);
    }
    this.position = { stageIndex: state.stageIndex, done: state.done };
    this.store.truncateTo(this.position);
    for (const row of this.store.readMetrics()) if (row.stage === "eval") this.evals.push(row);
  }

  /** The evaluation before any training (a resumed run has it already). */
  async evaluateStart(): Promise<void> {
    if (this.resumedFrom) return;
    const fresh = this.plan.train[0]?.kind === "sft" && this.trained().origin === "fresh";
    await this.evaluate(fresh ? "init" : "start", 0, 0);
  }

  /** Phase stages, one stage: its optimizer and reference, then its steps from the position on. Returns the result when interrupted. */
  async runStage(si: number): Promise<RunResult | null> {
    const t = this.trained();
    const stage = t.stages[si]!;
    await this.beginStage(stage, si);
    this.emit({ type: "stage", stage: stage.label, total: stage.total });
    if (stage.total === 0) {
      await this.checkpoint(`${stage.label}-${si}`);
      await this.evaluate(stage.label, si, 0);
      this.position = { stageIndex: si + 1, done: 0 };
      await this.checkpoint("last");
      return null;
    }
    for (let step = this.position.done; step < stage.total; step++) {
      const done = await this.runStep(stage, si, step);
      await new Promise((r) => setImmediate(r));
      if (this.signal.aborted) return this.interrupt(`${stage.label} ${done}/${stage.total}`);
      if (done === stage.total || stage.checkpointAfter(done, this.overrides.checkpointEvery ?? 5)) await this.checkpoint("last");
    }
    return null;
  }

  /**
   * A stage's start: a fresh optimizer (its own learning rate and moments) unless resuming
   * mid-stage; the frozen reference, the model as the stage began, saved then, reloaded on a resume.
   */
  private async beginStage(stage: Stage, si: number): Promise<void> {
    const t = this.trained();
    const resumingMidStage = this.position.done > 0;
    if (!resumingMidStage) this.replaceOptimizer(stage.weightDecay);
    t.reference?.dispose();
    t.reference = null;
    if (!stage.usesReference) return;
    const refDir = this.store.file("checkpoints", `ref-${si}`);
    if (!resumingMidStage) {
      t.reference = t.ctx.model.clone(false);
      await saveCheckpoint(refDir, { model: t.reference, tokenizer: t.ctx.tokenizer });
    } else {
      if (!fs.existsSync(path.join(refDir, "state.json"))) throw new Error(`${refDir}: missing, but stage ${si} (${stage.label}) resumes at step ${this.position.done} against the reference saved when it began`);
      t.reference = (await loadCheckpoint(refDir, { trainable: false, forTraining: false })).model;
    }
  }

  /**
   * One unit of work: the step, its rows, and its evaluation (the stage's own after its last
   * step); the stage's checkpoint after its last. Moves the position on; returns the steps done.
   */
  private async runStep(stage: Stage, si: number, step: number): Promise<number> {
    const t = this.trained();
    const { plan, store } = this;
    this.opts.beforeIteration?.(stage.label, step, t.ctx);
    const res = await stage.run({ ctx: t.ctx, plan, optimizer: t.optimizer, reference: t.reference, store, seed: stepSeed(plan.seed, si, step), lr: stage.lr(step) }, step);
    const row: MetricsRow = { ...res.row, stage_index: si, time: this.time() };
    const steps = res.steps?.map((r) => ({ ...r, stage_index: si }));
    if (steps) store.appendSteps(steps);
    store.appendMetrics(row);
    const done = step + 1;
    this.emit({ type: "iteration", row, steps });
    this.emit({ type: "progress", stage: stage.label, done, total: stage.total, metrics: numeric(row) });
    const finished = done === stage.total;
    if (finished) await this.checkpoint(`${stage.label}-${si}`);
    const evalLabel = finished ? stage.label : stage.evalAfter(done);
    if (evalLabel) await this.evaluate(evalLabel, si, done);
    this.position = finished ? { stageIndex: si + 1, done: 0 } : { stageIndex: si, done };
    return done;
  }

  /** An abort: a checkpoint at the position reached, run.json "interrupted". */
  private async interrupt(where: string): Promise<RunResult> {
    const ck = await this.checkpoint("last");
    this.release();
    this.store.setInfo({ ...this.info!, status: "interrupted", message: `interrupted at ${where}` });
    this.emit({ type: "interrupted", checkpoint: ck });
    return { dir: this.store.dir, status: "interrupted", message: `interrupted at ${where}; resume with --resume`, evals: this.evals, backend: this.backendName };
  }

  /** Phase finish: the final checkpoint, run.json "finished", the before/after summary. */
  async finish(): Promise<RunResult> {
    await this.checkpoint("final");
    this.release();
    this.store.setInfo({ ...this.info!, status: "finished" });
    this.emit({ type: "finished", summary: summarise(this.evals) });
    return { dir: this.store.dir, status: "finished", evals: this.evals, backend: this.backendName };
  }

  /** Every failure after the run opened leaves run.json "failed" with the message. */
  fail(err: unknown): RunResult {
    // STEPWISE_DEBUG=1 shows where an unexpected error came from (the message alone is the user's view)
    if (process.env.STEPWISE_DEBUG && err instanceof Error && !(err instanceof NonFiniteError)) process.stderr.write(`${err.stack}\n`);
    this.release();
    const last = this.store.file("checkpoints", "last");
    const checkpoint = fs.existsSync(path.join(last, "state.json")) ? last : undefined;
    let message = err instanceof Error ? err.message : String(err);
    // NonFiniteError says the last good checkpoint is kept: say which, or that there is none
    message = message.replace("(the last good checkpoint is kept)", checkpoint ? `(the last good checkpoint is kept: ${checkpoint})` : "(no checkpoint had been written yet)");
    try {
      const base = this.info ?? this.recorded;
      if (base) this.store.setInfo({ ...base, status: "failed", message });
    } catch {
      /* the disk may be full: the message still reaches the caller */
    }
    this.emit({ type: "failed", message, checkpoint });
    return failedResult(this.store.dir, message, this.backendName);
  }

  /** A held-out evaluation, as a row of metrics.jsonl and an event. */
  private async evaluate(after: string, stageIndex: number, done: number): Promise<void> {
    const t = this.trained();
    const { plan } = this;
    this.emit({ type: "stage", stage: `eval after ${after}`, total: t.heldOut.length });
    const e = effectiveEval(plan); // temperature and samples defaulted as the compiler does (dsl/settings.ts)
    const r = await evaluate(t.ctx, t.heldOut, { maxTokens: e.maxTokens, temperature: e.temperature, samples: e.samples, seed: plan.seed });
    const row: MetricsRow = {
      stage: "eval",
      stage_index: stageIndex,
      iteration: done,
      after,
      time: this.time(),
      accuracy: r.accuracy,
      mean_tokens: r.mean_tokens,
      mean_steps: r.mean_steps,
      redundant_step_frac: r.redundant_step_frac ?? undefined,
      greedy_accuracy: r.greedy_accuracy,
      decoding: e.temperature > 0 ? `sampled T=${e.temperature} x${e.samples}` : "greedy",
    };
    this.store.appendMetrics(row);
    this.evals.push(row);
    this.emit({ type: "eval", row, samples: r.samples });
  }

  /** Saves model, tokenizer, optimizer and the position under checkpoints/<tag>. */
  private async checkpoint(tag: string): Promise<string> {
    const t = this.trained();
    const target = this.store.file("checkpoints", tag);
    const state: CheckpointState = { stageIndex: this.position.stageIndex, done: this.position.done, elapsed: this.time(), plan: this.plan.name };
    await saveCheckpoint(target, { model: t.ctx.model, tokenizer: t.ctx.tokenizer, optimizer: t.optimizer, state });
    this.emit({ type: "checkpoint", path: target });
    return target;
  }

  private replaceOptimizer(weightDecay: number): void {
    const t = this.trained();
    t.optimizer.dispose();
    t.optimizer = new AdamW(t.ctx.model.params, { weightDecay });
  }

  private trained(): Training {
    if (!this.training) throw new Error("internal: the run's model is used before the build phase");
    return this.training;
  }

  private time(): number {
    return (Date.now() - this.t0) / 1000;
  }

  /** Frees the reference, the optimizer and the model (once; every way out of the run calls it). */
  private release(): void {
    const t = this.training;
    this.training = undefined;
    t?.reference?.dispose();
    t?.optimizer.dispose();
    t?.ctx.model.dispose();
  }
}

/** A listener's failure never stops the run. */
function safeEmitter(onEvent: ((e: RunEvent) => void) | undefined): (e: RunEvent) => void {
  return (e) => {
    try {
      onEvent?.(e);
    } catch {
      /* a listener's failure never stops the run */
    }
  };
}

const failedResult = (dir: string, message: string, backend = ""): RunResult => ({ dir, status: "failed", message, evals: [], backend });

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
