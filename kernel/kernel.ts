/**
 * The Stepwise kernel: what each request does. Protocol details live in protocol/; tslab's
 * executor in executor.ts; DSL cells in dsl-cell.ts; runs in run-cell.ts.
 */
import { inspect as utilInspect } from "node:util";
import { createRequire } from "node:module";
import type { Message, Publisher } from "./protocol/index.js";
import type { KernelHandler } from "./protocol/server.js";
import { createStepwiseExecutor, type StepwiseExecutor } from "./executor.js";
import { beginCell, endCell, interruptCell, InterruptedError } from "../src/run/interrupt.js";
import { type CompileFn, diagnosticsError, isDslCell, loadCompiler, MAGIC_HELP, parseMagic, specSource, unboundValue } from "./dsl-cell.js";
import { planSummaryBundle } from "./plan-summary.js";
import { runPlanInCell } from "./run-cell.js";
import type { RunPlanFn } from "../src/display/live-run.js";
import { ensureStepwiseTypes } from "./stepwise-types.js";
import { registerSink } from "../src/display/sink.js";
import { toWire } from "../src/display/bundles.js";
import type { MimeBundle } from "../src/display/types.js";
import { kernelLog } from "./log.js";

const require = createRequire(import.meta.url);

/**
 * A `%%stepwise` cell as the DSL sees it: the magic line blanked to spaces (so offsets stay the
 * cell's), and conversions between Jupyter's cursor positions (Unicode code points) and
 * JavaScript string offsets (UTF-16 units).
 */
function dslView(code: string): { source: string; toUnits: (points: number) => number; toPoints: (units: number) => number } {
  const nl = code.indexOf("\n");
  const source = nl < 0 ? " ".repeat(code.length) : " ".repeat(nl) + code.slice(nl);
  const toUnits = (points: number) => {
    let units = 0;
    for (let p = 0; p < points && units < code.length; p++) units += (code.codePointAt(units) ?? 0) > 0xffff ? 2 : 1;
    return units;
  };
  const toPoints = (units: number) => [...code.slice(0, units)].length;
  return { source, toUnits, toPoints };
}
const { isCompleteCode } = require("tslab/dist/converter.js") as typeof import("tslab/dist/converter.js");
const { printQuickInfo } = require("tslab/dist/inspect") as { printQuickInfo(info: unknown): string };
const tslabJupyter = require("tslab/dist/jupyter") as { lastWriteDisplayData: unknown };

const VERSION = "0.1.0";
/** How long an interrupted run may take to reach its safe point and checkpoint. */
const RUN_STOP_GRACE_MS = 10_000;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

/** A value that says how it wants to be shown (also `toMimeBundle()`). */
export const MIME_BUNDLE = Symbol.for("stepwise.mimeBundle");

interface JupyterError {
  ename: string;
  evalue: string;
  traceback: string[];
}

class CellError extends Error {
  constructor(readonly jupyter: JupyterError) {
    super(jupyter.evalue);
  }
}

/**
 * A user's traceback: the "Name: message" line and the cell's frames. Node prefixes vm errors
 * with a source excerpt, and every cell's stack ends in the kernel's machinery (vm, tslab, the
 * protocol layer): both are cut.
 */
export function cleanStack(stack: string, name: string): string[] {
  const lines = stack.split("\n");
  const start = lines.findIndex((l) => l.startsWith(name));
  const out = start >= 0 ? lines.slice(start) : lines;
  const end = out.findIndex((l) => /node:vm|sigintHandlersWrap|[\\/]tslab[\\/]dist[\\/]|[\\/]kernel[\\/](executor|kernel|protocol[\\/]server)\.ts/.test(l));
  return end > 0 ? out.slice(0, end) : out;
}

