/**
 * Batched sampling with a KV cache (the RL loop's rollouts and the evaluations).
 *
 * Prompts of different lengths are LEFT-padded into one [B, L] prefill; a key mask hides the
 * padding and each sequence keeps its own position ids, so every sequence computes exactly what
 * it would alone. Then one token per step for every unfinished sequence, each stopping on its own
 * (stop token, stop string, max tokens, context). Finished rows are dropped from the batch (and
 * from the cache) once a quarter of the rows are done, so a long tail costs little.
 *
 * The categorical draw uses a seeded JavaScript PRNG, so a seed reproduces the samples on the CPU
 * backends. Returned log-probs and entropies are those of the policy at the sampling temperature,
 * log_softmax(logits / T) (T = 0, greedy: the untempered policy), as TRL's GRPOTrainer and verl's
 * dp_actor compute them; top-k / top-p shape the draw only.
 *
 * A sequence that ends on a stop token (eos, end-of-turn) keeps it: it is the last of `tokens`,
 * with its log-prob and entropy (the model's decision to stop, which RL trains like any other
 * token: TRL's completion mask and verl's response mask include it), and `text` is the decoded
 * response without it. `finish` says why the sequence ended.
 */
import * as tf from "@tensorflow/tfjs-core";
import { faultPoint } from "../faults.js";
import { seededRandom } from "../random.js";
import type { SampleOptions, SampleResult } from "./types.js";
import type { Transformer } from "./transformer.js";
import { KVCache } from "./kv-cache.js";

/**
 * log_softmax(row / T) of one row of logits (float64), and its entropy -sum p log p.
 * T = 1 (or T <= 0, greedy) is the untempered policy.
 */
function logSoftmaxRow(row: Float32Array | Float64Array, out: Float64Array, temperature: number): number {
  const inv = temperature > 0 ? 1 / temperature : 1;
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) if (row[i] * inv > max) max = row[i] * inv;
  let z = 0;
  for (let i = 0; i < row.length; i++) z += Math.exp(row[i] * inv - max);
  const lz = Math.log(z) + max;
  let h = 0;
  for (let i = 0; i < row.length; i++) {
    out[i] = row[i] * inv - lz;
    h -= Math.exp(out[i]) * out[i];
  }
  return h;
}

/** draw()'s working rows, reused across calls (one draw per row per step: allocating them showed in profiles) */
let scratch = new Float64Array(0);

/** Draw a token from log-probs `lp` under temperature, top-k and top-p (Holtzman et al. 2020). */
function draw(lp: Float64Array, temperature: number, topK: number, topP: number, rand: () => number): number {
  const V = lp.length;
  if (temperature <= 0) {
    let best = 0;
    for (let i = 1; i < V; i++) if (lp[i] > lp[best]) best = i;
    return best;
  }
  // tempered probabilities, p_i proportional to exp(lp_i / T)
  let idx: number[] | null = null;
  if (scratch.length < 2 * V) scratch = new Float64Array(2 * V);
  const logits = scratch.subarray(0, V);
  let max = -Infinity;
  for (let i = 0; i < V; i++) { logits[i] = lp[i] / temperature; if (logits[i] > max) max = logits[i]; }
  if (topK > 0 && topK < V || topP < 1) {
    idx = Array.from({ length: V }, (_, i) => i).sort((a, b) => logits[b] - logits[a]);
    if (topK > 0 && topK < V) idx.length = topK;
  }
  const cand = idx ?? null;
  const n = cand ? cand.length : V;
  const p = scratch.subarray(V, V + n);
  let z = 0;
  for (let j = 0; j < n; j++) { p[j] = Math.exp(logits[cand ? cand[j] : j] - max); z += p[j]; }
  let keep = n;
  if (topP < 1) {
    // smallest prefix (by descending probability) whose mass reaches topP
    let c = 0;
    for (let j = 0; j < n; j++) { c += p[j] / z; if (c >= topP) { keep = j + 1; break; } }
    z = 0;
    for (let j = 0; j < keep; j++) z += p[j];
  }
  let u = rand() * z;
  for (let j = 0; j < keep; j++) {
    u -= p[j];
    if (u < 0) return cand ? cand[j] : j;
  }
  return cand ? cand[keep - 1] : keep - 1;
}

/**
 * Sample continuations of `prompts` (token ids) from `model`.
 * @example sample(model, [tok.encode("3+4=")], { maxNewTokens: 20, temperature: 1, stop: ["\n"], seed: 1 }, (ids) => tok.decode(ids))
 */
