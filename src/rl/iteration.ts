/**
 * One RL iteration of the GRPO family (DESIGN.md "one RL iteration"):
 *   prompts -> rollouts (policy sampling, lp_old, lp_ref, steps, probes)
 *   -> rewards and advantages (the plan's compiled formulas) -> clipped policy update
 *   -> a metrics row (TRL names), step records and the replayable rollout batch.
 */
import * as tf from "@tensorflow/tfjs-core";
import type { ExperimentPlan } from "../../dsl/plan.js";
import { effectiveClipped, effectiveStandard } from "../../dsl/settings.js";
import type { Transformer } from "../model/transformer.js";
import type { Problem } from "../task/types.js";
import type { TrainContext } from "../train/context.js";
import type { AdamW } from "../train/optimizer.js";
import { creditMetrics } from "../analytics/credit.js";
import { advantageTermMetric, METRIC, type MetricsFields, type StepRecord } from "../run/types.js";
import type { RolloutBatch } from "./batch.js";
import { toBatchTensors } from "./batch-tensors.js";
import { formulaTerms } from "../../dsl/terms.js";
import { computeAdvantages, fracZeroStd, termRms } from "./formula/index.js";
import { updatePolicy } from "./policy-update.js";
import { collectRollouts, yieldToEventLoop } from "./rollout.js";

export interface RlIterationOptions {
  plan: ExperimentPlan;
  iteration: number;
  group: number;
  epochs: number;
  minibatch: number;
  lr: number;
  seed: number;
}

export interface RlIterationResult {
  row: MetricsFields;
  steps: StepRecord[];
  batch: RolloutBatch;
  /** the per-token advantages the update used, per response */
  advantages: number[][];
}

/**
 * Token advantages as computed from a batch by the plan's formulas: per response, unpadded; and,
 * when the advantage is a sum of terms (plan.advantageTerms), each term's rms over the tokens.
 */
export function batchAdvantages(plan: ExperimentPlan, batch: RolloutBatch): { advantages: number[][]; rewards: number[]; fracZeroStd: number; termRms: number[] } {
  const bt = toBatchTensors(batch);
  try {
    const adv = computeAdvantages(plan, bt);
    try {
      const grid = adv.tokenAdvantages.arraySync();
      const advantages = grid.map((row, i) => row.slice(0, bt.tokenCounts[i]));
      const terms = plan.advantage && plan.advantageTerms ? formulaTerms(plan.advantage) : [];
      return {
        advantages,
        rewards: Array.from(adv.responseReward.dataSync()),
        fracZeroStd: fracZeroStd(adv.responseReward, bt),
        termRms: termRms(plan, terms, bt),
      };
    } finally {
      tf.dispose([adv.tokenAdvantages, adv.responseReward, adv.stepReward]);
    }
  } finally {
    bt.dispose();
  }
}

