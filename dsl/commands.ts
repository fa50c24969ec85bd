/**
 * `stepwise check FILE…` and `stepwise fmt FILE… [--check]`, as functions the CLI calls.
 * They print to the given streams and return the exit code; they never throw.
 */
import { readFile, writeFile } from "node:fs/promises";
import { compile, formatWithDiagnostics, parse } from "./index.js";
import { formatDiagnostic } from "./diagnostics.js";
import { missingPathWarnings } from "./file-paths.js";

export interface CommandIO {
  out: (text: string) => void;
  err: (text: string) => void;
}

const stdio: CommandIO = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) };

async function read(file: string, io: CommandIO): Promise<string | undefined> {
  try {
    return await readFile(file, "utf8");
  } catch (e) {
    io.err(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})\n`);
    return undefined;
  }
}

/**
 * Checks each file; prints `FILE:LINE:COL: message` (and hints) for every diagnostic, and a warning
 * for each model, tokenizer or task path that does not exist.
 * @returns 0 when every file is free of errors (warnings allowed), else 1
 * @example await checkFiles(["examples/quickstart.sw"]) // 0
 */
export async function checkFiles(files: string[], io: CommandIO = stdio): Promise<number> {
  let failed = false;
  for (const file of files) {
    const text = await read(file, io);
    if (text === undefined) {
      failed = true;
      continue;
    }
    const { diagnostics } = compile(text, { file });
    if (!diagnostics.some((d) => d.severity === "error")) diagnostics.push(...missingPathWarnings(parse(text, file).spec, file));
    for (const d of diagnostics) io.out(formatDiagnostic(d) + "\n");
    if (diagnostics.some((d) => d.severity === "error")) failed = true;
  }
  return failed ? 1 : 0;
}

/**
 * Formats each file in place, or with `check` only reports the files that are not formatted.
 * @returns 0 when all is well; 1 on a syntax error, an unreadable file, or (with `check`) a file that would change
 */
export async function fmtFiles(files: string[], opts: { check?: boolean } = {}, io: CommandIO = stdio): Promise<number> {
  let status = 0;
  for (const file of files) {
    const text = await read(file, io);
    if (text === undefined) {
      status = 1;
      continue;
    }
    const r = formatWithDiagnostics(text, file);
    const errors = r.diagnostics.filter((d) => d.severity === "error");
    if (errors.length > 0) {
      for (const d of errors) io.err(formatDiagnostic(d) + "\n");
      status = 1;
      continue;
    }
    if (!r.changed) continue;
    if (opts.check) {
      io.out(`${file}: not formatted\n`);
      status = 1;
    } else {
      await writeFile(file, r.text);
      io.out(`${file}: formatted\n`);
    }
  }
  return status;
}
