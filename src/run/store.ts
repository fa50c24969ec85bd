/**
 * The run directory: everything a run produced, in files that analytics, the kernel and a later
 * `--resume` read back. Layout in src/run/types.ts. Appends are line-atomic (one JSON object per
 * line, written with a single appendFileSync), so an interrupted run leaves at most a torn last
 * line, which a resume drops. Every I/O or JSON error names its file (RunFileError).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { faultPoint } from "../faults.js";
import { readJsonFile } from "../io/json.js";
import type { RolloutBatch } from "../rl/batch.js";
import type { MetricsRow, RunInfo, StepRecord } from "./types.js";

/** An I/O or JSON problem with one file of a run directory; the message names the file. */
export class RunFileError extends Error {
  constructor(
    readonly file: string,
    problem: string,
    readonly code?: string,
  ) {
    super(`${file}: ${problem}`);
    this.name = "RunFileError";
  }
}

/** Runs `fn`, turning a file-system error into a RunFileError naming `file` (ENOSPC: "the disk is full"). */
export function namingFile<T>(file: string, what: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof RunFileError) throw e;
    const err = e as NodeJS.ErrnoException;
    const why = err.code === "ENOSPC" ? "no space left on the device (the disk is full)" : err.code === "EACCES" || err.code === "EPERM" ? "permission denied" : err.message;
    throw new RunFileError(file, `${what} failed: ${why}`, err.code);
  }
}

/** A position in a plan: `done` steps of stage `stageIndex` are complete. */
export interface RunPosition {
  stageIndex: number;
  done: number;
}

export class RunStore {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = path.resolve(dir);
  }

  /** Creates the directory tree (nothing is deleted: see run-dir.ts removeRunFiles). */
  init(): void {
    namingFile(this.dir, "creating the run directory", () => {
      fs.mkdirSync(this.file("rollouts"), { recursive: true });
      fs.mkdirSync(this.file("checkpoints"), { recursive: true });
    });
  }

  file(...parts: string[]): string {
    return path.join(this.dir, ...parts);
  }

  writeText(name: string, text: string): void {
    const target = this.file(name);
    const tmp = `${target}.tmp-${process.pid}`;
    namingFile(target, "writing", () => {
      try {
        faultPoint("write", target);
        fs.writeFileSync(tmp, text);
        fs.renameSync(tmp, target);
      } catch (e) {
        fs.rmSync(tmp, { force: true });
        throw e;
      }
    });
  }

  writeJSON(name: string, value: unknown): void {
    this.writeText(name, JSON.stringify(value, null, 2) + "\n");
  }

  readJSON<T>(name: string): T {
    return readJsonFile(this.file(name)) as T;
  }

  exists(name: string): boolean {
    return fs.existsSync(this.file(name));
  }

  setInfo(info: RunInfo): void {
    this.writeJSON("run.json", info);
  }

  private append(name: string, text: string): void {
    const file = this.file(name);
    namingFile(file, "appending", () => {
      faultPoint("write", file);
      fs.appendFileSync(file, text);
    });
  }

  appendMetrics(row: MetricsRow): void {
    this.append("metrics.jsonl", JSON.stringify(row) + "\n");
  }

  appendSteps(records: StepRecord[]): void {
    if (records.length === 0) return;
    this.append("steps.jsonl", records.map((r) => JSON.stringify(r)).join("\n") + "\n");
  }

  writeRollouts(iteration: number, batch: RolloutBatch): void {
    this.writeText(path.join("rollouts", `iter-${iteration}.json`), JSON.stringify(batch) + "\n");
  }

  /** The token advantages the update used at that iteration, next to its rollouts (for replay checks). */
  writeAdvantages(iteration: number, advantages: number[][]): void {
    this.writeText(path.join("rollouts", `iter-${iteration}.advantages.json`), JSON.stringify({ advantages }) + "\n");
  }

  readMetrics(): MetricsRow[] {
    return this.readLines("metrics.jsonl") as MetricsRow[];
  }

  readSteps(): StepRecord[] {
    return this.readLines("steps.jsonl") as unknown as StepRecord[];
  }

  private readLines(name: string): Record<string, unknown>[] {
    if (!this.exists(name)) return [];
    const file = this.file(name);
    return namingFile(file, "reading", () => fs.readFileSync(file, "utf8"))
      .split("\n")
      .filter((l) => l.trim() !== "")
      .map((l, i) => {
        try {
          return JSON.parse(l) as Record<string, unknown>;
        } catch (e) {
          throw new RunFileError(file, `line ${i + 1} is not valid JSON (${(e as Error).message})`);
        }
      });
  }

  /**
   * On resume from `at`, drops the metric and step rows written after it, so the files read as if
   * the run had never stopped. Keyed on (stage_index, iteration), never on the stage's kind:
   *  - a training row or step record of (s, i) stays when s < at.stageIndex, or s = at.stageIndex and i < at.done;
   *  - an evaluation row of (s, i) (i = steps done when it ran: 0 before training, N for `rl@N`,
   *    the stage's length after it) stays when s < at.stageIndex, or s = at.stageIndex and i ≤ at.done
   *    (an evaluation at `done` ran before the checkpoint at `done` was written).
   * A torn last line (a hard kill mid-append) goes too.
   */
  truncateTo(at: RunPosition): void {
    const keep = (row: { stage?: unknown; stage_index?: unknown; iteration?: unknown }): boolean => {
      const s = typeof row.stage_index === "number" ? row.stage_index : NaN;
      const i = typeof row.iteration === "number" ? row.iteration : NaN;
      if (!Number.isInteger(s) || !Number.isInteger(i)) return false;
      if (s !== at.stageIndex) return s < at.stageIndex;
      return row.stage === "eval" ? i <= at.done : i < at.done;
    };
    for (const name of ["metrics.jsonl", "steps.jsonl"]) {
      if (!this.exists(name)) continue;
      const file = this.file(name);
      const lines = namingFile(file, "reading", () => fs.readFileSync(file, "utf8")).split("\n").filter((l) => l.trim() !== "");
      const kept = lines.filter((l) => {
        try {
          return keep(JSON.parse(l));
        } catch {
          return false; // a torn last line from a hard kill
        }
      });
      this.writeText(name, kept.length ? kept.join("\n") + "\n" : "");
    }
  }
}
