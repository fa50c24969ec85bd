/**
 * Named worlds of the arithmetic task: `task arithmetic { preset hard }`. A preset is a complete
 * set of ArithmeticSettings; settings written next to it in the block override it one by one.
 * The DSL schema (dsl/schemas.ts) takes its list of names from here, and the compiler its values.
 */
import type { ArithmeticSettings } from "../../dsl/plan.js";

export const ARITHMETIC_PRESETS = {
  /**
   * The world of the first arena and the quickstart: about 3,000 distinct expressions, so a warm
   * start memorises its training set (held-out greedy accuracy 0.84 after 1,000 SFT steps).
   */
  small: { operandsMin: 2, operandsMax: 3, valueMin: 1, valueMax: 9, operators: "+-", verbosity: 0.7, slips: 0.05 },
  /**
   * The arena's world with headroom (issue #17): 3–4 operands up to 9 with multiplication, 183,708
   * distinct expressions (worldSize). Its warm start (examples/warmstart-hard.sw, 70,400 SFT draws)
   * meets 37,316 distinct expressions (the repeats are 3-operand ones: half the draws, from 6,561),
   * none of them held out; 95.5% of held-out problems need only computations (`7*8=56`) that occur
   * in some training solution (`stepwise world SPEC`). More redundant lines (0.8 per step) and
   * slips (0.15) than the small world, so compression and the credit of slip and fix steps have
   * room to move. A first version (3–5 operands up to 12, 2 × 10^7 expressions) left the 0.8M
   * warm start at 6.6% held-out accuracy after 1,000 SFT steps (48% of its computations right):
   * no headroom the other way. Prompt + worked solution: at most 107 characters over 1,000 draws.
   */
  hard: { operandsMin: 3, operandsMax: 4, valueMin: 1, valueMax: 9, operators: "+-*", verbosity: 0.8, slips: 0.15 },
} as const satisfies Record<string, ArithmeticSettings>;

export type ArithmeticPreset = keyof typeof ARITHMETIC_PRESETS;
export const ARITHMETIC_PRESET_NAMES = Object.keys(ARITHMETIC_PRESETS) as ArithmeticPreset[];
