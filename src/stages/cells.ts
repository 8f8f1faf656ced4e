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
 * Maps are padded by continuity (VLFeat's VL_PAD_BY_CONTINUITY) or with zeros (`padding`), then the
 * depthwise conv runs 'valid', so output and input have the same size.
 */
import * as tf from '@tensorflow/tfjs';
import type { LayerCard } from '../pipeline/card.js';
import { pad2d, type Padding } from './pad.js';
import { check4d, type Maps, type Stage } from './stage.js';

export type CellWindow = 'box' | 'triangle';
export interface CellsConfig { size?: number; window?: CellWindow; padding?: Padding }

/** The 1-D window and the padding before/after it, for a cell size and window type. */
export function cellWindow1d(size: number, window: CellWindow): { w: number[]; before: number; after: number } {
  if (window === 'box') return { w: new Array(size).fill(1), before: Math.ceil(size / 2) - 1, after: Math.floor(size / 2) };
  const w = Array.from({ length: 2 * size - 1 }, (_, i) => 1 - Math.abs(i - (size - 1)) / size);
  return { w, before: size - 1, after: size - 1 };
}

export function cells(cfg: CellsConfig = {}): Stage {
  const config = { size: cfg.size ?? 4, window: cfg.window ?? 'box', padding: cfg.padding ?? 'replicate' };
  if (!Number.isInteger(config.size) || config.size < 1) throw new Error(`stage 'cells': size must be a positive integer, got ${config.size}`);
  const { w, before, after } = cellWindow1d(config.size, config.window);
  const k = w.length;
  let filter: tf.Tensor4D | null = null;   // [k,k,C,1] depthwise, built for the channel count seen
  return {
    name: 'cells',
    config,
    apply(x: Maps): Maps {
      check4d('cells', x);
      const c = x.shape[3];
      if (!filter || filter.shape[2] !== c) {
        filter?.dispose();
        const f = new Float32Array(k * k * c);
        for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) for (let ch = 0; ch < c; ch++) f[(i * k + j) * c + ch] = w[i] * w[j];
        filter = tf.keep(tf.tensor4d(f, [k, k, c, 1]));
      }
      const fl = filter;
      return tf.tidy(() => tf.depthwiseConv2d(pad2d(x, before, after, before, after, config.padding), fl, 1, 'valid'));
    },
    outShape: (s) => [s[0], s[1], s[2]],
    card(s): LayerCard {
      const c = s[2] ?? 8;
      return {
        stage: 'cells',
        classic: `SIFT cells: histograms over ${config.size}x${config.size} px${config.window === 'triangle' ? ', bilinear spatial binning' : ''}`,
        cnn: `local sum pooling ${k}x${k} /1 (depthwise conv, ${config.window} window)`,
        kernel: [k, k], stride: 1, dilation: 1, mapsIn: c, mapsOut: c, params: k * k * c, origin: 'handcrafted',
        receptiveField: k, outShape: [s[0], s[1], c], connections: s[0] * s[1] * c * k * k,
      };
    },
  };
}
