/**
 * Classification metrics on scores `[N,K]` (row-major) and labels: accuracy, top-k, the confusion
 * matrix, per-class precision / recall / F1 and macro-F1 over the classes present, confidence intervals
 * on accuracy (Wilson's score interval, Clopper-Pearson's exact one), McNemar's test between two
 * classifiers on the same test set, and with several training seeds the mean, the spread and a paired
 * test over seeds and test images.
 */
import { rng } from '../core/random.js';

/** Fraction of rows whose label is among the k highest scores (ties broken towards lower class index). */
export function topK(scores: ArrayLike<number>, labels: ArrayLike<number>, classes: number, k: number): number {
  let ok = 0;
  for (let i = 0; i < labels.length; i++) {
    const s = scores[i * classes + labels[i]];
    let above = 0;
    for (let c = 0; c < classes; c++) {
      const v = scores[i * classes + c];
      if (v > s || (v === s && c < labels[i])) above++;
    }
    if (above < k) ok++;
  }
  return ok / Math.max(1, labels.length);
}

export function accuracy(pred: ArrayLike<number>, labels: ArrayLike<number>): number {
  let ok = 0;
  for (let i = 0; i < labels.length; i++) if (pred[i] === labels[i]) ok++;
  return ok / Math.max(1, labels.length);
}

/** confusion[true][predicted] */
export function confusion(pred: ArrayLike<number>, labels: ArrayLike<number>, classes: number): number[][] {
  const m = Array.from({ length: classes }, () => new Array(classes).fill(0));
  for (let i = 0; i < labels.length; i++) m[labels[i]][pred[i]]++;
  return m;
}

export interface PerClass {
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

export function perClass(cm: number[][]): PerClass[] {
  const k = cm.length;
  return cm.map((row, c) => {
    const tp = row[c];
    const support = row.reduce((a, b) => a + b, 0);
    let predicted = 0;
    for (let r = 0; r < k; r++) predicted += cm[r][c];
    const precision = predicted ? tp / predicted : 0;
    const recall = support ? tp / support : 0;
    const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
    return { precision, recall, f1, support };
  });
}

/**
 * Macro-F1 over the classes present in the test set (support > 0): a class absent from a test subset has no
 * F1 to average (counting it as 0 would give macro-F1 0.5 at 100% accuracy on half the classes).
 */
export function macroF1(cm: number[][]): number {
  const pc = perClass(cm).filter((p) => p.support > 0);
  return pc.reduce((a, p) => a + p.f1, 0) / Math.max(1, pc.length);
}

/** How many classes have test images (the classes macroF1 averages over). */
export const classesPresent = (cm: number[][]): number => perClass(cm).filter((p) => p.support > 0).length;

/** The standard normal quantile z with P(Z <= z) = p (Acklam's rational approximation, |error| < 1.2e-9). */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`normalQuantile(${p}): p must lie in (0, 1)`);
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const lo = 0.02425;
  if (p < lo) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  if (p > 1 - lo) return -normalQuantile(1 - p);
  const q = p - 0.5,
    r = q * q;
  return (
    ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) /
    (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
  );
}

/**
 * Wilson's score interval for k successes in n trials: never of zero width, inside [0, 1], and right at 0/n
 * ([0, z²/(n+z²)]) and n/n ([n/(n+z²), 1]), where a percentile bootstrap collapses to a point.
 */
export function wilson(k: number, n: number, level = 0.95): [number, number] {
  if (n <= 0) return [0, 1];
  const z = normalQuantile(1 - (1 - level) / 2);
  const p = k / n,
    z2 = z * z;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z / (1 + z2 / n)) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return [k === 0 ? 0 : Math.max(0, centre - half), k === n ? 1 : Math.min(1, centre + half)];
}

/** log of the binomial coefficient C(n, k), by lgamma. */
function logChoose(n: number, k: number): number {
  return lgamma(n + 1) - lgamma(k + 1) - lgamma(n - k + 1);
}

/** log Γ(x) for x > 0 (Lanczos, g = 7, 9 terms; relative error about 1e-15). */
function lgamma(x: number): number {
  const g = [
    0.9999999999998099, 676.5203681218851, -1259.1392167224028, 771.3234287776531, -176.6150291621406, 12.507343278686905,
    -0.13857109526572012, 9.984369578019572e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lgamma(1 - x);
  const y = x - 1;
  let a = g[0];
  const t = y + 7.5;
  for (let i = 1; i < 9; i++) a += g[i] / (y + i);
  return 0.5 * Math.log(2 * Math.PI) + (y + 0.5) * Math.log(t) - t + Math.log(a);
}

/** P(X <= k) for X ~ Bin(n, p), summed in log space (exact to double precision for any n this library meets). */
export function binomialCdf(k: number, n: number, p: number): number {
  if (k < 0) return 0;
  if (k >= n) return 1;
  if (p <= 0) return 1;
  if (p >= 1) return 0;
  const lp = Math.log(p),
    lq = Math.log1p(-p);
  let s = 0;
  for (let i = 0; i <= k; i++) s += Math.exp(logChoose(n, i) + i * lp + (n - i) * lq);
  return Math.min(1, s);
}

/**
 * Clopper-Pearson's exact interval for k successes in n trials: the p where the binomial tails reach
 * (1 - level) / 2, found by bisection; [0, 1 - (α/2)^(1/n)] at 0/n and [(α/2)^(1/n), 1] at n/n.
 */
export function clopperPearson(k: number, n: number, level = 0.95): [number, number] {
  if (n <= 0) return [0, 1];
  const a = (1 - level) / 2;
  const solve = (f: (p: number) => number) => {
    // f is increasing in p on [0, 1]; returns the p where it crosses 0
    let lo = 0,
      hi = 1;
    for (let i = 0; i < 60; i++) {
      const m = (lo + hi) / 2;
      if (f(m) < 0) lo = m;
      else hi = m;
    }
    return (lo + hi) / 2;
  };
  const lower = k === 0 ? 0 : solve((p) => 1 - binomialCdf(k - 1, n, p) - a); // P(X >= k) = a/2
  const upper = k === n ? 1 : solve((p) => a - binomialCdf(k, n, p)); // P(X <= k) = a/2
  return [lower, upper];
}

/** The 95% interval bowcnn reports for an accuracy: Wilson's, from a 0/1 correctness vector. */
export function accuracyInterval(correct: ArrayLike<number>, level = 0.95): [number, number] {
  let k = 0;
  for (let i = 0; i < correct.length; i++) k += correct[i] ? 1 : 0;
  return wilson(k, correct.length, level);
}

/** Mean and sample standard deviation (0 for one value). */
export function meanSd(v: readonly number[]): { mean: number; sd: number } {
  const n = v.length;
  if (n === 0) return { mean: Number.NaN, sd: Number.NaN };
  const mean = v.reduce((a, b) => a + b, 0) / n;
  const sd = n > 1 ? Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, sd };
}

