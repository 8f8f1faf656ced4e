/**
 * Stage 2b: the SIFT descriptor. It gathers the 4 x 4 neighbouring cells around each grid point into
 * 16 x 8 = 128 channels. That is a 4x4 convolution with identity weights, dilation = cell size and
 * stride = grid step:
 *
 *   W[by, bx, t, (by*4 + bx)*8 + t] = w(by) * w(bx)      (all other weights 0)
 *
 * with w = 1 (flat) or VLFeat's Gaussian bin weights (`window: 'gaussian'`): the mean, over the bin's
 * 2s-1 pixels, of a Gaussian of sigma = windowSize * s centred on the descriptor
 * (`_vl_dsift_get_bin_window_mean`; VLFeat's default windowSize is 2 bins).
 * The channel order (by, bx, t) is VLFeat's: t fastest, then x, then y.
 *
 * Geometry (VLFeat dsift.c, bounds = the whole image, 0-based pixel centres): with bin size s and step,
 *   frames along x:  numFramesX = floor((W - 1 - 3s) / step) + 1   (0 when W - 1 < 3s)
 *   frame i:         first bin centre x0 = i * step; bin centres x0 + bx * s, bx = 0..3;
 *                    frame centre x0 + 1.5 s;
 * and the same along y. The output map `[N, numFramesY, numFramesX, 128]` lists frames in VLFeat's order
 * (y outer, x inner) when read row-major.
 *
 * Normalisation (`norm`):
 *   'sift'      L2, clip at 0.2, L2 again (each L2 divides by norm + 1.19e-7, VLFeat's epsilon);
 *   'rootsift'  L1, then element-wise square root (Arandjelovic & Zisserman 2012);
 *   'l2'        L2 only;  'none'.
 * `contrastThreshold` (VLFeat/vl_phow): a descriptor whose mass, the sum of its unnormalised entries
 * divided by frameSize^2 with frameSize = 3s + 1, is below the threshold becomes 0.
 */
import * as tf from '@tensorflow/tfjs';
import type { LayerCard } from '../core/card.js';
import { DescriptorSchema } from '../config/stages.js';
import { check4d, defineStage, lastSiftPart, StageError, type Maps, type SiftStage } from './stage.js';

export type { DescriptorConfig } from '../config/stages.js';

export type DescriptorNorm = 'sift' | 'rootsift' | 'l2' | 'none';
const EPS = 1.1920929e-7;

/** VLFeat's `_vl_dsift_get_bin_window_mean`. */
export function binWindowMean(binSize: number, numBins: number, binIndex: number, windowSize: number): number {
  const delta = binSize * (binIndex - 0.5 * (numBins - 1));
  const sigma = binSize * windowSize;
  let acc = 0;
  for (let x = -binSize + 1; x <= binSize - 1; x++) {
    const z = (x - delta) / sigma;
    acc += Math.exp(-0.5 * z * z);
  }
  return acc / (2 * binSize - 1);
}

export interface FrameGeometry {
  framesY: number;
  framesX: number;
  centresY: number[];
  centresX: number[];
  frameSize: number;
}

export function frameGeometry(height: number, width: number, cellSize: number, step: number, bins = 4): FrameGeometry {
  const span = (bins - 1) * cellSize;
  const nx = width - 1 - span >= 0 ? Math.floor((width - 1 - span) / step) + 1 : 0;
  const ny = height - 1 - span >= 0 ? Math.floor((height - 1 - span) / step) + 1 : 0;
  return {
    framesY: ny,
    framesX: nx,
    frameSize: span + 1,
    centresY: Array.from({ length: ny }, (_, i) => i * step + span / 2),
    centresX: Array.from({ length: nx }, (_, i) => i * step + span / 2),
  };
}

/** The identity-gather weights `[bins,bins,T,bins*bins*T]`. */
export function gatherWeights(bins: number, T: number, binWeight: (b: number) => number): tf.Tensor4D {
  const D = bins * bins * T;
  const w = new Float32Array(bins * bins * T * D);
  for (let by = 0; by < bins; by++)
    for (let bx = 0; bx < bins; bx++)
      for (let t = 0; t < T; t++) {
        w[((by * bins + bx) * T + t) * D + (by * bins + bx) * T + t] = binWeight(by) * binWeight(bx);
      }
  return tf.tensor4d(w, [bins, bins, T, D]);
}

export function normalize(d: tf.Tensor4D, norm: DescriptorNorm): tf.Tensor4D {
  return tf.tidy(() => {
    const l2 = (x: tf.Tensor4D) => tf.div(x, tf.add(tf.sqrt(tf.sum(tf.square(x), 3, true)), EPS)) as tf.Tensor4D;
    if (norm === 'none') return d.clone();
    if (norm === 'l2') return l2(d);
    if (norm === 'rootsift') return tf.sqrt(tf.div(d, tf.add(tf.sum(tf.abs(d), 3, true), EPS))) as tf.Tensor4D;
    return l2(tf.clipByValue(l2(d), 0, 0.2) as tf.Tensor4D); // entries are >= 0
  });
}

