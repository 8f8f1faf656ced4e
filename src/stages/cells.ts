/**
 * Stage 2a: local sum pooling of each orientation map over cells of `size` x `size` pixels, computed
 * densely (stride 1), as a depthwise convolution with a fixed window.
 *
 *   'box'       the course's form: a plain sum over the size x size cell. Output pixel x sums input
 *               pixels x - ceil(size/2) + 1 ... x + floor(size/2) (for size 4: x-1 ... x+2), the same
 *               rows for y.
 *   'triangle'  SIFT's bilinear spatial binning (VLFeat's flat window): weight (1 - |u|/size) for
 *               |u| < size in each axis, a (2 size - 1)^2 window centred on the pixel. Each pixel is then
 *               shared between the 2 x 2 nearest cell centres in proportion to its distance, as SIFT does.
 *
 * Maps are padded with zeros (the CNN default) or by continuity (VLFeat's VL_PAD_BY_CONTINUITY,
 * `padding: 'replicate'`), then the window runs 'valid', so output and input have the same size.
 *
 * Computation: the window is a depthwise conv with weights w(u) w(v) (`filter()`), and that is how the
 * card describes it. It is evaluated as average pooling, which the wasm backend runs 3x faster than its
 * depthwise conv: box = s^2 * avgPool(s x s, stride 1); triangle = box * box / s per axis
 * = s^2 * avgPool(avgPool(.)). Tests check both forms against a plain loop.
 */
import * as tf from '@tensorflow/tfjs';
import type { LayerCard } from '../core/card.js';
import { CellsSchema } from '../config/stages.js';
import { pad2d } from './pad.js';
import { check4d, defineStage, type Maps, type SiftStage } from './stage.js';

export type { CellsConfig } from '../config/stages.js';
export type CellWindow = 'box' | 'triangle';

/** The 1-D window and the padding before/after it, for a cell size and window type. */
export function cellWindow1d(size: number, window: CellWindow): { w: number[]; before: number; after: number } {
  if (window === 'box') return { w: new Array(size).fill(1), before: Math.ceil(size / 2) - 1, after: Math.floor(size / 2) };
  const w = Array.from({ length: 2 * size - 1 }, (_, i) => 1 - Math.abs(i - (size - 1)) / size);
  return { w, before: size - 1, after: size - 1 };
}

/** The window as depthwise conv weights `[k,k,C,1]` (what `apply` computes, for plots and export). */
export function cellFilter(size: number, window: CellWindow, channels: number): tf.Tensor4D {
  const { w } = cellWindow1d(size, window);
  const k = w.length;
  const f = new Float32Array(k * k * channels);
  for (let i = 0; i < k; i++)
    for (let j = 0; j < k; j++) for (let ch = 0; ch < channels; ch++) f[(i * k + j) * channels + ch] = w[i] * w[j];
  return tf.tensor4d(f, [k, k, channels, 1]);
}

export const cells = defineStage<typeof CellsSchema, SiftStage>('cells', CellsSchema, (config, name) => {
  const { w, before, after } = cellWindow1d(config.size, config.window);
  const k = w.length;
  const s = config.size;
  return {
    siftPart: () => ({ part: 'cells' as const, size: config.size, window: config.window, padding: config.padding }),
    apply(x: Maps): Maps {
      check4d(name, x);
      return tf.tidy(() => {
        const p = pad2d(x, before, after, before, after, config.padding);
        const once = tf.avgPool(p, s, 1, 'valid');
        return tf.mul(config.window === 'box' ? once : tf.avgPool(once, s, 1, 'valid'), s * s) as tf.Tensor4D;
      });
    },
    outShape: (sh) => [sh[0], sh[1], sh[2]],
    card(sh): LayerCard {
      const c = sh[2] ?? 8;
      return {
        stage: name,
        classic: `SIFT cells: histograms over ${config.size}x${config.size} px${config.window === 'triangle' ? ', bilinear spatial binning' : ''}`,
        cnn: `local sum pooling ${k}x${k} /1 (depthwise conv, ${config.window} window)`,
        kernel: [k, k],
        stride: 1,
        dilation: 1,
        mapsIn: c,
        mapsOut: c,
        params: k * k * c,
        origin: 'handcrafted',
        receptiveField: k,
        outShape: [sh[0], sh[1], c],
        connections: sh[0] * sh[1] * c * k * k,
      };
    },
    // padding, then the window as a depthwise convolution (what apply computes as average pooling)
    toLayers: (sh) => [
      { className: 'BowReplicatePad', config: { p: [before, after, before, after], mode: config.padding, name: `${name}_pad` } },
      {
        className: 'DepthwiseConv2D',
        config: { kernelSize: k, depthMultiplier: 1, padding: 'valid', useBias: false, name },
        weights: [cellFilter(config.size, config.window, sh[2] ?? 8)],
      },
    ],
  };
});
