/**
 * SSPO's verbal value probing (ALGORITHMS.md "SSPO" §1; Stepwise's reading of arXiv 2508.12604,
 * not the paper's code): the model judges its own prefixes, without gradient.
 *
 * For a response with steps s_0..s_{K-1}, probe k (k = 0..K) sees the question and the first k
 * steps: `{question}`, `{steps}` = s_0..s_{k-1} concatenated as they appeared (the step texts keep
 * their delimiters), `{step}` = s_{k-1} ("" for k = 0), `{reference}` = the reference answer.
 * u[k] = probe k's value is the value BEFORE step k; u[K] is recorded after the last step.
 *
 * Scorers (ScorerPlan):
 *  - yes_no:     v = P(yes) / (P(yes) + P(no)) at the next token after the prompt. The two words
 *                are compared at their first DIFFERENT token: a shared leading part (the " " of
 *                " Yes"/" No" under a character tokenizer) is appended to the prompt, since its
 *                probability cancels in the ratio.
 *  - likelihood: mean per-token probability (1/n) sum_j p(c_j | prompt, c_<j) of the continuation
 *                c = the reference answer (option `continuation`, a template, default "{reference}")
 *                appended after the prompt (the template ends with the
 *                answer cue, e.g. "...\nanswer "). Prompt and continuation are encoded separately
 *                and concatenated, so the continuation's tokens are known exactly.
 *  - confidence: exp(-mean entropy) of a greedy continuation of `tokens` tokens (batched `sample`;
 *                a continuation that stops at once has value exp(-0) = 1).
 *
 * Batching: every yes_no and likelihood probe of every step of every item becomes one row of ONE
 * batch, sorted by length and cut into fixed-size chunks (`chunk` rows, right-padded); each chunk
 * is one forward pass (`model.logits`), read back once. Confidence probes run as batched greedy
 * sampling in chunks of the same size.
 *
 * Context: rows are `[bos] + prompt (+ continuation)` (no bos when the tokenizer has none: Qwen2).
 * A row longer than the model's context is cut from the LEFT (the end of the prompt, nearest the
 * judged step, is kept; bos stays first);
 * for confidence, the prompt leaves room for the `tokens` to generate.
 */
import * as tf from "@tensorflow/tfjs-core";
import type { ProbePlan } from "../../dsl/plan.js";
import type { SampleOptions, SampleResult, ScoreOptions, TokenScores } from "../model/types.js";
import type { Tokenizer } from "../tokenizer/types.js";
import { stopTokenIds } from "../train/context.js";

/** What probes and the tree sampler need from a model (src/model/transformer.ts's Transformer has it). */
export interface ScoringModel {
  readonly config: { readonly contextLength: number };
  /** [B, T] int32 right-padded -> [B, T, V] next-token logits */
  logits(tokens: tf.Tensor2D): tf.Tensor3D;
  /** [B, T] -> logp, entropy [B, T-1] (at `opts.temperature`, default 1) */
  score(tokens: tf.Tensor2D, opts?: ScoreOptions): TokenScores;
}

/** The batched sampler's signature (src/model/sample.ts). */
export type SampleFn<M> = (
  model: M,
  prompts: number[][],
  opts: SampleOptions,
  decode: (ids: number[]) => string,
) => SampleResult[] | Promise<SampleResult[]>;

export interface ProbeItem {
  question: string;
  reference: string;
  stepTexts: string[];
}

export interface ProbeOptions<M> {
  /** rows per forward pass; bounds memory to chunk x T x V floats of logits */
  chunk?: number;
  /**
   * likelihood scorers: the continuation whose tokens are scored, a template with the same
   * variables as the prompt (default "{reference}": the reference answer right after the prompt)
   */
  continuation?: string;
  /** prepend the tokenizer's bos id to every row (default: tokenizer.addBos, true when absent: the trainer's convention) */
  bos?: boolean;
  /** the sampler for confidence probes (default: src/model/sample.ts) */
  sample?: SampleFn<M>;
}

