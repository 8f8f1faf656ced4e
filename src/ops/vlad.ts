/**
 * VLAD of descriptor maps as tensor operations (browser-safe: the vlad stage and the BowVlad layer of
 * bowcnn/layers both run this). Per pyramid region, with assignments q `[P,K]` of the region's P descriptors:
 *   v_k = Σ_i q_ik x_i - (Σ_i q_ik) c_k
 * (normalizeMass: divided by the mass), then per component the signed square root and L2 (as the flags say),
 * then the region's vector L2-normalised, the regions side by side and divided by √R. Assignments:
 *   hard  the nearest centre, argmax_k (2 c_k·x - |c_k|²): a 1x1 convolution and winner-take-all;
 *   soft  softmax(a_k·x + b_k): NetVLAD's 1x1 convolution and softmax (Arandjelović et al. 2016), initialised from
 *         the centres as a_k = 2α c_k, b_k = -α|c_k|² (a softmax of -α|x - c_k|²).
 * The sums are batched products qᵀx: `[N,H,W,K·D]` is never built.
 */
import * as tf from '@tensorflow/tfjs';
import { pyramidRegions } from './fisher.js';
import { l2Normalize, signedSqrt } from './normalize.js';

export interface VladFlags {
  normalizeComponents: boolean;
  squareRoot: boolean;
  normalizeMass: boolean;
}

/** Hard or soft assignments `[n,p,K]` of `[n,p,D]` descriptors (inside a tidy). */
export function vladAssign(x: tf.Tensor3D, centres: tf.Tensor2D, soft: { kernel: tf.Tensor2D; bias: tf.Tensor1D } | null): tf.Tensor3D {
  const [n, p, d] = x.shape;
  const k = centres.shape[0];
  const flat = tf.reshape(x, [n * p, d]);
  if (soft) return tf.reshape(tf.softmax(tf.add(tf.matMul(flat, soft.kernel), soft.bias)), [n, p, k]) as tf.Tensor3D;
  const scores = tf.sub(tf.mul(tf.matMul(flat, centres, false, true), 2), tf.sum(tf.square(centres), 1));
  return tf.reshape(tf.oneHot(tf.argMax(scores, 1), k), [n, p, k]) as tf.Tensor3D;
}

function signedSqrtL2(v: tf.Tensor, sqrt: boolean, l2: boolean): tf.Tensor {
  const out = sqrt ? signedSqrt(v) : v;
  return l2 ? l2Normalize(out) : out;
}

/** VLAD of `[N,H,W,D]` maps over the pyramid's regions: `[N,1,1,R·K·D]` (inside a tidy or disposed by the caller). */
export function vladMaps(
  x: tf.Tensor4D,
  centres: tf.Tensor2D,
  soft: { kernel: tf.Tensor2D; bias: tf.Tensor1D } | null,
  pyramid: readonly number[],
  flags: VladFlags,
): tf.Tensor4D {
  return tf.tidy(() => {
    const [n, h, w, d] = x.shape;
    const k = centres.shape[0];
    const regions = pyramidRegions(h, w, pyramid);
    const parts = regions.map(([r0, r1, c0, c1]) => {
      const p = (r1 - r0) * (c1 - c0);
      const xr = tf.reshape(tf.slice(x, [0, r0, c0, 0], [n, r1 - r0, c1 - c0, d]), [n, p, d]) as tf.Tensor3D;
      const q = vladAssign(xr, centres, soft);
      const mass = tf.expandDims(tf.sum(q, 1), 2); // [n, K, 1]
      const sums = tf.matMul(q, xr, true, false); // [n, K, D]
      const v = flags.normalizeMass
        ? tf.where(tf.greater(mass, 0), tf.sub(tf.div(sums, tf.maximum(mass, 1e-30)), centres), tf.zerosLike(sums))
        : tf.sub(sums, tf.mul(mass, centres));
      const comps = signedSqrtL2(v, flags.squareRoot, flags.normalizeComponents); // per component [n, K, D]
      return signedSqrtL2(tf.reshape(comps, [n, k * d]), false, true);
    });
    const all = parts.length === 1 ? parts[0] : tf.div(tf.concat(parts, 1), Math.sqrt(regions.length));
    return tf.reshape(all, [n, 1, 1, regions.length * k * d]) as tf.Tensor4D;
  });
}