export const descriptor = defineStage<typeof DescriptorSchema, SiftStage>('descriptor', DescriptorSchema, (config, name) => {
  const { cellSize: s, step, bins } = config;
  let weights: tf.Tensor4D | null = null;
  let binWeights: tf.Tensor1D | null = null;
  const frameSize = (bins - 1) * s + 1;
  const binWeight = config.window === 'gaussian' ? (b: number) => binWindowMean(s, bins, b, config.windowSize) : () => 1;
  const geometryOk = (h: number, w: number) => {
    const g = frameGeometry(h, w, s, step, bins);
    if (g.framesX === 0 || g.framesY === 0) {
      throw new StageError(
        name,
        `a ${h}x${w} map holds no ${frameSize}x${frameSize} frame (cell size ${s}, ${bins}x${bins} cells): use larger images or a smaller cell size`,
      );
    }
    return g;
  };
  return {
    // the cell size is the cells stage's: stated in both configs, checked here where the frames use it
    checkUpstream(upstream) {
      const cells = lastSiftPart(upstream, 'cells');
      const size = cells?.config.size;
      if (cells === undefined || size === s) return null;
      return `the descriptor's cellSize (${s}) must equal the cells stage's size (${size}): set both (e.g. --set ${cells.name}.size=N --set ${name}.cellSize=N)`;
    },
    siftPart: () => ({
      part: 'descriptor' as const,
      cellSize: s,
      step,
      bins,
      binWeights: () => (binWeights ??= tf.keep(tf.tensor1d(Array.from({ length: bins }, (_, b) => binWeight(b))))),
      norm: config.norm,
      contrastThreshold: config.contrastThreshold,
      frames: (h: number, w: number) => geometryOk(h, w),
    }),
    apply(x: Maps): Maps {
      check4d(name, x);
      const T = x.shape[3];
      if (!weights || weights.shape[2] !== T) {
        weights?.dispose();
        weights = tf.keep(gatherWeights(bins, T, binWeight));
      }
      geometryOk(x.shape[1], x.shape[2]);
      const W = weights;
      return tf.tidy(() => {
        const raw = gatherConv(x, W, step, s); // [N,H',W',128]
        let out = normalize(raw, config.norm);
        if (config.contrastThreshold > 0) {
          const mass = tf.div(tf.sum(raw, 3, true), frameSize * frameSize);
          out = tf.mul(out, tf.cast(tf.greaterEqual(mass, config.contrastThreshold), 'float32')) as tf.Tensor4D;
        }
        return out;
      });
    },
    outShape(sh) {
      const g = frameGeometry(sh[0], sh[1], s, step, bins);
      return [g.framesY, g.framesX, bins * bins * (sh[2] ?? 8)];
    },
    card(sh): LayerCard {
      const T = sh[2] ?? 8;
      const g = frameGeometry(sh[0], sh[1], s, step, bins);
      const D = bins * bins * T;
      return {
        stage: name,
        classic: `SIFT descriptor ${bins}x${bins}x${T} = ${D}, ${config.norm} normalisation`,
        cnn: `conv ${bins}x${bins} dilation ${s} /${step}, ${T}->${D}, identity weights${config.window === 'gaussian' ? ' x Gaussian' : ''}`,
        kernel: [bins, bins],
        stride: step,
        dilation: s,
        mapsIn: T,
        mapsOut: D,
        params: bins * bins * T * D,
        origin: 'handcrafted',
        receptiveField: frameSize,
        outShape: [g.framesY, g.framesX, D],
        connections: g.framesY * g.framesX * D * bins * bins * T,
      };
    },
    // the gather (stride and dilation together, which tf.layers.conv2d refuses), then SIFT normalisation
    toLayers: (sh) => {
      geometryOk(sh[0], sh[1]);
      const T = sh[2] ?? 8;
      return [
        {
          className: 'BowGatherConv',
          config: { k: bins, filters: bins * bins * T, stride: step, dilation: s, name },
          weights: [gatherWeights(bins, T, binWeight)],
        },
        {
          className: 'BowSiftNorm',
          config: { norm: config.norm, contrastThreshold: config.contrastThreshold, frameSize, name: `${name}_norm` },
        },
      ];
    },
    dispose: () => {
      weights?.dispose();
      binWeights?.dispose();
      weights = binWeights = null;
    },
  };
});

/**
 * The descriptor's gather: conv with stride `step` and dilation `s` together. tf.conv2d refuses the
 * pair, the Conv2D kernel (wasm, cpu, webgpu) does not.
 */
export function gatherConv(x: Maps, filter: tf.Tensor4D, step: number, s: number): tf.Tensor4D {
  return tf.engine().runKernel(
    'Conv2D',
    { x, filter } as unknown as tf.NamedTensorMap,
    {
      strides: [step, step],
      pad: 'valid',
      dataFormat: 'NHWC',
      dilations: [s, s],
      dimRoundingMode: undefined,
    } as unknown as tf.NamedAttrMap,
  ) as tf.Tensor4D;
}
