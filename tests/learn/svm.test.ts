// The linear SVM's dual coordinate descent (learn/svm.ts) against its optimality conditions, computed here
// from scratch with plain loops, and the native passes against the JavaScript ones.
import { describe, expect, it } from 'vitest';
import { nativeAddon } from '../../src/backend/native.js';
import { csrFromDense, csrTimes, type Csr } from '../../src/core/sparse.js';
import { linearSvm } from '../../src/learn/svm.js';
import { randArray } from '../helpers.js';

/** n sparse rows of d features (about a third nonzero, all >= 0, like histograms), labels in [0, K). */
function problem(n: number, d: number, K: number, seed: number): { X: Csr; dense: Float32Array; labels: Int32Array } {
  const u = randArray(n * d, seed);
  const dense = new Float32Array(n * d);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = i % K;
    for (let t = 0; t < d; t++) {
      const v = u[i * d + t];
      if (v > 0.35) dense[i * d + t] = v + (t % K === labels[i] ? 0.8 : 0);
    }
  }
  return { X: csrFromDense(dense, n, d), dense, labels };
}

/**
 * For class k with w = sum_i a_i y_i x_i (rebuilt here from the dual variables, bias as feature 1): the dual
 * gradient G_i = y_i w.x_i - 1 + a_i / (2C), its projection (min(G, 0) where a_i = 0), and the primal and dual
 * objectives.
 */
function optimality(dense: Float32Array, labels: Int32Array, n: number, d: number, k: number, alpha: Float64Array, C: number) {
  const w = new Float64Array(d + 1);
  const y = (i: number) => (labels[i] === k ? 1 : -1);
  for (let i = 0; i < n; i++) {
    const a = alpha[k * n + i];
    for (let t = 0; t < d; t++) w[t] += a * y(i) * dense[i * d + t];
    w[d] += a * y(i);
  }
  let pgMax = -Infinity,
    pgMin = Infinity,
    loss = 0,
    aSum = 0,
    aSq = 0;
  for (let i = 0; i < n; i++) {
    let dot = w[d];
    for (let t = 0; t < d; t++) dot += w[t] * dense[i * d + t];
    const a = alpha[k * n + i];
    const G = y(i) * dot - 1 + a / (2 * C);
    const PG = a > 0 ? G : Math.min(G, 0);
    pgMax = Math.max(pgMax, PG);
    pgMin = Math.min(pgMin, PG);
    loss += Math.max(0, 1 - y(i) * dot) ** 2;
    aSum += a;
    aSq += a * a;
  }
  let ww = 0;
  for (const v of w) ww += v * v;
  const primal = 0.5 * ww + C * loss;
  const dual = aSum - 0.5 * ww - aSq / (4 * C); // the dual's maximum equals the primal's minimum
  return { w, spread: pgMax - pgMin, primal, dual, alphaMin: Math.min(...alpha.subarray(k * n, (k + 1) * n)) };
}

describe('linear SVM by dual coordinate descent', () => {
  const n = 400,
    d = 30,
    K = 3,
    C = 0.5;
  const { X, dense, labels } = problem(n, d, K, 7);

  for (const javascript of [true, false]) {
    const which = javascript ? 'JavaScript' : 'native';
    it.skipIf(!javascript && !nativeAddon())(
      `${which}: meets its stopping rule and closes the duality gap; W is sum a_i y_i x_i`,
      async () => {
        const eps = 1e-4;
        const m = await linearSvm(X, labels, K, { C, eps, maxIter: 5000, seed: 3, javascript });
        expect(m.passes).toBeLessThan(5000);
        for (let k = 0; k < K; k++) {
          const o = optimality(dense, labels, n, d, k, m.alpha, C);
          expect(o.alphaMin).toBeGreaterThanOrEqual(0);
          expect(o.spread).toBeLessThanOrEqual(eps * 1.01);
          expect((o.primal - o.dual) / o.primal).toBeLessThan(1e-4);
          for (let t = 0; t < d; t++) expect(Math.abs(m.W[t * K + k] - o.w[t])).toBeLessThan(1e-4 * (1 + Math.abs(o.w[t])));
          expect(Math.abs(m.b[k] - o.w[d])).toBeLessThan(1e-4 * (1 + Math.abs(o.w[d])));
        }
      },
    );
  }

  it.skipIf(!nativeAddon())('the native passes take the same steps as the JavaScript ones', async () => {
    const a = await linearSvm(X, labels, K, { C, eps: 0.1, maxIter: 300, seed: 1, javascript: true });
    const b = await linearSvm(X, labels, K, { C, eps: 0.1, maxIter: 300, seed: 1 });
    expect(b.passes).toBe(a.passes);
    let worst = 0,
      top = 0;
    for (let i = 0; i < a.W.length; i++) {
      worst = Math.max(worst, Math.abs(a.W[i] - b.W[i]));
      top = Math.max(top, Math.abs(a.W[i]));
    }
    expect(worst / top).toBeLessThan(1e-5);
  });

  it('the default stopping rule (eps 0.1) classifies as well as the tight optimum', async () => {
    const loose = await linearSvm(X, labels, K, { C, eps: 0.1, maxIter: 300, seed: 0 });
    const tight = await linearSvm(X, labels, K, { C, eps: 1e-5, maxIter: 5000, seed: 0 });
    const pred = (m: { W: Float32Array; b: Float32Array }) => {
      const s = csrTimes(X, m.W, m.b, K);
      return Array.from({ length: n }, (_, i) => [0, 1, 2].reduce((best, k) => (s[i * K + k] > s[i * K + best] ? k : best), 0));
    };
    const p = pred(loose),
      q = pred(tight);
    const agree = p.filter((v, i) => v === q[i]).length / n;
    expect(agree).toBeGreaterThan(0.97);
    // rows equal to zero are scored by the bias alone
    const zero: Csr = { n: 1, d, indptr: Int32Array.of(0, 0), indices: new Int32Array(0), values: new Float32Array(0) };
    expect(Array.from(csrTimes(zero, tight.W, tight.b, K))).toEqual(Array.from(tight.b));
  });
});
