/**
 * VLAD (Jégou et al. 2010), exactly as VLFeat's vl_vlad_encode computes it: for each centre k, the
 * assignment-weighted sum of the descriptors minus the mass times the centre,
 *   v_k = Σ_i q_ik x_i - (Σ_i q_ik) c_k           (or, with normalizeMass, that divided by the mass),
 * then per component the signed square root (squareRoot) and L2 normalisation (normalizeComponents), and
 * unless `unnormalized` the whole vector L2-normalised. Assignments are hard (each descriptor's nearest centre)
 * or given (soft, `[N,K]`, as NetVLAD's softmax makes them). Layout: K blocks of D.
 *
 * In CNN terms: the assignments are a 1x1 convolution (the nearest centre is an argmax of 2c·x - |c|², as in
 * BoW coding) or its softmax; Σ q x and Σ q are sum pooling of the assignment-weighted descriptors and of the
 * assignments.
 */
import * as tf from '@tensorflow/tfjs';
import { rows } from '../learn/gmm.js';
import { normalise } from './fisher.js';

export interface VladOptions {
  /** `[N,K]` soft assignments (a Tensor2D or a Float32Array); default: each descriptor to its nearest centre */
  assignments?: tf.Tensor2D | Float32Array;
  normalizeComponents?: boolean;
  squareRoot?: boolean;
  normalizeMass?: boolean;
  /** no final L2 normalisation */
  unnormalized?: boolean;
}

/** Each descriptor's nearest centre (squared Euclidean distance), as one-hot assignments `[N,K]`. */
export function hardAssignments(data: Float32Array, n: number, d: number, centres: Float32Array, k: number): Float32Array {
  const a = new Float32Array(n * k);
  if (n === 0) return a;
  const idx = tf.tidy(() => {
    const X = tf.tensor2d(data, [n, d]);
    const C = tf.tensor2d(centres, [k, d]);
    return tf.argMin(tf.sub(tf.sum(tf.square(C), 1), tf.mul(2, tf.matMul(X, C, false, true))), 1);
  });
  const v = idx.dataSync();
  idx.dispose();
  for (let i = 0; i < n; i++) a[i * k + v[i]] = 1;
  return a;
}

/**
 * The VLAD vector `[K·D]` of descriptors x `[N,D]` against centres `[K,D]` (tensors or Float32Arrays):
 * exactly VLFeat's vl_vlad_encode with the same flags.
 */
export async function vladEncode(
  x: tf.Tensor2D | Float32Array,
  centres: tf.Tensor2D | Float32Array,
  opts: VladOptions & { dimension?: number } = {},
): Promise<Float32Array> {
  const D = x instanceof Float32Array ? (centres instanceof Float32Array ? opts.dimension : centres.shape[1]) : x.shape[1];
  if (!D) throw new RangeError('vladEncode: descriptors and centres both as Float32Arrays: give `dimension`');
  const cd = centres instanceof Float32Array ? centres : ((await centres.data()) as Float32Array);
  if (cd.length % D !== 0)
    throw new RangeError(`vladEncode: ${cd.length} centre values are not a whole number of ${D}-dimensional centres`);
  const K = cd.length / D;
  const { data, n } = await rows(x, D);
  const q = opts.assignments
    ? opts.assignments instanceof Float32Array
      ? opts.assignments
      : ((await opts.assignments.data()) as Float32Array)
    : hardAssignments(data, n, D, cd, K);
  if (q.length !== n * K) throw new RangeError(`vladEncode: ${q.length} assignments for ${n} descriptors and ${K} centres`);
  const enc = new Float32Array(K * D);
  const acc = new Float64Array(D);
  for (let c = 0; c < K; c++) {
    acc.fill(0);
    let mass = 0;
    for (let i = 0; i < n; i++) {
      const w = q[i * K + c];
      if (w > 0) {
        mass += w;
        for (let j = 0; j < D; j++) acc[j] += w * data[i * D + j];
      }
    }
    const block = enc.subarray(c * D, (c + 1) * D);
    if (mass > 0) for (let j = 0; j < D; j++) block[j] = opts.normalizeMass ? acc[j] / mass - cd[c * D + j] : acc[j] - mass * cd[c * D + j];
    normalise(block, { squareRoot: opts.squareRoot, l2: opts.normalizeComponents });
  }
  return normalise(enc, { l2: !opts.unnormalized });
}
