/**
 * ROC AUC of a score against binary labels: the probability that a random positive scores
 * above a random negative, ties counting one half (the Mann–Whitney U statistic divided by
 * n_pos · n_neg; Hanley & McNeil 1982, eq. 1). Computed from average ranks, so ties cost
 * nothing extra: AUC = (R_pos − n_pos(n_pos + 1)/2) / (n_pos · n_neg), where R_pos is the sum
 * of the positives' ranks (1-based, tied scores sharing their mean rank).
 */
import type { ColumnTable } from "arquero";
import { PROBE_PREFIX } from "./tables.js";

/**
 * @example rocAuc([0.9, 0.8, 0.3, 0.1], [1, 0, 1, 0]) // 0.75
 * @returns NaN when either class is empty
 */
export function rocAuc(scores: ArrayLike<number>, labels: ArrayLike<number | boolean>): number {
  if (scores.length !== labels.length) throw new Error(`rocAuc: ${scores.length} scores but ${labels.length} labels`);
  const idx: number[] = [];
  for (let i = 0; i < scores.length; i++) {
    if (!Number.isFinite(scores[i]!)) throw new Error(`rocAuc: score ${i} is not a finite number (${scores[i]})`);
    idx.push(i);
  }
  idx.sort((a, b) => scores[a]! - scores[b]!);
  // 1) average ranks over runs of tied scores
  const rank = new Float64Array(scores.length);
  for (let i = 0; i < idx.length; ) {
    let j = i;
    while (j + 1 < idx.length && scores[idx[j + 1]!] === scores[idx[i]!]) j++;
    const mean = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) rank[idx[k]!] = mean;
    i = j + 1;
  }
  // 2) U statistic of the positives
  let nPos = 0;
  let rPos = 0;
  for (let i = 0; i < scores.length; i++) {
    if (labels[i]) {
      nPos++;
      rPos += rank[i]!;
    }
  }
  const nNeg = scores.length - nPos;
  if (nPos === 0 || nNeg === 0) return NaN;
  return (rPos - (nPos * (nPos + 1)) / 2) / (nPos * nNeg);
}

export interface StepLabelAucOptions {
  /** probe name (default: the first probe of the table) */
  probe?: string;
  /** labels counted as positives (default ["essential"]) */
  positive?: string[];
  /** labels counted as negatives (default: every other known label) */
  negative?: string[];
  /**
   * "value": the probe's value before the step; "delta": its change over the step
   * (value before the next step minus value before this one; a response's last step has none
   * and is left out). Default "delta": a useful step should raise the value.
   */
  score?: "value" | "delta";
}

/**
 * AUC of a probe's step values at telling ground-truth step labels apart, from a steps table
 * (see tables.ts). Steps without a label (or "unknown") are left out.
 * @example stepLabelAuc(run.steps, { probe: "belief", positive: ["essential"], negative: ["redundant"] })
 */
export function stepLabelAuc(steps: ColumnTable, options: StepLabelAucOptions = {}): { auc: number; positives: number; negatives: number } {
  const probes = steps.columnNames().filter((c) => c.startsWith(PROBE_PREFIX));
  const col = options.probe !== undefined ? PROBE_PREFIX + options.probe : probes[0];
  if (col === undefined || !probes.includes(col)) throw new Error(`stepLabelAuc: no probe ${options.probe ?? ""} in the steps table`);
  const positive = options.positive ?? ["essential"];
  const score = options.score ?? "delta";
  const rows = steps.objects() as Record<string, unknown>[];
  // value before the next step of the same response, keyed by stage/iteration/response/step
  const key = (r: Record<string, unknown>, step: number) => `${r.stage}|${r.iteration}|${r.response}|${step}`;
  const valueAt = new Map<string, number>();
  for (const r of rows) if (typeof r[col] === "number") valueAt.set(key(r, r.step as number), r[col] as number);
  const s: number[] = [];
  const y: number[] = [];
  for (const r of rows) {
    const label = r.label;
    if (typeof label !== "string" || label === "unknown") continue;
    const isPos = positive.includes(label);
    if (!isPos && options.negative !== undefined && !options.negative.includes(label)) continue;
    const v = r[col];
    if (typeof v !== "number") continue;
    let x = v;
    if (score === "delta") {
      const next = valueAt.get(key(r, (r.step as number) + 1));
      if (next === undefined) continue;
      x = next - v;
    }
    s.push(x);
    y.push(isPos ? 1 : 0);
  }
  const positives = y.filter((v) => v === 1).length;
  return { auc: rocAuc(s, y), positives, negatives: y.length - positives };
}
