/**
 * Stage 1a of the classic chain: the SIFT gradient as a bank of 8 oriented derivative filters, one conv.
 *
 * Filter k is the derivative along the direction theta_k = 2*pi*k/8, measured with x to the right and
 * y DOWN (image rows), as VLFeat does:
 *
 *   F_k = cos(theta_k) * Dx + sin(theta_k) * Dy,   Dx = [-1/2, 0, +1/2] along x (central difference),
 *
 * so response d_k = |g| cos(phi - theta_k) for a gradient g = (gx, gy) of angle phi = atan2(gy, gx);
 * d_0 = gx and d_2 = gy exactly. With `sigma > 0` the image is first smoothed by a sampled Gaussian,
 * folded into the same filters (F_k <- G_sigma * F_k), so the stage stays ONE conv with weights
 * `[k,k,C,8]` that a user can read and plot (`filterBank()`).
 *
 * VLFeat's `vl_phow` smooths with sigma = binSize / magnif, magnif = 6 (toolbox/sift/vl_phow.m, 0.9.21);
 * `phowSigma(binSize)` computes it.
 *
 * RGB input is converted to gray with ITU-R BT.601 weights (0.299, 0.587, 0.114), folded into the filter
 * bank too: the conv is `[k,k,3,8]`.
 *
 * Borders: the image is padded by continuity (edge pixels repeated) before a valid conv, so a flat image
 * border gives no false gradient. (VLFeat uses one-sided differences on the outermost pixels; this is
 * the one place the two gradients differ.)
 *
 * HOG's gradient (Dalal and Triggs, OpenCV's HOGDescriptor) is the same conv with `difference: 'full'`
 * (Dx = [-1, 0, 1], twice the filters) and `padding: 'reflect'` (BORDER_REFLECT_101).
 */
import * as tf from '@tensorflow/tfjs';
import { growField, type LayerCard } from '../core/card.js';
import { GradientSchema } from '../config/stages.js';
import { pad2d } from './pad.js';
import { check4d, defineStage, StageError, type Maps, type SiftStage } from './stage.js';

export type { GradientConfig } from '../config/stages.js';

export const GRAY_WEIGHTS = [0.299, 0.587, 0.114];

export function phowSigma(binSize: number, magnif = 6): number {
  return binSize / magnif;
}

function gaussian1d(sigma: number): number[] {
  if (sigma <= 0) return [1];
  const r = Math.ceil(3 * sigma);
  const g = Array.from({ length: 2 * r + 1 }, (_, i) => Math.exp(-0.5 * ((i - r) / sigma) ** 2));
  const s = g.reduce((a, b) => a + b, 0);
  return g.map((v) => v / s);
}

/** The filters as plain arrays: `kernel[k][y][x]`, size `n x n` with n = 3 + 2*ceil(3 sigma). */
export function orientedKernels(sigma = 0, orientations = 8, gain = 1): number[][][] {
  const g = gaussian1d(sigma);
  const r = (g.length - 1) / 2 + 1; // radius of the smoothed derivative
  const n = 2 * r + 1;
  // smoothed Dx: G (x) G, convolved along x with [-1/2, 0, 1/2]  (f * d)(x) = sum_t f(x - t) d(t)
  const gx: number[][] = Array.from({ length: n }, () => new Array(n).fill(0));
  const gy: number[][] = Array.from({ length: n }, () => new Array(n).fill(0));
  for (let i = 0; i < g.length; i++)
    for (let j = 0; j < g.length; j++) {
      const w = g[i] * g[j] * gain;
      // correlation form: response(x) = sum_u K(u) I(x + u); Dx responds I(x+1)/2 - I(x-1)/2
      gx[i + 1][j + 2] += 0.5 * w;
      gx[i + 1][j] -= 0.5 * w;
      gy[i + 2][j + 1] += 0.5 * w;
      gy[i][j + 1] -= 0.5 * w;
    }
  return Array.from({ length: orientations }, (_, k) => {
    const t = (2 * Math.PI * k) / orientations;
    const c = Math.cos(t),
      s = Math.sin(t);
    return gx.map((row, y) => row.map((v, x) => c * v + s * gy[y][x]));
  });
}

