/**
 * Rollouts of one RL iteration: `group` responses per prompt sampled from the policy (batched,
 * KV cache), verified, cut into steps, probed, and scored by the policy (lp_old, entropy) and the
 * frozen reference (lp_ref) in one batched forward pass each. The result is a RolloutBatch (the
 * replayable JSON of `stepwise advantage`) plus the sequence layout the update needs.
 */
import * as tf from "@tensorflow/tfjs-core";
import type { ProbePlan, SamplerPlan } from "../../dsl/plan.js";
import { sample } from "../model/sample.js";
import type { Transformer } from "../model/transformer.js";
import type { SampleResult } from "../model/types.js";
import type { Problem } from "../task/types.js";
import { encodePrompt, responseTokenStarts, stopTokenIds, type TrainContext } from "../train/context.js";
import { buildSequences, readResponseGrid, tokensTensor, type SequenceBatch } from "../train/sequences.js";
import type { RolloutBatch, RolloutResponse } from "./batch.js";
import { monteCarloValues, type PrefixItem } from "./prefix-rollouts.js";
import { runProbes } from "./probes.js";
import { segmentResponse } from "./segment.js";

export interface Rollouts {
  batch: RolloutBatch;
  /** prompt + response rows, group by group (row i = response i of the batch) */
  seq: SequenceBatch;
  problems: Problem[];
  /** seconds spent sampling, and tokens sampled */
  sampleSeconds: number;
  sampledTokens: number;
  /** Monte Carlo step values (sampler valueRollouts > 0): tokens and completions sampled for them */
  valueTokens: number;
  valueRollouts: number;
}

export interface RolloutOptions {
  group: number; // = G in the GRPO paper
  sampler: Extract<SamplerPlan, { kind: "standard" }>;
  probes: ProbePlan[];
  seed: number;
}

/**
 * Scores rows with a model without gradient; returns per-response-token log-probs and entropies
 * at the sampling temperature, log_softmax(logits / T) (as TRL and verl score lp_old and lp_ref).
 */
export function scoreResponses(model: Transformer, seq: SequenceBatch, temperature = 1, chunk = 64): { logp: number[][]; entropy: number[][] } {
  const logp: number[][] = [];
  const entropy: number[][] = [];
  for (let start = 0; start < seq.tokens.length; start += chunk) {
    const part: SequenceBatch = {
      tokens: seq.tokens.slice(start, start + chunk),
      promptLen: seq.promptLen.slice(start, start + chunk),
      responseLen: seq.responseLen.slice(start, start + chunk),
      length: seq.length,
    };
    const [lp, ent] = tf.tidy(() => {
      const s = model.score(tokensTensor(part), { entropy: true, temperature });
      return [s.logp, s.entropy];
    });
    logp.push(...readResponseGrid(part, lp.dataSync() as Float32Array));
    entropy.push(...readResponseGrid(part, ent.dataSync() as Float32Array));
    tf.dispose([lp, ent]);
  }
  return { logp, entropy };
}

/**
 * The temperature T of the recorded log-probs: the sampler's (a temperature-0 sampler, greedy,
 * scores the untempered policy, T = 1).
 */
export function scoringTemperature(sampler: Extract<SamplerPlan, { kind: "standard" }>): number {
  return sampler.temperature > 0 ? sampler.temperature : 1;
}

/**
 * `group` responses to each problem from the policy, in one batch (rows group by group), within
 * the model's context. Shared by the RL rollouts and the preference stages.
 */
export function sampleGroups(
  ctx: TrainContext,
  problems: Problem[],
  group: number,
  sampler: Extract<SamplerPlan, { kind: "standard" }>,
  seed: number,
): { prompts: number[][]; results: SampleResult[] } {
  const { model, tokenizer } = ctx;
  const prompts = problems.flatMap((p) => Array.from({ length: group }, () => encodePrompt(tokenizer, p)));
  const room = model.config.contextLength - Math.max(...prompts.map((p) => p.length));
  if (room < 1) throw new Error(`a prompt fills the model's context (${model.config.contextLength} tokens): raise the model's context or shorten the prompts`);
  const results = sample(
    model,
    prompts,
    {
      maxNewTokens: Math.min(sampler.maxTokens, room),
      temperature: sampler.temperature,
      topP: sampler.topP,
      topK: sampler.topK,
      stopTokens: stopTokenIds(tokenizer),
      seed,
    },
    (ids) => tokenizer.decode(ids),
  );
  return { prompts, results };
}

