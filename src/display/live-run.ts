/**
 * The live view of a run (one display updated in place) and `liveRun`, the package's `sw.run`:
 * the runner plus that view when running in a notebook (Stepwise kernel or stock tslab).
 *
 * A runner honours this contract (src/run/runner.ts runPlan does):
 *   runPlan(plan, { onEvent, signal }) → Promise<RunResult>
 *     onEvent: every RunEvent (src/run/types.ts) as it happens; the view turns them into one live
 *              display (progress ≤ 10 Hz);
 *     signal:  the cell's AbortSignal (src/run/interrupt.ts); on abort, stop at the next safe
 *              point, write the checkpoint, emit { type: "interrupted" }, and resolve.
 * It must await at least once per iteration, or SIGINT cannot reach it.
 */
import type { ExperimentPlan } from "../../dsl/plan.js";
import type { ChartSpec } from "../analytics/charts.js";
import { currentAbortSignal } from "../run/interrupt.js";
import { CALL_SPELLING, decideRerun, type OptionSpelling, type RerunOptions, refusalMessage, RunError } from "../run/rerun.js";
import type { RunOptions, RunResult } from "../run/runner.js";
import { RunStore } from "../run/store.js";
import { advantageTermMetric, METRIC, type MetricsRow, type RunEvent, type RunInfo, type StepRecord } from "../run/types.js";
import { chartTitle, escapeHtml, rowsTableBundle } from "./bundles.js";
import { display, kernelKind, updateDisplay } from "./display.js";
import { CHART_INTERVAL_MS, type Clock, PROGRESS_INTERVAL_MS, realClock, throttle, type Throttled } from "./throttle.js";
import type { MimeBundle } from "./types.js";

/** The live view of a run: one display, updated in place. */
export interface LiveRunViewOptions {
  /** clock for the throttles and the ETA (tests) */
  clock?: Clock;
  /** render the step-value and entropy/KL charts (default true) */
  charts?: boolean;
  /** chart renderer: spec → base64 PNG (default src/analytics/render.ts chartToPNG) */
  renderChart?: (spec: ChartSpec) => Promise<string>;
  /** the source text of each term of the advantage (the plan's `advantageTerms`): shown with its rms */
  advantageTerms?: string[];
  /** a line under the head: where the run came from when it is not a fresh one (shown, continued) */
  banner?: string;
}

/**
 * The live view of a run, one display updated in place on one display id: stage, iteration/total
 * and ETA, the latest metrics, and the step-value-by-step-index and entropy/KL charts built
 * (src/analytics/charts.ts) over the rows and step records the events carried.
 *
 * Throttling (issue 5): the progress part at most every PROGRESS_INTERVAL_MS (≤ 10 Hz). A chart
 * costs 50–100 ms to render on this machine's CPU, on the runner's own thread, so charts are
 * redrawn at most once per CHART_INTERVAL_MS, and never more often than every 10× the time the
 * last redraw took (≤ ~10 % of the run's time), without stopping the run (the render awaits
 * between charts); the last redraw happens when the run finishes. The HTML embeds the charts
 * as PNG images (a display has one bundle, and vega-lite JSON would outrank the progress HTML).
 */
export class LiveRunView {
  readonly id: string;
  private stage = "";
  private done = 0;
  private total = 0;
  private stageStart = 0;
  private note = "";
  private metrics: Record<string, number | string> = {};
  private status = "running";
  /** warning events (a checkpoint repaired, a dead owner's lock taken over), one line each */
  private readonly warnings: string[] = [];
  private readonly rows: MetricsRow[] = [];
  private readonly steps: StepRecord[] = [];
  private chartsHtml = "";
  private chartsDirty = false;
  private rendering: Promise<void> | null = null;
  private lastChartAt = -Infinity;
  private lastChartCost = 0;
  private readonly clock: Clock;
  private readonly progress: Throttled<undefined>;

  constructor(
    private readonly name: string,
    private readonly options: LiveRunViewOptions = {},
  ) {
    this.clock = options.clock ?? realClock;
    this.progress = throttle(() => updateDisplay(this.id, this.bundle()), PROGRESS_INTERVAL_MS, this.clock);
    this.id = display(this.bundle(), { id: true })!;
  }

