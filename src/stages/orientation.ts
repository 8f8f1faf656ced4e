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
 *
 * HOG's binning (Dalal and Triggs; OpenCV's HOGDescriptor) is the bilinear one over `bins` = 9 unsigned
 * bins (`signed: false`: phi and phi + pi in one bin, t = (phi mod pi) * 9 / pi) with the bin centres moved
 * by half a bin (`offset: 'half'`: t - 1/2, so bin 0 is centred at 10 degrees). With other than 8 signed
 * bins centred on the filters' directions, WTA is the bilinear binning rounded (the nearest bin).
 */
import * as tf from '@tensorflow/tfjs';
import type { LayerCard } from '../core/card.js';
import { OrientationSchema } from '../config/stages.js';
import { check4d, defineStage, lastSiftPart, type Maps, type SiftStage } from './stage.js';

export type { OrientationConfig } from '../config/stages.js';
export type OrientationMode = 'wta' | 'bilinear';

/** `[T,1]` column selecting response k. */
function pick(k: number, T = 8): tf.Tensor2D {
  const v = new Float32Array(T);
  v[k] = 1;
  return tf.tensor2d(v, [T, 1]);
}

export interface Binning {
  bins: number;
  signed: boolean;
  offset: 'none' | 'half';
}

export const SIFT_BINNING: Binning = { bins: 8, signed: true, offset: 'none' };

const isSiftBinning = (b: Binning) => b.bins === 8 && b.signed && b.offset === 'none';

/**
 * The orientation maps `[N,H,W,bins]` of the 8 oriented responses `[N,H,W,8]` (the stage's computation, also
 * BowStage's).
 */
export function orientationMaps(d: Maps, mode: OrientationMode, binning: Binning = SIFT_BINNING): Maps {
  const T = 8;
  const B = binning.bins;
  check4d('orientation', d, T);
  return tf.tidy(() => {
    const [n, h, w] = d.shape;
    if (mode === 'wta' && isSiftBinning(binning)) {
      // sum_k cos^2(phi - theta_k) = T/2 for T equally spaced directions, so |g|^2 = (2/T) sum_k d_k^2
      const mag = tf.sqrt(tf.mul(tf.sum(tf.square(d), 3, true), 2 / T)); // [N,H,W,1]
      return tf.mul(tf.oneHot(tf.argMax(d, 3), T), mag) as tf.Tensor4D;
    }
    // |g| and (gx, gy) without slicing the channel axis (slow on wasm): a [8,1] column picks d_0, another d_2
    const flat = tf.reshape(d, [n * h * w, T]);
    const gx = tf.matMul(flat, pick(0)),
      gy = tf.matMul(flat, pick(2)); // [M,1]
    const mag = tf.sqrt(tf.add(tf.square(gx), tf.square(gy)));
    const phi = tf.atan2(gy, gx); // (-pi, pi]
    const range = binning.signed ? 2 * Math.PI : Math.PI;
    const shifted = tf.sub(tf.mul(phi, B / range), binning.offset === 'half' ? 0.5 : 0);
    const t = tf.mod(shifted, B); // [0, B)
    const bins = tf.scalar(B, 'int32');
    if (mode === 'wta') {
      const nearest = tf.mod(tf.cast(tf.round(t), 'int32'), bins).reshape([n * h * w]);
      return tf.mul(tf.oneHot(nearest, B), mag).reshape([n, h, w, B]) as tf.Tensor4D;
    }
    const b = tf.floor(t);
    const r = tf.sub(t, b);
    const bi = tf.mod(tf.cast(b, 'int32'), bins).reshape([n * h * w]); // float rounding can give t = B
    const b1 = tf.mod(tf.add(bi, tf.scalar(1, 'int32')), bins);
    return tf
      .add(tf.mul(tf.oneHot(bi, B), tf.mul(tf.sub(1, r), mag)), tf.mul(tf.oneHot(b1, B), tf.mul(r, mag)))
      .reshape([n, h, w, B]) as tf.Tensor4D;
  });
}

export const orientation = defineStage<typeof OrientationSchema, SiftStage>(
  'orientation',
  OrientationSchema,
  (config, name) => {
    const T = 8;
    const B = config.bins;
    const binning: Binning = { bins: B, signed: config.signed, offset: config.offset };
    const hog = config.offset === 'half';
    const over = config.signed ? '' : ', unsigned';
    return {
      // it bins the 8 oriented responses of a gradient stage
      checkUpstream(upstream) {
        const g = lastSiftPart(upstream, 'gradient');
        if (!g || g.config.orientations === T) return null;
        return `stage '${name}' bins ${T} orientations; stage '${g.name}' has orientations = ${g.config.orientations}`;
      },
      siftPart: () => ({ part: 'orientation' as const, mode: config.mode, ...binning }),
      apply: (d: Maps): Maps => orientationMaps(d, config.mode, binning),
      outShape: (s) => [s[0], s[1], B],
      card(s): LayerCard {
        return {
          stage: name,
          classic:
            config.mode === 'wta'
              ? `orientation binning, nearest of ${B} bins${over}`
              : `orientation binning, bilinear over ${B} bins${over} (${hog ? 'HOG' : 'SIFT'})`,
          cnn:
            config.mode === 'wta' && isSiftBinning(binning)
              ? 'winner-take-all across 8 maps (x |g|)'
              : `${config.mode === 'wta' ? 'nearest-bin' : 'bilinear'} assignment of the gradient angle to ${B} maps (x |g|)`,
          mapsIn: T,
          mapsOut: B,
          params: 0,
          origin: 'handcrafted',
          receptiveField: 1,
          outShape: [s[0], s[1], B],
          connections: s[0] * s[1] * B,
        };
      },
      toLayers: () => [{ className: 'BowStage', config: { stage: 'orientation', stageConfig: { ...config }, name } }],
      ablations: () => [
        config.mode === 'wta'
          ? { change: 'WTA -> bilinear orientations', overrides: { mode: 'bilinear' } }
          : { change: 'bilinear -> WTA orientations', overrides: { mode: 'wta' } },
      ],
    };
  },
  { parameterFree: true },
);
