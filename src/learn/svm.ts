/**
 * The linear SVM by LIBLINEAR's dual coordinate descent over sparse rows (Hsieh et al. 2008; liblinear -s 1
 * -B 1, its solve_l2r_l1l2_svc with shrinking): one-vs-rest, L2-regularised squared hinge, the bias a constant
 * feature 1 regularised like the weights. For class k with y_i = +1 where labels[i] = k, else -1:
 *
 *     primal   min_w  1/2 ||w||^2 + C sum_i max(0, 1 - y_i w.x_i)^2
 *     dual     min_a  1/2 a'(Q + D)a - sum_i a_i,  a >= 0,  Q_ij = y_i y_j x_i.x_j,  D_ii = 1 / (2C)
 *
 * Each step takes one row i (in a seeded random order), G = y_i w.x_i - 1 + D_ii a_i, and moves a_i to its
 * optimum max(a_i - G / (Q_ii + D_ii), 0), updating w = sum_i a_i y_i x_i on the row's nonzeros only. Rows at
 * their bound whose gradient says they stay there are shrunk away (skipped) until the active rows converge,
 * then all rows are checked once more. A class stops when the spread of projected gradients over a pass is at
 * most `eps` (LIBLINEAR's default 0.1), or after `maxIter` passes.
 *
 * The passes run in the native addon where it is built (one thread per class, native/bowcnn.cc `dcdPasses`,
 * the same steps as `dcdPassesJs` below), a few passes per call, so that progress shows and Ctrl-C gets
 * through between calls. Both give the same passes for any thread count.
 */
import { nativeAddon } from '../backend/native.js';
import { checkpoint } from '../core/interrupt.js';
import type { Csr } from '../core/sparse.js';

export interface SvmOptions {
  C: number;
  eps: number;
  maxIter: number;
  seed: number;
  /** called after each call of a few passes with the passes made so far (the most of any class) */
  onPasses?: (passes: number) => void;
  /** force the JavaScript passes (tests compare them with the native ones) */
  javascript?: boolean;
}

export interface SvmModel {
  /** `[d, K]` row-major: scores = x W + b */
  W: Float32Array;
  b: Float32Array;
  /** passes made (the most of any class) */
  passes: number;
  /** the dual variables `[K, n]`, for the optimality checks in the tests */
  alpha: Float64Array;
}

interface DcdState {
  Q: Float64Array; // [n] ||x_i||^2 + 1 + D_ii
  w: Float64Array; // [K, d + 1], the bias last
  alpha: Float64Array; // [K, n]
  index: Int32Array; // [K, n] the visiting order, active rows first
  stat: Float64Array; // [K, 6]: active, PGmaxOld, PGminOld, passes, done, random state
}

const xorshift32 = (s: number) => {
  s ^= s << 13;
  s ^= s >>> 17;
  s ^= s << 5;
  return s >>> 0;
};

