/**
 * The runner: executes an ExperimentPlan's stages in order (SFT warm start, RL, DPO, step-DPO),
 * each followed by a held-out evaluation, and emits events that the CLI, the notebook kernel and
 * the report writer listen to. Everything it produced is in its run directory (src/run/store.ts).
 *
 * Robustness (issue 4): an abort signal (Ctrl-C) stops at the next safe point (after an SFT step
 * or an RL iteration), writes a checkpoint and returns "interrupted"; `resume` continues from the
 * last checkpoint and, since every random draw is derived from (seed, stage, iteration), reaches
 * the same result as an uninterrupted run on CPU backends; a non-finite loss or gradient stops the
 * run before the bad update, keeping the last good checkpoint.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { ExperimentPlan, StagePlan } from "../../dsl/plan.js";
import { initBackend } from "../backend/index.js";
import { loadCheckpoint, saveCheckpoint } from "../model/checkpoint.js";
import type { Transformer } from "../model/transformer.js";
import { rlIteration } from "../rl/iteration.js";
import type { TrainContext } from "../train/context.js";
import { evaluate } from "../train/evaluate.js";
import { AdamW, disposeState } from "../train/optimizer.js";
import { constantSchedule } from "../train/schedule.js";
import { sftRows, sftSchedule, sftStep } from "../train/sft.js";
import { NonFiniteError } from "../train/update.js";
import { currentAbortSignal } from "./interrupt.js";
import { buildFromPlan, missingForRun, type Built } from "./build.js";
import { runDpoStage, runStepDpoStage, sampleCorrectSolutions } from "./preference-stages.js";
import { RunStore } from "./store.js";
import type { MetricsFields, MetricsRow, RunEvent, RunInfo, StepRecord } from "./types.js";

export interface RunOptions {
  /** parent of run directories (default "runs"); the run goes to <out>/<plan.name> */
  out?: string;
  /** an exact run directory (overrides out) */
  dir?: string;
  /** continue the run in `dir`/`out` from its last checkpoint */
  resume?: boolean;
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

/** Where the run stands: which stage, and how many of its steps/iterations are done. */
interface Progress {
  stageIndex: number;
  done: number;
}

const STAGE_KIND_ORDER = (plan: ExperimentPlan): string[] => ["init", ...plan.train.map((s) => s.kind)];

/** Deterministic seed of a stage's step: every random draw of a run derives from it. */
export function stepSeed(seed: number, stageIndex: number, step: number): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  for (const v of [stageIndex, step]) {
    h = Math.imul(h ^ v, 0x85ebca6b) >>> 0;
    h = (h ^ (h >>> 13)) >>> 0;
  }
  return h;
}

