/**
 * Stage 1b: from the 8 oriented responses d_k = |g| cos(phi - theta_k) to 8 orientation maps.
 *
 *   'wta'       the course's form: winner-take-all across the 8 maps. At each pixel, the map k* with
 *               the strongest response receives the gradient magnitude |g|; the other 7 get 0.
 *   'bilinear'  SIFT's and VLFeat's form: with t = (phi mod 2pi) * 8 / (2pi), b = floor(t), r = t - b,
 *               map b receives (1 - r)|g| and map b+1 (mod 8) receives r|g|.
 *
 * How they relate: argmax_k cos(phi - theta_k) is the bin nearest to phi, i.e. round(t) mod 8. So WTA
 * is bilinear binning with the share r rounded to 0 or 1: both put all of |g| on the orientation axis,
 * WTA on the nearest bin only, bilinear split between the two nearest in proportion to angular
 * distance. Summed over the 8 maps both give |g| at every pixel. |g| and phi come from d_0 = gx and
 * d_2 = gy (theta_0 = 0, theta_2 = pi/2).
 */
import * as tf from '@tensorflow/tfjs';
import type { LayerCard } from '../core/card.js';
import { OrientationSchema } from '../config/stages.js';
import { check4d, defineStage, type Maps, type SiftStage } from './stage.js';

export type { OrientationConfig } from '../config/stages.js';
export type OrientationMode = 'wta' | 'bilinear';

/** `[T,1]` column selecting response k. */
function pick(k: number, T = 8): tf.Tensor2D {
  const v = new Float32Array(T);
  v[k] = 1;
  return tf.tensor2d(v, [T, 1]);
}

/** The 8 orientation maps of the 8 oriented responses `[N,H,W,8]` (the stage's computation, also BowStage's). */
export function orientationMaps(d: Maps, mode: OrientationMode): Maps {
  const T = 8;
  check4d('orientation', d, T);
  return tf.tidy(() => {
    const [n, h, w] = d.shape;
    // |g| and (gx, gy) without slicing the channel axis (slow on wasm): a [8,3] matrix maps each pixel's
    // 8 responses to (gx, gy, .): column 0 picks d_0, column 1 picks d_2.
    const flat = tf.reshape(d, [n * h * w, T]);
    if (mode === 'wta') {
      // sum_k cos^2(phi - theta_k) = T/2 for T equally spaced directions, so |g|^2 = (2/T) sum_k d_k^2
      const mag = tf.sqrt(tf.mul(tf.sum(tf.square(d), 3, true), 2 / T)); // [N,H,W,1]
      return tf.mul(tf.oneHot(tf.argMax(d, 3), T), mag) as tf.Tensor4D;
    }
    const gx = tf.matMul(flat, pick(0)),
      gy = tf.matMul(flat, pick(2)); // [M,1]
    const mag = tf.sqrt(tf.add(tf.square(gx), tf.square(gy)));
    const phi = tf.atan2(gy, gx); // (-pi, pi]
    const t = tf.mod(tf.mul(phi, T / (2 * Math.PI)), T); // [0, 8)
    const b = tf.floor(t);
    const r = tf.sub(t, b);
    const eight = tf.scalar(T, 'int32');
    const bi = tf.mod(tf.cast(b, 'int32'), eight).reshape([n * h * w]); // float rounding can give t = 8
    const b1 = tf.mod(tf.add(bi, tf.scalar(1, 'int32')), eight);
    return tf
      .add(tf.mul(tf.oneHot(bi, T), tf.mul(tf.sub(1, r), mag)), tf.mul(tf.oneHot(b1, T), tf.mul(r, mag)))
      .reshape([n, h, w, T]) as tf.Tensor4D;
  });
}

export const orientation = defineStage<typeof OrientationSchema, SiftStage>('orientation', OrientationSchema, (config, name) => {
  const T = 8;
  return {
    siftPart: () => ({ part: 'orientation' as const, mode: config.mode }),
    apply: (d: Maps): Maps => orientationMaps(d, config.mode),
    outShape: (s) => [s[0], s[1], T],
    card(s): LayerCard {
      return {
        stage: name,
        classic: config.mode === 'wta' ? 'orientation binning, nearest bin' : 'orientation binning, bilinear (SIFT)',
        cnn: config.mode === 'wta' ? 'winner-take-all across 8 maps (x |g|)' : 'bilinear soft assignment to 8 maps (x |g|)',
        mapsIn: T,
        mapsOut: T,
        params: 0,
        origin: 'handcrafted',
        receptiveField: 1,
        outShape: [s[0], s[1], T],
        connections: s[0] * s[1] * T,
      };
    },
    toLayers: () => [{ className: 'BowStage', config: { stage: 'orientation', stageConfig: { ...config }, name } }],
    ablations: () => [
      config.mode === 'wta'
        ? { change: 'WTA -> bilinear orientations', overrides: { mode: 'bilinear' } }
        : { change: 'bilinear -> WTA orientations', overrides: { mode: 'wta' } },
    ],
  };
});
