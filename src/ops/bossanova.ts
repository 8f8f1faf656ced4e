/**
 * BossaNova (Avila, Thome, Cord, Valle, Araújo, CVIU 2013) of descriptor maps as tensor operations (browser-safe:
 * the bossanova stage and the BowBossaNova layer both run this). For each visual word c_m, a histogram of the
 * distances d = |x - c_m| of the descriptors that count it among their `knn` nearest words, over B bins spanning
 * [λmin σ_m, λmax σ_m] (σ_m: the spread of the distances to word m of its own descriptors, learned with the
 * dictionary; a distance outside that range is not counted); then the BoW term (each word's share of the
 * descriptors it is nearest to), weighted by γ; per image
 *   z = [ z_1,1 ... z_M,B  (each bin's count / the image's descriptors),  γ t_1 ... γ t_M ],
 * its signed power |z|^0.5 and L2 normalisation. Per pyramid region, the regions side by side and divided by √R.
 * Where the paper leaves a choice, this is the one made (docs/stages.md): counts are divided by the region's
 * descriptors before the power normalisation, and the bins are equal in width.
 */
import * as tf from '@tensorflow/tfjs';
import { l2Normalize, signedSqrt } from './normalize.js';
import { pyramidRegions } from './fisher.js';

export interface BossaNovaSettings {
  bins: number;
  lambdaMin: number;
  lambdaMax: number;
  knn: number;
  gamma: number;
  pyramid: readonly number[];
}

/** BossaNova vectors of `[N,H,W,D]` maps: `[N,1,1,R·M·(B+1)]` (inside a tidy or disposed by the caller). */
export function bossanovaMaps(x: tf.Tensor4D, centres: tf.Tensor2D, sigmas: tf.Tensor1D, s: BossaNovaSettings): tf.Tensor4D {
  return tf.tidy(() => {
    const [n, h, w, d] = x.shape;
    const m = centres.shape[0];
    const B = s.bins;
    const regions = pyramidRegions(h, w, s.pyramid);
    const lo = tf.mul(sigmas, s.lambdaMin),
      hi = tf.mul(sigmas, s.lambdaMax);
    const width = tf.div(tf.sub(hi, lo), B);
    const parts = regions.map(([r0, r1, c0, c1]) => {
      const p = (r1 - r0) * (c1 - c0);
      const xr = tf.reshape(tf.slice(x, [0, r0, c0, 0], [n, r1 - r0, c1 - c0, d]), [n * p, d]);
      // squared distances to every word, by the 1x1 conv identity |x - c|² = |x|² - 2 c·x + |c|²
      const d2 = tf.maximum(
        tf.add(tf.sub(tf.sum(tf.square(xr), 1, true), tf.mul(tf.matMul(xr, centres, false, true), 2)), tf.sum(tf.square(centres), 1)),
        0,
      );
      const dist = tf.sqrt(d2); // [n·p, M]
      // each descriptor votes for its knn nearest words: the words whose distance is at most its knn-th smallest
      const kth = tf.slice(tf.topk(tf.neg(dist), Math.min(s.knn, m)).values, [0, Math.min(s.knn, m) - 1], [-1, 1]); // -(knn-th smallest)
      const near = tf.lessEqual(dist, tf.neg(kth));
      // the bin of each distance in [lo, hi): floor((d - lo) / width), counted where it falls inside
      const b = tf.floor(tf.div(tf.sub(dist, lo), width));
      const inside = tf.logicalAnd(near, tf.logicalAnd(tf.greaterEqual(b, 0), tf.less(b, B)));
      const oneHot = tf.mul(tf.oneHot(tf.cast(tf.clipByValue(b, 0, B - 1), 'int32'), B), tf.expandDims(tf.cast(inside, 'float32'), 2)); // [n·p, M, B]
      const z = tf.div(tf.sum(tf.reshape(oneHot, [n, p, m * B]), 1), p); // [n, M·B]
      // the BoW term: each word's share of the descriptors nearest to it
      const t = tf.div(tf.sum(tf.reshape(tf.oneHot(tf.argMin(dist, 1), m), [n, p, m]), 1), p);
      const v = tf.concat([z, tf.mul(t, s.gamma)], 1);
      return l2Normalize(signedSqrt(v));
    });
    const all = parts.length === 1 ? parts[0] : tf.div(tf.concat(parts, 1), Math.sqrt(regions.length));
    return tf.reshape(all, [n, 1, 1, regions.length * m * (B + 1)]) as tf.Tensor4D;
  });
}
