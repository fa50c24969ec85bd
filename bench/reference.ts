/**
 * The reference model (issue 2: gpt2 family, 4 layers, width 128, 4 heads, vocab 64, context 128)
 * on the active backend: a training step (forward + backward + AdamW) at batch 32 x 128, sampling
 * at batch 64 x 100 new tokens, and the cost of one RL-iteration-shaped workload as group size
 * and response length grow.
 */
import * as tf from "@tensorflow/tfjs-core";
import { gptConfig } from "../src/model/config.js";
import { Transformer } from "../src/model/transformer.js";
import { sample } from "../src/model/sample.js";
import type { ModelConfig } from "../src/model/types.js";
import { AdamW } from "../src/train/optimizer.js";
import { applyUpdate } from "../src/train/update.js";
import { median, peakRss, resetPeakRss, time, type Timing } from "./measure.js";

export interface TrainFigures extends Timing {
  batch: number;
  tokens: number;
  /** peak TF.js bytes during one step (tf.profile) */
  peak_tf_bytes: number;
  /** peak process RSS during the section */
  peak_rss_bytes: number;
}

export interface SampleFigures extends Timing {
  batch: number;
  new_tokens: number;
  tokens_per_s: number;
  /** tokens per CPU second of this process: the speed on a quiet machine */
  tokens_per_cpu_s: number;
  peak_tf_bytes: number;
  peak_rss_bytes: number;
}

/** One cell of the scaling grid: sampling `prompts * group` responses of `length` tokens, then one training step on them. */
export interface ScalingCell {
  prompts: number;
  group: number;
  length: number;
  sample_s: number;
  sample_cpu_s: number;
  train_s: number;
  train_cpu_s: number;
  total_s: number;
  peak_tf_bytes: number;
}

/** Tokens per micro-batch of the scaling grid's training step (32 x 128, the reference step: ~1.7 GiB peak). */
export const MICRO_TOKENS = 4096;

/** Deterministic pseudo-random token rows. */
export function randomRows(rows: number, len: number, vocab: number, seed: number): number[][] {
  let s = seed >>> 0;
  const rnd = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
  return Array.from({ length: rows }, () => Array.from({ length: len }, () => Math.floor(rnd() * vocab)));
}

/**
 * A training step as the SFT and RL stages take it (src/train/update.ts): loss = -mean log-prob
 * of the next tokens, gradients of every parameter, AdamW with clipping.
 */
function trainStepFn(model: Transformer, opt: AdamW, tokens: tf.Tensor2D, entropy: boolean): () => void {
  return () => {
    applyUpdate(model, opt, () => tf.tidy(() => {
      const { logp, entropy: ent } = model.score(tokens, { entropy });
      // the RL objectives also read the entropy; an entropy bonus keeps it in the graph
      return (entropy ? tf.sub(tf.neg(tf.mean(logp)), tf.mul(tf.mean(ent), 1e-3)) : tf.neg(tf.mean(logp))) as tf.Scalar;
    }), 1e-4);
  };
}

export async function benchTrain(config: ModelConfig, batch: number, runs: number): Promise<TrainFigures> {
  const model = Transformer.create(config);
  const opt = new AdamW(model.params);
  const T = config.contextLength;
  const tokens = tf.tensor2d(randomRows(batch, T, config.vocabSize, 1).flat(), [batch, T], "int32");
  const step = trainStepFn(model, opt, tokens, false);
  resetPeakRss();
  const prof = await tf.profile(step); // also the warm-up
  const t = time(step, runs, 0);
  const rss = peakRss();
  tokens.dispose(); opt.dispose(); model.dispose();
  return { ...t, batch, tokens: batch * T, peak_tf_bytes: prof.peakBytes, peak_rss_bytes: rss };
}

/**
 * Sampling speed at batch x newTokens (prompts of promptLen random tokens, every row to full length).
 * Warm-up: one run of `warmupTokens` new tokens (default newTokens; 0 = none), profiled for the
 * peak TF.js bytes unless it is shorter than the timed runs (then the first timed run is profiled).
 */
