/** A task: prompts, reference answers, a verifier and (optionally) ground-truth step labels. */

/** Ground-truth role of one solution line in the synthetic arithmetic world. */
export type StepLabel = "essential" | "redundant" | "slip" | "fix" | "answer";

export interface Problem {
  id: string;
  /** the prompt text the model sees (ends where the response starts) */
  prompt: string;
  /** the question alone, for probe templates ({question}) */
  question: string;
  /** reference final answer, as text */
  reference: string;
  /** a worked solution (the SFT target), lines separated by "\n", ending with the answer line */
  solution: string;
  /** label of each line of `solution`, when the task knows them */
  labels?: StepLabel[];
}

export interface Task {
  readonly name: string;
  /** deterministic from the task's seed; train and held-out sets are disjoint */
  train(n: number, offset?: number): Problem[];
  heldOut(n: number): Problem[];
  /** the final answer extracted from a response, or null when there is none */
  extractAnswer(response: string): string | null;
  /** 1 when the response's answer equals the reference, else 0 */
  verify(response: string, reference: string): number;
  /** labels of the lines of any response (generated ones too), when the task can compute them */
  labelSteps?(problem: Problem, stepTexts: string[]): StepLabel[];
}
