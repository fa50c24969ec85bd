/**
 * The preference stages of SPPD's curriculum (ALGORITHMS.md SPPD §5) and Step-DPO:
 *  - rejection-sampled SFT (`sft { only_correct true }`): sample, keep correct solutions;
 *  - trajectory DPO (`dpo`): correct vs incorrect responses to the same prompt;
 *  - step-level DPO (`step_dpo`): sibling steps from the tree self-sampler, with SPPD's dynamic
 *    value margin (gamma = 0: plain Step-DPO).
 * All three reduce to "pairs of continuations of a shared prefix" scored by the policy (with
 * gradient) and the frozen reference: `pairUpdate` (with src/rl/pairs.ts's pairLogprobs).
 */
import * as tf from "@tensorflow/tfjs-core";
import type { ExperimentPlan, StagePlan } from "../../dsl/plan.js";
import { effectiveStandard, effectiveStepDpo, effectiveTree } from "../../dsl/settings.js";
import type { Transformer } from "../model/transformer.js";
import { stepDpoLoss } from "../rl/objectives.js";
import { leafResponses, pairLogprobs, stepPairs, type StepPair } from "../rl/pairs.js";
import { sampleTree, treeSampledTokens } from "../rl/tree.js";
import { sampleGroups } from "../rl/rollout.js";
import type { Problem } from "../task/types.js";
import type { TrainContext } from "../train/context.js";
import type { AdamW } from "../train/optimizer.js";
import { applyUpdate } from "../train/update.js";
import { METRIC, type MetricsFields } from "./types.js";

type PairRows = Pick<StepPair, "prefixTokens" | "winTokens" | "loseTokens"> & { vW?: number; vL?: number };

/** One update on pairs with the step-DPO loss (SPPD eq. 10; DPO when gamma = 0). */
export function pairUpdate(
  ctx: TrainContext,
  reference: Transformer,
  optimizer: AdamW,
  pairs: PairRows[],
  opts: { beta: number; gamma: number; marginSign: 1 | -1; margin?: number; lr: number },
): { loss: number; gradNorm: number; margin: number } {
  const ids = { padId: ctx.tokenizer.padId, bosId: ctx.tokenizer.bosId };
  const ref = pairLogprobs(reference, pairs, ids);
  const vW = pairs.map((p) => p.vW ?? 0);
  const vL = pairs.map((p) => p.vL ?? 0);
  try {
    const res = applyUpdate(
      ctx.model,
      optimizer,
      () => {
        const cur = pairLogprobs(ctx.model, pairs, ids);
        return stepDpoLoss({ logpW: cur.logpW, logpRefW: ref.logpW, logpL: cur.logpL, logpRefL: ref.logpL, vW, vL }, opts);
      },
      opts.lr,
    );
    const margin = vW.reduce((a, v, i) => a + v - vL[i]!, 0) / Math.max(1, pairs.length);
    return { ...res, margin };
  } finally {
    tf.dispose([ref.logpW, ref.logpL]);
  }
}

/** Samples `group` responses per problem (src/rl/rollout.ts); returns them with their verifier outcomes. */
function verifiedGroups(ctx: TrainContext, problems: Problem[], group: number, seed: number, plan: ExperimentPlan) {
  const sampler = effectiveStandard(plan); // a tree sampler's plan samples these with the standard defaults
  const { prompts, results } = sampleGroups(ctx, problems, group, sampler, seed);
  return problems.map((p, g) => ({
    problem: p,
    prompt: prompts[g * group]!,
    responses: results.slice(g * group, (g + 1) * group).map((r) => ({ ...r, outcome: ctx.task.verify(r.text, p.reference) })),
  }));
}

/**
 * Rejection sampling for SFT: the first correct sampled solution of each problem (none: skipped),
 * with the stop token it ended on (a response that ended on a stop string has none).
 */
export async function sampleCorrectSolutions(ctx: TrainContext, problems: Problem[], seed: number, plan: ExperimentPlan): Promise<{ prompts: number[][]; responses: number[][] }> {
  const groups = verifiedGroups(ctx, problems, 4, seed, plan);
  const prompts: number[][] = [];
  const responses: number[][] = [];
  for (const g of groups) {
    const ok = g.responses.find((r) => r.outcome === 1 && !r.truncated);
    if (ok) {
      prompts.push(g.prompt);
      responses.push(ok.tokens);
    }
  }
  return { prompts, responses };
}