export async function runPlan(plan: ExperimentPlan, opts: RunOptions = {}): Promise<RunResult> {
  const emit = (e: RunEvent): void => {
    try {
      opts.onEvent?.(e);
    } catch {
      /* a listener's failure never stops the run */
    }
  };
  // in a notebook, the running cell's interrupt stops the run (src/run/interrupt.ts; never aborts elsewhere)
  const signal = opts.signal ?? currentAbortSignal();
  const missing = missingForRun(plan);
  if (missing.length > 0) {
    const message = `the spec cannot run yet: it needs ${missing.join("; ")}`;
    emit({ type: "failed", message });
    return { dir: "", status: "failed", message, evals: [], backend: "" };
  }
  const backend = await initBackend({ backend: opts.backend ?? plan.backend });
  const dir = opts.dir ?? path.join(opts.out ?? "runs", plan.name);
  const store = new RunStore(dir);
  const resuming = Boolean(opts.resume) && store.exists(path.join("checkpoints", "last", "state.json"));
  if (opts.resume && !resuming && !store.exists("run.json")) {
    const message = `nothing to resume in ${dir}: no run.json (start the run without --resume)`;
    emit({ type: "failed", message });
    return { dir, status: "failed", message, evals: [], backend: backend.name };
  }
  store.init(!opts.resume);
  if (opts.specText !== undefined) store.writeText("spec.sw", opts.specText);
  store.writeJSON("plan.json", plan);
  const t0 = Date.now() - (resuming ? (store.readJSON<{ elapsed?: number }>(path.join("checkpoints", "last", "state.json")).elapsed ?? 0) * 1000 : 0);
  const info: RunInfo = { name: plan.name, backend: backend.name, started: new Date().toISOString(), seed: plan.seed, status: "running" };
  store.setInfo(info);

  const specDir = opts.specFile ? path.dirname(path.resolve(opts.specFile)) : process.cwd();
  let built: Built;
  try {
    built = await buildFromPlan(plan, specDir);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    store.setInfo({ ...info, status: "failed", message });
    emit({ type: "failed", message });
    return { dir: store.dir, status: "failed", message, evals: [], backend: backend.name };
  }
  for (const w of built.warnings ?? []) emit({ type: "warning", message: w });
  const ctx: TrainContext = { model: built.model, tokenizer: built.tokenizer, task: built.task, segmentation: plan.steps };
  let optimizer = new AdamW(ctx.model.params);
  let reference: Transformer | null = null;
  let progress: Progress = { stageIndex: 0, done: 0 };
  const evals: MetricsRow[] = [];
  const heldOut = ctx.task.heldOut(plan.eval.prompts);
  const time = (): number => (Date.now() - t0) / 1000;

  const checkpoint = async (tag: string): Promise<string> => {
    const target = store.file("checkpoints", tag);
    await saveCheckpoint(target, {
      model: ctx.model,
      tokenizer: ctx.tokenizer,
      optimizer,
      state: { stageIndex: progress.stageIndex, done: progress.done, elapsed: time(), plan: plan.name },
    });
    emit({ type: "checkpoint", path: target });
    return target;
  };

  // resume: weights, optimizer moments and position from checkpoints/last; the reference model
  // of a preference or RL stage from the checkpoint taken when that stage began
  if (resuming) {
    const ck = await loadCheckpoint(store.file("checkpoints", "last"));
    ctx.model.dispose();
    ctx.model = ck.model;
    const st = ck.state as { stageIndex: number; done: number };
    optimizer.dispose();
    optimizer = stageOptimizer(ctx.model, plan.train[st.stageIndex]);
    if (ck.optimizerState) {
      optimizer.setState(ck.optimizerState);
      disposeState(ck.optimizerState);
    }
    progress = { stageIndex: st.stageIndex, done: st.done };
    store.truncateAfter(progress.stageIndex < plan.train.length ? plan.train[progress.stageIndex]!.kind : "end", progress.done, STAGE_KIND_ORDER(plan));
    for (const row of store.readMetrics()) if (row.stage === "eval") evals.push(row);
  }

  const runEval = async (after: string): Promise<void> => {
    emit({ type: "stage", stage: `eval after ${after}`, total: heldOut.length });
    const r = await evaluate(ctx, heldOut, { maxTokens: plan.eval.maxTokens, temperature: plan.eval.temperature, samples: plan.eval.samples, seed: plan.seed });
    const row: MetricsRow = {
      stage: "eval",
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

  const finish = async (status: RunResult["status"], message?: string, ckpt?: string): Promise<RunResult> => {
    store.setInfo({ ...info, status, message });
    reference?.dispose();
    optimizer.dispose();
    ctx.model.dispose();
    if (status === "finished") emit({ type: "finished", summary: summarise(evals) });
    else if (status === "interrupted") emit({ type: "interrupted", checkpoint: ckpt ?? "" });
    else emit({ type: "failed", message: message ?? "failed", checkpoint: ckpt });
    return { dir: store.dir, status, message, evals, backend: backend.name };
  };

  try {
    if (!resuming) await runEval(plan.train[0]?.kind === "sft" && built.origin === "fresh" ? "init" : "start");
    for (let si = progress.stageIndex; si < plan.train.length; si++) {
      const stage = plan.train[si]!;
      if (si !== progress.stageIndex) progress = { stageIndex: si, done: 0 };
      const total = stageLength(stage, opts.iterations);
      // a fresh optimizer per stage (its own learning rate and moments), unless resuming mid-stage
      if (progress.done === 0) {
        optimizer.dispose();
        optimizer = stageOptimizer(ctx.model, stage);
      }
      // the frozen reference of a preference or RL stage: the model as the stage began
      reference?.dispose();
      reference = null;
      if (stage.kind !== "sft") {
        const refDir = store.file("checkpoints", `ref-${si}`);
        if (progress.done === 0 || !fs.existsSync(path.join(refDir, "config.json"))) {
          reference = ctx.model.clone(false);
          await saveCheckpoint(refDir, { model: reference, tokenizer: ctx.tokenizer });
        } else {
          reference = (await loadCheckpoint(refDir, { trainable: false, forTraining: false })).model;
        }
      }
      emit({ type: "stage", stage: stage.kind, total });
      const every = opts.checkpointEvery ?? 5;
      const sftSched = stage.kind === "sft" ? sftSchedule(stage) : null;
      const lrOf = (step: number): number => (sftSched ? sftSched(step) : constantSchedule("lr" in stage ? stage.lr : 1e-4, 0)(step));

      while (progress.done < total) {
        const step = progress.done;
        const seed = stepSeed(plan.seed, si, step);
        const lr = lrOf(step);
        let row: MetricsFields;
        let stepRecords: StepRecord[] | undefined;
        opts.beforeIteration?.(stage.kind, step, ctx);
        if (stage.kind === "sft") {
          const problems = ctx.task.train(stage.batch, step * stage.batch);
          const rows = stage.onlyCorrect ? await sampleCorrectSolutions(ctx, problems, seed, plan) : sftRows(ctx, problems);
          const res = rows.prompts.length > 0 ? sftStep(ctx, optimizer, rows, lr) : { loss: NaN, gradNorm: 0, tokens: 0 };
          row = { stage: "sft", iteration: step, loss: res.loss, grad_norm: res.gradNorm, learning_rate: lr, tokens: res.tokens };
        } else if (stage.kind === "rl") {
          const problems = ctx.task.train(stage.prompts, step * stage.prompts);
          const res = await rlIteration(ctx, reference!, optimizer, problems, {
            plan,
            iteration: step,
            group: stage.group,
            epochs: stage.epochs,
            minibatch: stage.minibatch,
            lr,
            seed,
          });
          row = res.row;
          store.writeRollouts(step, res.batch);
          store.writeAdvantages(step, res.advantages);
          store.appendSteps(res.steps);
          stepRecords = res.steps;
        } else if (stage.kind === "dpo") {
          row = await runDpoStage(ctx, reference!, optimizer, plan, stage, step, seed, lr);
        } else {
          const res = await runStepDpoStage(ctx, reference!, optimizer, plan, stage, step, seed, lr);
          row = res.row;
        }
        const full: MetricsRow = { ...row, time: time() };
        store.appendMetrics(full);
        progress = { stageIndex: si, done: step + 1 };
        emit({ type: "iteration", row: full, steps: stepRecords });
        emit({ type: "progress", stage: stage.kind, done: progress.done, total, metrics: numeric(full) });
        if (stage.kind === "rl" && stage.evalEvery > 0 && progress.done % stage.evalEvery === 0 && progress.done < total) await runEval(`rl@${progress.done}`);
        await new Promise((r) => setImmediate(r));
        if (signal.aborted) {
          const ck = await checkpoint("last");
          return await finish("interrupted", `interrupted at ${stage.kind} ${progress.done}/${total}; resume with --resume`, ck);
        }
        if (stage.kind !== "sft" && progress.done % every === 0) await checkpoint("last");
      }
      await checkpoint(`${stage.kind}-${si}`);
      await runEval(stage.kind);
      progress = { stageIndex: si + 1, done: 0 };
      await checkpoint("last");
    }
    await checkpoint("final");
    return await finish("finished");
  } catch (err) {
    const message = err instanceof NonFiniteError ? err.message : err instanceof Error ? err.message : String(err);
    // STEPWISE_DEBUG=1 shows where an unexpected error came from (the message alone is the user's view)
    if (process.env.STEPWISE_DEBUG && err instanceof Error && !(err instanceof NonFiniteError)) process.stderr.write(`${err.stack}\n`);
    // the last good checkpoint stays as it was: a failed step never reaches it
    const last = store.file("checkpoints", "last");
    return await finish("failed", message, fs.existsSync(last) ? last : undefined);
  }
}

/**
 * The optimizer of a stage: AdamW with decay 0.1 for SFT (nanoGPT's default) and none for RL and
 * preference stages (TRL's GRPOTrainer and DPOTrainer default), moments fresh at the stage start.
 */
function stageOptimizer(model: Transformer, stage: StagePlan | undefined): AdamW {
  return new AdamW(model.params, { weightDecay: stage?.kind === "sft" ? 0.1 : 0 });
}

function stageLength(stage: StagePlan, iterations?: number): number {
  switch (stage.kind) {
    case "sft":
      return stage.steps;
    case "rl":
      return iterations ?? stage.iterations;
    case "dpo":
      return stage.steps;
    case "step_dpo":
      return iterations ?? stage.iterations;
  }
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