export function toJupyterError(e: unknown): JupyterError {
  if (e instanceof CellError) return e.jupyter;
  if (e instanceof Error) {
    const code = (e as { code?: string }).code;
    if (code === "ERR_SCRIPT_EXECUTION_INTERRUPTED" || e.message === "Interrupted asynchronously" || e instanceof InterruptedError || e.name === "InterruptedError") {
      const evalue = e instanceof InterruptedError && e.message !== "interrupted" ? e.message : "cell interrupted";
      return { ename: "InterruptedError", evalue, traceback: [`InterruptedError: ${evalue}`] };
    }
    // a refused or failed run (src/run/rerun.ts), a variable a failed cell left unbound: the message says it all
    if (e.name === "RunError" || e.name === "UnboundError") return { ename: e.name, evalue: e.message, traceback: [`${e.name}: ${e.message}`] };
    return { ename: e.name || "Error", evalue: e.message, traceback: cleanStack(e.stack ?? `${e.name}: ${e.message}`, e.name || "Error") };
  }
  const s = utilInspect(e);
  return { ename: "Error", evalue: `thrown value: ${s}`, traceback: [`Uncaught ${s}`] };
}

/** The MIME bundle of a cell's value: its own, else util.inspect text. */
export function valueBundle(value: unknown): MimeBundle {
  if (value !== null && (typeof value === "object" || typeof value === "function")) {
    const v = value as { [MIME_BUNDLE]?: () => MimeBundle; toMimeBundle?: () => MimeBundle };
    const own = v[MIME_BUNDLE] ?? v.toMimeBundle;
    if (typeof own === "function") {
      const b = own.call(value);
      if (b && typeof b === "object") return b;
    }
  }
  return { "text/plain": utilInspect(value, { depth: 4, maxArrayLength: 50 }) };
}

/** What a kernel compiles and runs DSL cells with: dsl/index.ts and src/run/runner.ts unless given (the kernel's tests give stand-ins). */
export interface KernelDeps {
  compile?: CompileFn;
  runPlan?: RunPlanFn;
}

export class StepwiseKernel implements KernelHandler {
  private count = 0;
  private readonly exec: StepwiseExecutor;
  private io: Publisher | null = null;
  private typesReady: Promise<void> | null = null;

  constructor(private readonly deps: KernelDeps = {}) {
    this.exec = createStepwiseExecutor(process.cwd());
    this.redirectStreams();
    registerSink({ kind: "stepwise", send: (t, c) => this.io?.publish(t, c) });
    // tslab's own display API (`import * as tslab from "tslab"`) works here too
    tslabJupyter.lastWriteDisplayData = (data: Record<string, unknown>, update: boolean) =>
      this.io?.publish(update ? "update_display_data" : "display_data", { transient: {}, ...data });
  }

  /** Typings of `stepwise` for the checker, built on the first cell that names the package. */
  private stepwiseTypes(): Promise<void> {
    return (this.typesReady ??= ensureStepwiseTypes()
      .then((dts) => {
        if (dts) this.exec.useStepwiseTypes(dts);
      })
      .catch((e) => kernelLog(`no stepwise typings: ${String(e)}`)));
  }

  /** Cells' stdout/stderr go to the current request (also after it ends, as ipykernel does). */
  private redirectStreams(): void {
    const decoder = new TextDecoder();
    for (const name of ["stdout", "stderr"] as const) {
      const stream = process[name];
      const original = stream.write.bind(stream);
      stream.write = ((chunk: string | Uint8Array, enc?: unknown, cb?: unknown) => {
        const text = typeof chunk === "string" ? chunk : decoder.decode(chunk);
        if (this.io) this.io.publish("stream", { name, text });
        else original(chunk as string);
        const done = typeof enc === "function" ? enc : cb;
        if (typeof done === "function") (done as () => void)();
        return true;
      }) as typeof stream.write;
    }
  }

  kernelInfo(): Record<string, unknown> {
    return {
      protocol_version: "5.3",
      implementation: "stepwise",
      implementation_version: VERSION,
      language_info: {
        name: "typescript",
        version: (require("@tslab/typescript-for-tslab") as { version: string }).version,
        mimetype: "text/typescript",
        file_extension: ".ts",
        codemirror_mode: { mode: "typescript", name: "javascript", typescript: true },
      },
      banner: `Stepwise ${VERSION}: TypeScript (tslab 1.0.22) and %%stepwise cells`,
      help_links: [],
    };
  }

