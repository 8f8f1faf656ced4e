/**
 * A Gaussian mixture with diagonal covariances, fitted by EM (what Fisher vectors are made of), in VLFeat's
 * conventions (vl_gmm): `means` and `variances` `[K,D]` row-major, `priors` `[K]`.
 *
 * The E-step is a 1x1 convolution over [x, x²] followed by a softmax: with λ = 1/σ²,
 *   log π_k N(x; μ_k, σ_k²) = Σ_d (μ_kd λ_kd) x_d - ½ Σ_d λ_kd x_d² + b_k,
 *   b_k = log π_k - ½ Σ_d (log σ_kd² + μ_kd² λ_kd) - (D/2) log 2π,
 * so the log-densities of a chunk of points are two matrix products on the backend (the native GEMM), and
 * the posteriors their softmax across k. The M-step is one pass over the data in JavaScript (float64 sums).
 *
 * Initialisation by k-means (learn/kmeans.ts: k-means++ seeding, Lloyd): the means are the centres, the
 * variances each cluster's, the priors its share; or as vl_gmm does by default: k-means++ seeds as the means,
 * the data's variance for every component, equal priors. `restarts` alternate the two and keep the best fit of
 * the training data. Every variance is kept at or above a floor (VLFeat's
 * default, 1e-4, or the given one); a component left with (nearly) no posterior mass is restarted at the
 * point the mixture explains worst, as vl_gmm restarts empty modes. Stops after `iterations` or when the
 * log-likelihood's relative change is under `tol` (VLFeat's rule).
 */
import * as tf from '@tensorflow/tfjs';
import { FitError } from '../core/errors.js';
import { checkpoint } from '../core/interrupt.js';
import { rng } from '../core/random.js';
import { kmeans, kmeansppSeed } from './kmeans.js';

export interface Gmm {
  means: Float32Array; // [K,D]
  variances: Float32Array; // [K,D]
  priors: Float32Array; // [K]
  components: number;
  dimension: number;
}

export interface GmmOptions {
  components: number;
  seed?: number;
  /** EM iterations at most (default 50, VLFeat's) */
  iterations?: number;
  /** stop when |ΔLL / LL| falls under this (default 1e-5, VLFeat's) */
  tol?: number;
  /** the variance floor (default 1e-4, VLFeat's) */
  varianceFloor?: number;
  /** k-means iterations for the initialisation (default 20) */
  kmeansIterations?: number;
  /** EM runs, from k-means and from k-means++ seeds in turn, the best training log-likelihood kept (default 3) */
  restarts?: number;
  onIter?: (it: { iter: number; logLikelihood: number }) => void;
}

export interface GmmFit extends Gmm {
  logLikelihood: number; // of the training data, at the last E-step
  iterations: number;
  restarted: number;
}

/** A `[N,D]` float32 view of x (a Tensor2D is read back; a Float32Array is taken as it is). */
export async function rows(x: tf.Tensor2D | Float32Array, d?: number): Promise<{ data: Float32Array; n: number; d: number }> {
  if (x instanceof Float32Array) {
    if (!d) throw new FitError('a Float32Array of descriptors needs its dimension');
    if (x.length % d !== 0) throw new FitError(`${x.length} values are not a whole number of ${d}-dimensional rows`);
    return { data: x, n: x.length / d, d };
  }
  return { data: (await x.data()) as Float32Array, n: x.shape[0], d: x.shape[1] };
}

/** The E-step's affine map over [x, x²]: weights `[2D, K]` (μλ over -λ/2) and biases `[K]`. */
export function gmmAffine(g: Gmm): { w: Float32Array; b: Float32Array } {
  const { components: k, dimension: d } = g;
  const w = new Float32Array(2 * d * k);
  const b = new Float32Array(k);
  const half = (d / 2) * Math.log(2 * Math.PI);
  for (let c = 0; c < k; c++) {
    let s = 0;
    for (let j = 0; j < d; j++) {
      const lam = 1 / g.variances[c * d + j];
      const mu = g.means[c * d + j];
      w[j * k + c] = mu * lam;
      w[(d + j) * k + c] = -0.5 * lam;
      s += Math.log(g.variances[c * d + j]) + mu * mu * lam;
    }
    // a component whose prior is (nearly) zero takes no point, as in VLFeat
    b[c] = (g.priors[c] < 1e-6 ? Number.NEGATIVE_INFINITY : Math.log(g.priors[c])) - 0.5 * s - half;
  }
  return { w, b };
}