  onEvent(e: RunEvent): void {
    switch (e.type) {
      case "stage":
        // an evaluation between stages is a note on the head; the bar stays the training stage's
        if (e.stage.startsWith("eval")) {
          this.note = e.stage;
          break;
        }
        this.note = "";
        this.stage = e.stage;
        this.done = 0;
        this.total = e.total;
        this.stageStart = this.clock.now();
        break;
      case "progress":
        this.stage = e.stage;
        this.done = e.done;
        this.total = e.total;
        for (const [k, v] of Object.entries(e.metrics)) if (k !== "time") this.metrics[k] = v;
        break;
      case "iteration":
        this.rows.push(e.row);
        if (e.steps) this.steps.push(...e.steps);
        this.metrics = latestRow(e.row);
        this.chartsDirty = true;
        break;
      case "eval":
        this.note = "";
        this.rows.push(e.row);
        for (const [k, v] of Object.entries(latestRow(e.row))) this.metrics[`eval/${k}`] = v;
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
      case "warning":
        this.warnings.push(e.message);
        break;
    }
    this.progress.push(undefined);
    if (e.type === "finished" || e.type === "interrupted" || e.type === "failed") this.progress.flush();
    else if (e.type === "iteration") this.maybeRenderCharts();
  }

  /** Sends the latest state now. */
  flush(): void {
    this.progress.flush();
  }

  /**
   * The final state: waits for a chart redraw in flight, redraws the charts once more when the
   * run finished (an interrupted one keeps its last charts, so the cell stops at once), and sends.
   */
  async finish(): Promise<void> {
    if (this.rendering) await this.rendering;
    if (this.status === "finished" && this.chartsDirty) await this.renderCharts();
    this.progress.flush();
  }

  /** Resolves when no chart redraw is in flight. */
  async idle(): Promise<void> {
    while (this.rendering) await this.rendering;
  }

  /**
   * A finished run from its records (metrics.jsonl, steps.jsonl), as its live view ended: the
   * last training stage's bar full, the latest rows, the charts drawn by `finish`.
   */
  showRecorded(rows: MetricsRow[], steps: StepRecord[]): void {
    this.rows.push(...rows);
    this.steps.push(...steps);
    const trained = rows.filter((r) => r.stage !== "eval");
    const last = trained.at(-1);
    if (last) {
      this.stage = last.stage;
      this.done = this.total = trained.filter((r) => r.stage_index === last.stage_index && r.stage === last.stage).length;
      this.metrics = latestRow(last);
    }
    const lastEval = rows.filter((r) => r.stage === "eval").at(-1);
    if (lastEval) for (const [k, v] of Object.entries(latestRow(lastEval))) this.metrics[`eval/${k}`] = v;
    this.status = "finished";
    this.chartsDirty = trained.length > 0;
    this.progress.push(undefined);
  }

  /** The rows (metrics.jsonl) and step records (steps.jsonl) the events carried so far. */
  data(): { rows: MetricsRow[]; steps: StepRecord[] } {
    return { rows: this.rows, steps: this.steps };
  }

  private maybeRenderCharts(): void {
    if (this.options.charts === false || this.rendering || !this.chartsDirty) return;
    const wait = Math.max(CHART_INTERVAL_MS, 10 * this.lastChartCost);
    if (this.clock.now() - this.lastChartAt < wait) return;
    this.rendering = this.renderCharts().finally(() => {
      this.rendering = null;
    });
  }

  private async renderCharts(): Promise<void> {
    if (this.options.charts === false) return;
    const t0 = this.clock.now();
    this.chartsDirty = false;
    try {
      const specs = await liveCharts(this.rows, this.steps);
      const render = this.options.renderChart ?? defaultRenderChart;
      const imgs: string[] = [];
      for (const spec of specs) imgs.push(`<img alt="${escapeHtml(chartTitle(spec))}" src="data:image/png;base64,${await render(spec)}">`);
      this.chartsHtml = imgs.length ? `<div style="display:flex;flex-wrap:wrap;gap:8px;align-items:flex-start">${imgs.join("")}</div>` : "";
      this.chartTitles = specs.map(chartTitle);
    } catch (e) {
      this.chartsHtml = `<pre>charts: ${escapeHtml((e as Error).message)}</pre>`;
    }
    this.lastChartAt = this.clock.now();
    this.lastChartCost = this.lastChartAt - t0;
    this.progress.push(undefined);
  }

  private chartTitles: string[] = [];

  /** Estimated time left in the stage, from its pace so far. */
  eta(): number | null {
    if (this.done <= 0 || this.total <= this.done) return null;
    return (((this.clock.now() - this.stageStart) / this.done) * (this.total - this.done)) / 1000;
  }

