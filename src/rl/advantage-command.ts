/**
 * `stepwise advantage SPEC --batch BATCH.json`: replays a recorded rollout batch through a spec's
 * rewards, lets and advantage, and prints `{"advantages": [[…], …]}`: one array of per-token
 * advantages per response, in batch order (group by group), unpadded.
 *
 * SPEC is DSL source (compiled with purpose "advantage": rewards and an advantage suffice), or a
 * compiled plan (`runs/<x>/plan.json`, any file ending in .json).
 */
import * as fs from "node:fs";
import * as tf from "@tensorflow/tfjs-core";
import { compile as dslCompile } from "../../dsl/index.js";
import type { ExperimentPlan } from "../../dsl/plan.js";
import type { RolloutBatch } from "./batch.js";
import { initBackend } from "../backend/index.js";
import { toBatchTensors, type BatchTensors } from "./batch-tensors.js";
import { BatchError, validateBatch } from "./batch-validate.js";
import { computeAdvantages, FormulaError } from "./formula/index.js";

export interface CommandResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** The DSL compiler's entry point (dsl/index.ts). */
export type CompileFn = (
  source: string,
  opts?: { file?: string; purpose?: string },
) => {
  plan?: ExperimentPlan;
  diagnostics: { file: string; line: number; column: number; message: string; severity?: string; hint?: string }[];
};

export interface AdvantageCommandOptions {
  /** the compiler to use (default: dsl/index.ts `compile`) */
  compile?: CompileFn;
}

/** Float32 values printed with the digits float32 holds (9 significant), not float64 noise. */
function round(x: number): number {
  return Number(x.toPrecision(9));
}

const fail = (stderr: string): CommandResult => ({ exitCode: 1, stdout: "", stderr: stderr.endsWith("\n") ? stderr : stderr + "\n" });

async function loadPlan(specPath: string, opts: AdvantageCommandOptions): Promise<ExperimentPlan | CommandResult> {
  let text: string;
  try {
    text = fs.readFileSync(specPath, "utf8");
  } catch (err) {
    return fail(`${specPath}: cannot read the spec (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  if (specPath.endsWith(".json")) {
    try {
      return JSON.parse(text) as ExperimentPlan;
    } catch (err) {
      return fail(`${specPath}: not a compiled plan: ${(err as Error).message}`);
    }
  }
  const compile = opts.compile ?? (dslCompile as CompileFn);
  const { plan, diagnostics } = compile(text, { file: specPath, purpose: "advantage" });
  const errors = diagnostics.filter((d) => (d.severity ?? "error") === "error");
  const lines = diagnostics.map((d) => `${d.file}:${d.line}:${d.column}: ${d.message}${d.hint ? ` (${d.hint})` : ""}`);
  if (!plan || errors.length > 0) return fail(lines.join("\n") || `${specPath}: the spec did not compile`);
  return plan;
}

/**
 * Runs the command and returns what it prints and its exit code (0, or 1 with a message on
 * stderr: spec diagnostics as FILE:LINE:COL: message, a malformed batch naming the field).
 * @example const r = await runAdvantageCommand("examples/quickstart.sw", "runs/q/rollouts/iter-3.json");
 */
export async function runAdvantageCommand(specPath: string, batchPath: string, opts: AdvantageCommandOptions = {}): Promise<CommandResult> {
  // 1) the plan
  const loaded = await loadPlan(specPath, opts);
  if ("exitCode" in loaded) return loaded;
  const plan = loaded;
  if (!plan.advantage) {
    return fail(`${specPath}: the spec declares no advantage: add \`advantage = …\` or \`use grpo\` (or another method)`);
  }

  // 2) the batch
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(batchPath, "utf8"));
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return fail(`${batchPath}: ${e.code ? `cannot read the batch (${e.code})` : `not JSON: ${e.message}`}`);
  }
  let batch: RolloutBatch;
  try {
    batch = validateBatch(json);
  } catch (err) {
    if (err instanceof BatchError) return fail(`${batchPath}: ${err.message}`);
    throw err;
  }

  // 3) the formulas, on the active backend
  await initBackend();
  let bt: BatchTensors;
  try {
    bt = toBatchTensors(batch);
  } catch (err) {
    return fail(`${batchPath}: ${(err as Error).message}`);
  }
  try {
    const out = computeAdvantages({ rewards: plan.rewards ?? [], lets: plan.lets ?? [], probes: plan.probes ?? [], advantage: plan.advantage }, bt);
    const padded = out.tokenAdvantages.arraySync(); // [N, T]
    tf.dispose(out);
    const advantages = padded.map((row, i) => row.slice(0, bt.tokenCounts[i]).map(round));
    const bad = advantages.findIndex((row) => row.some((v) => !Number.isFinite(v)));
    if (bad >= 0) {
      let g = 0;
      while (g + 1 < bt.groupStarts.length && bt.groupStarts[g + 1] <= bad) g++;
      return fail(
        `${specPath}: the advantage is not finite (NaN or ±Infinity) for groups[${g}].responses[${bad - bt.groupStarts[g]}] of ${batchPath}: check divisions and logs in the formulas`,
      );
    }
    return { exitCode: 0, stdout: JSON.stringify({ advantages }) + "\n", stderr: "" };
  } catch (err) {
    if (err instanceof FormulaError) return fail(`${specPath}: ${err.message}`);
    throw err;
  } finally {
    bt.dispose();
  }
}
