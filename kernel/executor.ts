/**
 * tslab's executor and TypeScript converter, reused as they are (tslab pinned at 1.0.22), with
 * three additions:
 *  - its console (where tslab writes diagnostics, runtime errors and the last expression's value)
 *    is captured into a `CellOutcome` instead of printed, so the protocol layer can send an
 *    `execute_result` and a proper `error` message;
 *  - `require("stepwise")` in cells resolves to this repository (and any other package falls back
 *    to this repository's node_modules when the notebook's folder does not have it);
 *  - the checker sees `stepwise` through generated declarations (see stepwise-types.ts).
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { join, normalize } from "node:path";
import type { Converter } from "tslab/dist/converter.js";
import type { ConverterSet, Executor } from "tslab/dist/executor.js";
import { packageFile } from "../src/package-info.js";
import { REPO_ROOT } from "./paths.js";

const require = createRequire(import.meta.url);
const tslabExecutor = require("tslab/dist/executor.js") as typeof import("tslab/dist/executor.js");
const tslabConverter = require("tslab/dist/converter.js") as typeof import("tslab/dist/converter.js");
// tslab's TypeScript: the converter reads files through `Object.create(ts.sys)`, so patching ts.sys
// is how a virtual file reaches its checker.
const tsSys = require("@tslab/typescript-for-tslab").sys as {
  fileExists(p: string): boolean;
  readFile(p: string, enc?: string): string | undefined;
  directoryExists(p: string): boolean;
  getDirectories(p: string): string[];
  realpath?(p: string): string;
};

/** What one `execute` produced besides streams. */
export interface CellOutcome {
  /** TypeScript diagnostics, as `LINE:COL - message` (1-based, the cell's own lines) */
  diagnostics: { line: number; column: number; message: string }[];
  /** a runtime exception (what the cell threw or rejected with) */
  error?: unknown;
  /** the value of the cell's last expression, when not null/undefined */
  value?: { present: true; value: unknown };
}

export interface StepwiseExecutor {
  /** Runs TypeScript source; never throws. */
  run(src: string): Promise<{ ok: boolean; outcome: CellOutcome }>;
  inspect: Executor["inspect"];
  complete: Executor["complete"];
  interrupt(): void;
  /** Binds a value to a cell-visible variable, typed `typeName` (a type expression). */
  bind(name: string, value: unknown, typeName?: string): Promise<void>;
  /**
   * Loads `stepwise` as ES modules (a real `import()`), so that cells' `require("stepwise")` gets
   * that module graph: tsx's CommonJS path would turn ESM-only dependencies (chevrotain) into
   * `require` calls, which their `exports` refuse.
   */
  preloadStepwise(): Promise<void>;
  /** Switches the checker's view of `stepwise` to the declarations at `dtsPath`. */
  useStepwiseTypes(dtsPath: string): void;
  close(): void;
}

/** Lazily created converters; `reset` drops them so the next cell gets a fresh checker. */
class Converters implements ConverterSet {
  private _node?: Converter;
  private _browser?: Converter;
  get node(): Converter {
    return (this._node ??= tslabConverter.createConverter({ isJS: false, isBrowser: false }));
  }
  get browser(): Converter {
    return (this._browser ??= tslabConverter.createConverter({ isJS: false, isBrowser: true }));
  }
  reset(): void {
    this.close();
    this._node = this._browser = undefined;
  }
  close(): void {
    this._node?.close();
    this._browser?.close();
  }
}

const BIND_KEY = Symbol.for("stepwise.kernel.bind");