  bundle(): MimeBundle {
    const frac = this.total > 0 ? Math.min(1, this.done / this.total) : 0;
    const eta = this.status === "running" ? this.eta() : null;
    const note = this.note && this.status === "running" ? ` · ${this.note}` : "";
    const head = `${this.name} · ${this.stage || "starting"} ${this.done}/${this.total}${eta === null ? "" : ` · ETA ${formatSeconds(eta)}`}${note} · ${this.status}`;
    const table = rowsTableBundle(["metric", "value"], Object.entries(this.metrics), { limit: 40 });
    const bar = `<progress value="${frac}" max="1" style="width:40em"></progress>`;
    const width = 30;
    const textBar = `[${"#".repeat(Math.round(frac * width)).padEnd(width, ".")}]`;
    const charts = this.chartTitles.length ? `\n[charts: ${this.chartTitles.join("; ")}]` : "";
    const terms = this.termsLine();
    const warnings = this.warnings.map((w) => `warning: ${w}`);
    const banner = this.options.banner;
    return {
      "text/html": `<div><b>${escapeHtml(head)}</b><br>${banner ? `<div>${escapeHtml(banner)}</div>` : ""}${bar}${warnings.map((w) => `<div>${escapeHtml(w)}</div>`).join("")}${terms ? `<div>${escapeHtml(terms)}</div>` : ""}${table["text/html"] as string}${this.chartsHtml}</div>`,
      "text/plain": `${head}\n${textBar}\n${banner ? `${banner}\n` : ""}${warnings.map((w) => `${w}\n`).join("")}${terms ? `${terms}\n` : ""}${table["text/plain"] as string}${charts}`,
    };
  }

  /**
   * "advantage terms, rms (share): zscore(reward) 0.98 (98%) · center(…) 0.021 (2%)" from the
   * latest iteration's adv/terms/<i>_rms, so a negligible term is visible at once; "" without terms.
   */
  termsLine(): string {
    const sources = this.options.advantageTerms ?? [];
    const rms = sources.map((_, i) => this.metrics[advantageTermMetric(i)]);
    if (sources.length < 2 || !rms.every((v) => typeof v === "number")) return "";
    const total = (rms as number[]).reduce((a, b) => a + b, 0);
    const parts = sources.map((s, i) => {
      const v = rms[i] as number;
      return `${s} ${v.toPrecision(3)} (${total > 0 ? Math.round((100 * v) / total) : 0}%)`;
    });
    return `advantage terms, rms (share): ${parts.join(" · ")}`;
  }
}

/** Options of `liveRun`: the runner's, what a re-run does (src/run/rerun.ts), and whether to show the live view. */
export interface LiveRunOptions extends RunOptions, RerunOptions {
  /** show the live view (default: when running in a kernel, i.e. `kernelKind() !== "none"`) */
  display?: boolean;
  /** options of the view (charts on/off, clock) */
  view?: LiveRunViewOptions;
  /** the runner (default src/run/runner.ts runPlan; the kernel's tests give a stand-in) */
  runner?: RunPlanFn;
  /** how a refusal names the options (default `sw.run`'s; the `%%stepwise run` cell gives its flags) */
  spelling?: OptionSpelling;
}

/** The runner's result, and how this call got it. */
export type LiveRunResult = RunResult & {
  /** trained: a fresh run (or one overwritten); continued: an unfinished run resumed; recorded: a finished run shown from its records */
  origin: "trained" | "continued" | "recorded";
};

/** A runner: src/run/runner.ts runPlan, or a stand-in with its contract (module comment). */
export type RunPlanFn = (plan: ExperimentPlan, opts: RunOptions) => Promise<RunResult>;

/**
 * `sw.run` / `sw.liveRun`: runs a plan with `runPlan` (src/run/runner.ts) and, in a notebook
 * (Stepwise kernel or stock tslab), shows one live display of it. It can be run again, as a
 * notebook cell is (src/run/rerun.ts): with the same plan, a finished run is shown from its
 * records without training and an unfinished one continues from its checkpoint; a run of another
 * plan in the directory is refused unless `overwrite` (replace it) or `suffix` (keep both;
 * the run is then `<name>-<suffix>`); `resume` insists on continuing. A refusal or a failed run
 * throws a RunError (`sw.runPlan` returns the failed result instead), so the cell fails and no
 * later cell reads a run this one did not make. The cell's interrupt stops the run at its next
 * safe point with a checkpoint (the runner's `signal` defaults to the cell's,
 * src/run/interrupt.ts); the interrupted result is returned.
 * @example
 *   const result = await sw.run(plan, { out: "runs" });   // in a TypeScript cell
 *   const tables = await sw.loadRun(result.dir);
 */
