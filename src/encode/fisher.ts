/**
 * The Fisher vector of a set of descriptors under a diagonal GMM, exactly as VLFeat's vl_fisher_encode
 * computes it (Perronnin et al. 2010): for each component k with prior π_k ≥ 1e-6, over the descriptors whose
 * posterior q_ik ≥ 1e-6,
 *   u_k = 1 / (N √π_k)  Σ_i q_ik (x_i - μ_k) / σ_k
 *   v_k = 1 / (N √(2π_k)) Σ_i q_ik [((x_i - μ_k) / σ_k)² - 1]
 * laid out as all K·D mean gradients (u_1 ... u_K), then all K·D variance gradients (v_1 ... v_K); 'improved'
 * is the signed square root of every value, then L2 normalisation (VL_FISHER_FLAG_IMPROVED); 'fast' keeps each
 * descriptor's largest posterior only (VL_FISHER_FLAG_FAST).
 *
 * In CNN terms: the posteriors are a 1x1 convolution over [x, x²] followed by a softmax (learn/gmm.ts), and
 * the sums are the sum pooling of q, q·x and q·x² (S0, S1, S2), from which
 *   Σ q (x - μ)/σ = (S1 - μ S0)/σ,   Σ q [((x - μ)/σ)² - 1] = (S2 - 2μ S1 + μ² S0)/σ² - S0.
 */
import type * as tf from '@tensorflow/tfjs';
import { type Gmm, gmmAffine, gmmPosteriors, rows } from '../learn/gmm.js';
import { nativeAddon, nativeKernelsActive } from '../backend/native.js';

export interface FisherOptions {
  /** signed square root, then L2 normalisation (VLFeat's IMPROVED) */
  improved?: boolean;
  /** the signed square root alone (VL_FISHER_FLAG_SQUARE_ROOT) */
  squareRoot?: boolean;
  /** L2 normalisation alone (VL_FISHER_FLAG_NORMALIZED) */
  normalized?: boolean;
  /** each descriptor's largest posterior only (VL_FISHER_FLAG_FAST) */
  fast?: boolean;
}

/** A GMM given as tensors or arrays. */
export interface GmmLike {
  means: tf.Tensor2D | Float32Array;
  variances: tf.Tensor2D | Float32Array;
  priors: tf.Tensor1D | Float32Array;
}

/** The native pass's E-step and inverse deviations of a GMM, kept for the GMM object a caller passes again. */
const PREPARED = new WeakMap<object, { w: Float32Array; b: Float32Array; isd: Float32Array; of: Float32Array[] }>();
const same = (a: Float32Array, b: Float32Array) => {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
};
function prepared(key: GmmLike, g: Gmm) {
  const got = PREPARED.get(key);
  // the same object whose values were changed in place is prepared again
  const now = [g.means, g.variances, g.priors];
  if (got?.of.every((a, i) => same(a, now[i]))) return got;
  const made = { ...gmmAffine(g), isd: g.variances.map((v) => 1 / Math.sqrt(v)), of: now.map((a) => Float32Array.from(a)) };
  PREPARED.set(key, made);
  return made;
}

/** A GMM as Float32Arrays, its sizes taken from the means' shape (or `components` for arrays). */
export async function gmmArrays(g: GmmLike, dimension: number): Promise<Gmm> {
  const arr = async (t: tf.Tensor | Float32Array) => (t instanceof Float32Array ? t : ((await t.data()) as Float32Array));
  const means = await arr(g.means);
  const variances = await arr(g.variances);
  const priors = await arr(g.priors);
  const k = priors.length;
  if (means.length !== k * dimension || variances.length !== k * dimension)
    throw new RangeError(
      `a GMM of ${k} components of dimension ${dimension} has ${k * dimension} means and variances (given ${means.length}, ${variances.length})`,
    );
  return { means, variances, priors, components: k, dimension };
}

/** Posteriors `[N,K]` as VL_FISHER_FLAG_FAST makes them: 1 for each descriptor's largest, 0 elsewhere. */
function hardest(q: Float32Array, n: number, k: number): void {
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 1; c < k; c++) if (q[i * k + c] > q[i * k + best]) best = c;
    for (let c = 0; c < k; c++) q[i * k + c] = c === best ? 1 : 0;
  }
}

