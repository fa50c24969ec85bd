/**
 * Statistics over seeds for method comparisons: mean with a Student-t confidence interval, and
 * the paired difference of two methods run on the same seeds.
 *
 * With n seeds, sample mean m and sample standard deviation s (n − 1), the 95% interval is
 * m ± t_{0.975, n−1} · s / √n (Student 1908). A paired difference takes d_i = x_i − y_i on the
 * seeds both methods ran and gives d̄ ± t_{0.975, n−1} · s_d / √n: seeds share the warm start and
 * the prompts, so pairing removes the variance they share.
 */

/** ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9; Numerical Recipes 3rd ed. §6.1), ~15 digits. */
function lnGamma(x: number): number {
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lnGamma(1 - x);
  x -= 1;
  let a = c[0]!;
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i]! / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Continued fraction of the incomplete beta function (modified Lentz; NR §6.4 betacf). */
function betaContinuedFraction(x: number, a: number, b: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 300; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-16) break;
  }
  return h;
}

/** The regularized incomplete beta function I_x(a, b) (NR §6.4 betai). */
export function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(lnGamma(a + b) - lnGamma(a) - lnGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  return x < (a + 1) / (a + b + 2) ? (front * betaContinuedFraction(x, a, b)) / a : 1 - (front * betaContinuedFraction(1 - x, b, a)) / b;
}

/** P(T ≤ t) for Student's t with `df` degrees of freedom: 1 − ½ I_{df/(df+t²)}(df/2, ½) for t ≥ 0. */
export function studentTCdf(t: number, df: number): number {
  const tail = 0.5 * incompleteBeta(df / (df + t * t), df / 2, 0.5);
  return t >= 0 ? 1 - tail : tail;
}

/**
 * The p-quantile of Student's t with `df` degrees of freedom (bisection on the CDF to double
 * precision).
 * @example studentTQuantile(0.975, 2) // 4.302652729749464
 */
export function studentTQuantile(p: number, df: number): number {
  if (!(p > 0 && p < 1) || !(df > 0)) return NaN;
  if (p === 0.5) return 0;
  if (p < 0.5) return -studentTQuantile(1 - p, df);
  let lo = 0;
  let hi = 1;
  while (studentTCdf(hi, df) < p) hi *= 2;
  for (let i = 0; i < 200 && hi - lo > 1e-15 * hi; i++) {
    const mid = (lo + hi) / 2;
    if (studentTCdf(mid, df) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** A mean over seeds with its 95% interval half-width (NaN with fewer than two values). */
export interface MeanCi {
  mean: number;
  /** half-width of the 95% Student-t interval: t_{0.975,n−1} · s / √n */
  ci95: number;
  /** sample standard deviation (n − 1) */
  std: number;
  n: number;
}

/**
 * Mean and 95% confidence interval of the finite values of `xs` (NaNs left out).
 * @example meanCi95([0.7, 0.8, 0.9]) // { mean: 0.8, ci95: 4.3027 · 0.1 / √3 = 0.2484, std: 0.1, n: 3 }
 */
export function meanCi95(xs: number[]): MeanCi {
  const v = xs.filter((x) => Number.isFinite(x));
  const n = v.length;
  if (n === 0) return { mean: NaN, ci95: NaN, std: NaN, n };
  const mean = v.reduce((s, x) => s + x, 0) / n;
  if (n === 1) return { mean, ci95: NaN, std: NaN, n };
  const std = Math.sqrt(v.reduce((s, x) => s + (x - mean) ** 2, 0) / (n - 1));
  return { mean, ci95: (studentTQuantile(0.975, n - 1) * std) / Math.sqrt(n), std, n };
}

/** A paired difference with its interval; `significant` when the interval excludes 0. */
export interface PairedDifference extends MeanCi {
  /** the seeds both sides ran (and recorded the figure on) */
  seeds: number[];
  significant: boolean;
}

/**
 * The paired difference x − y over the seeds both maps hold (finite values only), with its 95%
 * interval.
 * @example pairedDifference(new Map([[1, 0.8], [2, 0.9]]), new Map([[1, 0.7], [2, 0.7]])).mean // 0.15
 */
export function pairedDifference(x: Map<number, number>, y: Map<number, number>): PairedDifference {
  const seeds = [...x.keys()].filter((s) => y.has(s) && Number.isFinite(x.get(s)!) && Number.isFinite(y.get(s)!)).sort((a, b) => a - b);
  const d = meanCi95(seeds.map((s) => x.get(s)! - y.get(s)!));
  return { ...d, seeds, significant: Number.isFinite(d.ci95) && Math.abs(d.mean) > d.ci95 };
}