export async function liveRun(plan: ExperimentPlan, opts: LiveRunOptions = {}): Promise<LiveRunResult> {
  const { display: show = kernelKind() !== "none", view: viewOptions, runner, spelling, suffix, ...runOptions } = opts;
  const decision = decideRerun(plan, { ...runOptions, suffix });
  if (decision.action === "refuse") throw new RunError(refusalMessage(decision.refusal, spelling ?? CALL_SPELLING));
  if (decision.action === "show") return showRecordedRun(decision.plan, decision.dir, decision.info, show, viewOptions);

  const continuing = decision.action === "continue";
  const runPlan = runner ?? (await import("../run/runner.js")).runPlan;
  const signal = runOptions.signal ?? currentAbortSignal();
  // the runner gets the directory decided here (a suffix renamed the plan; a stand-in runner may ignore it)
  const options: RunOptions = { ...runOptions, dir: decision.dir, resume: continuing, overwrite: decision.action === "start" && decision.overwrite, signal };
  const origin = continuing ? "continued" : "trained";
  let result: RunResult;
  if (!show) {
    result = await runPlan(decision.plan, { ...options, onEvent: (e) => runOptions.onEvent?.(e) });
  } else {
    const banner = continuing ? `continuing the ${decision.info.status} run in ${decision.dir} from its last checkpoint (same spec)` : undefined;
    const view = new LiveRunView(decision.plan.name, { ...(plan.advantageTerms ? { advantageTerms: plan.advantageTerms } : {}), ...(banner ? { banner } : {}), ...viewOptions });
    const onEvent = (e: RunEvent): void => {
      view.onEvent(e);
      runOptions.onEvent?.(e);
    };
    try {
      result = await runPlan(decision.plan, { ...options, onEvent });
    } finally {
      await view.finish();
    }
  }
  // the runner's message names the run directory and what went wrong (or who else writes it)
  if (result.status === "failed") throw new RunError(result.message ?? `${decision.dir}: the run failed`, result);
  return { ...result, origin };
}

/** A finished run of the same plan: its records as the result, and its live view as it ended. */
async function showRecordedRun(plan: ExperimentPlan, dir: string, info: RunInfo, show: boolean, viewOptions: LiveRunViewOptions | undefined): Promise<LiveRunResult> {
  const store = new RunStore(dir);
  const rows = store.readMetrics();
  const result: LiveRunResult = { dir, status: "finished", evals: rows.filter((r) => r.stage === "eval"), backend: info.backend, origin: "recorded" };
  if (!show) return result;
  const banner = `shown from ${dir}: a finished run of this same spec (not trained again)`;
  const view = new LiveRunView(plan.name, { ...(plan.advantageTerms ? { advantageTerms: plan.advantageTerms } : {}), banner, ...viewOptions });
  view.showRecorded(rows, store.readSteps());
  await view.finish();
  return result;
}

/**
 * The charts of the live view: step value (or, with no probe, step advantage) by step index, the
 * credit panel where steps carry labels, and entropy/KL.
 */
async function liveCharts(rows: MetricsRow[], steps: StepRecord[]): Promise<ChartSpec[]> {
  const a = await import("../analytics/index.js");
  const specs: ChartSpec[] = [];
  const probed = steps.some((s) => s.probes && Object.keys(s.probes).length > 0);
  if (steps.length > 0) {
    const table = a.stepsTable(steps);
    specs.push(probed ? a.stepValueChart(table, { width: 300, height: 160 }) : a.stepAdvantageChart(table, { width: 300, height: 160 }));
    if (a.hasCreditLabels(steps)) specs.push(a.creditChart(steps, { width: 240, height: 140 })); // credit against the step labels
  }
  const trained = rows.filter((r) => r.stage !== "eval");
  if (trained.some((r) => typeof r[METRIC.entropy] === "number" || typeof r[METRIC.kl] === "number")) {
    specs.push(a.entropyKlChart(a.metricsTable(trained), { width: 300, height: 90 }));
  }
  return specs;
}

async function defaultRenderChart(spec: ChartSpec): Promise<string> {
  const { chartToPNG } = await import("../analytics/render.js");
  return (await chartToPNG(spec)).toString("base64");
}

/** The metrics of a row worth a table: numbers and short strings, not the time stamp. */
function latestRow(row: MetricsRow): Record<string, number | string> {
  const out: Record<string, number | string> = {};
  for (const [k, v] of Object.entries(row)) if (v !== undefined && k !== "time") out[k] = v;
  return out;
}

function formatSeconds(s: number): string {
  if (s < 60) return `${Math.round(s)} s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m} min ${Math.round(s - 60 * m)} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}