/**
 * Run every probe for every step boundary of every item, batched.
 * @returns per probe name, per item, the K+1 values u[0..K]
 * @example
 * const v = await runProbes(model, tok, plan.probes, [{ question: "3+4", reference: "7", stepTexts: ["3+4=7\n", "answer 7"] }]);
 * v.belief[0] // [u0, u1, u2]
 */
export async function runProbes<M extends ScoringModel>(
  model: M,
  tokenizer: Tokenizer,
  probes: ProbePlan[],
  items: ProbeItem[],
  opts: ProbeOptions<M> = {},
): Promise<Record<string, number[][]>> {
  const chunk = Math.max(1, opts.chunk ?? 32);
  const rows = buildRows(model, tokenizer, probes, items, opts);
  const out = emptyResult(probes, items);

  // 1) yes_no and likelihood: one batch of forward passes
  const scored = rows.filter((r) => r.kind !== "confidence") as ScoredRow[];
  const values = scoreRows(model, scored, chunk, tokenizer.padId);
  scored.forEach((r, i) => (out[r.probe][r.item][r.k] = values[i]));

  // 2) confidence: batched greedy continuations
  const conf = rows.filter((r) => r.kind === "confidence") as ConfidenceRow[];
  if (conf.length > 0) {
    const sample = opts.sample ?? (await defaultSample<M>());
    // group by length budget so one call shares maxNewTokens
    const byTokens = new Map<number, ConfidenceRow[]>();
    for (const r of conf) byTokens.set(r.tokens, [...(byTokens.get(r.tokens) ?? []), r]);
    for (const [tokens, group] of byTokens) {
      for (let s = 0; s < group.length; s += chunk) {
        const part = group.slice(s, s + chunk);
        const results = await sample(model, part.map((r) => r.context), { maxNewTokens: tokens, temperature: 0, stopTokens: stopTokenIds(tokenizer) }, (ids) => tokenizer.decode(ids));
        part.forEach((r, i) => (out[r.probe][r.item][r.k] = confidenceValue(results[i])));
      }
    }
  }
  return out;
}

/**
 * The slow reference: the same probes, one sequence per forward pass (and per sampling call).
 * Used by tests to check {@link runProbes}.
 */
export async function runProbesOneByOne<M extends ScoringModel>(
  model: M,
  tokenizer: Tokenizer,
  probes: ProbePlan[],
  items: ProbeItem[],
  opts: ProbeOptions<M> = {},
): Promise<Record<string, number[][]>> {
  const out = emptyResult(probes, items);
  for (const r of buildRows(model, tokenizer, probes, items, opts)) {
    if (r.kind === "confidence") {
      const sample = opts.sample ?? (await defaultSample<M>());
      const [res] = await sample(model, [r.context], { maxNewTokens: r.tokens, temperature: 0, stopTokens: stopTokenIds(tokenizer) }, (ids) => tokenizer.decode(ids));
      out[r.probe][r.item][r.k] = confidenceValue(res);
    } else {
      out[r.probe][r.item][r.k] = scoreRows(model, [r], 1, tokenizer.padId)[0];
    }
  }
  return out;
}

/** Fill a probe template: {question}, {steps}, {step}, {reference}; inserted text is not re-scanned. */
export function fillTemplate(template: string, vars: { question: string; steps: string; step: string; reference: string }): string {
  return template.replace(/\{(question|steps|step|reference)\}/g, (_, name: keyof typeof vars) => vars[name]);
}

/**
 * Per-token log-probs of continuations given contexts, batched in chunks (no gradient):
 * result[i][j] = log p(cont_i[j] | context_i, cont_i[<j]). Rows must fit the model's context.
 */
