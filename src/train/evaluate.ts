/**
 * Held-out evaluation: greedy decoding (or pass@1 over `samples` sampled responses at a
 * temperature, the policy as RL trains it) on the task's held-out prompts, scored by the verifier,
 * cut into steps by the plan's segmentation, and (when the task knows them) labelled, so the
 * redundant-step fraction of what the model writes is measured against the ground truth.
 */
import { sample } from "../model/sample.js";
import { segmentResponse } from "../rl/segment.js";
import type { Problem } from "../task/types.js";
import { encodePrompt, responseTokenStarts, stopTokenIds, type TrainContext } from "./context.js";

export interface EvalResult {
  accuracy: number;
  mean_tokens: number;
  mean_steps: number;
  /** fraction of steps labelled redundant (null when the task has no labels) */
  redundant_step_frac: number | null;
  /** with sampled decoding, the greedy accuracy as well (the two can move apart under RL) */
  greedy_accuracy?: number;
  samples: { prompt: string; response: string; correct: boolean }[];
}

export interface EvalOptions {
  maxTokens: number;
  /** sequences decoded per batch */
  batch?: number;
  /** sample solutions kept for display */
  keep?: number;
  /** 0 (default) = greedy; > 0: sampled at this temperature, pass@1 averaged over `samples` */
  temperature?: number;
  samples?: number;
  /** seed of the sampled evaluation (the same seed gives the same draws) */
  seed?: number;
}

export async function evaluate(ctx: TrainContext, problems: Problem[], opts: EvalOptions): Promise<EvalResult> {
  const { model, tokenizer, task } = ctx;
  const batch = opts.batch ?? 64;
  const temperature = opts.temperature ?? 0;
  const k = temperature > 0 ? Math.max(1, opts.samples ?? 1) : 1;
  // each problem k times, so every statistic below is a mean over the k draws (pass@1)
  const rows = problems.flatMap((p) => Array.from({ length: k }, () => p));
  let correct = 0;
  let tokens = 0;
  let steps = 0;
  let redundant = 0;
  let labelled = 0;
  const samples: EvalResult["samples"] = [];
  for (let start = 0; start < rows.length; start += batch) {
    const chunk = rows.slice(start, start + batch);
    const maxNew = Math.min(opts.maxTokens, model.config.contextLength - Math.max(...chunk.map((p) => encodePrompt(tokenizer, p).length)));
    const results = sample(
      model,
      chunk.map((p) => encodePrompt(tokenizer, p)),
      { maxNewTokens: Math.max(1, maxNew), temperature, stopTokens: stopTokenIds(tokenizer), seed: (opts.seed ?? 0) + start },
      (ids) => tokenizer.decode(ids),
    );
    results.forEach((r, i) => {
      const p = chunk[i]!;
      const ok = task.verify(r.text, p.reference) === 1;
      const seg = segmentResponse(r.text, responseTokenStarts(tokenizer, r.tokens), ctx.segmentation);
      if (ok) correct++;
      tokens += r.tokens.length;
      steps += seg.stepEnds.length;
      if (task.labelSteps) {
        const labels = task.labelSteps(p, seg.stepTexts);
        redundant += labels.filter((l) => l === "redundant").length;
        labelled += labels.length;
      }
      if (samples.length < (opts.keep ?? 3)) samples.push({ prompt: p.prompt, response: r.text, correct: ok });
    });
    // let a notebook or a signal handler run between chunks
    await new Promise((resolve) => setImmediate(resolve));
  }
  const n = Math.max(1, rows.length);
  const greedy = temperature > 0 ? (await evaluate(ctx, problems, { ...opts, temperature: 0, keep: 0 })).accuracy : undefined;
  return {
    greedy_accuracy: greedy,
    accuracy: correct / n,
    mean_tokens: tokens / n,
    mean_steps: steps / n,
    redundant_step_frac: task.labelSteps ? redundant / Math.max(1, labelled) : null,
    samples,
  };
}
