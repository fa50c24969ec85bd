/**
 * Rollout batches for the engine-equality tests, generated from a seed: ragged groups (1 to 5
 * responses), groups whose rewards are all equal, one-step responses, unequal
 * step counts, truncation, step labels, Monte Carlo step values, and the values of the probes the specs declare.
 */
import { Rng } from "../../src/random.js";
import type { RolloutBatch, RolloutGroup, RolloutResponse } from "../../src/rl/batch.js";
import { STEP_LABELS } from "../../src/rl/batch-validate.js";

export interface BatchShape {
  /** responses per group */
  groups: number[];
  /** the most steps of a response (1: every response has one step) */
  maxSteps: number;
  /** groups whose outcomes are all equal (indices) */
  equalGroups?: number[];
}

function response(rng: Rng, maxSteps: number, probes: string[], outcome: number): RolloutResponse {
  const K = rng.int(1, maxSteps);
  const stepEnds: number[] = [];
  let n = 0;
  for (let k = 0; k < K; k++) stepEnds.push((n += rng.int(1, 6)));
  const u = () => Array.from({ length: K + 1 }, () => Number(rng.next().toFixed(4)));
  const lp = () => Array.from({ length: n }, () => -Number((rng.next() * 3).toFixed(4)));
  return {
    text: "x".repeat(n),
    token_logp: lp(),
    token_logp_ref: lp(),
    token_entropy: Array.from({ length: n }, () => Number((rng.next() * 2).toFixed(4))),
    step_ends: stepEnds,
    outcome,
    truncated: rng.chance(0.2),
    probes: Object.fromEntries(probes.map((p) => [p, u()])),
    step_labels: stepEnds.map(() => rng.pick(STEP_LABELS)),
    mc_value: [...Array.from({ length: K }, () => rng.int(0, 4) / 4), outcome], // V(s_k) of 4 rollouts, then the outcome
  };
}

/** A batch of the given shape, deterministic from `seed`. */
export function makeBatch(seed: number, shape: BatchShape, probes: string[]): RolloutBatch {
  const rng = new Rng(seed);
  const groups: RolloutGroup[] = shape.groups.map((G, g) => {
    const equal = shape.equalGroups?.includes(g) ? rng.int(0, 1) : undefined;
    return {
      prompt: `p${g}`,
      reference: "1",
      responses: Array.from({ length: G }, () => response(rng, shape.maxSteps, probes, equal ?? rng.int(0, 1))),
    };
  });
  return { groups };
}

/** The generated cases the tests replay, by name. */
export const SHAPES: Record<string, BatchShape> = {
  ragged: { groups: [3, 1, 5, 2], maxSteps: 4 },
  "all-equal": { groups: [4, 4], maxSteps: 3, equalGroups: [0, 1] },
  "one-step": { groups: [3, 3], maxSteps: 1 },
  "unequal-steps": { groups: [4, 2, 3], maxSteps: 8, equalGroups: [1] },
};
