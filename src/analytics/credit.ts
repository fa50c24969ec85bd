/**
 * Credit assignment measured against the truth (ALGORITHMS.md "Measuring credit assignment").
 * The arithmetic world labels every step (essential, redundant, slip, fix, answer), so for each
 * RL iteration we can ask whether the advantage puts credit on the right steps:
 *
 *   auc_redundant  over responses that have both essential and redundant steps, the probability
 *                  that an essential step's advantage exceeds that of a redundant step of the
 *                  same response, ties counting one half (pooled over all such within-response
 *                  pairs: Σ_r U_r / Σ_r n_ess,r · n_red,r, U_r the Mann–Whitney U of response r)
 *   auc_slip       the same, essential against slip steps
 *   gap_redundant  mean over those responses of (mean advantage of its redundant steps − mean
 *                  advantage of its essential steps): negative when redundancy is penalised
 *   adv_<label>    mean advantage of every step with that label
 *
 * A step's advantage is the mean of its tokens' advantages (StepRecord.advantage). GRPO gives
 * every token of a response one advantage, so every within-response pair ties: AUC exactly 0.5
 * and gap exactly 0. (Exactly, because the token advantages are float32 values: k copies of one
 * float32 sum exactly in a double for k < 2^29, so every step's mean is that value again.)
 *
 * The same figures for each probe's step value — its change over the step (value before the
 * next step minus value before this one, as `stepLabelAuc`'s default; a response's last step
 * has no next value and is left out) — so "does the probe see redundancy" and "does the
 * advantage act on it" sit side by side. Metric names: src/run/types.ts `creditMetricName`.
 */
import { type CreditFigure, creditMetricName } from "../run/types.js";
import { rocAuc } from "./auc.js";
import { PROBE_PREFIX } from "./tables.js";

/** What the credit figures read of a step: StepRecord has all of it (the steps table too). */
export interface CreditStepRecord {
  stage?: string;
  iteration?: number;
  response: number;
  step: number;
  label?: string | null;
  advantage: number;
  probes?: Record<string, number | null | undefined>;
}

/** One scored step: `response` identifies the response (unique across iterations when pooled). */
export interface ScoredStep {
  response: string;
  label: string;
  score: number;
}

export interface CreditFigures {
  /** P(essential > redundant) within responses, ties ½; NaN where no response has both */
  auc_redundant: number;
  /** P(essential > slip) within responses, ties ½; NaN where no response has both */
  auc_slip: number;
  /** mean over responses with both of mean(redundant) − mean(essential); NaN where none */
  gap_redundant: number;
  /** mean score per label, over every step with that label */
  by_label: Record<string, number>;
  /** responses that have both essential and redundant steps (what auc_redundant averages over) */
  responses_redundant: number;
  /** responses that have both essential and slip steps */
  responses_slip: number;
}

const POSITIVE = "essential";

function groupByResponse(steps: ScoredStep[]): Map<string, ScoredStep[]> {
  const by = new Map<string, ScoredStep[]>();
  for (const s of steps) {
    if (!Number.isFinite(s.score)) continue;
    let list = by.get(s.response);
    if (!list) by.set(s.response, (list = []));
    list.push(s);
  }
  return by;
}

