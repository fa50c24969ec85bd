/**
 * The preference stages of SPPD's curriculum (ALGORITHMS.md SPPD §5) and Step-DPO:
 *  - rejection-sampled SFT (`sft { only_correct true }`): sample, keep correct solutions;
 *  - trajectory DPO (`dpo`): correct vs incorrect responses to the same prompt;
 *  - step-level DPO (`step_dpo`): sibling steps from the tree self-sampler, with SPPD's dynamic
 *    value margin (gamma = 0: plain Step-DPO).
 * All three reduce to "pairs of continuations of a shared prefix" scored by the policy (with
 * gradient) and the frozen reference, which `pairLoss` implements once.
 */
import * as tf from "@tensorflow/tfjs-core";
import type { ExperimentPlan, StagePlan } from "../../dsl/plan.js";
import { sample } from "../model/sample.js";
import type { Transformer } from "../model/transformer.js";
import { stepDpoLoss } from "../rl/objectives.js";
import { stepPairs } from "../rl/pairs.js";
import { sampleTree } from "../rl/tree.js";
import { DEFAULT_SAMPLER } from "../rl/iteration.js";
import type { Problem } from "../task/types.js";
import { encodePrompt, type TrainContext } from "../train/context.js";
import type { AdamW } from "../train/optimizer.js";
import { buildSequences, responseMask, tokensTensor } from "../train/sequences.js";
import { applyUpdate } from "../train/update.js";
import type { MetricsFields } from "./types.js";

/** A preference pair: two continuations of one prefix, with optional values for the margin. */
export interface ContinuationPair {
  prefix: number[];
  chosen: number[];
  rejected: number[];
  vChosen?: number;
  vRejected?: number;
}

/** Summed log-probs of each row's continuation: [rows]. */
function continuationLogp(model: Transformer, prefixes: number[][], conts: number[][], padId: number): tf.Tensor1D {
  const seq = buildSequences(prefixes, conts, padId);
  return tf.tidy(() => {
    const tokens = tokensTensor(seq);
    const mask = responseMask(seq);
    return tf.sum(tf.mul(model.score(tokens).logp, mask), 1) as tf.Tensor1D; // [rows]
  });
}

/** One update on pairs with the step-DPO loss (SPPD eq. 10; DPO when gamma = 0). */
export function pairUpdate(
  ctx: TrainContext,
  reference: Transformer,
  optimizer: AdamW,
  pairs: ContinuationPair[],
  opts: { beta: number; gamma: number; marginSign: 1 | -1; lr: number },
): { loss: number; gradNorm: number; margin: number } {
  const pad = ctx.tokenizer.padId;
  const prefixes = pairs.map((p) => p.prefix);
  const refW = tf.tidy(() => continuationLogp(reference, prefixes, pairs.map((p) => p.chosen), pad));
  const refL = tf.tidy(() => continuationLogp(reference, prefixes, pairs.map((p) => p.rejected), pad));
  const vW = pairs.map((p) => p.vChosen ?? 0);
  const vL = pairs.map((p) => p.vRejected ?? 0);
  try {
    const res = applyUpdate(
      ctx.model,
      optimizer,
      () =>
        stepDpoLoss(
          {
            logpW: continuationLogp(ctx.model, prefixes, pairs.map((p) => p.chosen), pad),
            logpRefW: refW,
            logpL: continuationLogp(ctx.model, prefixes, pairs.map((p) => p.rejected), pad),
            logpRefL: refL,
            vW,
            vL,
          },
          opts,
        ),
      opts.lr,
    );
    const margin = vW.reduce((a, v, i) => a + v - vL[i]!, 0) / Math.max(1, pairs.length);
    return { ...res, margin };
  } finally {
    tf.dispose([refW, refL]);
  }
}

/** Samples `group` responses per problem; returns them with their verifier outcomes. */
function sampleGroups(ctx: TrainContext, problems: Problem[], group: number, seed: number, plan: ExperimentPlan) {
  const sampler = plan.sampler?.kind === "standard" ? plan.sampler : DEFAULT_SAMPLER;
  const prompts = problems.flatMap((p) => Array.from({ length: group }, () => encodePrompt(ctx.tokenizer, p)));
  const room = ctx.model.config.contextLength - Math.max(...prompts.map((p) => p.length));
  const results = sample(
    ctx.model,
    prompts,
    { maxNewTokens: Math.max(1, Math.min(sampler.maxTokens, room)), temperature: sampler.temperature, topP: sampler.topP, topK: sampler.topK, stopTokens: [ctx.tokenizer.eosId], seed },
    (ids) => ctx.tokenizer.decode(ids),
  );
  return problems.map((p, g) => ({
    problem: p,
    prompt: prompts[g * group]!,
    responses: results.slice(g * group, (g + 1) * group).map((r) => ({ ...r, outcome: ctx.task.verify(r.text, p.reference) })),
  }));
}

/** Rejection sampling for SFT: the first correct sampled solution of each problem (none: skipped). */
export async function sampleCorrectSolutions(ctx: TrainContext, problems: Problem[], seed: number, plan: ExperimentPlan): Promise<{ prompts: number[][]; responses: number[][] }> {
  const groups = sampleGroups(ctx, problems, 4, seed, plan);
  const prompts: number[][] = [];
  const responses: number[][] = [];
  for (const g of groups) {
    const ok = g.responses.find((r) => r.outcome === 1 && !r.truncated);
    if (ok) {
      prompts.push(g.prompt);
      responses.push([...ok.tokens, ctx.tokenizer.eosId]);
    }
  }
  return { prompts, responses };
}

/** One step of trajectory DPO: correct vs incorrect responses to the same prompt. */
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
  const groups = sampleGroups(ctx, problems, 4, seed, plan);
  const pairs: ContinuationPair[] = [];
  for (const g of groups) {
    const w = g.responses.find((r) => r.outcome === 1);
    const l = g.responses.find((r) => r.outcome === 0);
    if (w && l) pairs.push({ prefix: g.prompt, chosen: w.tokens, rejected: l.tokens });
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
  const objective = plan.objective?.kind === "step_dpo" ? plan.objective : { kind: "step_dpo" as const, beta: 0.1, gamma: 0, marginSign: 1 as const, threshold: 0.5 };
  const sampler = plan.sampler?.kind === "tree" ? plan.sampler : { kind: "tree" as const, children: 2, paths: 8, temperature: 1, maxTokens: 96 };
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
    },
  );
  const sampleSeconds = (performance.now() - t0) / 1000;
  const pairs: ContinuationPair[] = trees.flatMap((t) =>
    stepPairs(t, objective.threshold).map((p) => ({ prefix: p.prefix, chosen: p.chosen, rejected: p.rejected, vChosen: p.vChosen, vRejected: p.vRejected })),
  );
  const leaves = trees.flatMap((t) => t.leaves());
  const accuracy = leaves.reduce((a, l) => a + l.correct, 0) / Math.max(1, leaves.length);
  const base = {
    stage: "step_dpo",
    iteration: step,
    pairs: pairs.length,
    "reward/accuracy": accuracy,
    "tree/nodes": trees.reduce((a, t) => a + t.size(), 0),
    "tree/leaves": leaves.length,
    "time/sampling_s": sampleSeconds,
    learning_rate: lr,
  };
  if (pairs.length === 0) return { row: base };
  const res = pairUpdate(ctx, reference, optimizer, pairs, { beta: objective.beta, gamma: objective.gamma, marginSign: objective.marginSign, lr });
  return { row: { ...base, loss: res.loss, grad_norm: res.gradNorm, "rewards/margin": res.margin } };
}