/** The signed square root, then L2 normalisation, as VLFeat's flags say (in place). */
export function normalise(v: Float32Array, o: { squareRoot?: boolean; l2?: boolean }): Float32Array {
  if (o.squareRoot) for (let i = 0; i < v.length; i++) v[i] = v[i] >= 0 ? Math.sqrt(v[i]) : -Math.sqrt(-v[i]);
  if (o.l2) {
    let s = 0;
    for (let i = 0; i < v.length; i++) s += v[i] * v[i];
    const nrm = Math.max(Math.sqrt(s), 1e-12);
    for (let i = 0; i < v.length; i++) v[i] /= nrm;
  }
  return v;
}

/**
 * The Fisher vector `[2·K·D]` of descriptors x `[N,D]` (a Tensor2D, or a Float32Array of N·D values) under the
 * GMM `{ means [K,D], variances [K,D], priors [K] }`: exactly VLFeat's vl_fisher_encode with the same flags.
 */
export async function fisherEncode(x: tf.Tensor2D | Float32Array, gmm: GmmLike, opts: FisherOptions = {}): Promise<Float32Array> {
  const d =
    x instanceof Float32Array
      ? gmm.means instanceof Float32Array
        ? gmm.means.length / (gmm.priors as Float32Array).length
        : gmm.means.shape[1]
      : x.shape[1];
  const { data, n } = await rows(x, d);
  const g = await gmmArrays(gmm, d);
  const k = g.components;
  // where the native kernels run (and for soft posteriors): the posteriors and sums in one pass, the same rule
  const addon = nativeKernelsActive() && !opts.fast && n > 0 ? nativeAddon() : null;
  if (addon?.fisherSums) {
    const { w, b, isd } = prepared(gmm, g);
    const per = 1 + 2 * d;
    const sums = new Float32Array(k * per);
    addon.fisherSums(data, w, b, g.means, isd, Int32Array.of(0, 1, 0, n), sums, 1, 1, n, d, k, 1, 1e-6);
    const enc = new Float32Array(2 * k * d);
    for (let c = 0; c < k; c++) {
      if (g.priors[c] < 1e-6) continue;
      const up = 1 / (n * Math.sqrt(g.priors[c])),
        vp = 1 / (n * Math.sqrt(2 * g.priors[c]));
      const s0 = sums[c * per];
      for (let j = 0; j < d; j++) {
        enc[c * d + j] = sums[c * per + 1 + j] * up;
        enc[k * d + c * d + j] = (sums[c * per + 1 + d + j] - s0) * vp;
      }
    }
    return normalise(enc, { squareRoot: opts.improved || opts.squareRoot, l2: opts.improved || opts.normalized });
  }
  const enc = new Float32Array(2 * k * d);
  if (n > 0) {
    const { posteriors: q } = gmmPosteriors(g, data, n);
    if (opts.fast) hardest(q, n, k);
    const u = new Float64Array(k * d),
      v = new Float64Array(k * d);
    const isd = new Float64Array(k * d);
    for (let t = 0; t < k * d; t++) isd[t] = Math.sqrt(1 / g.variances[t]);
    for (let c = 0; c < k; c++) {
      if (g.priors[c] < 1e-6) continue;
      for (let i = 0; i < n; i++) {
        const p = q[i * k + c];
        if (p < 1e-6) continue;
        for (let j = 0; j < d; j++) {
          const diff = (data[i * d + j] - g.means[c * d + j]) * isd[c * d + j];
          u[c * d + j] += p * diff;
          v[c * d + j] += p * (diff * diff - 1);
        }
      }
      const up = 1 / (n * Math.sqrt(g.priors[c])),
        vp = 1 / (n * Math.sqrt(2 * g.priors[c]));
      for (let j = 0; j < d; j++) {
        enc[c * d + j] = u[c * d + j] * up;
        enc[k * d + c * d + j] = v[c * d + j] * vp;
      }
    }
  }
  return normalise(enc, { squareRoot: opts.improved || opts.squareRoot, l2: opts.improved || opts.normalized });
}