  async execute(msg: Message, io: Publisher): Promise<Record<string, unknown>> {
    const c = msg.content as { code: string; silent?: boolean; store_history?: boolean };
    const silent = Boolean(c.silent);
    if (!silent && c.store_history !== false) this.count++;
    const count = this.count;
    this.io = io;
    if (!silent) io.publish("execute_input", { code: c.code, execution_count: count });

    const signal = beginCell();
    let result: MimeBundle | undefined;
    let error: JupyterError | undefined;
    try {
      if (isDslCell(c.code)) {
        await this.runDsl(c.code, signal);
      } else if (c.code.trim() !== "") {
        if (/["']stepwise["']/.test(c.code)) {
          await this.exec.preloadStepwise();
          await this.stepwiseTypes();
        }
        const { ok, outcome } = await this.exec.run(c.code);
        if (outcome.diagnostics.length > 0 && ok) {
          // %module cells: registered despite diagnostics; show them as warnings
          for (const d of outcome.diagnostics) io.publish("stream", { name: "stderr", text: `${d.line}:${d.column} - ${d.message}\n` });
        }
        if (!ok) {
          if (outcome.error !== undefined) error = toJupyterError(outcome.error);
          else {
            const d = outcome.diagnostics;
            error = {
              ename: "TypeScriptError",
              evalue: d[0]?.message ?? "compile failed",
              traceback: d.map((x) => `cell:${x.line}:${x.column}: ${x.message}`),
            };
          }
        } else if (outcome.value) {
          result = valueBundle(outcome.value.value);
        }
      }
    } catch (e) {
      error = toJupyterError(e);
    } finally {
      endCell();
    }

    if (error) {
      if (!silent) io.publish("error", error);
      return { status: "error", execution_count: count, ...error };
    }
    if (result && !silent) io.publish("execute_result", { execution_count: count, data: toWire(result), metadata: {} });
    return { status: "ok", execution_count: count, payload: [], user_expressions: {} };
  }

  /**
   * A `%%stepwise` cell. Whatever stops it (a compile error, a refused or failed run, an
   * interrupt before the run stopped) leaves its variables saying so (unboundValue), never what an
   * earlier run of the cell bound: later cells must not read a run this cell did not make.
   */
  private async runDsl(code: string, signal: AbortSignal): Promise<void> {
    const cmd = parseMagic(code.split("\n", 1)[0]!);
    if (cmd.help) {
      this.io?.publish("stream", { name: "stdout", text: MAGIC_HELP });
      return;
    }
    const compile = this.deps.compile ?? (await loadCompiler());
    const { plan, diagnostics } = compile(specSource(code), { file: "cell", purpose: "any" });
    if (!plan || diagnostics.length > 0) {
      const err = diagnosticsError(diagnostics);
      await this.unbind(cmd.planVar, `the %%stepwise cell that binds it did not compile (${err.evalue})`);
      if (cmd.run) await this.unbind(cmd.runVar, "the %%stepwise run cell that binds it did not compile");
      throw new CellError(err);
    }
    await this.exec.bind(cmd.planVar, plan, "any");
    this.io?.publish("display_data", { data: toWire(planSummaryBundle(plan, cmd.planVar)), metadata: {}, transient: {} });
    if (!cmd.run) return;
    const running = runPlanInCell(plan, signal, specSource(code).slice(1), this.deps.runPlan, cmd.options);
    running.catch(() => {}); // observed below; never an unhandled rejection
    const aborted = new Promise<"aborted">((done) => signal.addEventListener("abort", () => done("aborted"), { once: true }));
    let first: Awaited<typeof running> | "aborted";
    try {
      first = await Promise.race([running, aborted]);
    } catch (e) {
      const err = toJupyterError(e);
      await this.unbind(cmd.runVar, `the %%stepwise run cell that binds it failed (${err.ename}: ${err.evalue.split("\n")[0]})`);
      throw new CellError(err);
    }
    if (first !== "aborted") {
      await this.exec.bind(cmd.runVar, first, "any");
      return;
    }
    // Interrupted: the runner stops at its next safe point and writes its checkpoint; give it
    // a moment so the checkpoint is on disk and the result bound before the next cell.
    const settled = await Promise.race([running.then((r) => ({ r }), () => null), sleep(RUN_STOP_GRACE_MS).then(() => null)]);
    if (settled) await this.exec.bind(cmd.runVar, settled.r, "any");
    else await this.unbind(cmd.runVar, `the %%stepwise run cell that binds it was interrupted and its run had not stopped within ${RUN_STOP_GRACE_MS / 1000} s`);
    const status = settled && typeof settled.r === "object" && settled.r ? (settled.r as { message?: string }).message : undefined;
    throw new InterruptedError(status ?? "run interrupted");
  }

  /** Binds `name` to a value that says why it is not bound (a failure to bind is logged, never the cell's error). */
  private async unbind(name: string, why: string): Promise<void> {
    try {
      await this.exec.bind(name, unboundValue(name, why), "any");
    } catch (e) {
      kernelLog(`could not unbind ${name}: ${String(e)}`);
    }
  }

  async complete(code: string, cursorPos: number): Promise<Record<string, unknown>> {
    if (isDslCell(code)) {
      const { completeSpec } = await import("../dsl/assist.js");
      const { source, toUnits, toPoints } = dslView(code);
      const c = completeSpec(source, toUnits(cursorPos));
      const start = toPoints(c.start);
      const end = toPoints(c.end);
      const types = c.items.map((i) => ({ start, end, text: i.text, type: i.type, signature: i.signature }));
      return { status: "ok", matches: c.items.map((i) => i.text), cursor_start: start, cursor_end: end, metadata: { _jupyter_types_experimental: types } };
    }
    const info = this.exec.complete(code, cursorPos);
    return { status: "ok", matches: info.candidates, cursor_start: info.start, cursor_end: info.end, metadata: {} };
  }

  async inspect(code: string, cursorPos: number): Promise<Record<string, unknown>> {
    if (isDslCell(code)) {
      const { inspectSpec } = await import("../dsl/assist.js");
      const { source, toUnits } = dslView(code);
      const text = inspectSpec(source, toUnits(cursorPos));
      return text === undefined ? { status: "ok", found: false, data: {}, metadata: {} } : { status: "ok", found: true, data: { "text/plain": text }, metadata: {} };
    }
    const info = this.exec.inspect(code, cursorPos);
    if (!info) return { status: "ok", found: false, data: {}, metadata: {} };
    return { status: "ok", found: true, data: { "text/plain": printQuickInfo(info) }, metadata: {} };
  }

  async isComplete(code: string): Promise<Record<string, unknown>> {
    // A `%%stepwise` cell is the DSL, not TypeScript: a lone magic line waits for the spec, an open
    // `{` for its closing brace; any other cell magic is not ours.
    if (isDslCell(code)) {
      const { source } = dslView(code);
      if (source.trim() === "") return /^\S+.*\s(--help|-h)\b/.test(code.split("\n", 1)[0]!.trim()) ? { status: "complete" } : { status: "incomplete", indent: "" };
      const { specIsComplete } = await import("../dsl/assist.js");
      const r = specIsComplete(source);
      return r.complete ? { status: "complete" } : { status: "incomplete", indent: r.indent };
    }
    if (/^\s*%%/.test(code)) return { status: "invalid" };
    const r = isCompleteCode(code);
    return r.completed ? { status: "complete" } : { status: "incomplete", indent: r.indent ?? "" };
  }

  interrupt(): void {
    interruptCell();
    this.exec.interrupt();
  }

  shutdown(): void {
    this.exec.close();
  }
}
