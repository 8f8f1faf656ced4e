/**
 * Fisher vectors of descriptor maps as tensor operations (browser-safe: the fisher stage and the BowFisher layer
 * of bowcnn/layers both run this): the E-step's 1x1 convolution over [x, x²] and softmax, sum pooling of q, qx and
 * qx² over each pyramid region, the closed-form gradients, and VLFeat's 'improved' normalisation.
 */
import * as tf from '@tensorflow/tfjs';
import { l2Normalize, signedSqrt } from './normalize.js';
import { regionBounds } from '../stages/pooling.js';
import type { Region } from '../stages/stage.js';

/** The GMM's tensors a Fisher encoding needs: the E-step's affine map over [x, x²], means, 1/σ and the prior factors. */
export interface FisherWeights {
  affine: tf.Tensor2D; // [2D, K]
  bias: tf.Tensor1D; // [K]
  means: tf.Tensor2D; // [K, D]
  invSigma: tf.Tensor2D; // [K, D] 1/σ
  priors: tf.Tensor1D; // [K]
}

/**
 * The E-step's affine map over [x, x²] and the closed form's factors, from a GMM's tensors (the stage's and its
 * layer's computation; call inside a tidy, or keep and dispose them).
 */
export function fisherWeights(means: tf.Tensor2D, variances: tf.Tensor2D, priors: tf.Tensor1D): FisherWeights {
  return tf.tidy(() => {
    const d = means.shape[1];
    const lam = tf.reciprocal(variances); // [K, D]
    const affine = tf.concat([tf.transpose(tf.mul(means, lam)), tf.transpose(tf.mul(lam, -0.5))], 0) as tf.Tensor2D;
    // a component whose prior is (nearly) zero takes no descriptor, as in VLFeat
    const logPrior = tf.where(tf.less(priors, 1e-6), tf.fill(priors.shape, -1e30), tf.log(tf.maximum(priors, 1e-30)));
    const bias = tf.sub(
      tf.sub(logPrior, tf.mul(0.5, tf.sum(tf.add(tf.log(variances), tf.mul(tf.square(means), lam)), 1))),
      (d / 2) * Math.log(2 * Math.PI),
    ) as tf.Tensor1D;
    return { affine, bias, means: means.clone(), invSigma: tf.sqrt(lam) as tf.Tensor2D, priors: priors.clone() };
  });
}

/** The pyramid's regions of an h x w map, level by level, row-major: [r0, r1, c0, c1], ends exclusive. */
export function pyramidRegions(h: number, w: number, pyramid: readonly number[]): Region[] {
  const out: Region[] = [];
  for (const L of pyramid) for (const [r0, r1] of regionBounds(h, L)) for (const [c0, c1] of regionBounds(w, L)) out.push([r0, r1, c0, c1]);
  return out;
}

/** Signed square root then L2 along the last axis (inside a tidy). */
function improve(v: tf.Tensor): tf.Tensor {
  return l2Normalize(signedSqrt(v));
}

/**
 * The Fisher vectors of `[N,H,W,D]` maps over the pyramid's regions: `[N,1,1,R·2KD]` (inside a tidy or disposed by
 * the caller). The computation of the stage and of its layer (BowFisher).
 */
export function fisherMaps(x: tf.Tensor4D, wts: FisherWeights, pyramid: readonly number[], improved: boolean): tf.Tensor4D {
  return tf.tidy(() => {
    const [n, h, w, d] = x.shape;
    const k = wts.priors.shape[0];
    const parts: tf.Tensor[] = [];
    const regions = pyramidRegions(h, w, pyramid);
    for (const [r0, r1, c0, c1] of regions) {
      const p = (r1 - r0) * (c1 - c0);
      const xr = tf.reshape(tf.slice(x, [0, r0, c0, 0], [n, r1 - r0, c1 - c0, d]), [n, p, d]);
      const x2 = tf.square(xr);
      // the 1x1 conv over [x, x²] and the softmax across the K maps: the posteriors [n, p, K]
      const logits = tf.add(tf.reshape(tf.matMul(tf.reshape(tf.concat([xr, x2], 2), [n * p, 2 * d]), wts.affine), [n, p, k]), wts.bias);
      const q = tf.softmax(logits);
      // sum pooling of q, q x and q x² over the region
      const s0 = tf.expandDims(tf.sum(q, 1), 2); // [n, K, 1]
      const s1 = tf.matMul(q, xr, true, false); // [n, K, D]
      const s2 = tf.matMul(q, x2, true, false);
      const mu = wts.means,
        is = wts.invSigma;
      const u = tf.div(tf.mul(tf.sub(s1, tf.mul(mu, s0)), is), tf.reshape(tf.mul(p, tf.sqrt(wts.priors)), [1, k, 1]));
      const inner = tf.sub(tf.mul(tf.add(tf.sub(s2, tf.mul(tf.mul(mu, 2), s1)), tf.mul(tf.square(mu), s0)), tf.square(is)), s0);
      const v = tf.div(inner, tf.reshape(tf.mul(p, tf.sqrt(tf.mul(wts.priors, 2))), [1, k, 1]));
      let fv = tf.concat([tf.reshape(u, [n, k * d]), tf.reshape(v, [n, k * d])], 1);
      if (improved) fv = improve(fv);
      parts.push(fv);
    }
    const all = parts.length === 1 ? parts[0] : tf.div(tf.concat(parts, 1), Math.sqrt(regions.length));
    return tf.reshape(all, [n, 1, 1, regions.length * 2 * k * d]) as tf.Tensor4D;
  });
}
