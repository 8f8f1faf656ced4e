/**
 * Explicit feature maps for additive kernels, so a linear SVM (the fully connected layer) acts as a
 * kernel SVM:
 *   'hellinger'  x -> sqrt(x): dot products give the Hellinger (Bhattacharyya) kernel sum_i sqrt(x_i y_i);
 *   'chi2'       Vedaldi & Zisserman's homogeneous kernel map (VLFeat's vl_homkermap) for the chi2 kernel
 *                k(x, y) = sum_i 2 x_i y_i / (x_i + y_i), whose signature is kappa(lambda) = sech(pi lambda):
 *                  psi_0(x)  = sqrt(x L kappa(0))
 *                  psi_2j-1(x) = sqrt(2 x L kappa(j L)) cos(j L log x),
 *                  psi_2j(x)   = sqrt(2 x L kappa(j L)) sin(j L log x),   j = 1..order
 *                with sampling step L = 2 pi / period and VLFeat's default period for chi2,
 *                5.86 sqrt(order) + 3.65. Each input dimension becomes 2 order + 1; psi(0) = 0.
 * Input and output are `[N,1,1,D]` (pooled histograms, entries >= 0).
 */
import * as tf from '@tensorflow/tfjs';
import { signedSqrt } from './pooling.js';
import type { LayerCard } from '../core/card.js';
import { KernelMapSchema } from '../config/stages.js';
import type { Csr } from '../core/sparse.js';
import { check4d, defineStage, type Maps, type RowMap } from './stage.js';

export type { KernelMapConfig } from '../config/stages.js';
type KernelMapSettings = { kind: 'hellinger' | 'chi2'; order: number; period?: number };

/** The feature map of `[N,1,1,D]` histograms (the stage's computation, also BowStage's). */
export function kernelMaps(x: Maps, config: KernelMapSettings): Maps {
  check4d('kernelmap', x);
  const period = config.period ?? 5.86 * Math.sqrt(config.order) + 3.65;
  return tf.tidy(() => (config.kind === 'hellinger' ? signedSqrt(tf.relu(x)) : chi2Map(x, config.order, period)) as tf.Tensor4D);
}

export function chi2Map(x: tf.Tensor, order: number, period: number): tf.Tensor {
  return tf.tidy(() => {
    const L = (2 * Math.PI) / period;
    const kappa = (l: number) => 1 / Math.cosh(Math.PI * l);
    const pos = tf.relu(x);
    const safe = tf.maximum(pos, 1e-30);
    const lg = tf.log(safe);
    const zero = tf.cast(tf.greater(pos, 0), 'float32');
    const parts: tf.Tensor[] = [tf.mul(tf.sqrt(tf.mul(pos, L * kappa(0))), zero)];
    for (let j = 1; j <= order; j++) {
      const amp = tf.mul(tf.sqrt(tf.mul(pos, 2 * L * kappa(j * L))), zero);
      const ang = tf.mul(lg, j * L);
      parts.push(tf.mul(amp, tf.cos(ang)), tf.mul(amp, tf.sin(ang)));
    }
    return tf.concat(parts, -1);
  });
}

/**
 * The same map on sparse rows (entries <= 0 map to 0 and are dropped). Output component c of input entry i
 * sits at c D + i, as in the dense concatenation, so each row's indices stay increasing.
 */
export function kernelMapRows(x: Csr, config: KernelMapSettings): Csr {
  const { n, d, indptr, indices, values } = x;
  const period = config.period ?? 5.86 * Math.sqrt(config.order) + 3.65;
  const parts = config.kind === 'chi2' ? 2 * config.order + 1 : 1;
  const L = (2 * Math.PI) / period;
  const amp = Array.from({ length: config.order + 1 }, (_, j) => (j === 0 ? L : 2 * L) / Math.cosh(Math.PI * j * L));
  let kept = 0;
  for (let t = 0; t < indptr[n]; t++) if (values[t] > 0) kept++;
  const outPtr = new Int32Array(n + 1),
    outIdx = new Int32Array(kept * parts),
    outVal = new Float32Array(kept * parts);
  let o = 0;
  for (let r = 0; r < n; r++) {
    const a = indptr[r],
      e = indptr[r + 1];
    for (let c = 0; c < parts; c++) {
      const j = (c + 1) >> 1;
      for (let t = a; t < e; t++) {
        const v = values[t];
        if (!(v > 0)) continue;
        outIdx[o] = c * d + indices[t];
        if (config.kind === 'hellinger') outVal[o++] = Math.sqrt(v);
        else {
          const m = Math.sqrt(v * amp[j]);
          outVal[o++] = c === 0 ? m : c % 2 === 1 ? m * Math.cos(j * L * Math.log(v)) : m * Math.sin(j * L * Math.log(v));
        }
      }
    }
    outPtr[r + 1] = o;
  }
  return { n, d: d * parts, indptr: outPtr, indices: outIdx, values: outVal };
}

export const kernelmap = defineStage<typeof KernelMapSchema, RowMap>(
  'kernelmap',
  KernelMapSchema,
  (config, name) => {
    const factor = config.kind === 'chi2' ? 2 * config.order + 1 : 1;
    return {
      apply: (x: Maps): Maps => kernelMaps(x, config),
      applyRows: (x: Csr): Csr => kernelMapRows(x, config),
      outShape: (s) => [s[0], s[1], (s[2] ?? 0) * factor],
      card(s): LayerCard {
        const d = s[2] ?? 0;
        return {
          stage: name,
          classic: config.kind === 'chi2' ? `chi2 kernel (homogeneous map, order ${config.order})` : 'Hellinger kernel',
          cnn: config.kind === 'chi2' ? `element-wise feature map ${d}->${d * factor}` : 'element-wise sqrt',
          mapsIn: d,
          mapsOut: d * factor,
          params: 0,
          origin: 'handcrafted',
          receptiveField: 1,
          outShape: [s[0], s[1], d * factor],
        };
      },
      toLayers: () => [{ className: 'BowStage', config: { stage: 'kernelmap', stageConfig: { ...config }, name } }],
    };
  },
  { parameterFree: true },
);