export async function benchSample(model: Transformer, batch: number, newTokens: number, promptLen: number, runs: number, warmupTokens = newTokens): Promise<SampleFigures> {
  const prompts = randomRows(batch, promptLen, model.config.vocabSize, 7);
  let total = 0;
  const run = (n: number) => { total = sample(model, prompts, { maxNewTokens: n, temperature: 1, seed: 1 }, () => "").reduce((a, r) => a + r.tokens.length, 0); };
  resetPeakRss();
  let peak = 0;
  if (warmupTokens >= newTokens) peak = (await tf.profile(() => run(newTokens))).peakBytes;
  else if (warmupTokens > 0) run(warmupTokens);
  const walls: number[] = [], cpus: number[] = [];
  for (let i = 0; i < runs; i++) {
    const c0 = process.cpuUsage(), t0 = performance.now();
    if (peak === 0) peak = (await tf.profile(() => run(newTokens))).peakBytes;
    else run(newTokens);
    walls.push((performance.now() - t0) / 1000);
    const c = process.cpuUsage(c0);
    cpus.push((c.user + c.system) / 1e6);
  }
  const t = { wall_s: median(walls), cpu_s: median(cpus), walls, runs };
  return {
    ...t, batch, new_tokens: newTokens,
    tokens_per_s: total / t.wall_s, tokens_per_cpu_s: total / t.cpu_s,
    peak_tf_bytes: peak, peak_rss_bytes: peakRss(),
  };
}

/**
 * Cost of one RL iteration (sampling `group` responses for each of `prompts` prompts, then one
 * training step on all of them, in micro-batches of MICRO_TOKENS tokens) over a grid of group sizes and response lengths. Each cell is run
 * once after a warm-up of the smallest cell; `promptLen` tokens of prompt.
 */
export async function benchScaling(groups: number[], lengths: number[], prompts: number, promptLen: number, log: (s: string) => void): Promise<ScalingCell[]> {
  const config: ModelConfig = gptConfig({ contextLength: promptLen + Math.max(...lengths) });
  const model = Transformer.create(config);
  const opt = new AdamW(model.params);
  const cells: ScalingCell[] = [];
  const cell = async (group: number, length: number): Promise<ScalingCell> => {
    const rows = randomRows(prompts, promptLen, config.vocabSize, 11);
    const batch = rows.flatMap((r) => Array.from({ length: group }, () => r));
    let seqs: number[][] = [];
    const s = time(() => {
      const res = sample(model, batch, { maxNewTokens: length, temperature: 1, seed: 2 }, () => "");
      seqs = res.map((r, i) => [...batch[i], ...r.tokens]);
    }, 1, 0);
    const L = Math.max(...seqs.map((q) => q.length));
    const padded = seqs.map((q) => [...q, ...new Array<number>(L - q.length).fill(0)]);
    // micro-batches of at most MICRO_TOKENS tokens, gradients accumulated, one AdamW step (as a
    // real RL update does: the whole group at once would not fit the 4 GiB wasm heap)
    const micro = Math.max(1, Math.floor(MICRO_TOKENS / L));
    const step = () => {
      let acc: Map<string, tf.Tensor> | null = null;
      for (let i = 0; i < padded.length; i += micro) {
        const part = padded.slice(i, i + micro);
        const tokens = tf.tensor2d(part.flat(), [part.length, L], "int32");
        const w = part.length / padded.length;
        const { value, grads } = tf.variableGrads(() => tf.tidy(() => {
          const { logp, entropy } = model.score(tokens);
          return tf.mul(tf.sub(tf.neg(tf.mean(logp)), tf.mul(tf.mean(entropy), 1e-3)), w) as tf.Scalar;
        }), model.trainableVariables());
        value.dispose(); tokens.dispose();
        if (!acc) acc = new Map(Object.entries(grads));
        else for (const [k, g] of Object.entries(grads)) { const sum = tf.add(acc.get(k)!, g); acc.get(k)!.dispose(); g.dispose(); acc.set(k, sum); }
      }
      opt.step(acc!, 1e-4);
      tf.dispose([...acc!.values()]);
    };
    let peak = 0;
    const c0 = process.cpuUsage(), t0 = performance.now();
    peak = (await tf.profile(step)).peakBytes;
    const trainS = (performance.now() - t0) / 1000;
    const cu = process.cpuUsage(c0);
    return {
      prompts, group, length, sample_s: s.wall_s, sample_cpu_s: s.cpu_s,
      train_s: trainS, train_cpu_s: (cu.user + cu.system) / 1e6, total_s: s.wall_s + trainS, peak_tf_bytes: peak,
    };
  };
  await cell(Math.min(...groups), Math.min(...lengths)); // warm-up
  for (const g of groups) {
    for (const len of lengths) {
      const c = await cell(g, len);
      log(`  group ${g} x ${prompts} prompts, ${len} tokens: sampling ${c.sample_s.toFixed(2)} s, train step ${c.train_s.toFixed(2)} s (CPU ${(c.sample_cpu_s + c.train_cpu_s).toFixed(2)} s)`);
      cells.push(c);
    }
  }
  opt.dispose(); model.dispose();
  return cells;
}
