/**
 * Classification metrics on scores `[N,K]` (row-major) and labels: accuracy, top-k, the confusion
 * matrix, per-class precision / recall / F1 and macro-F1, a bootstrap confidence interval on accuracy,
 * and McNemar's test between two classifiers on the same test set.
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

export function macroF1(cm: number[][]): number {
  const pc = perClass(cm);
  return pc.reduce((a, p) => a + p.f1, 0) / Math.max(1, pc.length);
}

/** Percentile bootstrap 95% interval of the mean of a 0/1 vector (resampling test images). */
export function bootstrapCI(correct: ArrayLike<number>, reps = 1000, seed = 0, level = 0.95): [number, number] {
  const n = correct.length;
  if (n === 0) return [0, 0];
  const rand = rng(seed);
  const means = new Float64Array(reps);
  for (let r = 0; r < reps; r++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += correct[Math.floor(rand() * n)];
    means[r] = s / n;
  }
  means.sort();
  const lo = means[Math.floor(((1 - level) / 2) * (reps - 1))];
  const hi = means[Math.ceil((1 - (1 - level) / 2) * (reps - 1))];
  return [lo, hi];
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
