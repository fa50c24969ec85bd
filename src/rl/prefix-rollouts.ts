/**
 * Monte Carlo values of prefixes: K completions from each prefix (a prompt and the steps so far),
 * sampled from the policy in batches with the KV cache (src/model/sample.ts), each verified; the
 * value is the fraction that are correct (VinePPO, Kazemnejad et al. 2024, arXiv 2410.01679 §4:
 * V(s_k) = mean outcome of K rollouts from s_k). One primitive for two users:
 *  - the tree sampler (src/rl/tree.ts): every expanded step of an SPPD tree gets a value
 *    (`sampler tree { value_rollouts K }`);
 *  - the RL rollouts (src/rl/rollout.ts): the step-level quantity `mc_value`, V(s_k) before each
 *    step of each response (`sampler standard { value_rollouts K }`, `use vineppo`).
 *
 * A completion continues the response: it may use what is left of the response's token budget
 * (`budget`) and of the model's context, and ends on a stop token (or the budget). It is verified as
 * the prefix's response text followed by the completion's text. A prefix with no budget left gets
 * no completions: its value is that of the response text as it stands (verified once).
 */
import { sample as modelSample } from "../model/sample.js";
import type { SampleResult } from "../model/types.js";
import type { Tokenizer } from "../tokenizer/types.js";
import { stopTokenIds } from "../train/context.js";
import type { SampleFn, ScoringModel } from "./probes.js";

export interface PrefixItem {
  /** the model's input: prompt tokens (bos included) and the response tokens so far */
  prefix: number[];
  /** the response text so far (what the completion's text is appended to for the verifier) */
  text: string;
  reference: string;
  /** response tokens the completion may still use */
  budget: number;
}

export interface PrefixRolloutOptions<M> {
  /** K: completions per prefix */
  rollouts: number;
  temperature: number;
  topP?: number;
  topK?: number;
  /** 1 when the response text's answer matches the reference (the task's verifier) */
  verify: (responseText: string, reference: string) => number;
  seed: number;
  /** rows (completions) per sampling call: bounds the KV cache to chunk x context */
  chunk?: number;
  /** the batched sampler (default src/model/sample.ts) */
  sample?: SampleFn<M>;
}

export interface PrefixValues {
  /** per item: the fraction of its K completions that are correct */
  values: number[];
  /** per item: tokens sampled for its value (the method's extra sampling cost) */
  tokens: number[];
  /** all items: tokens sampled, and completions sampled */
  sampledTokens: number;
  rollouts: number;
}

/**
 * K completions from each prefix, batched; the fraction correct per prefix.
 * @example
 * const { values } = await monteCarloValues(policy, tok, [{ prefix, text: "3+4=7\n", reference: "7", budget: 20 }],
 *   { rollouts: 4, temperature: 1, verify: task.verify, seed: 1 });
 */
export async function monteCarloValues<M extends ScoringModel>(
  model: M,
  tokenizer: Tokenizer,
  items: PrefixItem[],
  opts: PrefixRolloutOptions<M>,
): Promise<PrefixValues> {
  const K = opts.rollouts;
  if (!(Number.isInteger(K) && K >= 1)) throw new Error(`Monte Carlo values need rollouts >= 1 (got ${K})`);
  const sample = opts.sample ?? (modelSample as unknown as SampleFn<M>);
  const ctx = model.config.contextLength;
  const chunk = Math.max(K, opts.chunk ?? 128);
  const values = new Array<number>(items.length).fill(0);
  let sampledTokens = 0;
  let rollouts = 0;

  // 1) rows: K per prefix that has room to continue; the others are valued as they stand
  const rows: { item: number; budget: number }[] = [];
  items.forEach((it, i) => {
    const budget = Math.min(it.budget, ctx - it.prefix.length);
    if (budget >= 1) for (let k = 0; k < K; k++) rows.push({ item: i, budget });
    else values[i] = opts.verify(it.text, it.reference);
  });

  // 2) batched sampling, chunk by chunk (each chunk one batched prefill + KV-cache decoding)
  const correct = new Array<number>(items.length).fill(0);
  const tokens = new Array<number>(items.length).fill(0);
  for (let s = 0, call = 0; s < rows.length; s += chunk, call++) {
    const part = rows.slice(s, s + chunk);
    const results: SampleResult[] = await sample(
      model,
      part.map((r) => items[r.item]!.prefix),
      {
        maxNewTokens: Math.max(...part.map((r) => r.budget)),
        budgets: part.map((r) => r.budget),
        temperature: opts.temperature,
        topP: opts.topP,
        topK: opts.topK,
        stopTokens: stopTokenIds(tokenizer),
        seed: opts.seed * 7919 + call,
      },
      (ids) => tokenizer.decode(ids),
    );
    part.forEach((r, j) => {
      const it = items[r.item]!;
      correct[r.item]! += opts.verify(it.text + results[j]!.text, it.reference);
      sampledTokens += results[j]!.tokens.length;
      tokens[r.item]! += results[j]!.tokens.length;
      rollouts++;
    });
  }
  items.forEach((it, i) => {
    if (Math.min(it.budget, ctx - it.prefix.length) >= 1) values[i] = correct[i]! / K;
  });
  return { values, tokens, sampledTokens, rollouts };
}
