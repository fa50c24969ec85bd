/**
 * Types shared by the formula engine: a value at a granularity, and what evaluation reads.
 *
 * Shapes by level (N responses, T padded tokens, K padded steps):
 *   group, response: [N]  (a group value repeats on each response of the group)
 *   step:            [N, K]
 *   token:           [N, T]
 * A rank-0 tensor (a constant) is valid at every level; tf broadcasting applies it everywhere.
 * Padding may hold any value (even NaN); every op that mixes elements masks it first.
 */
import type * as tf from "@tensorflow/tfjs-core";
import type { Granularity } from "../../../dsl/plan.js";
import type { BatchTensors } from "../batch-tensors.js";

export type { Granularity };

/** A tensor together with the granularity it lives on. */
export interface Leveled {
  level: Granularity;
  value: tf.Tensor;
}

export interface FormulaContext {
  batch: BatchTensors;
  /**
   * Resolves a declared name (reward, let) or an engine-provided built-in (`reward`,
   * `step_reward`); returns undefined for names it does not know, which are then looked up
   * among the probes and the built-ins of dsl/plan.ts.
   */
  resolve?: (name: string) => Leveled | undefined;
}

/** Granularities from coarse to fine: a value broadcasts down this order, never up. */
export const LEVEL_ORDER: Record<Granularity, number> = { group: 0, response: 1, step: 2, token: 3 };

export function finest(...levels: Granularity[]): Granularity {
  return levels.reduce((a, b) => (LEVEL_ORDER[b] > LEVEL_ORDER[a] ? b : a));
}

/** An error in a formula that the checker should have caught, or a batch that lacks a value. */
export class FormulaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FormulaError";
  }
}
