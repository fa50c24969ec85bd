/**
 * `%%stepwise` cells. The first line is the magic; the rest is a Stepwise spec.
 *
 *   %%stepwise            compile; show the plan's summary; bind it to `plan`
 *   %%stepwise NAME       ... bind it to NAME
 *   %%stepwise run [NAME] [--overwrite | --resume] [--suffix S]
 *                         compile, bind the plan (to `plan` or NAME), run it with a live display,
 *                         bind the result to `run` (or NAMERun); run again, the cell shows or
 *                         continues its run (src/run/rerun.ts); the options are sw.run's
 *   %%stepwise --help     the magic's usage and options
 *
 * Line numbers: diagnostics use the cell's own lines, as the notebook shows them: the `%%stepwise`
 * line is line 1, the spec's first line is line 2. (The compiler gets the cell with its first line
 * blanked, so its positions are the cell's with no remapping.)
 */
import type { ExperimentPlan } from "../dsl/plan.js";
import { closest } from "../dsl/diagnostics.js";
import type { OptionSpelling } from "../src/run/rerun.js";

export interface DslDiagnostic {
  file: string;
  line: number;
  column: number;
  message: string;
  hint?: string;
}

export type CompileFn = (
  source: string,
  opts?: { file?: string; purpose?: string },
) => { plan?: ExperimentPlan; diagnostics: DslDiagnostic[] };

export interface DslCommand {
  run: boolean;
  /** variable the plan is bound to */
  planVar: string;
  /** variable the run result is bound to (run only) */
  runVar: string;
  /** `--help`: show MAGIC_HELP, compile nothing */
  help: boolean;
  /** what a re-run of the cell does (run only): sw.run's options of the same names */
  options: RunCellOptions;
}

/** The run options of the magic line, by sw.run's names (LiveRunOptions, src/run/rerun.ts). */
export interface RunCellOptions {
  overwrite?: true;
  resume?: true;
  suffix?: string;
}

/** The options of `%%stepwise run`: one table for the parser, the help and the did-you-mean. */
const RUN_OPTIONS: { name: keyof RunCellOptions; value?: string; help: string }[] = [
  { name: "overwrite", help: "delete the run in runs/<experiment> and train this spec" },
  { name: "resume", help: "continue the run in runs/<experiment> from its checkpoint (refused when there is none)" },
  { name: "suffix", value: "NAME", help: "run as <experiment>-NAME, in runs/<experiment>-NAME, keeping the other run" },
];

/** How a run cell's refusal names its options (src/run/rerun.ts refusalMessage). */
export const MAGIC_SPELLING: OptionSpelling = {
  overwrite: "`--overwrite`",
  resume: "`--resume`",
  suffix: (name) => `\`--suffix ${name}\``,
  where: "to the `%%stepwise run` line",
};

const USAGE = "%%stepwise [run] [NAME] [--overwrite | --resume] [--suffix NAME]";

/** `%%stepwise --help`. */
export const MAGIC_HELP = `usage: ${USAGE}

  %%stepwise [NAME]              compile the spec below the line, show its plan, bind it to \`plan\` (or NAME)
  %%stepwise run [NAME] [...]    ... and run it with a live view; bind the result to \`run\` (or NAMERun)
  %%stepwise --help              this help

Run again (Run All after an edit), a run cell whose spec compiles to the same plan shows its
finished run without training again, or continues an unfinished one from its checkpoint. A
different spec is refused while runs/<experiment> holds the other run, unless:
${RUN_OPTIONS.map((o) => `  ${`--${o.name}${o.value ? ` ${o.value}` : ""}`.padEnd(15)} ${o.help}`).join("\n")}
In a TypeScript cell: await sw.run(plan, { overwrite: true }), { resume: true }, { suffix: "NAME" }.
`;

const MAGIC = /^%%stepwise\b(.*)$/;

export function isDslCell(code: string): boolean {
  return MAGIC.test(code.split("\n", 1)[0]!.trim());
}