export async function collectRollouts(ctx: TrainContext, reference: Transformer, problems: Problem[], opts: RolloutOptions): Promise<Rollouts> {
  const { model, tokenizer, task } = ctx;

  // 1) sample G responses per prompt in one batch
  const t0 = performance.now();
  const { prompts, results } = sampleGroups(ctx, problems, opts.group, opts.sampler, opts.seed);
  const sampleSeconds = (performance.now() - t0) / 1000;
  await yieldToEventLoop();

  // 2) lp_old and entropy from the policy, lp_ref from the frozen reference: one pass each, at
  // the sampling temperature. The rows hold each response's tokens, its stop token included.
  // lp_old is recomputed rather than taken from sampling so that at the first iteration
  // (policy = reference) logratio is exactly 0 and SPRO starts exactly as GRPO.
  const temperature = scoringTemperature(opts.sampler);
  const seq = buildSequences(prompts, results.map((r) => r.tokens), tokenizer.padId);
  const policyScores = scoreResponses(model, seq, temperature);
  const refScores = scoreResponses(reference, seq, temperature);
  await yieldToEventLoop();

  // 3) verify, segment (the stop token, which decodes to no text, belongs to the last step), label
  const segs = results.map((r) => segmentResponse(r.text, responseTokenStarts(tokenizer, r.tokens), ctx.segmentation));
  const responses: RolloutResponse[] = results.map((r, i) => {
    const p = problems[Math.floor(i / opts.group)]!;
    const resp: RolloutResponse = {
      text: r.text,
      tokens: r.tokens,
      token_logp: policyScores.logp[i]!,
      token_logp_ref: refScores.logp[i]!,
      token_entropy: policyScores.entropy[i]!,
      step_ends: segs[i]!.stepEnds,
      outcome: task.verify(r.text, p.reference),
      truncated: r.truncated,
      finish: r.finish,
    };
    if (task.labelSteps) resp.step_labels = task.labelSteps(p, segs[i]!.stepTexts);
    return resp;
  });

  // 4) Monte Carlo step values V(s_k), when the sampler asks for them (VinePPO, `mc_value`)
  let valueTokens = 0;
  let valueRollouts = 0;
  if ((opts.sampler.valueRollouts ?? 0) > 0) {
    const mc = await monteCarloStepValues(ctx, problems, prompts, responses, segs.map((s) => s.stepTexts), opts);
    valueTokens = mc.sampledTokens;
    valueRollouts = mc.rollouts;
    await yieldToEventLoop();
  }

  // 5) every probe for every step boundary of the batch, batched
  if (opts.probes.length > 0) {
    const values = await runProbes(
      model,
      tokenizer,
      opts.probes,
      results.map((_, i) => {
        const p = problems[Math.floor(i / opts.group)]!;
        return { question: p.question, reference: p.reference, stepTexts: segs[i]!.stepTexts };
      }),
    );
    responses.forEach((r, i) => {
      r.probes = Object.fromEntries(opts.probes.map((pr) => [pr.name, values[pr.name]![i]!]));
    });
    await yieldToEventLoop();
  }

  const batch: RolloutBatch = {
    temperature,
    groups: problems.map((p, g) => ({
      prompt: p.prompt,
      reference: p.reference,
      responses: responses.slice(g * opts.group, (g + 1) * opts.group),
    })),
  };
  return { batch, seq, problems, sampleSeconds, sampledTokens: results.reduce((a, r) => a + r.tokens.length, 0), valueTokens, valueRollouts };
}

/**
 * VinePPO's Monte Carlo step values (Kazemnejad et al. 2024, arXiv 2410.01679 §4): for every
 * response, V(s_k) before each step k = the fraction of `valueRollouts` policy completions from
 * the prompt and steps 0..k-1 that are correct (src/rl/prefix-rollouts.ts); V(s_0), the prompt
 * alone, is one state for the whole group and is estimated once per group; after the last step,
 * V(s_K) is the response's own outcome. Written to each response's `mc_value` (K+1 values).
 */
async function monteCarloStepValues(
  ctx: TrainContext,
  problems: Problem[],
  prompts: number[][],
  responses: RolloutResponse[],
  stepTexts: string[][],
  opts: RolloutOptions,
): Promise<{ sampledTokens: number; rollouts: number }> {
  const G = opts.group;
  const maxTokens = opts.sampler.maxTokens;
  const items: PrefixItem[] = [];
  const slot: { response: number; k: number }[][] = []; // item -> the (response, boundary) pairs it values
  problems.forEach((p, g) => {
    // V(s_0): the group's prompt
    items.push({ prefix: prompts[g * G]!, text: "", reference: p.reference, budget: maxTokens });
    slot.push(Array.from({ length: G }, (_, j) => ({ response: g * G + j, k: 0 })));
    for (let j = 0; j < G; j++) {
      const i = g * G + j;
      const r = responses[i]!;
      for (let k = 1; k < r.step_ends.length; k++) {
        const b = r.step_ends[k - 1]!; // tokens before step k (never the stop token: it is in the last step)
        items.push({ prefix: [...prompts[i]!, ...r.tokens!.slice(0, b)], text: stepTexts[i]!.slice(0, k).join(""), reference: p.reference, budget: maxTokens - b });
        slot.push([{ response: i, k }]);
      }
    }
  });
  const mc = await monteCarloValues(ctx.model, ctx.tokenizer, items, {
    rollouts: opts.sampler.valueRollouts!,
    temperature: opts.sampler.temperature,
    topP: opts.sampler.topP,
    topK: opts.sampler.topK,
    verify: (text, ref) => ctx.task.verify(text, ref),
    seed: opts.seed * 2 + 1,
  });
  for (const r of responses) r.mc_value = [...new Array<number>(r.step_ends.length).fill(NaN), r.outcome];
  slot.forEach((targets, it) => targets.forEach(({ response, k }) => (responses[response]!.mc_value![k] = mc.values[it]!)));
  return { sampledTokens: mc.sampledTokens, rollouts: mc.rollouts };
}

/** Lets a notebook's display, a SIGINT handler or an abort signal run between heavy phases. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