/** The passes of native/bowcnn.cc's dcdClass, in JavaScript: up to `passes` for every class not done. */
export function dcdPassesJs(X: Csr, labels: Int32Array, K: number, C: number, eps: number, passes: number, maxIter: number, st: DcdState) {
  const { n, d, indptr, indices, values } = X;
  const diag = 1 / (2 * C);
  for (let k = 0; k < K; k++) {
    const w = st.w.subarray(k * (d + 1), (k + 1) * (d + 1));
    const alpha = st.alpha.subarray(k * n, (k + 1) * n);
    const index = st.index.subarray(k * n, (k + 1) * n);
    const s6 = k * 6;
    let active = st.stat[s6],
      PGmaxOld = st.stat[s6 + 1],
      PGminOld = st.stat[s6 + 2],
      it = st.stat[s6 + 3],
      done = st.stat[s6 + 4] !== 0,
      rs = st.stat[s6 + 5];
    for (let p = 0; p < passes && !done && it < maxIter; p++) {
      let PGmaxNew = -Infinity,
        PGminNew = Infinity;
      for (let i = 0; i < active; i++) {
        rs = xorshift32(rs);
        const j = i + (rs % (active - i));
        const t = index[i];
        index[i] = index[j];
        index[j] = t;
      }
      for (let s = 0; s < active; s++) {
        const i = index[s];
        const y = labels[i] === k ? 1 : -1;
        let dot = w[d];
        for (let t = indptr[i]; t < indptr[i + 1]; t++) dot += w[indices[t]] * values[t];
        const G = y * dot - 1 + alpha[i] * diag;
        let PG = 0;
        if (alpha[i] === 0) {
          if (G > PGmaxOld) {
            active--;
            index[s] = index[active];
            index[active] = i;
            s--;
            continue;
          }
          if (G < 0) PG = G;
        } else PG = G;
        if (PG > PGmaxNew) PGmaxNew = PG;
        if (PG < PGminNew) PGminNew = PG;
        if (Math.abs(PG) > 1e-12) {
          const old = alpha[i];
          alpha[i] = Math.max(old - G / st.Q[i], 0);
          const step = (alpha[i] - old) * y;
          for (let t = indptr[i]; t < indptr[i + 1]; t++) w[indices[t]] += step * values[t];
          w[d] += step;
        }
      }
      it++;
      if (PGmaxNew - PGminNew <= eps) {
        if (active === n) done = true;
        else {
          active = n;
          PGmaxOld = Infinity;
          PGminOld = -Infinity;
          continue;
        }
      }
      PGmaxOld = PGmaxNew <= 0 ? Infinity : PGmaxNew;
      PGminOld = PGminNew >= 0 ? -Infinity : PGminNew;
    }
    if (it >= maxIter) done = true;
    st.stat.set([active, PGmaxOld, PGminOld, it, done ? 1 : 0, rs], s6);
  }
  let left = 0;
  for (let k = 0; k < K; k++) left += st.stat[k * 6 + 4] === 0 ? 1 : 0;
  return left;
}

/** Fits the one-vs-rest linear SVM on rows X (labels in [0, K)). */
export async function linearSvm(X: Csr, labels: Int32Array, K: number, o: SvmOptions): Promise<SvmModel> {
  const { n, d, indptr, values } = X;
  if (labels.length !== n) throw new Error(`linearSvm: ${n} rows and ${labels.length} labels`);
  const diag = 1 / (2 * o.C);
  const Q = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 1 + diag;
    for (let t = indptr[i]; t < indptr[i + 1]; t++) s += values[t] * values[t];
    Q[i] = s;
  }
  const st: DcdState = {
    Q,
    w: new Float64Array(K * (d + 1)),
    alpha: new Float64Array(K * n),
    index: new Int32Array(K * n),
    stat: new Float64Array(K * 6),
  };
  for (let k = 0; k < K; k++) {
    for (let i = 0; i < n; i++) st.index[k * n + i] = i;
    // a nonzero xorshift state per class, from the seed
    st.stat.set([n, Infinity, -Infinity, 0, 0, (Math.imul(o.seed + 1, 0x9e3779b1) ^ ((k + 1) * 0x85ebca6b)) >>> 0 || 1], k * 6);
  }
  const addon = o.javascript ? null : nativeAddon();
  const labels32 = labels instanceof Int32Array ? labels : Int32Array.from(labels);
  // about a second of work per call, so that Ctrl-C is answered promptly
  const perPass = Math.max(1, indptr[n] * K);
  const passes = Math.max(1, Math.min(50, Math.floor((addon ? 4e8 : 5e7) / perPass)));
  for (;;) {
    await checkpoint();
    const left = addon
      ? addon.dcdPasses(
          X.indptr,
          X.indices,
          X.values,
          labels32,
          Q,
          st.w,
          st.alpha,
          st.index,
          st.stat,
          n,
          d,
          K,
          o.C,
          o.eps,
          passes,
          o.maxIter,
        )
      : dcdPassesJs(X, labels32, K, o.C, o.eps, passes, o.maxIter, st);
    let most = 0;
    for (let k = 0; k < K; k++) most = Math.max(most, st.stat[k * 6 + 3]);
    o.onPasses?.(most);
    if (left === 0) break;
  }
  const W = new Float32Array(d * K),
    b = new Float32Array(K);
  for (let k = 0; k < K; k++) {
    for (let t = 0; t < d; t++) W[t * K + k] = st.w[k * (d + 1) + t];
    b[k] = st.w[k * (d + 1) + d];
  }
  let most = 0;
  for (let k = 0; k < K; k++) most = Math.max(most, st.stat[k * 6 + 3]);
  return { W, b, passes: most, alpha: st.alpha };
}