export interface SeedTest {
  /** mean accuracy of A minus that of B, over seeds and test images */
  difference: number;
  /** 95% interval of the difference (percentile, over the two-level resampling) */
  ci95: [number, number];
  /** two-sided p-value of "no difference" */
  p: number;
  seeds: number;
  reps: number;
}

/**
 * A paired test of two classifiers each trained with the same seeds and scored on the same test images:
 * a two-level bootstrap that resamples the seeds (the training's randomness: seed i of A is paired with
 * seed i of B) and the test images (the test sample's), and recomputes the difference of mean accuracies.
 * The p-value is twice the smaller tail of the resampled differences around 0 (at least 1 / reps).
 * `a[s][i]`: whether seed s's model of A got test image i right.
 */
export function pairedSeedTest(a: readonly ArrayLike<number>[], b: readonly ArrayLike<number>[], reps = 2000, seed = 0): SeedTest {
  const k = Math.min(a.length, b.length);
  if (k === 0) throw new RangeError('pairedSeedTest: no seeds');
  const n = a[0].length;
  // per seed, the per-image difference (A right and B wrong: +1, the reverse: -1)
  const d = Array.from({ length: k }, (_, s) => {
    const v = new Int8Array(n);
    for (let i = 0; i < n; i++) v[i] = (a[s][i] ? 1 : 0) - (b[s][i] ? 1 : 0);
    return v;
  });
  let total = 0;
  for (const v of d) for (let i = 0; i < n; i++) total += v[i];
  const difference = total / (k * n);
  const rand = rng(seed + 17);
  const diffs = new Float64Array(reps);
  for (let r = 0; r < reps; r++) {
    let s = 0;
    const seeds = Array.from({ length: k }, () => (k > 1 ? Math.floor(rand() * k) : 0));
    for (let i = 0; i < n; i++) {
      const j = Math.floor(rand() * n);
      for (const q of seeds) s += d[q][j];
    }
    diffs[r] = s / (k * n);
  }
  diffs.sort();
  let below = 0,
    above = 0;
  for (const x of diffs) {
    if (x <= 0) below++;
    if (x >= 0) above++;
  }
  const p = Math.min(1, Math.max(1 / reps, (2 * Math.min(below, above)) / reps));
  return { difference, ci95: [diffs[Math.floor(0.025 * (reps - 1))], diffs[Math.ceil(0.975 * (reps - 1))]], p, seeds: k, reps };
}

function erfc(x: number): number {
  // Numerical Recipes' erfc approximation (fractional error < 1.2e-7)
  const z = Math.abs(x),
    t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t *
                  (0.09678418 +
                    t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}

function binomTwoSided(k: number, n: number): number {
  // P(X <= min(k, n-k)) * 2 for X ~ Bin(n, 1/2), capped at 1
  const m = Math.min(k, n - k);
  let p = 0,
    c = 1;
  for (let i = 0; i <= m; i++) {
    if (i > 0) c = (c * (n - i + 1)) / i;
    p += c;
  }
  return Math.min(1, (2 * p) / 2 ** n);
}

export interface McNemar {
  onlyA: number;
  onlyB: number;
  statistic: number;
  p: number;
  exact: boolean;
}

/**
 * McNemar's test on paired 0/1 correctness vectors. onlyA: images A gets right and B wrong. With fewer
 * than 25 discordant pairs the exact binomial test, else chi2 with continuity correction (1 df).
 */
export function mcnemar(a: ArrayLike<number>, b: ArrayLike<number>): McNemar {
  let onlyA = 0,
    onlyB = 0;
  for (let i = 0; i < a.length; i++) {
    if (a[i] && !b[i]) onlyA++;
    else if (!a[i] && b[i]) onlyB++;
  }
  const n = onlyA + onlyB;
  if (n === 0) return { onlyA, onlyB, statistic: 0, p: 1, exact: true };
  if (n < 25) return { onlyA, onlyB, statistic: Math.min(onlyA, onlyB), p: binomTwoSided(onlyA, n), exact: true };
  const statistic = (Math.abs(onlyA - onlyB) - 1) ** 2 / n;
  return { onlyA, onlyB, statistic, p: erfc(Math.sqrt(statistic / 2)), exact: false };
}
