/** Numeric codes of step labels, as the formula IR reads them (dsl/plan.ts: step `label`). */
import type { StepLabel } from "./types.js";

export const STEP_LABEL_CODES: Record<StepLabel, number> = { essential: 0, redundant: 1, slip: 2, fix: 3, answer: 4 };
/** the code of a step with no known label */
export const UNKNOWN_LABEL_CODE = -1;

/** @example labelCode("slip") // 2; labelCode(undefined) // -1 */
export function labelCode(label: StepLabel | undefined): number {
  return label === undefined ? UNKNOWN_LABEL_CODE : STEP_LABEL_CODES[label];
}
