/**
 * From a plan to the objects a run works with: tokenizer, task, policy model (fresh, from a
 * Stepwise checkpoint, or from a Hugging Face directory). Everything comes from local paths.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { ExperimentPlan } from "../../dsl/plan.js";
import { loadCheckpoint, loadHfModel } from "../model/checkpoint.js";
import { gptConfig, llamaConfig } from "../model/config.js";
import { Transformer } from "../model/transformer.js";
import { createTask } from "../task/index.js";
import type { Task } from "../task/types.js";
import { CharTokenizer } from "../tokenizer/chars.js";
import type { Tokenizer } from "../tokenizer/types.js";

export interface Built {
  model: Transformer;
  tokenizer: Tokenizer;
  task: Task;
  /** where the starting weights came from, for the run record */
  origin: string;
}

/** The declarations `stepwise run` needs, with the fix for each one that is missing. */
export function missingForRun(plan: ExperimentPlan): string[] {
  const missing: string[] = [];
  if (!plan.model) missing.push("a `model` declaration (e.g. `model gpt { layers 4, width 128, heads 4, context 128 }`)");
  if (!plan.task) missing.push("a `task` declaration (e.g. `task arithmetic { operands 3..4 }`)");
  if (plan.train.length === 0) missing.push("a `train { … }` block with at least one stage");
  const needsAdvantage = plan.train.some((s) => s.kind === "rl");
  if (needsAdvantage && !plan.advantage) missing.push("an `advantage = …` formula or a `use METHOD` line (the `rl` stage needs one)");
  if (plan.train.some((s) => s.kind === "step_dpo") && plan.objective?.kind !== "step_dpo")
    missing.push("`objective step_dpo { … }` or `use sppd` / `use step_dpo` (the `step_dpo` stage needs one)");
  return missing;
}

export async function buildFromPlan(plan: ExperimentPlan, specDir = "."): Promise<Built> {
  if (!plan.model || !plan.task) throw new Error(missingForRun(plan).join("; "));
  const task = createTask(plan.task, plan.seed);
  if (plan.model.kind === "load") {
    const dir = path.resolve(specDir, plan.model.path);
    if (!fs.existsSync(dir)) throw new Error(`model load "${plan.model.path}": no such directory (${dir})`);
    if (fs.existsSync(path.join(dir, "state.json")) || fs.existsSync(path.join(dir, "stepwise.json"))) {
      const ck = await loadCheckpoint(dir);
      return { model: ck.model, tokenizer: ck.tokenizer, task, origin: dir };
    }
    const hf = await loadHfModel(dir);
    return { model: hf.model, tokenizer: hf.tokenizer, task, origin: dir };
  }
  const tokenizer: Tokenizer = new CharTokenizer();
  if (plan.tokenizer && plan.tokenizer.kind !== "chars") throw new Error("a fresh `model gpt` works with `tokenizer chars`; load a Hugging Face model directory for a BPE tokenizer");
  const partial = { ...plan.model.config, vocabSize: tokenizer.vocabSize, seed: plan.seed };
  const config = partial.family === "llama" ? llamaConfig(partial) : gptConfig(partial);
  return { model: Transformer.create(config), tokenizer, task, origin: "fresh" };
}