/** Parses the magic line; throws with a usage message on bad arguments. */
export function parseMagic(firstLine: string): DslCommand {
  const m = MAGIC.exec(firstLine.trim());
  if (!m) throw new Error("not a %%stepwise cell");
  const words = m[1]!.trim().split(/\s+/).filter(Boolean);
  const usage = (problem: string) => new Error(`${problem}\nusage: ${USAGE} (NAME a TypeScript identifier; %%stepwise --help lists the options)`);
  const run = words[0] === "run";
  if (run) words.shift();
  const names: string[] = [];
  const options: RunCellOptions = {};
  let help = false;
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    if (word === "--help" || word === "-h") {
      help = true;
      continue;
    }
    if (!word.startsWith("-")) {
      names.push(word);
      continue;
    }
    const [flag, inline] = word.replace(/^--?/, "").split(/=(.*)/s, 2) as [string, string | undefined];
    const option = RUN_OPTIONS.find((o) => o.name === flag);
    if (!option) {
      const near = closest(flag, [...RUN_OPTIONS.map((o) => o.name), "help"]);
      throw usage(`unknown option ${word}${near ? `; did you mean --${near}?` : `; the options are ${RUN_OPTIONS.map((o) => `--${o.name}`).join(", ")}`}`);
    }
    if (!run) throw usage(`--${option.name} is an option of \`%%stepwise run\``);
    if (option.value) {
      const value = inline ?? words[++i];
      if (value === undefined || value === "" || value.startsWith("-")) throw usage(`--${option.name} needs a ${option.value}`);
      options.suffix = value;
    } else {
      if (inline !== undefined) throw usage(`--${option.name} takes no value`);
      options[option.name as "overwrite" | "resume"] = true;
    }
  }
  if (options.overwrite && options.resume) throw usage("--overwrite and --resume contradict each other: give one of them");
  if (names.length > 1 || (names[0] !== undefined && !/^[A-Za-z_$][\w$]*$/.test(names[0]))) throw usage(`got "${firstLine.trim()}"`);
  const planVar = names[0] ?? "plan";
  return { run, planVar, runVar: names[0] ? `${names[0]}Run` : "run", help, options };
}

/**
 * What a variable holds after the cell that binds it failed: a value whose every use throws
 * saying why, so a later cell never reads what an earlier run of that cell left behind.
 */
export function unboundValue(variable: string, why: string): unknown {
  const fail = (): never => {
    const e = new Error(`\`${variable}\` is not bound: ${why}; fix that cell and run it again`);
    e.name = "UnboundError";
    throw e;
  };
  // symbol keys (util.inspect's, the kernel's display hooks) read as absent; every named property throws
  return new Proxy(Object.create(null) as object, {
    get: (_t, key) => (typeof key === "symbol" ? undefined : fail()),
    has: () => fail(),
    set: () => fail(),
    ownKeys: () => fail(),
  });
}

/** The spec with the magic line blanked, so compiler positions are cell positions. */
export function specSource(code: string): string {
  const nl = code.indexOf("\n");
  return nl < 0 ? "" : "\n" + code.slice(nl + 1);
}

/** dsl/index.ts's `compile`, imported on the first DSL cell (the kernel starts without the DSL loaded). */
export async function loadCompiler(): Promise<CompileFn> {
  return (await import("../dsl/index.js")).compile as CompileFn;
}

/** A Jupyter error for compile diagnostics: traceback lines `cell:LINE:COL: message`. */
export function diagnosticsError(diags: DslDiagnostic[]): { ename: string; evalue: string; traceback: string[] } {
  const traceback: string[] = [];
  for (const d of diags) {
    traceback.push(`cell:${d.line}:${d.column}: ${d.message}`);
    if (d.hint) traceback.push(`  hint: ${d.hint}`);
  }
  return { ename: "StepwiseError", evalue: diags[0]?.message ?? "compile failed", traceback };
}
