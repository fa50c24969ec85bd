/**
 * Tasks from a local JSONL file (GSM8K style): one JSON object per line, with a question field and
 * an answer field (names configurable, dotted paths such as "meta.answer" allowed).
 *
 * - reference: the final answer extracted from the answer field (`#### 72`, `\boxed{}`, "the answer
 *   is"), or the whole field when it has no marker; solution: the answer field as written.
 * - held-out split: exactly `heldOut` records, those whose question text hashes lowest. The choice
 *   depends on the text only (not on the seed or the line order); a training record with the same
 *   question as a held-out one is dropped, so the splits never share a question.
 * - train(n, offset): the training records in an order shuffled from the seed, cycling.
 * - a malformed line (invalid JSON, not an object, a missing or non-text field) is reported with
 *   its line number: `onError: "refuse"` throws a JsonlError; `"skip"` drops it and lists it in
 *   `warnings`. Blank lines are ignored.
 */
import { readFileSync } from "node:fs";
import type { Problem, Task } from "./types.js";
import { extractFinalAnswer } from "./answers.js";
import { answersEqual } from "./grade.js";
import { Rng, fnv1a } from "../random.js";

export interface JsonlTaskOptions {
  path: string;
  /** field holding the question; default "question" */
  question?: string;
  /** field holding the answer (a solution ending in a marker, or the bare answer); default "answer" */
  answer?: string;
  onError?: "skip" | "refuse";
  /** number of records held out for evaluation */
  heldOut?: number;
  /** the prompt the model sees for a question; default `${question}\n` (a runner may apply a chat template here) */
  formatPrompt?: (question: string) => string;
}

export interface JsonlWarning {
  line: number;
  message: string;
}

export class JsonlError extends Error {
  constructor(
    readonly path: string,
    readonly line: number,
    readonly reason: string,
  ) {
    super(`${path}:${line}: ${reason}`);
    this.name = "JsonlError";
  }
}

interface JsonlRecord {
  line: number;
  question: string;
  answer: string;
}

function field(obj: Record<string, unknown>, path: string): unknown {
  let cur: unknown = obj;
  for (const part of path.split(".")) {
    if (cur === null || typeof cur !== "object" || Array.isArray(cur)) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/** Parse the records of a JSONL text; malformed lines go to `onBad`, which may throw. */
export function parseJsonl(
  text: string,
  fields: { question: string; answer: string },
  onBad: (line: number, reason: string) => void,
): JsonlRecord[] {
  const records: JsonlRecord[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const line = i + 1;
    if (raw.trim() === "") return;
    let obj: unknown;
    try {
      obj = JSON.parse(raw);
    } catch (e) {
      return onBad(line, `invalid JSON (${(e as Error).message})`);
    }
    if (obj === null || typeof obj !== "object" || Array.isArray(obj)) {
      return onBad(line, `expected a JSON object, got ${Array.isArray(obj) ? "an array" : JSON.stringify(obj)}`);
    }
    const values: string[] = [];
    for (const name of [fields.question, fields.answer]) {
      const v = field(obj as Record<string, unknown>, name);
      if (v === undefined) {
        return onBad(line, `no field "${name}" (fields here: ${Object.keys(obj).join(", ") || "none"})`);
      }
      if (typeof v !== "string" && typeof v !== "number") {
        return onBad(line, `field "${name}" must be a string or a number, got ${v === null ? "null" : typeof v}`);
      }
      values.push(String(v));
    }
    records.push({ line, question: values[0]!, answer: values[1]! });
  });
  return records;
}

export class JsonlTask implements Task {
  readonly name: string;
  readonly path: string;
  /** malformed lines that were skipped (onError "skip") */
  readonly warnings: JsonlWarning[] = [];
  private readonly trainRecords: JsonlRecord[];
  private readonly heldOutRecords: JsonlRecord[];
  private readonly formatPrompt: (question: string) => string;

  constructor(options: JsonlTaskOptions, seed = 0) {
    const { path, onError = "refuse", heldOut = 0 } = options;
    const fields = { question: options.question ?? "question", answer: options.answer ?? "answer" };
    this.name = `jsonl:${path}`;
    this.path = path;
    this.formatPrompt = options.formatPrompt ?? ((q) => `${q}\n`);
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (e) {
      throw new Error(`jsonl task: cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    const records = parseJsonl(text, fields, (line, reason) => {
      if (onError === "refuse") throw new JsonlError(path, line, reason);
      this.warnings.push({ line, message: reason });
    });
    if (!Number.isInteger(heldOut) || heldOut < 0) throw new Error(`jsonl task: heldOut must be a whole number ≥ 0 (got ${heldOut})`);
    if (heldOut >= records.length) {
      throw new Error(
        `jsonl task: heldOut ${heldOut} leaves no training problems in ${path} (${records.length} usable records): set heldOut below ${records.length}`,
      );
    }
    // held out: the `heldOut` records whose question hashes lowest (ties by line)
    const byHash = [...records].sort((a, b) => fnv1a(a.question) - fnv1a(b.question) || a.line - b.line);
    this.heldOutRecords = byHash.slice(0, heldOut).sort((a, b) => a.line - b.line);
    const held = new Set(this.heldOutRecords.map((r) => r.question));
    const train = records.filter((r) => !held.has(r.question));
    if (train.length === 0) throw new Error(`jsonl task: every question in ${path} is also held out: lower heldOut`);
    this.trainRecords = Rng.derive(seed, "jsonl-train-order").shuffle(train);
  }

  private toProblem(r: JsonlRecord): Problem {
    return {
      id: `jsonl/line-${r.line}`,
      prompt: this.formatPrompt(r.question),
      question: r.question,
      reference: extractFinalAnswer(r.answer) ?? r.answer.trim(),
      solution: r.answer,
    };
  }

  /** how many distinct training and held-out records there are */
  get sizes(): { train: number; heldOut: number } {
    return { train: this.trainRecords.length, heldOut: this.heldOutRecords.length };
  }

  train(n: number, offset = 0): Problem[] {
    const rs = this.trainRecords;
    return Array.from({ length: n }, (_, i) => this.toProblem(rs[(offset + i) % rs.length]!));
  }

  /** the first n held-out problems (all of them when n is larger) */
  heldOut(n: number): Problem[] {
    return this.heldOutRecords.slice(0, n).map((r) => this.toProblem(r));
  }

  extractAnswer(response: string): string | null {
    return extractFinalAnswer(response);
  }

  verify(response: string, reference: string): number {
    const a = this.extractAnswer(response);
    return a !== null && answersEqual(reference, a) ? 1 : 0;
  }
}

/** @example createJsonlTask({ path: "gsm8k.jsonl", heldOut: 100, onError: "skip" }, 7).train(4) */
export function createJsonlTask(options: JsonlTaskOptions, seed = 0): JsonlTask {
  return new JsonlTask(options, seed);
}
