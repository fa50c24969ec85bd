/**
 * The run directory: everything a run produced, in files that analytics, the kernel and a later
 * `--resume` read back. Layout in src/run/types.ts. Appends are line-atomic (one JSON object per
 * line, written with a single appendFileSync), so an interrupted run never leaves half a row.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { RolloutBatch } from "../rl/batch.js";
import type { MetricsRow, RunInfo, StepRecord } from "./types.js";

export class RunStore {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = path.resolve(dir);
  }

  /** Creates the directory tree; `fresh` removes what an earlier run of the same name left. */
  init(fresh: boolean): void {
    if (fresh && fs.existsSync(this.dir)) {
      for (const f of ["metrics.jsonl", "steps.jsonl", "run.json", "report.html"]) fs.rmSync(this.file(f), { force: true });
      fs.rmSync(this.file("rollouts"), { recursive: true, force: true });
      fs.rmSync(this.file("checkpoints"), { recursive: true, force: true });
    }
    fs.mkdirSync(this.file("rollouts"), { recursive: true });
    fs.mkdirSync(this.file("checkpoints"), { recursive: true });
  }

  file(...parts: string[]): string {
    return path.join(this.dir, ...parts);
  }

  writeText(name: string, text: string): void {
    const target = this.file(name);
    const tmp = `${target}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, target);
  }

  writeJSON(name: string, value: unknown): void {
    this.writeText(name, JSON.stringify(value, null, 2) + "\n");
  }

  readJSON<T>(name: string): T {
    return JSON.parse(fs.readFileSync(this.file(name), "utf8")) as T;
  }

  exists(name: string): boolean {
    return fs.existsSync(this.file(name));
  }

  setInfo(info: RunInfo): void {
    this.writeJSON("run.json", info);
  }

  appendMetrics(row: MetricsRow): void {
    fs.appendFileSync(this.file("metrics.jsonl"), JSON.stringify(row) + "\n");
  }

  appendSteps(records: StepRecord[]): void {
    if (records.length === 0) return;
    fs.appendFileSync(this.file("steps.jsonl"), records.map((r) => JSON.stringify(r)).join("\n") + "\n");
  }

  writeRollouts(iteration: number, batch: RolloutBatch): void {
    this.writeText(path.join("rollouts", `iter-${iteration}.json`), JSON.stringify(batch) + "\n");
  }

  /** The token advantages the update used at that iteration, next to its rollouts (for replay checks). */
  writeAdvantages(iteration: number, advantages: number[][]): void {
    this.writeText(path.join("rollouts", `iter-${iteration}.advantages.json`), JSON.stringify({ advantages }) + "\n");
  }

  readMetrics(): MetricsRow[] {
    if (!this.exists("metrics.jsonl")) return [];
    return fs
      .readFileSync(this.file("metrics.jsonl"), "utf8")
      .split("\n")
      .filter((l) => l.trim() !== "")
      .map((l) => JSON.parse(l) as MetricsRow);
  }

  /**
   * On resume, drops metric and step rows written after the checkpoint being resumed from, so the
   * files read as if the run had never stopped.
   */
  truncateAfter(stage: string, done: number, stageOrder: string[]): void {
    const iteration = done;
    const keep = (row: { stage: string; iteration?: number; after?: string }): boolean => {
      const s = row.stage === "eval" ? (row.after ?? "") : row.stage;
      const a = stageOrder.indexOf(s);
      const b = stageOrder.indexOf(stage);
      if (a !== b) return a < b;
      if (row.stage === "eval") return false; // an eval of the current stage runs after it finishes
      return (row.iteration ?? 0) < iteration; // `iteration` counts the steps done: 0..iteration-1
    };
    for (const name of ["metrics.jsonl", "steps.jsonl"]) {
      if (!this.exists(name)) continue;
      const lines = fs.readFileSync(this.file(name), "utf8").split("\n").filter((l) => l.trim() !== "");
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
