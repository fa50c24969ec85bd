/**
 * What every stage of a run works with: the policy, its tokenizer, the task, the step segmentation.
 * Built once by the runner from the plan (src/run/build.ts); passed to SFT, evaluation and RL.
 */
import type { SegmentationPlan } from "../../dsl/plan.js";
import type { Transformer } from "../model/transformer.js";
import type { Task, Problem } from "../task/types.js";
import type { Tokenizer } from "../tokenizer/types.js";

export interface TrainContext {
  model: Transformer;
  tokenizer: Tokenizer;
  task: Task;
  segmentation: SegmentationPlan;
}

/** Prompt ids as the model sees them: bos, then the prompt text. */
export function encodePrompt(tokenizer: Tokenizer, problem: Pick<Problem, "prompt">): number[] {
  return [tokenizer.bosId, ...tokenizer.encode(problem.prompt)];
}
