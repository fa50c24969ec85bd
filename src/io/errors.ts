/**
 * The one error type for unreadable or mismatched checkpoints and model directories.
 * Its message names the file and the problem and is meant to be printed as is:
 * the CLI prints `err.message` without a stack trace for this class.
 */
export class CheckpointError extends Error {
  /** the file (or directory) the problem is in */
  readonly file: string;

  constructor(file: string, problem: string) {
    super(`${file}: ${problem}`);
    this.name = "CheckpointError";
    this.file = file;
  }
}

/** True for errors whose message is the whole story (print it, no stack). */
export function isCheckpointError(err: unknown): err is CheckpointError {
  return err instanceof CheckpointError;
}
