/**
 * The error for a run directory that cannot be read: a missing file, a line that is not JSON,
 * a record of the wrong shape. The message names the file (and line) and is meant to be
 * printed as is, without a stack trace.
 */
export class RunDirError extends Error {
  /** the file (or directory) the problem is in */
  readonly file: string;
  /** 1-based line number for JSONL files */
  readonly line?: number;

  constructor(file: string, problem: string, line?: number) {
    super(`${file}${line === undefined ? "" : `:${line}`}: ${problem}`);
    this.name = "RunDirError";
    this.file = file;
    this.line = line;
  }
}