export function sample(
  model: Transformer,
  prompts: number[][],
  opts: SampleOptions,
  decode: (ids: number[]) => string,
): SampleResult[] {
  const c = model.config;
  const B = prompts.length;
  if (B === 0) return [];
  if (!(opts.maxNewTokens >= 0)) throw new Error(`maxNewTokens must be >= 0, got ${opts.maxNewTokens}`);
  if (opts.budgets && opts.budgets.length !== B) throw new Error(`budgets has ${opts.budgets.length} entries for ${B} prompts`);
  const budget = prompts.map((_, b) => Math.min(opts.maxNewTokens, opts.budgets?.[b] ?? Infinity));
  for (const [i, p] of prompts.entries()) {
    if (p.length === 0) throw new Error(`prompt ${i} is empty: give at least one token (e.g. bos)`);
    if (p.length > c.contextLength) throw new Error(`prompt ${i} has ${p.length} tokens, more than the model's context (${c.contextLength})`);
  }
  const temperature = opts.temperature ?? 1;
  const topK = opts.topK ?? 0;
  const topP = opts.topP ?? 1;
  if (!(topP > 0 && topP <= 1)) throw new Error(`topP must be in (0, 1], got ${topP}`);
  const stops = (opts.stop ?? []).filter((s) => s.length > 0);
  const stopTokens = new Set(opts.stopTokens ?? []);
  const rand = seededRandom(opts.seed ?? 0);
  const V = c.vocabSize;

  const results: SampleResult[] = prompts.map(() => ({ tokens: [], text: "", logp: [], entropy: [], truncated: false, finish: "length" }));
  const plen = prompts.map((p) => p.length);
  const done = new Array<boolean>(B).fill(false);
  // prompts that already fill the context can generate nothing
  for (let b = 0; b < B; b++) {
    if (plen[b] >= c.contextLength || !(budget[b] > 0)) { done[b] = true; results[b].truncated = true; }
  }
  // the draw is from the tempered log-probs, so it needs no further temperature
  const drawTemperature = temperature > 0 ? 1 : 0;

  // 1) batched prefill of the left-padded prompts
  const L = Math.max(...plen);
  let rows = Array.from({ length: B }, (_, b) => b); // batch row -> prompt index
  const ids = new Int32Array(B * L);
  let keyMask = new Float32Array(B * L);
  const positions: number[][] = [];
  for (let b = 0; b < B; b++) {
    const off = L - plen[b];
    const pos: number[] = [];
    for (let j = 0; j < L; j++) {
      if (j >= off) { ids[b * L + j] = prompts[b][j - off]; keyMask[b * L + j] = 1; }
      pos.push(Math.max(0, j - off));
    }
    positions.push(pos);
  }
  // the head: Transformer.head's own product (tied: no transposed copy of the embedding)
  // room for the longest response any row may write: the cache holds the left-padded prompts (L)
  // and one position per step after
  let longest = 0;
  for (let b = 0; b < B; b++) if (!done[b]) longest = Math.max(longest, Math.min(budget[b], c.contextLength - plen[b]));
  const cache = new KVCache(c.layers, L + longest);
  let logits: Float32Array;
  try {
    {
      const lg = tf.tidy(() => {
        const { hidden } = model.forward(tf.tensor2d(ids, [B, L], "int32"), { positions, keyMask, cache });
        const last = tf.reshape(tf.slice(hidden, [0, L - 1, 0], [B, 1, c.width]), [B, c.width]) as tf.Tensor2D;
        return model.head(last);
      });
      cache.advance(L);
      logits = lg.dataSync() as Float32Array;
      lg.dispose();
    }
    const lp = new Float64Array(V);
    const next = new Int32Array(B);
    // 2) one token per step
    for (let s = 0; ; s++) {
      faultPoint("sample"); // crash-safety tests: die mid-sampling
      for (let r = 0; r < rows.length; r++) {
        const b = rows[r];
        if (done[b]) continue;
        const h = logSoftmaxRow(logits.subarray(r * V, (r + 1) * V), lp, temperature);
        const tok = draw(lp, drawTemperature, topK, topP, rand);
        const res = results[b];
        res.tokens.push(tok);
        res.logp.push(lp[tok]);
        res.entropy.push(h);
        next[r] = tok;
        // the stop token is kept (it was drawn where there was room for it)
        if (stopTokens.has(tok)) { done[b] = true; res.finish = "stop"; continue; }
        if (stops.length) {
          const text = decode(res.tokens);
          if (stops.some((st) => text.endsWith(st))) { done[b] = true; res.finish = "stop_string"; continue; }
        }
        if (res.tokens.length >= budget[b] || plen[b] + res.tokens.length >= c.contextLength) {
          done[b] = true;
          res.truncated = true;
        }
      }
      const active = rows.filter((b) => !done[b]).length;
      if (active === 0) break;
      const Tk = cache.length; // positions so far: the key mask's columns
      // drop finished rows once a quarter of the batch is done
      if (active <= 0.75 * rows.length) {
        const keepRows = rows.map((b, r) => (done[b] ? -1 : r)).filter((r) => r >= 0);
        cache.keepRows(keepRows);
        const km = new Float32Array(keepRows.length * Tk);
        keepRows.forEach((r, i) => km.set(keyMask.subarray(r * Tk, (r + 1) * Tk), i * Tk));
        keyMask = km;
        keepRows.forEach((r, i) => { next[i] = next[r]; });
        rows = keepRows.map((r) => rows[r]);
      }
      // feed the new tokens: key mask grows by one real column
      const R = rows.length;
      const km = new Float32Array(R * (Tk + 1));
      for (let r = 0; r < R; r++) { km.set(keyMask.subarray(r * Tk, (r + 1) * Tk), r * (Tk + 1)); km[r * (Tk + 1) + Tk] = 1; }
      keyMask = km;
      const pos = rows.map((b) => [Math.min(plen[b] + results[b].tokens.length - 1, c.contextLength - 1)]);
      const feed = Int32Array.from(rows.map((b, r) => (done[b] ? 0 : next[r])));
      const lg = tf.tidy(() => {
        const { hidden } = model.forward(tf.tensor2d(feed, [R, 1], "int32"), { positions: pos, keyMask, cache });
        return model.head(tf.reshape(hidden, [R, c.width]) as tf.Tensor2D);
      });
      cache.advance(1);
      logits = lg.dataSync() as Float32Array;
      lg.dispose();
    }
  } finally {
    cache.dispose();
  }
  for (const r of results) r.text = decode(r.finish === "stop" ? r.tokens.slice(0, -1) : r.tokens);
  return results;
}