/** Within-response AUC of essential against `negative` steps, and the responses counted. */
function withinResponseAuc(responses: Map<string, ScoredStep[]>, negative: string): { auc: number; responses: number } {
  let u = 0;
  let pairs = 0;
  let counted = 0;
  for (const list of responses.values()) {
    const mine = list.filter((s) => s.label === POSITIVE || s.label === negative);
    const nPos = mine.filter((s) => s.label === POSITIVE).length;
    const nNeg = mine.length - nPos;
    if (nPos === 0 || nNeg === 0) continue;
    // rocAuc = U / (nPos·nNeg): weight each response by its pair count to pool the pairs
    u += rocAuc(mine.map((s) => s.score), mine.map((s) => s.label === POSITIVE)) * nPos * nNeg;
    pairs += nPos * nNeg;
    counted++;
  }
  return { auc: pairs > 0 ? u / pairs : NaN, responses: counted };
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

/**
 * The credit figures of scored steps.
 * @example
 *   creditFigures([{ response: "0", label: "essential", score: 1 }, { response: "0", label: "redundant", score: -1 }])
 *   // { auc_redundant: 1, gap_redundant: -2, … }
 */
export function creditFigures(steps: ScoredStep[]): CreditFigures {
  const responses = groupByResponse(steps);
  const red = withinResponseAuc(responses, "redundant");
  const slip = withinResponseAuc(responses, "slip");
  const gaps: number[] = [];
  for (const list of responses.values()) {
    const ess = list.filter((s) => s.label === POSITIVE).map((s) => s.score);
    const rd = list.filter((s) => s.label === "redundant").map((s) => s.score);
    if (ess.length > 0 && rd.length > 0) gaps.push(mean(rd) - mean(ess));
  }
  const byLabel: Record<string, number[]> = {};
  for (const list of responses.values()) for (const s of list) (byLabel[s.label] ??= []).push(s.score);
  return {
    auc_redundant: red.auc,
    auc_slip: slip.auc,
    gap_redundant: gaps.length > 0 ? mean(gaps) : NaN,
    by_label: Object.fromEntries(Object.entries(byLabel).map(([l, xs]) => [l, mean(xs)])),
    responses_redundant: red.responses,
    responses_slip: slip.responses,
  };
}

const responseKey = (r: CreditStepRecord): string => `${r.stage ?? ""}|${r.iteration ?? ""}|${r.response}`;
const labelled = (r: CreditStepRecord): r is CreditStepRecord & { label: string } => typeof r.label === "string" && r.label !== "unknown";

/** Each labelled step scored by its advantage. */
export function advantageScores(records: CreditStepRecord[]): ScoredStep[] {
  return records.filter(labelled).map((r) => ({ response: responseKey(r), label: r.label, score: r.advantage }));
}

/**
 * Each labelled step scored by a probe's change over it: the value before the next step of the
 * same response minus the value before this one (the last step has none and is left out).
 */
export function probeDeltaScores(records: CreditStepRecord[], probe: string): ScoredStep[] {
  const before = new Map<string, number>();
  for (const r of records) {
    const v = r.probes?.[probe];
    if (typeof v === "number") before.set(`${responseKey(r)}|${r.step}`, v);
  }
  const out: ScoredStep[] = [];
  for (const r of records) {
    if (!labelled(r)) continue;
    const v = r.probes?.[probe];
    const next = before.get(`${responseKey(r)}|${r.step + 1}`);
    if (typeof v === "number" && next !== undefined) out.push({ response: responseKey(r), label: r.label, score: next - v });
  }
  return out;
}

/** The probe names present in step records, in first-appearance order. */
export function recordProbes(records: CreditStepRecord[]): string[] {
  const names: string[] = [];
  for (const r of records) for (const [p, v] of Object.entries(r.probes ?? {})) if (typeof v === "number" && !names.includes(p)) names.push(p);
  return names;
}

function figureMetrics(f: CreditFigures, probe: string | undefined, perLabel: "adv" | "delta"): Record<string, number> {
  const out: Record<string, number> = {};
  const put = (figure: CreditFigure, v: number) => {
    if (Number.isFinite(v)) out[creditMetricName(figure, probe)] = v;
  };
  put("auc_redundant", f.auc_redundant);
  put("auc_slip", f.auc_slip);
  put("gap_redundant", f.gap_redundant);
  for (const [label, v] of Object.entries(f.by_label)) put(`${perLabel}_${label}`, v);
  return out;
}

/**
 * The credit metrics of one iteration's step records, named as in metrics.jsonl
 * (`credit/auc_redundant`, `credit/adv_essential`, `credit/probe_belief/auc_redundant`, …).
 * Figures that cannot be computed (no labelled steps, no response with both labels) are left
 * out, so a task without step labels adds nothing.
 * @example Object.assign(row, creditMetrics(steps)) // in the RL iteration
 */
export function creditMetrics(records: CreditStepRecord[]): Record<string, number> {
  const out = figureMetrics(creditFigures(advantageScores(records)), undefined, "adv");
  if (Object.keys(out).length === 0) return out;
  for (const p of recordProbes(records)) Object.assign(out, figureMetrics(creditFigures(probeDeltaScores(records, p)), p, "delta"));
  return out;
}

/** The credit figures of one iteration's steps (of the advantage). */
export interface IterationCredit extends CreditFigures {
  stage: string;
  iteration: number;
}

/**
 * The advantage's credit figures per (stage, iteration) of step records (a run's steps.jsonl or
 * steps table rows), in order: the same numbers the RL iteration wrote to metrics.jsonl.
 * @example creditByIteration(run.steps.objects()).map((c) => c.auc_redundant)
 */
export function creditByIteration(records: CreditStepRecord[]): IterationCredit[] {
  const by = new Map<string, { stage: string; iteration: number; records: CreditStepRecord[] }>();
  for (const r of records) {
    const key = `${r.stage ?? ""}|${r.iteration ?? 0}`;
    let g = by.get(key);
    if (!g) by.set(key, (g = { stage: r.stage ?? "", iteration: r.iteration ?? 0, records: [] }));
    g.records.push(r);
  }
  return [...by.values()].map((g) => ({ stage: g.stage, iteration: g.iteration, ...creditFigures(advantageScores(g.records)) }));
}

/**
 * Step records of a steps table (tables.ts: probes flattened to `probe_NAME` columns), with
 * their probes gathered again, for the credit functions above.
 * @example creditMetrics(recordsOfStepsTable(run.steps))
 */
export function recordsOfStepsTable(steps: { objects(): object[]; columnNames(): string[] }): CreditStepRecord[] {
  const probeCols = steps.columnNames().filter((c) => c.startsWith(PROBE_PREFIX));
  return (steps.objects() as Record<string, unknown>[]).map((r) => ({
    stage: r.stage as string | undefined,
    iteration: r.iteration as number | undefined,
    response: r.response as number,
    step: r.step as number,
    label: r.label as string | null | undefined,
    advantage: r.advantage as number,
    probes: Object.fromEntries(probeCols.map((c) => [c.slice(PROBE_PREFIX.length), r[c] as number | null])),
  }));
}

/** Whether step records carry at least two distinct ground-truth labels: something for credit to tell apart. */
export function hasCreditLabels(records: CreditStepRecord[]): boolean {
  return new Set(records.filter(labelled).map((r) => r.label)).size >= 2;
}
