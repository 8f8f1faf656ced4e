/**
 * PCA of local descriptors, as a 1x1 convolution D -> `dims` (VLFeat's recognition benchmark reduces SIFT to 64
 * dimensions before its Fisher vectors): fitted on a seeded sample of descriptors (`sample`) streamed through
 * the stages before it; y = (x - mean) W, W the leading eigenvectors of the covariance, each divided by the
 * square root of its eigenvalue (plus `epsilon`) when `whiten`. As a layer: Conv2D 1x1 with kernel W and bias
 * -mean W. The eigenvectors come from a cyclic Jacobi rotation of the D x D covariance (float64).
 */
import * as tf from '@tensorflow/tfjs';
import type { LayerCard } from '../core/card.js';
import { FitError } from '../core/errors.js';
import { rng } from '../core/random.js';
import { z } from '../config/schema.js';
import { check4d, defineStage, StageError, type Maps, type Stage } from './stage.js';

export const PcaSchema = z.strictObject({
  dims: z.number().int().min(1).default(64),
  whiten: z.boolean().default(false),
  epsilon: z.number().min(0).default(1e-5), // added to the eigenvalues when whitening
  sample: z.number().int().min(1).default(100_000), // descriptors the projection is fitted on
  seed: z.number().int().default(0),
});
export type PcaConfig = z.input<typeof PcaSchema>;