/** The conv weights `[n,n,C,8]` (correlation, as tf.conv2d computes), gray conversion folded in for C = 3. */
export function filterBank(sigma = 0, channels = 1, orientations = 8, gain = 1): tf.Tensor4D {
  const ks = orientedKernels(sigma, orientations, gain);
  const n = ks[0].length;
  const cw = channels === 3 ? GRAY_WEIGHTS : [1];
  const w = new Float32Array(n * n * channels * orientations);
  for (let y = 0; y < n; y++)
    for (let x = 0; x < n; x++)
      for (let c = 0; c < channels; c++)
        for (let k = 0; k < orientations; k++) {
          w[((y * n + x) * channels + c) * orientations + k] = ks[k][y][x] * cw[c];
        }
  return tf.tensor4d(w, [n, n, channels, orientations]);
}

export const gradient = defineStage<typeof GradientSchema, SiftStage>('gradient', GradientSchema, (config, name) => {
  const gain = config.difference === 'full' ? 2 : 1;
  const banks = new Map<number, tf.Tensor4D>();
  const bank = (c: number) => {
    let b = banks.get(c);
    if (!b) {
      b = tf.keep(filterBank(config.sigma, c, config.orientations, gain));
      banks.set(c, b);
    }
    return b;
  };
  const size = orientedKernels(config.sigma, config.orientations, gain)[0].length;
  const r = (size - 1) / 2;
  const channelsOk = (c: number) => {
    if (c !== 1 && c !== 3) throw new StageError(name, `expects 1 (gray) or 3 (RGB) channels, got ${c}`);
  };
  return {
    siftPart: () => ({
      part: 'gradient' as const,
      orientations: config.orientations,
      padding: config.padding,
      filters: (c: number) => {
        channelsOk(c);
        return bank(c);
      },
    }),
    apply(x: Maps): Maps {
      check4d(name, x);
      channelsOk(x.shape[3]);
      return tf.tidy(() => tf.conv2d(pad2d(x, r, r, r, r, config.padding), bank(x.shape[3]), 1, 'valid'));
    },
    outShape: (s) => [s[0], s[1], config.orientations],
    card(s): LayerCard {
      const c = s[2] ?? 1;
      return {
        stage: name,
        classic: `${config.difference === 'full' ? 'HOG' : 'SIFT'} gradient, ${config.orientations} orientations${config.sigma ? `, sigma ${config.sigma.toFixed(2)}` : ''}`,
        cnn: `conv ${size}x${size} ${c}->${config.orientations}${c === 3 ? ' (gray folded in)' : ''}`,
        kernel: [size, size],
        stride: 1,
        dilation: 1,
        mapsIn: c,
        mapsOut: config.orientations,
        params: size * size * c * config.orientations,
        origin: 'handcrafted',
        receptiveField: growField(1, 1, size, 1).r,
        outShape: [s[0], s[1], config.orientations],
        connections: s[0] * s[1] * config.orientations * size * size * c,
      };
    },
    // padding by continuity, then the filter bank as a plain convolution
    toLayers: (s) => {
      channelsOk(s[2] ?? 1);
      return [
        { className: 'BowReplicatePad', config: { p: [r, r, r, r], mode: config.padding, name: `${name}_pad` } },
        {
          className: 'Conv2D',
          config: { filters: config.orientations, kernelSize: size, padding: 'valid', useBias: false, name },
          weights: [filterBank(config.sigma, s[2] ?? 1, config.orientations, gain)],
        },
      ];
    },
    pictures: () => {
      const ks = orientedKernels(config.sigma, config.orientations, gain);
      const step = 360 / config.orientations;
      return [
        {
          kind: 'filters' as const,
          title: `the ${config.orientations} oriented gradient filters (layer 1, handcrafted)`,
          data: ks,
          labels: ks.map((_, k) => `${Math.round(k * step)}°`),
        },
      ];
    },
    dispose: () => {
      for (const b of banks.values()) b.dispose();
      banks.clear();
    },
  };
});