export function continuationLogprobs(
  model: ScoringModel,
  rows: { context: number[]; cont: number[] }[],
  opts: { chunk?: number; padId?: number } = {},
): number[][] {
  const chunk = Math.max(1, opts.chunk ?? 32);
  const order = rows.map((_, i) => i).sort((a, b) => rows[a].context.length + rows[a].cont.length - (rows[b].context.length + rows[b].cont.length));
  const out: number[][] = new Array(rows.length);
  for (let s = 0; s < order.length; s += chunk) {
    const idx = order.slice(s, s + chunk);
    const seqs = idx.map((i) => [...rows[i].context, ...rows[i].cont]);
    const T = Math.max(2, ...seqs.map((q) => q.length));
    const flat = new Int32Array(idx.length * T).fill(opts.padId ?? 0);
    seqs.forEach((q, b) => flat.set(q, b * T));
    const lp = tf.tidy(() => model.score(tf.tensor2d(flat, [idx.length, T], "int32")).logp); // [B, T-1]
    const data = lp.dataSync();
    lp.dispose();
    idx.forEach((i, b) => {
      const c = rows[i].context.length;
      // logp[b, t] scores token t+1: the continuation's tokens sit at positions c..c+n-1
      out[i] = rows[i].cont.map((_, j) => data[b * (T - 1) + c - 1 + j]);
    });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

interface RowBase {
  probe: string;
  item: number;
  /** boundary index 0..K */
  k: number;
}
/** next-token ratio P(yes)/(P(yes)+P(no)) after `context` */
interface YesNoRow extends RowBase {
  kind: "yes_no";
  context: number[];
  yes: number;
  no: number;
}
/** mean probability of `cont` after `context` */
interface LikelihoodRow extends RowBase {
  kind: "likelihood";
  context: number[];
  cont: number[];
}
interface ConfidenceRow extends RowBase {
  kind: "confidence";
  context: number[];
  tokens: number;
}
type ScoredRow = YesNoRow | LikelihoodRow;
type Row = ScoredRow | ConfidenceRow;

function emptyResult(probes: ProbePlan[], items: ProbeItem[]): Record<string, number[][]> {
  const out: Record<string, number[][]> = {};
  for (const p of probes) out[p.name] = items.map((it) => new Array(Math.max(1, it.stepTexts.length) + 1).fill(NaN));
  return out;
}

function buildRows<M>(model: ScoringModel, tokenizer: Tokenizer, probes: ProbePlan[], items: ProbeItem[], opts: ProbeOptions<M>): Row[] {
  const ctx = model.config.contextLength;
  const head = opts.bos ?? tokenizer.addBos ?? true ? [tokenizer.bosId] : [];
  const rows: Row[] = [];
  for (const probe of probes) {
    // yes/no: first differing token, with the shared leading tokens moved into the prompt
    let yesNo: { shared: number[]; yes: number; no: number } | null = null;
    if (probe.scorer.kind === "yes_no") yesNo = splitYesNo(tokenizer, probe.scorer.yes, probe.scorer.no, probe.name);
    items.forEach((item, i) => {
      // an empty response still has one (empty) step: K >= 1 boundaries after the question
      const steps = item.stepTexts.length > 0 ? item.stepTexts : [""];
      for (let k = 0; k <= steps.length; k++) {
        const vars = {
          question: item.question,
          steps: steps.slice(0, k).join(""),
          step: k > 0 ? steps[k - 1] : "",
          reference: item.reference,
        };
        const prompt = fillTemplate(probe.prompt, vars);
        const base = { probe: probe.name, item: i, k };
        const body = tokenizer.encode(prompt);
        const sc = probe.scorer;
        if (sc.kind === "yes_no" && yesNo) {
          rows.push({ ...base, kind: "yes_no", context: fit(head, [...body, ...yesNo.shared], ctx), yes: yesNo.yes, no: yesNo.no });
        } else if (sc.kind === "likelihood") {
          let cont = tokenizer.encode(fillTemplate(opts.continuation ?? "{reference}", vars));
          if (cont.length === 0) throw new Error(`probe "${probe.name}": the continuation (reference answer) of item ${i} encodes to no tokens`);
          cont = cont.slice(0, Math.max(1, ctx - head.length - 1)); // at least one prompt token stays
          rows.push({ ...base, kind: "likelihood", context: fit(head, body, ctx - cont.length), cont });
        } else if (sc.kind === "confidence") {
          const tokens = Math.max(1, Math.min(sc.tokens, ctx - head.length - 1));
          rows.push({ ...base, kind: "confidence", context: fit(head, body, ctx - tokens), tokens });
        }
      }
    });
  }
  return rows;
}

/** head + the end of body, at most `room` tokens in all (the left of body is cut). */
function fit(head: number[], body: number[], room: number): number[] {
  const keep = Math.max(1, room - head.length);
  return [...head, ...(body.length > keep ? body.slice(body.length - keep) : body)];
}

function splitYesNo(tokenizer: Tokenizer, yes: string, no: string, probe: string): { shared: number[]; yes: number; no: number } {
  const y = tokenizer.encode(yes);
  const n = tokenizer.encode(no);
  let i = 0;
  while (i < y.length && i < n.length && y[i] === n[i]) i++;
  if (i >= y.length || i >= n.length) {
    throw new Error(`probe "${probe}": the yes and no words ("${yes}", "${no}") must differ in a token, not be a prefix of one another`);
  }
  return { shared: y.slice(0, i), yes: y[i], no: n[i] };
}

/** Score yes_no and likelihood rows: sort by length, chunk, one logits pass per chunk. */
function scoreRows(model: ScoringModel, rows: ScoredRow[], chunk: number, padId: number): number[] {
  const seqOf = (r: ScoredRow) => (r.kind === "yes_no" ? r.context : [...r.context, ...r.cont]);
  const order = rows.map((_, i) => i).sort((a, b) => seqOf(rows[a]).length - seqOf(rows[b]).length);
  const values = new Array<number>(rows.length);
  for (let s = 0; s < order.length; s += chunk) {
    const idx = order.slice(s, s + chunk);
    const seqs = idx.map((i) => seqOf(rows[i]));
    const B = idx.length;
    const T = Math.max(...seqs.map((q) => q.length));
    const flat = new Int32Array(B * T).fill(padId);
    seqs.forEach((q, b) => flat.set(q, b * T));
    // the (b, t, v) entries to read: yes_no reads 2 at the last position, likelihood one per continuation token
    const where: number[] = [];
    const spans: [number, number][] = [];
    idx.forEach((i, b) => {
      const r = rows[i];
      const from = where.length / 3;
      if (r.kind === "yes_no") {
        const t = r.context.length - 1;
        where.push(b, t, r.yes, b, t, r.no);
      } else {
        const c = r.context.length;
        r.cont.forEach((tok, j) => where.push(b, c - 1 + j, tok)); // logits at t predict token t+1
      }
      spans.push([from, where.length / 3]);
    });
    const picked = tf.tidy(() => {
      const logits = model.logits(tf.tensor2d(flat, [B, T], "int32")); // [B, T, V]
      const logProbs = tf.logSoftmax(logits); // [B, T, V]
      return tf.gatherND(logProbs, tf.tensor2d(where, [where.length / 3, 3], "int32")); // [M]
    });
    const lp = picked.dataSync();
    picked.dispose();
    idx.forEach((i, b) => {
      const [from, to] = spans[b];
      const r = rows[i];
      if (r.kind === "yes_no") {
        // v = P(yes) / (P(yes) + P(no)) = sigmoid(lp_yes - lp_no)
        values[i] = 1 / (1 + Math.exp(lp[from + 1] - lp[from]));
      } else {
        let sum = 0;
        for (let m = from; m < to; m++) sum += Math.exp(lp[m]);
        values[i] = sum / (to - from);
      }
    });
  }
  return values;
}

function confidenceValue(r: SampleResult): number {
  // the continuation's own tokens: a stop token (the decision to end) is not part of it
  const ent = r.finish === "stop" ? r.entropy.slice(0, -1) : r.entropy;
  if (ent.length === 0) return 1;
  const mean = ent.reduce((a, b) => a + b, 0) / ent.length;
  return Math.exp(-mean);
}

async function defaultSample<M>(): Promise<SampleFn<M>> {
  // loaded on first use: only confidence probes sample
  const mod = (await import("../model/sample.js")) as unknown as { sample: SampleFn<M> };
  return mod.sample;
}