/** Eigenvalues (descending) and unit eigenvectors (columns of `[n,n]`, row-major) of a symmetric matrix, by cyclic Jacobi. */
export function symmetricEigen(a: Float64Array, n: number, sweeps = 30): { values: Float64Array; vectors: Float64Array } {
  const A = Float64Array.from(a);
  const V = new Float64Array(n * n);
  for (let i = 0; i < n; i++) V[i * n + i] = 1;
  for (let s = 0; s < sweeps; s++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += A[p * n + q] ** 2;
    if (off < 1e-22) break;
    for (let p = 0; p < n; p++)
      for (let q = p + 1; q < n; q++) {
        const apq = A[p * n + q];
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (A[q * n + q] - A[p * n + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1),
          sn = t * c;
        for (let k = 0; k < n; k++) {
          const akp = A[k * n + p],
            akq = A[k * n + q];
          A[k * n + p] = c * akp - sn * akq;
          A[k * n + q] = sn * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = A[p * n + k],
            aqk = A[q * n + k];
          A[p * n + k] = c * apk - sn * aqk;
          A[q * n + k] = sn * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = V[k * n + p],
            vkq = V[k * n + q];
          V[k * n + p] = c * vkp - sn * vkq;
          V[k * n + q] = sn * vkp + c * vkq;
        }
      }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => A[j * n + j] - A[i * n + i]);
  const values = Float64Array.from(order, (i) => A[i * n + i]);
  const vectors = new Float64Array(n * n);
  order.forEach((src, dst) => {
    for (let k = 0; k < n; k++) vectors[k * n + dst] = V[k * n + src];
  });
  return { values, vectors };
}

export interface PcaStage extends Stage {
  /** the projection `[D, dims]` and the bias `[dims]` (-mean W), or null before fit */
  projection(): { kernel: tf.Tensor2D; bias: tf.Tensor1D } | null;
  /** the eigenvalues of the kept directions, and their share of the variance */
  explained?: { values: number[]; share: number };
}

export const pca = defineStage<typeof PcaSchema, PcaStage>('pca', PcaSchema, (config, name) => {
  /** The dimensions kept of D coming in: config.dims, which cannot exceed D (a config error before any work). */
  const kept = (D: number | undefined): number => {
    if (D !== undefined && config.dims > D)
      throw new StageError(name, `dims ${config.dims} > the ${D} channels coming in: PCA keeps at most as many dimensions as it is given`);
    return config.dims;
  };
  let W: tf.Tensor2D | null = null; // [D, dims]
  let b: tf.Tensor1D | null = null; // [dims]
  const set = (kernel: tf.Tensor2D, bias: tf.Tensor1D) => {
    W?.dispose();
    b?.dispose();
    W = tf.keep(kernel.clone());
    b = tf.keep(bias.clone());
  };
  const stage: Omit<PcaStage, 'kind' | 'name' | 'config' | 'clone'> = {
    projection: () => (W && b ? { kernel: W, bias: b } : null),
    fitSample: () => config.sample,
    async fit(batches: AsyncIterable<Maps>) {
      // a seeded sample of `sample` descriptors (reservoir sampling over the stream)
      const rand = rng(config.seed);
      let D = 0,
        seen = 0;
      let keep: Float32Array | null = null;
      for await (const batch of batches) {
        check4d(name, batch);
        D = batch.shape[3];
        keep ??= new Float32Array(config.sample * D);
        const v = (await batch.data()) as Float32Array;
        batch.dispose();
        for (let i = 0; i < v.length / D; i++, seen++) {
          const slot = seen < config.sample ? seen : Math.floor(rand() * (seen + 1));
          if (slot < config.sample) keep.set(v.subarray(i * D, (i + 1) * D), slot * D);
        }
      }
      const n = Math.min(seen, config.sample);
      if (n < 2 || !keep) throw new FitError(`stage '${name}': ${n} descriptors: PCA needs at least 2`);
      if (config.dims > D) throw new FitError(`stage '${name}': dims ${config.dims} > the descriptors' ${D} dimensions`);
      const mean = new Float64Array(D);
      for (let i = 0; i < n; i++) for (let j = 0; j < D; j++) mean[j] += keep[i * D + j] / n;
      const cov = new Float64Array(D * D);
      const xi = new Float64Array(D);
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < D; j++) xi[j] = keep[i * D + j] - mean[j];
        for (let p = 0; p < D; p++) {
          const a = xi[p];
          if (a === 0) continue;
          for (let q = p; q < D; q++) cov[p * D + q] += a * xi[q];
        }
      }
      for (let p = 0; p < D; p++)
        for (let q = p; q < D; q++) {
          cov[p * D + q] /= n - 1;
          cov[q * D + p] = cov[p * D + q];
        }
      const { values, vectors } = symmetricEigen(cov, D);
      const k = config.dims;
      const w = new Float32Array(D * k);
      for (let j = 0; j < k; j++) {
        const s = config.whiten ? 1 / Math.sqrt(Math.max(0, values[j]) + config.epsilon) : 1;
        for (let p = 0; p < D; p++) w[p * k + j] = vectors[p * D + j] * s;
      }
      const bias = new Float32Array(k);
      for (let j = 0; j < k; j++) {
        let s = 0;
        for (let p = 0; p < D; p++) s += mean[p] * w[p * k + j];
        bias[j] = -s;
      }
      tf.tidy(() => set(tf.tensor2d(w, [D, k]), tf.tensor1d(bias)));
      const total = values.reduce((a, v) => a + Math.max(0, v), 0);
      stage.explained = {
        values: Array.from(values.subarray(0, k)),
        share: values.subarray(0, k).reduce((a, v) => a + Math.max(0, v), 0) / total,
      };
    },
    apply(x: Maps): Maps {
      check4d(name, x);
      if (!W || !b) throw new StageError(name, 'not fitted');
      const [n, h, w, d] = x.shape;
      if (d !== W.shape[0]) throw new StageError(name, `descriptors have ${d} channels, the projection ${W.shape[0]}`);
      const kernel = W,
        bias = b;
      return tf.tidy(() => tf.reshape(tf.add(tf.matMul(tf.reshape(x, [n * h * w, d]), kernel), bias), [n, h, w, config.dims]) as Maps);
    },
    outShape: (sh) => [sh[0], sh[1], kept(sh[2])],
    card(sh): LayerCard {
      kept(sh[2]);
      const D = sh[2] ?? 128;
      return {
        stage: name,
        classic: `PCA of the descriptors to ${config.dims} dimensions${config.whiten ? ', whitened' : ''}`,
        cnn: `conv 1x1 ${D}->${config.dims}`,
        kernel: [1, 1],
        stride: 1,
        dilation: 1,
        mapsIn: D,
        mapsOut: config.dims,
        params: D * config.dims + config.dims,
        origin: 'unsupervised',
        receptiveField: 1,
        outShape: [sh[0], sh[1], config.dims],
        connections: sh[0] * sh[1] * config.dims * (D + 1),
        identity: 'W = the leading eigenvectors of the covariance, b = -mean W',
      };
    },
    toLayers() {
      if (!W || !b) throw new StageError(name, 'not fitted: export a fitted pipeline');
      const [d, k] = W.shape;
      return [
        {
          className: 'Conv2D',
          config: { filters: k, kernelSize: 1, useBias: true, name },
          weights: [W.reshape([1, 1, d, k]), b.clone()],
        },
      ];
    },
    state: (): Record<string, tf.Tensor> => (W && b ? { kernel: W, bias: b } : {}),
    restore(s) {
      if (s.kernel && s.bias) set(s.kernel as tf.Tensor2D, s.bias as tf.Tensor1D);
    },
    dispose() {
      W?.dispose();
      b?.dispose();
      W = b = null;
    },
  };
  return stage;
});
