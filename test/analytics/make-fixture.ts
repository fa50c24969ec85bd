/**
 * Writes test/fixtures/run-sample/: a small synthetic run directory in the layout of
 * src/run/types.ts (run.json, plan.json, metrics.jsonl, steps.jsonl, rollouts/iter-N.json).
 * Deterministic (seeded PRNG), so rerunning it reproduces the committed files byte for byte.
 *
 *   npx tsx test/analytics/make-fixture.ts [OUT_DIR]
 *
 * Shape: 3 RL iterations × 2 prompts × 4 responses, 2–4 steps per response, one probe
 * ("belief") whose value rises along essential steps and stays flat along redundant ones.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { ExperimentPlan } from "../../dsl/plan.js";
import type { RolloutBatch, RolloutResponse } from "../../src/rl/batch.js";
import type { MetricsRow, RunInfo, StepRecord } from "../../src/run/types.js";
import { mulberry32 as rng } from "../../src/random.js";

export const FIXTURE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "../fixtures/run-sample");
export const ITERATIONS = 3;
export const PROMPTS = 2;
export const GROUP = 4;

const round = (x: number, d = 4) => Math.round(x * 10 ** d) / 10 ** d;

export function makeFixture(out: string = FIXTURE_DIR): void {
  const rand = rng(7);
  rmSync(out, { recursive: true, force: true });
  mkdirSync(join(out, "rollouts"), { recursive: true });

  const info: RunInfo = { name: "sample", backend: "cpu", started: "2025-01-01T00:00:00.000Z", seed: 7, status: "finished" };
  const plan: ExperimentPlan = {
    name: "sample",
    seed: 7,
    backend: "cpu",
    model: { kind: "gpt", config: { layers: 2, width: 32, heads: 2, contextLength: 64 } },
    tokenizer: { kind: "chars" },
    task: {
      kind: "arithmetic",
      settings: { operandsMin: 2, operandsMax: 3, valueMin: 0, valueMax: 9, operators: "+", verbosity: 0.5, slips: 0 },
    },
    steps: { kind: "split", delimiter: "\n", minTokens: 1, maxSteps: 16 },
    probes: [{ name: "belief", prompt: "{question}\n{steps}\nanswer ", scorer: { kind: "likelihood", target: "reference" } }],
    rewards: [],
    lets: [],
    method: { name: "sspo", args: { gamma: 1, lambda: 0.95 } },
    train: [{ kind: "rl", iterations: ITERATIONS, prompts: PROMPTS, group: GROUP, lr: 1e-3, epochs: 1, minibatch: 8, evalEvery: 0 }],
    eval: { prompts: 8, maxTokens: 64 },
    track: ["belief"],
  };

  const metrics: MetricsRow[] = [
    { stage: "eval", after: "sft", time: 1.5, accuracy: 0.5, mean_tokens: 20, mean_steps: 3, redundant_step_frac: 0.4 },
  ];
  const steps: StepRecord[] = [];
  let time = 1.5;

  for (let it = 0; it < ITERATIONS; it++) {
    const batch: RolloutBatch = { groups: [] };
    let response = 0;
    const outcomes: number[] = [];
    const lengths: number[] = [];
    const stepCounts: number[] = [];
    const entropies: number[] = [];
    for (let g = 0; g < PROMPTS; g++) {
      const a = 1 + Math.floor(rand() * 8);
      const b = 1 + Math.floor(rand() * 8);
      const prompt = `${a}+${b}=`;
      const reference = String(a + b);
      const group = { prompt, reference, responses: [] as RolloutResponse[] };
      const groupRecords: StepRecord[] = [];
      for (let r = 0; r < GROUP; r++) {
        // later iterations: fewer redundant steps, more correct answers (the run "learns")
        const redundant = rand() < 0.6 - 0.2 * it ? 1 + Math.floor(rand() * 2) : 0;
        const correct = rand() < 0.4 + 0.2 * it ? 1 : 0;
        const answer = correct ? a + b : a + b + 1;
        const texts = [`${a}+${b}`, ...Array.from({ length: redundant }, () => `so ${a}+${b}`), `=${answer}`];
        const labels = ["essential", ...Array.from({ length: redundant }, () => "redundant"), "answer"];
        const K = texts.length;
        const stepEnds: number[] = [];
        const tokens: number[] = [];
        for (const t of texts) {
          for (const ch of t + "\n") tokens.push(ch.charCodeAt(0));
          stepEnds.push(tokens.length);
        }
        // belief: K+1 values; essential steps raise it, redundant ones barely move it
        const belief = [round(0.3 + 0.1 * rand())];
        for (let k = 0; k < K; k++) {
          const prev = belief[k]!;
          const delta = labels[k] === "redundant" ? 0.01 * (rand() - 0.5) : labels[k] === "answer" ? (correct ? 0.3 : -0.2) : 0.2;
          belief.push(round(Math.min(1, Math.max(0, prev + delta))));
        }
        const T = tokens.length;
        const tokenEntropy = Array.from({ length: T }, () => round(1.5 - 0.3 * it + 0.2 * rand()));
        const logp = Array.from({ length: T }, () => round(-0.5 - rand()));
        const resp: RolloutResponse = {
          text: texts.join("\n") + "\n",
          tokens,
          token_logp: logp,
          token_logp_ref: logp.map((x) => round(x - 0.01 * it)),
          token_entropy: tokenEntropy,
          step_ends: stepEnds,
          outcome: correct,
          truncated: false,
          probes: { belief },
          step_labels: labels,
        };
        group.responses.push(resp);
        outcomes.push(correct);
        lengths.push(T);
        stepCounts.push(K);
        entropies.push(tokenEntropy.reduce((s, x) => s + x, 0) / T);
        for (let k = 0; k < K; k++) {
          groupRecords.push({
            stage: "rl",
            iteration: it,
            group: g,
            response,
            step: k,
            tokens: stepEnds[k]! - (k === 0 ? 0 : stepEnds[k - 1]!),
            text: texts[k]!,
            label: labels[k],
            advantage: 0, // filled below, once the group mean is known
            outcome: correct,
            probes: { belief: belief[k]! },
          });
        }
        response++;
      }
      // a GRPO-like advantage: outcome minus the group's mean outcome
      const mean = group.responses.reduce((s, x) => s + x.outcome, 0) / GROUP;
      for (const rec of groupRecords) rec.advantage = round(rec.outcome - mean);
      steps.push(...groupRecords);
      batch.groups.push(group);
    }
    writeFileSync(join(out, "rollouts", `iter-${it}.json`), JSON.stringify(batch) + "\n");
    const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
    const acc = mean(outcomes);
    const std = Math.sqrt(mean(outcomes.map((x) => (x - acc) ** 2)));
    time += 2;
    metrics.push({
      stage: "rl",
      iteration: it,
      time: round(time),
      "reward/accuracy": round(acc),
      "reward/mean": round(acc),
      "reward/std": round(std),
      "reward/frac_zero_std": 0,
      "completions/mean_length": round(mean(lengths)),
      "completions/max_length": Math.max(...lengths),
      "completions/mean_steps": round(mean(stepCounts)),
      "completions/clipped_ratio": 0,
      entropy: round(mean(entropies)),
      kl: round(0.01 * it),
      "clip_ratio/region_mean": 0,
      loss: round(0.1 - 0.02 * it),
      grad_norm: round(1 - 0.1 * it),
      learning_rate: 1e-3,
      "time/iteration_s": 2,
    });
  }
  metrics.push({ stage: "eval", after: "rl", time: round(time + 1), accuracy: 0.75, mean_tokens: 14, mean_steps: 2.25, redundant_step_frac: 0.1 });

  writeFileSync(join(out, "run.json"), JSON.stringify(info, null, 2) + "\n");
  writeFileSync(join(out, "plan.json"), JSON.stringify(plan, null, 2) + "\n");
  writeFileSync(join(out, "spec.sw"), 'experiment "sample"\nseed 7\n');
  writeFileSync(join(out, "metrics.jsonl"), metrics.map((m) => JSON.stringify(m)).join("\n") + "\n");
  writeFileSync(join(out, "steps.jsonl"), steps.map((s) => JSON.stringify(s)).join("\n") + "\n");
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  makeFixture(process.argv[2] ? resolve(process.argv[2]) : FIXTURE_DIR);
}