/**
 * One step of trajectory DPO: correct vs incorrect responses to the same prompt, each as it was
 * sampled: a stopped response carries its stop token, a truncated one does not (no stop token is
 * ever appended to cut-off text).
 */
export async function runDpoStage(
  ctx: TrainContext,
  reference: Transformer,
  optimizer: AdamW,
  plan: ExperimentPlan,
  stage: Extract<StagePlan, { kind: "dpo" }>,
  step: number,
  seed: number,
  lr: number,
): Promise<MetricsFields> {
  const problems = ctx.task.train(stage.pairs, step * stage.pairs);
  const groups = verifiedGroups(ctx, problems, 4, seed, plan);
  const pairs: PairRows[] = [];
  for (const g of groups) {
    const w = g.responses.find((r) => r.outcome === 1);
    const l = g.responses.find((r) => r.outcome === 0);
    if (w && l) pairs.push({ prefixTokens: g.prompt, winTokens: w.tokens, loseTokens: l.tokens });
  }
  const accuracy = groups.reduce((a, g) => a + g.responses.filter((r) => r.outcome === 1).length, 0) / Math.max(1, groups.length * 4);
  if (pairs.length === 0) return { stage: "dpo", iteration: step, pairs: 0, "reward/accuracy": accuracy, learning_rate: lr };
  const res = pairUpdate(ctx, reference, optimizer, pairs, { beta: stage.beta, gamma: 0, marginSign: 1, lr });
  return { stage: "dpo", iteration: step, pairs: pairs.length, loss: res.loss, grad_norm: res.gradNorm, "reward/accuracy": accuracy, learning_rate: lr };
}

/** One iteration of step-level DPO on pairs from SPPD's tree self-sampler. */
export async function runStepDpoStage(
  ctx: TrainContext,
  reference: Transformer,
  optimizer: AdamW,
  plan: ExperimentPlan,
  stage: Extract<StagePlan, { kind: "step_dpo" }>,
  step: number,
  seed: number,
  lr: number,
): Promise<{ row: MetricsFields }> {
  const objective = effectiveStepDpo(plan);
  const sampler = effectiveTree(plan);
  const problems = ctx.task.train(stage.prompts, step * stage.prompts);
  const delimiter = plan.steps.kind === "split" ? plan.steps.delimiter : "\n";
  const t0 = performance.now();
  const trees = await sampleTree(
    ctx.model,
    reference,
    ctx.tokenizer,
    problems.map((p) => ({ prompt: p.prompt, reference: p.reference })),
    {
      children: sampler.children,
      paths: sampler.paths,
      temperature: sampler.temperature,
      maxStepTokens: Math.min(32, sampler.maxTokens),
      maxDepth: 12,
      maxTokens: sampler.maxTokens,
      delimiter,
      verify: (text, ref) => ctx.task.verify(text, ref),
      seed,
      valueRollouts: sampler.valueRollouts,
    },
  );
  const sampleSeconds = (performance.now() - t0) / 1000;
  const pairs: StepPair[] = trees.flatMap((t) => stepPairs(t, objective.threshold));
  const leaves = trees.flatMap((t) => leafResponses(t));
  const accuracy = leaves.reduce((a, l) => a + l.correct, 0) / Math.max(1, leaves.length);
  const base = {
    stage: "step_dpo",
    iteration: step,
    pairs: pairs.length,
    "reward/accuracy": accuracy,
    "tree/nodes": trees.reduce((a, t) => a + t.nodes.length, 0),
    "tree/leaves": leaves.length,
    // every sampled step of every node (siblings that were not chosen too): the tree's sampling cost,
    // comparable with the response tokens an RL iteration samples
    "tree/tokens_sampled": trees.reduce((a, t) => a + treeSampledTokens(t), 0),
    "time/sampling_s": sampleSeconds,
    learning_rate: lr,
    ...(sampler.valueRollouts > 0 ? { [METRIC.valueTokens]: trees.reduce((a, t) => a + (t.valueTokens ?? 0), 0) } : {}),
  };
  if (pairs.length === 0) return { row: base };
  const res = pairUpdate(ctx, reference, optimizer, pairs, { beta: objective.beta, gamma: objective.gamma, marginSign: objective.marginSign, margin: objective.margin, lr });
  return { row: { ...base, loss: res.loss, grad_norm: res.gradNorm, "rewards/margin": res.margin } };
}
