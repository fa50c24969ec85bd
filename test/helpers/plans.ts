/** Small ExperimentPlans for end-to-end tests, written as data (no DSL needed). */
import type { ExperimentPlan, Formula } from "../../dsl/plan.js";

const reward: Formula = { op: "ref", source: "builtin", name: "reward", level: "response" };

/** GRPO's advantage: zscore(reward) (DeepSeekMath eq. for outcome supervision). */
export const GRPO_ADVANTAGE: Formula = { op: "group", fn: "zscore", arg: reward, level: "response" };

/** A tiny run: a 1-layer model, two-operand sums, a short SFT and a few RL iterations. */
export function tinyPlan(overrides: Partial<ExperimentPlan> = {}): ExperimentPlan {
  return {
    name: "tiny",
    seed: 3,
    backend: "cpu",
    model: { kind: "gpt", config: { layers: 1, width: 32, heads: 2, contextLength: 48 } },
    tokenizer: { kind: "chars" },
    task: {
      kind: "arithmetic",
      settings: { operandsMin: 2, operandsMax: 2, valueMin: 1, valueMax: 9, operators: "+", verbosity: 0.3, slips: 0 },
    },
    steps: { kind: "split", delimiter: "\n", minTokens: 0, maxSteps: 0 },
    probes: [],
    rewards: [],
    lets: [],
    advantage: GRPO_ADVANTAGE,
    objective: { kind: "clipped", clip: 0.2, clipHigh: 0.2, kl: 0, entropy: 0, norm: "response", maskTruncated: false },
    sampler: { kind: "standard", temperature: 1, topP: 1, topK: 0, maxTokens: 24 },
    train: [
      { kind: "sft", steps: 6, lr: 3e-3, batch: 8, warmup: 2, onlyCorrect: false },
      { kind: "rl", iterations: 3, prompts: 2, group: 4, lr: 1e-3, epochs: 1, minibatch: 0, evalEvery: 0 },
    ],
    eval: { prompts: 4, maxTokens: 24 },
    track: [],
    ...overrides,
  };
}

/** The same tiny world as DSL text (a 1-layer model on one-digit sums), for tests that compile specs. */
export function tinyWorldSpec(seed: number): string {
  return `seed ${seed}
backend cpu
model gpt { layers 1, width 32, heads 2, context 48 }
tokenizer chars
task arithmetic { operands 2..2, values 1..5, operators "+", verbosity 0.5, slips 0 }
steps split "\\n"
eval { prompts 4, max_tokens 20 }
`;
}
