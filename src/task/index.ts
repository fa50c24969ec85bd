/** Tasks: the factory from a plan, and the public pieces of each task. */
import type { TaskPlan } from "../../dsl/plan.js";
import type { Task } from "./types.js";
import { createArithmeticTask } from "./arithmetic.js";
import { createJsonlTask, type JsonlTaskOptions } from "./jsonl.js";

export type { Task, Problem, StepLabel } from "./types.js";
export {
  ArithmeticTask,
  createArithmeticTask,
  defaultArithmeticSettings,
  extractArithmeticAnswer,
  redundantStepFraction,
  splitOf,
} from "./arithmetic.js";
export { labelLines, parseLine } from "./arithmetic-lines.js";
export { JsonlTask, JsonlError, createJsonlTask, type JsonlTaskOptions, type JsonlWarning } from "./jsonl.js";
export { extractFinalAnswer, answerRegion } from "./answers.js";
export { gradeAnswer, answersEqual, type Verdict } from "./grade.js";

/**
 * The task a plan describes, deterministic from `seed`.
 * `options.formatPrompt` (jsonl only) turns a question into the prompt, e.g. through a chat template.
 * @example createTask({ kind: "arithmetic", settings: defaultArithmeticSettings }, 7).train(2)
 */
export function createTask(plan: TaskPlan, seed: number, options: Pick<JsonlTaskOptions, "formatPrompt"> = {}): Task {
  switch (plan.kind) {
    case "arithmetic":
      return createArithmeticTask(plan.settings, seed);
    case "jsonl":
      return createJsonlTask(
        { path: plan.path, question: plan.question, answer: plan.answer, onError: plan.onError, heldOut: plan.heldOut, ...options },
        seed,
      );
    default: {
      const kind = (plan as { kind: string }).kind;
      throw new Error(`unknown task kind "${kind}": use arithmetic or jsonl`);
    }
  }
}
export { STEP_LABEL_CODES, UNKNOWN_LABEL_CODE, labelCode } from "./labels.js";
