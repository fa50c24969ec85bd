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
   * The arena's world with headroom (issue #17): 3–5 operands up to 12 with multiplication, about
   * 2 × 10^7 distinct expressions (worldSize). The arena's warm start (32,000 SFT draws) meets
   * 28,609 distinct expressions (the repeats are 3-operand ones: a third of the draws, from 15,552),
   * none of them held out; 80% of held-out problems need only computations (`7*12=84`) that occur in
   * some training solution, against 94% in the small world (`stepwise world SPEC`). More redundant
   * lines (0.8 per step) and slips (0.15) than the small world, so compression and the credit of slip
   * and fix steps have room to move. Prompt + worked solution: median 76 characters, 99th percentile
   * 130, longest seen 170 over 5,000 draws (a model context of 192 holds them).
   */
  hard: { operandsMin: 3, operandsMax: 5, valueMin: 1, valueMax: 12, operators: "+-*", verbosity: 0.8, slips: 0.15 },
} as const satisfies Record<string, ArithmeticSettings>;

export type ArithmeticPreset = keyof typeof ARITHMETIC_PRESETS;
export const ARITHMETIC_PRESET_NAMES = Object.keys(ARITHMETIC_PRESETS) as ArithmeticPreset[];
