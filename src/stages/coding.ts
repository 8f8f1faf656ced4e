/**
 * Stage 3: BoW coding on M visual words, as a 1x1 convolution 128 -> M.
 *
 * Hard assignment is exactly a 1x1 conv followed by winner-take-all:
 *   argmin_k ||x - c_k||^2 = argmax_k (2 c_k . x - ||c_k||^2),   W_k = 2 c_k,  b_k = -||c_k||^2,
 * so the scores s_k = W_k . x + b_k = ||x||^2 - ||x - c_k||^2. Modes:
 *   'hard'      winner-take-all across the M maps (one-hot of the argmax);
 *   'soft'      softmax(beta * s) across the maps = the kernel codebook (van Gemert et al.) with
 *               weights proportional to exp(-beta ||x - c_k||^2) (||x||^2 cancels in the softmax);
 *   'triangle'  Coates, Lee & Ng 2011: with z_k = ||x - c_k||, f_k = max(0, mean_j z_j - z_k).
 * The dictionary is learned by k-means (learn/kmeans.ts) on descriptors sampled from a seeded subset
 * of the training images (`sample` descriptors in all).
 */
import * as tf from '@tensorflow/tfjs';
import { kmeans } from '../learn/kmeans.js';
import { rng } from '../data/split.js';
import type { LayerCard } from '../pipeline/card.js';
import { check4d, type Maps, type Stage } from './stage.js';

export type CodingMode = 'hard' | 'soft' | 'triangle';
export interface CodingConfig {
  words?: number; mode?: CodingMode; beta?: number; sample?: number; seed?: number; maxIter?: number; tol?: number;
}

export interface CodingStage extends Stage {
  /** Centres `[M,D]`, or null before fit. */
  centres(): tf.Tensor2D | null;
  /** The conv weights `[1,1,D,M]` (2c) and bias `[M]` (-||c||^2). */
  convWeights(): { kernel: tf.Tensor4D; bias: tf.Tensor1D } | null;
  setCentres(c: tf.Tensor2D): void;
  /** Hard assignment only: the index of the nearest word at each position, `[N,H,W]` int32. */
  indices(x: Maps): tf.Tensor3D;
  lastFit?: { seconds: number; secondsPerIter: number; iterations: number; inertia: number; descriptors: number };
}