export function createStepwiseExecutor(rootDir = process.cwd()): StepwiseExecutor {
  // 1) the virtual `<cwd>/node_modules/stepwise.d.ts` the checker resolves `stepwise` to; and,
  //    for a notebook outside this repository, `<cwd>/node_modules/X` falls back to this
  //    repository's node_modules (as `require` does below), so packages type-check there too.
  const slash = (p: string) => normalize(p).replace(/\\/g, "/");
  const virtualDir = slash(join(rootDir, "node_modules"));
  const virtualDts = `${virtualDir}/stepwise.d.ts`;
  const repoModules = slash(join(REPO_ROOT, "node_modules"));
  const outsideRepo = !slash(rootDir).startsWith(slash(REPO_ROOT) + "/") && slash(rootDir) !== slash(REPO_ROOT);
  let dtsContent = "declare const stepwise: any;\nexport = stepwise;\n";
  const { fileExists, readFile, directoryExists, getDirectories } = tsSys;
  const realpath = tsSys.realpath;
  const forward = (p: string, exists: (q: string) => boolean): string => {
    if (!outsideRepo || !p.startsWith(virtualDir + "/") || exists(p)) return p;
    return repoModules + p.slice(virtualDir.length);
  };
  const isFile = (q: string) => fileExists.call(tsSys, q);
  const isDir = (q: string) => directoryExists.call(tsSys, q);
  tsSys.fileExists = (p) => p === virtualDts || isFile(forward(p, isFile));
  tsSys.readFile = (p, enc) => (p === virtualDts ? dtsContent : readFile.call(tsSys, forward(p, isFile), enc));
  tsSys.directoryExists = (p) => p === virtualDir || isDir(forward(p, isDir));
  // the automatic type roots (`<cwd>/node_modules/@types`: @types/node, so `console` and `process`
  // type-check) are listed, not just tested: forward the listing too
  tsSys.getDirectories = (p) => getDirectories.call(tsSys, forward(p, isDir));
  if (realpath) tsSys.realpath = (p) => (p === virtualDts ? p : realpath.call(tsSys, forward(p, (q) => isFile(q) || isDir(q))));

  // 2) tslab's executor with a capturing console
  let outcome: CellOutcome = { diagnostics: [] };
  const console = {
    log: (value: unknown) => {
      outcome.value = { present: true, value };
    },
    error: (first: unknown, ...rest: unknown[]) => {
      // tslab prints diagnostics as ("%s%d:%d - %s", file, line, col, message), errors as (e)
      if (first === "%s%d:%d - %s" && rest.length === 4) {
        const [, line, column, message] = rest as [string, number, number, string];
        outcome.diagnostics.push({ line, column, message });
      } else {
        outcome.error = first;
      }
    },
  };
  const convs = new Converters();
  const executor = tslabExecutor.createExecutor(rootDir, convs, console);

  // 3) `require` for cells: `stepwise` from this repository, other packages from the notebook's
  //    folder first, then from this repository.
  const g = globalThis as unknown as { __tslab__: { require: NodeJS.Require; exports: Record<string, unknown> } };
  const cellRequire = g.__tslab__.require;
  const repoRequire = createRequire(join(REPO_ROOT, "package.json"));
  let stepwiseModule: unknown;
  const req = ((id: string) => {
    if (id === "stepwise" && stepwiseModule !== undefined) return stepwiseModule;
    if (id === "stepwise" || id.startsWith("stepwise/")) return repoRequire(id);
    try {
      return cellRequire(id);
    } catch (e) {
      if ((e as { code?: string }).code !== "MODULE_NOT_FOUND" || id.startsWith(".") || id.startsWith("/")) throw e;
      return repoRequire(id);
    }
  }) as NodeJS.Require;
  Object.assign(req, { resolve: cellRequire.resolve, cache: cellRequire.cache, main: cellRequire.main });
  g.__tslab__.require = req;

  function guarded<T>(f: () => T): T {
    try {
      return f();
    } catch (e) {
      convs.reset(); // see run()
      throw e;
    }
  }

  async function run(src: string) {
    outcome = { diagnostics: [] };
    let ok: boolean;
    try {
      ok = await executor.execute(src);
    } catch (e) {
      // tslab catches what cells throw; an exception here is the checker's own failure, which
      // can leave it wedged ("Unexpected pending rebuildTimer"): start a fresh one.
      ok = false;
      outcome.error ??= e;
      convs.reset();
    }
    return { ok: ok && outcome.error === undefined, outcome };
  }

  return {
    run,
    inspect: (src, pos) => guarded(() => executor.inspect(src, pos)),
    complete: (src, pos) => guarded(() => executor.complete(src, pos)),
    interrupt: () => executor.interrupt(),
    async bind(name, value, typeName = "any") {
      if (!/^[A-Za-z_$][\w$]*$/.test(name)) throw new Error(`"${name}" is not a valid variable name`);
      (globalThis as unknown as Record<symbol, unknown>)[BIND_KEY] = value;
      const r = await run(`let ${name}: ${typeName} = (globalThis as any)[Symbol.for("stepwise.kernel.bind")];`);
      delete (globalThis as unknown as Record<symbol, unknown>)[BIND_KEY];
      if (!r.ok) throw new Error(`could not bind ${name}: ${r.outcome.diagnostics.map((d) => d.message).join("; ")}`);
    },
    async preloadStepwise() {
      if (stepwiseModule !== undefined) return;
      const entry = packageFile("src/index"); // dist/src/index.js when the kernel runs compiled
      if (!existsSync(entry)) return;
      stepwiseModule = await import(pathToFileURL(entry).href);
    },
    useStepwiseTypes(dtsPath) {
      const target = dtsPath.replace(/\\/g, "/").replace(/\.d\.ts$/, "");
      dtsContent = `export * from ${JSON.stringify(target)};\n`;
      convs.reset();
    },
    close: () => executor.close(),
  };
}
