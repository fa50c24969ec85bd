/**
 * The strict argument parser of the `stepwise` command: positionals, `--flag`, `--key value` and
 * `--key=value`, checked against a command's declaration. An unknown flag, a missing value or a
 * stray positional is a UsageError (exit 2) with a did-you-mean, never silently ignored.
 */
import { closest } from "../../dsl/diagnostics.js";

/** One flag of a command. */
export interface FlagSpec {
  /** the value's placeholder in help (`N`, `DIR`); absent for a switch such as `--check` */
  value?: string;
  /** the value may be left out (`--resume` or `--resume RUN_DIR`) */
  optionalValue?: boolean;
  /** the command cannot run without it */
  required?: boolean;
  help: string;
}

/** What a command accepts. */
export interface ArgsSpec {
  /** the positionals' names in help (`SPEC`, `FILE...`), and how many are allowed */
  positionals: { names: string; min: number; max: number };
  flags: Record<string, FlagSpec>;
}

export interface ParsedArgs {
  positionals: string[];
  /** a switch is `true`; an optional-value flag given without its value is `true` too */
  flags: Record<string, string | true>;
}

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/**
 * Parses `argv` (the words after the command) against `spec`. `--` ends the flags.
 * @example parseArgs(["a.sw", "--seeds", "3"], { positionals: { names: "SPEC...", min: 1, max: Infinity }, flags: { seeds: { value: "N", help: "" } } })
 *   // { positionals: ["a.sw"], flags: { seeds: "3" } }
 * @throws UsageError naming the offending word, with a did-you-mean for a misspelt flag
 */
export function parseArgs(argv: string[], spec: ArgsSpec): ParsedArgs {
  const positionals: string[] = [];
  const flags: Record<string, string | true> = {};
  let flagsDone = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (flagsDone || !a.startsWith("-") || a === "-") {
      positionals.push(a);
      continue;
    }
    if (a === "--") {
      flagsDone = true;
      continue;
    }
    const eq = a.indexOf("=");
    const key = (eq >= 0 ? a.slice(0, eq) : a).replace(/^--?/, "");
    const flag = Object.hasOwn(spec.flags, key) ? spec.flags[key] : undefined;
    if (!flag) throw new UsageError(unknownFlag(a.slice(0, eq >= 0 ? eq : undefined), Object.keys(spec.flags)));
    if (!a.startsWith("--")) throw new UsageError(`unknown option ${a}; did you mean --${key}?`);
    if (Object.hasOwn(flags, key)) throw new UsageError(`--${key} is given twice`);
    if (eq >= 0) {
      if (flag.value === undefined) throw new UsageError(`--${key} takes no value (got ${a})`);
      flags[key] = a.slice(eq + 1);
    } else if (flag.value === undefined) {
      flags[key] = true;
    } else {
      const v = argv[i + 1];
      if (v !== undefined && (!v.startsWith("-") || /^-\d/.test(v))) {
        flags[key] = v;
        i++;
      } else if (flag.optionalValue) flags[key] = true;
      else throw new UsageError(`--${key} needs a value: --${key} ${flag.value}`);
    }
  }
  for (const [key, flag] of Object.entries(spec.flags)) {
    if (flag.required && !Object.hasOwn(flags, key)) throw new UsageError(`missing --${key} ${flag.value ?? ""}`.trimEnd());
  }
  const { names, min, max } = spec.positionals;
  if (positionals.length < min) throw new UsageError(`missing ${names.split(" ").slice(positionals.length).join(" ") || names}`);
  if (positionals.length > max) {
    const stray = positionals.slice(max);
    throw new UsageError(
      max === 0 ? `unexpected argument ${quote(stray[0]!)} (this command takes none)` : `unexpected argument ${quote(stray[0]!)}: the command takes ${names}`,
    );
  }
  return { positionals, flags };
}

function unknownFlag(word: string, known: string[]): string {
  const name = word.replace(/^--?/, "");
  const near = closest(name, known);
  const hint = near !== undefined ? `; did you mean --${near}?` : known.length > 0 ? `; the options are ${known.map((k) => `--${k}`).join(", ")}` : "; this command has no options";
  return `unknown option ${word}${hint}`;
}

function quote(s: string): string {
  return JSON.stringify(s);
}

/** A flag's value as a non-negative integer. @throws UsageError naming the flag */
export function intFlag(v: string | true | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v === true || !Number.isInteger(n) || n < 0) throw new UsageError(`--${name} needs a non-negative integer, got ${String(v)}`);
  return n;
}

/** A flag's value as a string (a valued flag given without its value is `undefined`). */
export function strFlag(v: string | true | undefined): string | undefined {
  return typeof v === "string" ? v : undefined;
}
