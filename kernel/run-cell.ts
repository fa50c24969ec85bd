/**
 * `%%stepwise run`: the hook between a DSL cell and the runner.
 *
 * The runner (src/run, written separately) is wired with `setRunner(runPlan)`, or found as the
 * export `runPlan` of src/run/index.ts. It must honour this contract:
 *   runPlan(plan, { onEvent, signal }) → Promise<result>
 *     onEvent: every RunEvent (src/run/types.ts) as it happens; the cell turns them into one live
 *              display (progress ≤ 10 Hz);
 *     signal:  the cell's AbortSignal (kernel/interrupt.ts); on abort, stop at the next safe
 *              point, write the checkpoint, emit { type: "interrupted" }, and resolve or throw.
 * It must await at least once per iteration, or SIGINT cannot reach it.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { ExperimentPlan } from "../dsl/plan.js";
import type { RunEvent } from "../src/run/types.js";
import { tableBundle } from "../src/display/bundles.js";
import { display, updateDisplay } from "../src/display/display.js";
import { PROGRESS_INTERVAL_MS, throttle } from "../src/display/throttle.js";
import type { MimeBundle } from "../src/display/types.js";
import { REPO_ROOT } from "./paths.js";

export interface RunPlanOptions {
  onEvent: (event: RunEvent) => void;
  signal: AbortSignal;
}
export type RunPlanFn = (plan: ExperimentPlan, opts: RunPlanOptions & { specText?: string }) => Promise<unknown>;

let registered: RunPlanFn | null = null;

/** Wires the runner (called by the runner's module or by a later integration step). */
export function setRunner(fn: RunPlanFn | null): void {
  registered = fn;
}

export class RunnerUnavailableError extends Error {
  constructor(why = "no runPlan is registered (kernel/run-cell.ts setRunner) or exported by src/run") {
    super(`runner not available: ${why}`);
    this.name = "RunnerUnavailableError";
  }
}

/**
 * The registered runner, else the `runPlan` export of src/run/index.ts or src/run/runner.ts
 * (STEPWISE_KERNEL_RUNNER, a module path, replaces them for the kernel's tests); throws
 * RunnerUnavailableError when none loads.
 */
export async function findRunner(): Promise<RunPlanFn> {
  if (registered) return registered;
  const candidates = process.env.STEPWISE_KERNEL_RUNNER
    ? [process.env.STEPWISE_KERNEL_RUNNER]
    : [join(REPO_ROOT, "src", "run", "index.ts"), join(REPO_ROOT, "src", "run", "runner.ts")];
  for (const file of candidates) {
    if (!existsSync(file)) continue;
    let mod: { runPlan?: RunPlanFn };
    try {
      mod = (await import(pathToFileURL(file).href)) as typeof mod;
    } catch (e) {
      throw new RunnerUnavailableError(`${file} failed to load: ${(e as Error).message}`);
    }
    if (typeof mod.runPlan === "function") return mod.runPlan;
  }
  throw new RunnerUnavailableError();
}

/** The live view of a run: stage, progress bar, latest metrics; one display updated in place. */
export class LiveRunView {
  private readonly id: string;
  private stage = "";
  private done = 0;
  private total = 0;
  private metrics: Record<string, number | string> = {};
  private status = "running";
  private readonly progress = throttle(() => updateDisplay(this.id, this.bundle()), PROGRESS_INTERVAL_MS);

  constructor(private readonly name: string) {
    this.id = display(this.bundle(), { id: true })!;
  }

  onEvent(e: RunEvent): void {
    switch (e.type) {
      case "stage":
        this.stage = e.stage;
        this.done = 0;
        this.total = e.total;
        break;
      case "progress":
        this.stage = e.stage;
        this.done = e.done;
        this.total = e.total;
        Object.assign(this.metrics, e.metrics);
        break;
      case "iteration":
      case "eval":
        for (const [k, v] of Object.entries(e.row)) if (v !== undefined) this.metrics[k] = v;
        break;
      case "checkpoint":
        this.metrics.checkpoint = e.path;
        break;
      case "finished":
        this.status = "finished";
        break;
      case "interrupted":
        this.status = `interrupted (checkpoint ${e.checkpoint})`;
        break;
      case "failed":
        this.status = `failed: ${e.message}`;
        break;
    }
    this.progress.push(undefined);
    if (e.type === "finished" || e.type === "interrupted" || e.type === "failed") this.progress.flush();
  }

  /** Sends the latest state now. */
  flush(): void {
    this.progress.flush();
  }

  bundle(): MimeBundle {
    const frac = this.total > 0 ? Math.min(1, this.done / this.total) : 0;
    const head = `${this.name} · ${this.stage || "starting"} ${this.done}/${this.total} · ${this.status}`;
    const table = tableBundle(["metric", "value"], Object.entries(this.metrics), { limit: 40 });
    const bar = `<progress value="${frac}" max="1" style="width:40em"></progress>`;
    const width = 30;
    const textBar = `[${"#".repeat(Math.round(frac * width)).padEnd(width, ".")}]`;
    return {
      "text/html": `<div><b>${head.replace(/</g, "&lt;")}</b><br>${bar}${table["text/html"] as string}</div>`,
      "text/plain": `${head}\n${textBar}\n${table["text/plain"] as string}`,
    };
  }
}

/** Runs a compiled plan from a cell, with a live display; throws RunnerUnavailableError without a runner. */
export async function runPlanInCell(plan: ExperimentPlan, signal: AbortSignal, specText?: string): Promise<unknown> {
  const runPlan = await findRunner();
  const view = new LiveRunView(plan.name);
  try {
    return await runPlan(plan, { onEvent: (e) => view.onEvent(e), signal, specText });
  } finally {
    view.flush();
  }
}