export async function rlIteration(
  ctx: TrainContext,
  reference: Transformer,
  optimizer: AdamW,
  problems: Problem[],
  opts: RlIterationOptions,
): Promise<RlIterationResult> {
  const t0 = performance.now();
  const plan = opts.plan;
  // the plan's sampler and objective with the schema's defaults (dsl/settings.ts) where it has none
  const sampler = effectiveStandard(plan);
  const objective = effectiveClipped(plan);

  // 1) rollouts
  const ro = await collectRollouts(ctx, reference, problems, { group: opts.group, sampler, probes: plan.probes, seed: opts.seed });
  const responses = ro.batch.groups.flatMap((g) => g.responses);

  // 2) rewards and advantages from the compiled formulas
  const { advantages, rewards, fracZeroStd: fzs, termRms: terms } = batchAdvantages(plan, ro.batch);
  await yieldToEventLoop();

  // 3) policy update
  const t1 = performance.now();
  const upd = updatePolicy(ctx, optimizer, ro.seq, ro.batch, advantages, {
    objective,
    epochs: opts.epochs,
    minibatch: opts.minibatch,
    lr: opts.lr,
    maxTokens: sampler.maxTokens,
    temperature: ro.batch.temperature ?? 1,
  });
  const trainSeconds = (performance.now() - t1) / 1000;

  // 4) metrics (TRL names, src/run/types.ts METRIC)
  const n = responses.length;
  const lens = responses.map((r) => r.token_logp.length);
  const tokenCount = lens.reduce((a, b) => a + b, 0);
  const rewardMean = rewards.reduce((a, b) => a + b, 0) / n;
  const rewardStd = Math.sqrt(rewards.reduce((a, b) => a + (b - rewardMean) ** 2, 0) / Math.max(1, n - 1));
  const entropy = responses.reduce((a, r) => a + r.token_entropy.reduce((x, y) => x + y, 0), 0) / Math.max(1, tokenCount);
  // k3 KL of the rollout policy against the reference, token mean (ALGORITHMS.md shared loss)
  const kl =
    responses.reduce((a, r) => a + r.token_logp.reduce((x, lp, t) => x + Math.exp(r.token_logp_ref[t]! - lp) - (r.token_logp_ref[t]! - lp) - 1, 0), 0) /
    Math.max(1, tokenCount);
  const row: MetricsFields = {
    stage: "rl",
    iteration: opts.iteration,
    [METRIC.accuracy]: responses.reduce((a, r) => a + r.outcome, 0) / n,
    [METRIC.rewardMean]: rewardMean,
    [METRIC.rewardStd]: rewardStd,
    [METRIC.fracZeroStd]: fzs,
    [METRIC.meanTokens]: tokenCount / n,
    [METRIC.maxTokens]: Math.max(...lens),
    [METRIC.meanSteps]: responses.reduce((a, r) => a + r.step_ends.length, 0) / n,
    [METRIC.truncated]: responses.filter((r) => r.truncated).length / n,
    [METRIC.entropy]: entropy,
    [METRIC.kl]: kl,
    [METRIC.clipRatio]: upd.clipRatio,
    [METRIC.loss]: upd.loss,
    [METRIC.gradNorm]: upd.gradNorm,
    [METRIC.lr]: opts.lr,
    [METRIC.rolloutTps]: ro.sampledTokens / Math.max(1e-9, ro.sampleSeconds),
    [METRIC.trainTps]: upd.trainedTokens / Math.max(1e-9, trainSeconds),
    [METRIC.wall]: (performance.now() - t0) / 1000,
  };
  if (ro.valueRollouts > 0) {
    row[METRIC.valueTokens] = ro.valueTokens;
    row[METRIC.valueRollouts] = ro.valueRollouts;
  }
  // each term of a sum-of-terms advantage, so a negligible term shows (adv/terms/<i>_rms; plan.advantageTerms[i])
  terms.forEach((rms, i) => (row[advantageTermMetric(i)] = rms));
  const redundant = responses.flatMap((r) => r.step_labels ?? []);
  if (redundant.length > 0) row["completions/redundant_step_frac"] = redundant.filter((l) => l === "redundant").length / redundant.length;

  // 5) step records: one per step of every response, with the step's mean advantage
  const steps: StepRecord[] = [];
  let idx = 0;
  ro.batch.groups.forEach((g, gi) => {
    for (const r of g.responses) {
      const adv = advantages[idx]!;
      let b = 0;
      r.step_ends.forEach((e, k) => {
        const span = adv.slice(b, e);
        const text = ctx.tokenizer.decode((r.tokens ?? []).slice(b, e));
        steps.push({
          stage: "rl",
          iteration: opts.iteration,
          group: gi,
          response: idx,
          step: k,
          tokens: e - b,
          text,
          label: r.step_labels?.[k],
          advantage: span.length ? span.reduce((x, y) => x + y, 0) / span.length : 0,
          outcome: r.outcome,
          probes: Object.fromEntries(Object.entries(r.probes ?? {}).map(([name, v]) => [name, v[k]!])),
        });
        b = e;
      });
      idx++;
    }
  });
  Object.assign(row, creditMetrics(steps)); // credit/*: the advantage against the step labels
  return { row, steps, batch: ro.batch, advantages };
}