/**
 * Posteriors `[N,K]` of points `[N,D]` (row-major Float32Array) under a GMM, and the log-likelihood of the
 * points (their log-densities summed), chunk by chunk on the backend.
 */
export function gmmPosteriors(g: Gmm, data: Float32Array, n: number, chunk = 8192): { posteriors: Float32Array; logLikelihood: number } {
  const { components: k, dimension: d } = g;
  const { w, b } = gmmAffine(g);
  const out = new Float32Array(n * k);
  let ll = 0;
  const W = tf.tensor2d(w, [2 * d, k]);
  const B = tf.tensor1d(b);
  try {
    for (let s = 0; s < n; s += chunk) {
      const m = Math.min(chunk, n - s);
      const { p, lse } = tf.tidy(() => {
        const x = tf.tensor2d(data.subarray(s * d, (s + m) * d), [m, d]);
        const z = tf.add(tf.matMul(tf.concat([x, tf.square(x)], 1), W), B); // [m,K] log π_k N(x; μ_k, σ_k)
        const l = tf.logSumExp(z, 1); // [m]
        return { p: tf.exp(tf.sub(z, tf.expandDims(l, 1))), lse: l };
      });
      out.set(p.dataSync() as Float32Array, s * k);
      for (const v of lse.dataSync()) ll += v;
      tf.dispose([p, lse]);
    }
  } finally {
    tf.dispose([W, B]);
  }
  return { posteriors: out, logLikelihood: ll };
}

/** The log-likelihood of points under a GMM (what `held-out log-likelihood` compares). */
export function gmmLogLikelihood(g: Gmm, data: Float32Array, n: number): number {
  return gmmPosteriors(g, data, n).logLikelihood;
}

/** The starting mixture: k-means (its centres, each cluster's variances and share), or VLFeat's default (k-means++ seeds, the data's variance, equal priors). */
async function initial(
  data: Float32Array,
  n: number,
  d: number,
  k: number,
  how: 'kmeans' | 'seeds',
  seed: number,
  floor: number,
  kmIter: number,
): Promise<Gmm> {
  const means = new Float32Array(k * d);
  const variances = new Float32Array(k * d);
  const priors = new Float32Array(k);
  if (how === 'seeds') {
    const sample = Math.min(n, 20000);
    means.set(await kmeansppSeed(data.subarray(0, sample * d), sample, d, k, rng(seed * 7919 + 13)));
    const mu = new Float64Array(d),
      sq = new Float64Array(d);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < d; j++) {
        mu[j] += data[i * d + j];
        sq[j] += data[i * d + j] ** 2;
      }
    for (let c = 0; c < k; c++) {
      priors[c] = 1 / k;
      for (let j = 0; j < d; j++) variances[c * d + j] = Math.max(floor, sq[j] / n - (mu[j] / n) ** 2);
    }
    return { means, variances, priors, components: k, dimension: d };
  }
  const km = await kmeans(data, n, d, { k, seed, maxIter: kmIter });
  means.set(km.centres);
  const counts = new Float64Array(k);
  const acc = new Float64Array(k * d);
  const C = tf.tensor2d(km.centres, [k, d]);
  const assign = tf.tidy(() => {
    const X = tf.tensor2d(data, [n, d]);
    return tf.argMin(tf.sub(tf.sum(tf.square(C), 1), tf.mul(2, tf.matMul(X, C, false, true))), 1);
  });
  const a = assign.dataSync() as Int32Array;
  tf.dispose([C, assign]);
  for (let i = 0; i < n; i++) {
    const c = a[i];
    counts[c]++;
    for (let j = 0; j < d; j++) acc[c * d + j] += (data[i * d + j] - means[c * d + j]) ** 2;
  }
  for (let c = 0; c < k; c++) {
    priors[c] = counts[c] / n;
    for (let j = 0; j < d; j++) variances[c * d + j] = Math.max(floor, counts[c] > 0 ? acc[c * d + j] / counts[c] : floor);
  }
  return { means, variances, priors, components: k, dimension: d };
}

/**
 * A diagonal GMM by EM, with a variance floor; x is `[N,D]` (a Tensor2D, or a Float32Array with `dimension`).
 * `restarts` runs of EM, from k-means and from VLFeat's default start in turn, each with its own seed; the one
 * with the highest log-likelihood of the training data is kept (the held-out data is never looked at).
 */
