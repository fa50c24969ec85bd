/**
 * `stepwise run SPEC [--backend B] [--out DIR] [--iterations N] [--checkpoint-every N] [--overwrite] [--resume [RUN_DIR]]`: compiles a
 * spec, runs it with a progress bar, prints a summary. Ctrl-C stops at the next safe point and
 * keeps a checkpoint; a second Ctrl-C exits at once.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { ExperimentPlan } from "../../dsl/plan.js";
import { runPlan, type RunResult } from "../run/runner.js";
import { initBackend } from "../backend/index.js";
import type { RunEvent } from "../run/types.js";
import { METRIC } from "../run/types.js";
import { ProgressBar, fmtNum } from "./progress.js";
import { compileSpecFile } from "./spec.js";

export interface RunCommandOptions {
  backend?: string;
  out?: string;
  iterations?: number;
  checkpointEvery?: number;
  /** a run directory to resume (its spec.sw is used when no SPEC is given) */
  resume?: string | true;
  /** a fresh run in a directory holding a run deletes that run's files first */
  overwrite?: boolean;
}

export async function runCommand(specPath: string | undefined, opts: RunCommandOptions): Promise<number> {
  let spec = specPath;
  let dir: string | undefined;
  if (typeof opts.resume === "string") {
    dir = opts.resume;
    spec ??= path.join(dir, "spec.sw");
  }
  if (!spec) {
    process.stderr.write("stepwise run: give a spec file (stepwise run examples/quickstart.sw) or --resume runs/<name>\n");
    return 2;
  }
  const compiled = compileSpecFile(spec, "run");
  if (!compiled.plan) return 1;
  const plan: ExperimentPlan = compiled.plan;
  const controller = new AbortController();
  let interrupts = 0;
  const onSigint = (): void => {
    interrupts++;
    if (interrupts === 1) {
      process.stderr.write("\nstopping at the next safe point (a checkpoint will be written); Ctrl-C again to quit at once\n");
      controller.abort();
    } else process.exit(130);
  };
  process.on("SIGINT", onSigint);
  try {
    // which path the run computes on (the runner asks for the same backend; the choice is cached)
    const backend = await initBackend({ backend: (opts.backend as "wasm" | "cpu" | "tensorflow" | undefined) ?? plan.backend });
    process.stdout.write(`backend: ${backend.detail}\n`);
  } catch {
    /* runPlan reports a backend that does not start */
  }
  const bar = new ProgressBar("", 1);
  let result: RunResult;
  try {
    result = await runPlan(plan, {
      out: opts.out,
      dir,
      resume: Boolean(opts.resume),
      iterations: opts.iterations,
      checkpointEvery: opts.checkpointEvery,
      overwrite: opts.overwrite,
      backend: opts.backend as "wasm" | "cpu" | "tensorflow" | undefined,
      signal: controller.signal,
      specText: compiled.text,
      specFile: spec,
      onEvent: (e) => printEvent(e, bar),
    });
  } finally {
    process.off("SIGINT", onSigint);
  }
  bar.done();
  if (result.status === "failed") {
    process.stderr.write(`stepwise run: ${result.message}\n`);
    return 1;
  }
  printSummary(result);
  return result.status === "interrupted" ? 130 : 0;
}

function printEvent(e: RunEvent, bar: ProgressBar): void {
  switch (e.type) {
    case "stage":
      bar.done();
      bar.reset(e.stage.padEnd(6), e.total);
      break;
    case "warning":
      bar.done();
      process.stderr.write(`warning: ${e.message}\n`);
      break;
    case "progress": {
      const m = e.metrics;
      bar.relabel(e.stage.padEnd(6), e.total);
      bar.update(e.done, {
        loss: m["loss"],
        acc: m[METRIC.accuracy],
        tokens: m[METRIC.meanTokens],
        entropy: m[METRIC.entropy],
      });
      break;
    }
    case "eval": {
      bar.done();
      const r = e.row;
      process.stderr.write(
        `eval after ${r.after}: accuracy ${fmtNum(Number(r.accuracy))}, mean tokens ${fmtNum(Number(r.mean_tokens))}, mean steps ${fmtNum(Number(r.mean_steps))}` +
          (r.redundant_step_frac !== undefined ? `, redundant steps ${fmtNum(Number(r.redundant_step_frac))}` : "") +
          (r.greedy_accuracy !== undefined ? `, greedy accuracy ${fmtNum(Number(r.greedy_accuracy))}` : "") +
          (r.decoding !== undefined ? ` (${r.decoding})` : "") +
          "\n",
      );
      for (const s of e.samples.slice(0, 2)) process.stderr.write(indent(`${s.prompt}${s.response}  [${s.correct ? "correct" : "wrong"}]`) + "\n");
      break;
    }
    case "checkpoint":
      break;
    case "interrupted":
      bar.done();
      process.stderr.write(`interrupted; checkpoint kept at ${e.checkpoint}\n`);
      break;
    case "failed":
      bar.done();
      break;
    case "finished":
      break;
    case "iteration":
      break;
  }
}

function indent(s: string): string {
  return s
    .split("\n")
    .map((l) => `    | ${l}`)
    .join("\n");
}

function printSummary(result: RunResult): void {
  const out = process.stdout;
  out.write(`\nrun ${result.status}: ${result.dir} (backend ${result.backend})\n`);
  if (result.evals.length === 0) return;
  const greedy = result.evals.some((r) => r.greedy_accuracy !== undefined);
  out.write(`| evaluation after | accuracy (${result.evals[0]!.decoding ?? "greedy"}) | mean tokens | mean steps | redundant-step fraction |${greedy ? " greedy accuracy |" : ""}\n|---|---|---|---|---|${greedy ? "---|" : ""}\n`);
  for (const r of result.evals) {
    out.write(
      `| ${r.after} | ${fmtNum(Number(r.accuracy))} | ${fmtNum(Number(r.mean_tokens))} | ${fmtNum(Number(r.mean_steps))} | ${r.redundant_step_frac === undefined ? "-" : fmtNum(Number(r.redundant_step_frac))} |${greedy ? ` ${fmtNum(Number(r.greedy_accuracy))} |` : ""}\n`,
    );
  }
  if (result.evals.length >= 2) {
    const a = result.evals[0]!;
    const b = result.evals[result.evals.length - 1]!;
    const dAcc = (Number(b.accuracy) - Number(a.accuracy)) * 100;
    const dTok = (1 - Number(b.mean_tokens) / Math.max(1e-9, Number(a.mean_tokens))) * 100;
    out.write(`\n${b.after} vs ${a.after}: accuracy ${dAcc >= 0 ? "+" : ""}${dAcc.toFixed(1)} points, response tokens ${dTok >= 0 ? "-" : "+"}${Math.abs(dTok).toFixed(1)}%\n`);
  }
  if (fs.existsSync(path.join(result.dir, "metrics.jsonl"))) out.write(`metrics: ${path.join(result.dir, "metrics.jsonl")}\n`);
}
