/**
 * A tiny stand-in for the Transformer, for the rl tests: next-token logits from the mean of the
 * embeddings of all tokens so far (causal, so right padding cannot change earlier positions) plus
 * a bigram table on the last token. Same methods as src/model/transformer.ts uses: logits, score,
 * config.contextLength; and a batched sampler with sample()'s signature.
 */
import * as tf from "@tensorflow/tfjs-core";
import type { SampleOptions, SampleResult, ScoreOptions, TokenScores } from "../../src/model/types.js";
import { mulberry32 as rng } from "../../src/random.js";

export class StandInModel {
  readonly config: { contextLength: number; vocabSize: number };
  readonly emb: tf.Variable; // [V, D]
  readonly out: tf.Variable; // [D, V]
  readonly bigram: tf.Variable; // [V, V]

  constructor(vocabSize: number, contextLength: number, seed = 1, scale = 1) {
    this.config = { contextLength, vocabSize };
    const D = 8;
    this.emb = tf.variable(tf.randomNormal([vocabSize, D], 0, scale, "float32", seed));
    this.out = tf.variable(tf.randomNormal([D, vocabSize], 0, scale, "float32", seed + 1));
    this.bigram = tf.variable(tf.randomNormal([vocabSize, vocabSize], 0, scale, "float32", seed + 2));
  }

  /** [B, T] -> [B, T, V] */
  logits(tokens: tf.Tensor2D): tf.Tensor3D {
    return tf.tidy(() => {
      const [B, T] = tokens.shape;
      const e = tf.gather(this.emb, tokens); // [B, T, D]
      // causal mean as a matrix product (tfjs 4.22's Cumsum gradient is wrong for axis 1)
      const avg = new Float32Array(T * T);
      for (let t = 0; t < T; t++) for (let s = 0; s <= t; s++) avg[t * T + s] = 1 / (t + 1);
      const mean = tf.matMul(tf.tile(tf.tensor3d(avg, [1, T, T]), [B, 1, 1]), e); // [B, T, D]
      const D = this.emb.shape[1] as number;
      const ctx = tf.reshape(tf.matMul(tf.reshape(mean, [B * T, D]), this.out), [B, T, -1]); // [B, T, V]
      return tf.add(ctx, tf.gather(this.bigram, tokens)) as tf.Tensor3D; // [B, T, V]
    });
  }

  score(tokens: tf.Tensor2D, opts?: ScoreOptions): TokenScores {
    return tf.tidy(() => {
      const [B, T] = tokens.shape;
      const lp = tf.logSoftmax(tf.div(tf.slice(this.logits(tokens), [0, 0, 0], [B, T - 1, -1]), opts?.temperature ?? 1)); // [B, T-1, V]
      const next = tf.slice(tokens, [0, 1], [B, T - 1]); // [B, T-1]
      const logp = tf.sum(tf.mul(lp, tf.oneHot(next, this.config.vocabSize)), 2) as tf.Tensor2D;
      const entropy = tf.neg(tf.sum(tf.mul(tf.exp(lp), lp), 2)) as tf.Tensor2D;
      return { logp, entropy };
    }) as TokenScores;
  }

  dispose(): void {
    tf.dispose([this.emb, this.out, this.bigram]);
  }
}

/** Batched sampling with the contract of src/model/sample.ts (full recompute per token). */
export function standInSample(model: StandInModel, prompts: number[][], opts: SampleOptions, decode: (ids: number[]) => string): SampleResult[] {
  const rand = rng(opts.seed ?? 0);
  const temp = opts.temperature ?? 0;
  const rows = prompts.map((p) => ({ seq: [...p], res: { tokens: [] as number[], text: "", logp: [] as number[], entropy: [] as number[], truncated: true, finish: "length" } as SampleResult, done: false }));
  for (let step = 0; step < opts.maxNewTokens; step++) {
    const live = rows.filter((r) => !r.done && r.seq.length < model.config.contextLength);
    if (live.length === 0) break;
    const T = Math.max(...live.map((r) => r.seq.length));
    const flat = new Int32Array(live.length * T);
    live.forEach((r, b) => flat.set(r.seq, b * T));
    const probs = tf.tidy(() => {
      const lg = model.logits(tf.tensor2d(flat, [live.length, T], "int32"));
      return tf.softmax(temp > 0 ? tf.div(lg, temp) : lg); // [B, T, V], at the sampling temperature
    });
    const p = probs.arraySync() as number[][][];
    probs.dispose();
    live.forEach((r, b) => {
      const dist = p[b][r.seq.length - 1];
      const ent = -dist.reduce((s, q) => s + (q > 0 ? q * Math.log(q) : 0), 0);
      let tok = 0;
      if (temp === 0) {
        dist.forEach((q, i) => (q > dist[tok] ? (tok = i) : 0));
      } else {
        let u = rand();
        tok = dist.length - 1;
        for (let i = 0; i < dist.length; i++) {
          u -= dist[i];
          if (u <= 0) {
            tok = i;
            break;
          }
        }
      }
      r.seq.push(tok);
      r.res.tokens.push(tok);
      r.res.logp.push(Math.log(dist[tok]));
      r.res.entropy.push(ent);
      if (opts.stopTokens?.includes(tok)) {
        r.done = true;
        r.res.truncated = false;
        r.res.finish = "stop";
        r.res.text = decode(r.res.tokens.slice(0, -1));
        return;
      }
      r.res.text = decode(r.res.tokens);
      if (opts.stop?.some((s) => r.res.text.endsWith(s))) {
        r.done = true;
        r.res.truncated = false;
        r.res.finish = "stop_string";
      }
    });
  }
  return rows.map((r) => r.res);
}