export async function fitGmm(x: tf.Tensor2D | Float32Array, opts: GmmOptions & { dimension?: number }): Promise<GmmFit> {
  const { data, n, d } = await rows(x, opts.dimension);
  const k = opts.components;
  if (!(Number.isInteger(k) && k >= 1)) throw new FitError(`fitGmm: components ${k}: a whole number >= 1`);
  if (n < k) throw new FitError(`fitGmm: ${n} points for ${k} components: give at least as many points as components`);
  const floor = opts.varianceFloor ?? 1e-4;
  const restarts = opts.restarts ?? 3;
  let best: GmmFit | null = null;
  for (let r = 0; r < restarts; r++) {
    const start = await initial(
      data,
      n,
      d,
      k,
      r % 2 === 0 ? 'kmeans' : 'seeds',
      (opts.seed ?? 0) + Math.floor(r / 2),
      floor,
      opts.kmeansIterations ?? 20,
    );
    const fit = await em(start, data, n, opts, floor);
    if (!best || fit.logLikelihood > best.logLikelihood) best = fit;
  }
  return best as GmmFit;
}

/** EM from a starting mixture (changed in place), to `iterations` or a relative change of the log-likelihood under `tol`. */
async function em(g: Gmm, data: Float32Array, n: number, opts: GmmOptions, floor: number): Promise<GmmFit> {
  const { components: k, dimension: d, means, variances, priors } = g;
  const maxIter = opts.iterations ?? 50;
  const tol = opts.tol ?? 1e-5;
  let prev = Number.NEGATIVE_INFINITY;
  let ll = Number.NEGATIVE_INFINITY;
  let iter = 0;
  let restarted = 0;
  for (; ; iter++) {
    await checkpoint();
    const e = gmmPosteriors(g, data, n);
    ll = e.logLikelihood;
    opts.onIter?.({ iter, logLikelihood: ll });
    if (iter >= maxIter) break;
    if (iter > 0 && Math.abs((ll - prev) / ll) < tol) break;
    prev = ll;
    // M-step: mass, means and variances from the posteriors (float64 sums)
    const mass = new Float64Array(k);
    const s1 = new Float64Array(k * d);
    const s2 = new Float64Array(k * d);
    const p = e.posteriors;
    for (let i = 0; i < n; i++)
      for (let c = 0; c < k; c++) {
        const q = p[i * k + c];
        if (q < 1e-8) continue;
        mass[c] += q;
        const o = c * d,
          xi = i * d;
        for (let j = 0; j < d; j++) {
          const v = data[xi + j];
          s1[o + j] += q * v;
          s2[o + j] += q * v * v;
        }
      }
    // a component with (nearly) no mass restarts at the point the mixture explains worst
    const empty: number[] = [];
    for (let c = 0; c < k; c++) if (mass[c] < 1e-2) empty.push(c);
    if (empty.length) {
      const worst = worstPoints(g, data, n, empty.length);
      empty.forEach((c, t) => {
        const i = worst[t];
        for (let j = 0; j < d; j++) {
          means[c * d + j] = data[i * d + j];
          let vmax = floor;
          for (let q = 0; q < k; q++) vmax = Math.max(vmax, variances[q * d + j]);
          variances[c * d + j] = vmax;
        }
        priors[c] = 1 / n;
      });
      restarted += empty.length;
    }
    let total = 0;
    for (let c = 0; c < k; c++) {
      if (empty.includes(c)) {
        total += priors[c];
        continue;
      }
      const m = mass[c];
      priors[c] = m / n;
      total += priors[c];
      for (let j = 0; j < d; j++) {
        const mu = s1[c * d + j] / m;
        means[c * d + j] = mu;
        variances[c * d + j] = Math.max(floor, s2[c * d + j] / m - mu * mu);
      }
    }
    for (let c = 0; c < k; c++) priors[c] /= Math.max(total, 1e-12);
  }
  return { ...g, logLikelihood: ll, iterations: iter, restarted };
}

/** The `count` points with the lowest log-density under the mixture. */
function worstPoints(g: Gmm, data: Float32Array, n: number, count: number): number[] {
  const { w, b } = gmmAffine(g);
  const d = g.dimension,
    k = g.components;
  const scores = tf.tidy(() => {
    const x = tf.tensor2d(data, [n, d]);
    return tf.logSumExp(tf.add(tf.matMul(tf.concat([x, tf.square(x)], 1), tf.tensor2d(w, [2 * d, k])), tf.tensor1d(b)), 1);
  });
  const v = scores.dataSync() as Float32Array;
  scores.dispose();
  return Array.from(v.keys())
    .sort((a, c) => v[a] - v[c])
    .slice(0, count);
}