export function coding(cfg: CodingConfig = {}): CodingStage {
  const config = { words: cfg.words ?? 256, mode: cfg.mode ?? 'hard', beta: cfg.beta ?? 10, sample: cfg.sample ?? 100_000,
    seed: cfg.seed ?? 0, maxIter: cfg.maxIter ?? 30, tol: cfg.tol ?? 1e-4 };
  let C: tf.Tensor2D | null = null;
  let kernel: tf.Tensor2D | null = null;   // [D,M] = 2 c^T
  let bias: tf.Tensor1D | null = null;     // [M]
  const stage: CodingStage = {
    name: 'coding',
    config,
    centres: () => C,
    // the dictionary does not depend on how it is used (hard / soft / triangle, beta)
    fitConfig: () => ({ words: config.words, sample: config.sample, seed: config.seed, maxIter: config.maxIter, tol: config.tol }),
    convWeights: () => (kernel && bias ? { kernel: kernel.reshape([1, 1, kernel.shape[0], kernel.shape[1]]) as tf.Tensor4D, bias: bias.clone() } : null),
    setCentres(c: tf.Tensor2D) {
      for (const t of [C, kernel, bias]) t?.dispose();
      C = tf.keep(c.clone());
      kernel = tf.keep(tf.tidy(() => tf.transpose(tf.mul(c, 2))) as tf.Tensor2D);
      bias = tf.keep(tf.tidy(() => tf.neg(tf.sum(tf.square(c), 1))) as tf.Tensor1D);
    },
    async fit(batches: AsyncIterable<Maps>) {
      const t0 = performance.now();
      // reservoir-free sampling: keep each descriptor with probability p, p from the first batch's size
      const rand = rng(config.seed);
      const kept: Float32Array[] = [];
      let D = 0, total = 0, have = 0;
      for await (const b of batches) {
        check4d('coding', b);
        D = b.shape[3];
        const v = (await b.data()) as Float32Array;
        const rows = v.length / D;
        total += rows;
        kept.push(v.slice());
        have += rows;
        b.dispose();
      }
      if (D === 0) throw new Error("stage 'coding': fit saw no descriptors");
      // seeded subsample of `sample` rows from everything seen
      const want = Math.min(config.sample, total);
      const all = new Float32Array(have * D);
      let o = 0;
      for (const k of kept) { all.set(k, o); o += k.length; }
      let data = all, n = have;
      if (want < have) {
        const idx = new Uint32Array(have);
        for (let i = 0; i < have; i++) idx[i] = i;
        for (let i = 0; i < want; i++) { const j = i + Math.floor(rand() * (have - i)); const t = idx[i]; idx[i] = idx[j]; idx[j] = t; }
        data = new Float32Array(want * D);
        for (let i = 0; i < want; i++) data.set(all.subarray(idx[i] * D, (idx[i] + 1) * D), i * D);
        n = want;
      }
      const r = await kmeans(data, n, D, { k: config.words, seed: config.seed, maxIter: config.maxIter, tol: config.tol });
      const c = tf.tensor2d(r.centres, [config.words, D]);
      stage.setCentres(c);
      c.dispose();
      stage.lastFit = { seconds: (performance.now() - t0) / 1000, secondsPerIter: r.secondsPerIter, iterations: r.iterations, inertia: r.inertia, descriptors: n };
    },
    indices(x: Maps): tf.Tensor3D {
      check4d('coding', x);
      if (!kernel || !bias) throw new Error("stage 'coding': not fitted (no dictionary)");
      const K = kernel, B = bias;
      return tf.tidy(() => {
        const [n, h, w, d] = x.shape;
        return tf.reshape(tf.argMax(tf.add(tf.matMul(tf.reshape(x, [n * h * w, d]), K), B), 1), [n, h, w]) as tf.Tensor3D;
      });
    },
    apply(x: Maps): Maps {
      check4d('coding', x);
      if (!kernel || !bias || !C) throw new Error("stage 'coding': not fitted (no dictionary)");
      const K = kernel, B = bias;
      const M = config.words;
      return tf.tidy(() => {
        const [n, h, w, d] = x.shape;
        if (d !== K.shape[0]) throw new Error(`stage 'coding': descriptors have ${d} channels, the dictionary ${K.shape[0]}`);
        const flat = tf.reshape(x, [n * h * w, d]);
        const s = tf.add(tf.matMul(flat, K), B);                      // the 1x1 conv: [P,M]
        let out: tf.Tensor;
        if (config.mode === 'hard') out = tf.cast(tf.oneHot(tf.argMax(s, 1), M), 'float32');
        else if (config.mode === 'soft') out = tf.softmax(tf.mul(s, config.beta));
        else {
          const z = tf.sqrt(tf.relu(tf.sub(tf.sum(tf.square(flat), 1, true), s)));   // ||x - c_k||
          out = tf.relu(tf.sub(tf.mean(z, 1, true), z));
        }
        return tf.reshape(out, [n, h, w, M]) as tf.Tensor4D;
      });
    },
    outShape: (sh) => [sh[0], sh[1], config.words],
    card(sh): LayerCard {
      const D = sh[2] ?? 128, M = config.words;
      const what = config.mode === 'hard' ? 'winner-take-all' : config.mode === 'soft' ? `softmax (beta ${config.beta})` : 'triangle activation';
      return {
        stage: 'coding', classic: `BoW coding on ${M} visual words (${config.mode})`, cnn: `conv 1x1 ${D}->${M} + ${what}`,
        kernel: [1, 1], stride: 1, dilation: 1, mapsIn: D, mapsOut: M, params: D * M + M, origin: 'unsupervised',
        receptiveField: 1, outShape: [sh[0], sh[1], M], connections: sh[0] * sh[1] * M * (D + 1),
      };
    },
    state: (): Record<string, tf.Tensor> => (C ? { centres: C } : {}),
    restore(s) { if (s.centres) stage.setCentres(s.centres as tf.Tensor2D); },
  };
  return stage;
}
