/**
 * Stage 3: BoW coding on M visual words, as a 1x1 convolution 128 -> M.
 *
 * Hard assignment is exactly a 1x1 conv followed by winner-take-all:
 *   argmin_k ||x - c_k||^2 = argmax_k (2 c_k . x - ||c_k||^2),   W_k = 2 c_k,  b_k = -||c_k||^2,
 * so the scores s_k = W_k . x + b_k = ||x||^2 - ||x - c_k||^2. Modes:
 *   'hard'      winner-take-all across the M maps (one-hot of the argmax);
 *   'soft'      softmax(beta * s) across the maps = the kernel codebook (van Gemert et al.) with
 *               weights proportional to exp(-beta ||x - c_k||^2) (||x||^2 cancels in the softmax);
 *               with knn > 0 the softmax runs over the knn highest scores only and the other words get 0
 *               (localised soft assignment, Liu, Wang and Liu 2011), so that the fused pass's histograms stay
 *               sparse (this tensor path still builds `[P, knn, M]` one-hot products: it is the reference);
 *   'triangle'  Coates, Lee & Ng 2011: with z_k = ||x - c_k||, f_k = max(0, mean_j z_j - z_k).
 * The dictionary is learned by k-means (learn/kmeans.ts) on descriptors sampled from a seeded subset
 * of the training images (`sample` descriptors in all).
 *
 * Soft and triangle codes followed by pooling run as one native pass where the addon is built (codeSums):
 * each block of positions' scores is held in registers and cache, turned into codes and added into the
 * regions' histograms, so `[N,H,W,M]` is never written; without the addon, a few images at a time through
 * apply(). Hard codes take wordIndices (passes/bow.ts).
 */
import * as tf from '@tensorflow/tfjs';
import type { LayerCard } from '../core/card.js';
import { FitError } from '../core/errors.js';
import { rng } from '../core/random.js';
import { CodingSchema } from '../config/stages.js';
import { nearestWords } from '../backend/fused-ops.js';
import { nativeAddon, nativeKernelsActive } from '../backend/native.js';
import { kmeans } from '../learn/kmeans.js';
import { check4d, defineStage, StageError, type CodeEmitter, type Maps, type PoolOp, type Region } from './stage.js';

export type { CodingConfig } from '../config/stages.js';
export type CodingMode = 'hard' | 'soft' | 'triangle';

export interface CodingStage extends CodeEmitter {
  /** Centres `[M,D]`, or null before fit. */
  centres(): tf.Tensor2D | null;
  /** The conv weights `[1,1,D,M]` (2c) and bias `[M]` (-||c||^2), new tensors the caller disposes. */
  convWeights(): { kernel: tf.Tensor4D; bias: tf.Tensor1D } | null;
  setCentres(c: tf.Tensor2D): void;
  lastFit?: { seconds: number; secondsPerIter: number; iterations: number; inertia: number; descriptors: number };
}

export const coding = defineStage<typeof CodingSchema, CodingStage>('coding', CodingSchema, (config, name) => {
  let C: tf.Tensor2D | null = null;
  let kernel: tf.Tensor2D | null = null; // [D,M] = 2 c^T
  let bias: tf.Tensor1D | null = null; // [M]
  const fitted = () => {
    if (!kernel || !bias || !C) throw new StageError(name, 'not fitted (no dictionary)');
    return { K: kernel, B: bias };
  };
  /** the 1x1 conv: scores s_k = 2 c_k . x - ||c_k||^2 at every position, `[P,M]` (inside a tidy) */
  const scores = (x: Maps) => {
    const { K, B } = fitted();
    const [n, h, w, d] = x.shape;
    if (d !== K.shape[0]) throw new StageError(name, `descriptors have ${d} channels, the dictionary ${K.shape[0]}`);
    const flat = tf.reshape(x, [n * h * w, d]);
    return { flat, s: tf.add(tf.matMul(flat, K), B) };
  };
  const stage: Omit<CodingStage, 'kind' | 'name' | 'config' | 'clone'> = {
    centres: () => C,
    // the dictionary does not depend on how it is used (hard / soft / triangle, beta)
    fitConfig: () => ({
      words: config.words,
      sample: config.sample,
      seed: config.seed,
      kmeans: config.kmeans,
      batch: config.batch,
      maxIter: config.maxIter,
      tol: config.tol,
    }),
    convWeights: () =>
      kernel && bias ? { kernel: kernel.reshape([1, 1, kernel.shape[0], kernel.shape[1]]) as tf.Tensor4D, bias: bias.clone() } : null,
    words: () => config.words,
    setCentres(c: tf.Tensor2D) {
      for (const t of [C, kernel, bias]) t?.dispose();
      C = tf.keep(c.clone());
      kernel = tf.keep(tf.tidy(() => tf.transpose(tf.mul(c, 2))) as tf.Tensor2D);
      bias = tf.keep(tf.tidy(() => tf.neg(tf.sum(tf.square(c), 1))) as tf.Tensor1D);
    },
    fitSample: () => config.sample,
    async fit(batches: AsyncIterable<Maps>) {
      const t0 = performance.now();
      const rand = rng(config.seed);
      const kept: Float32Array[] = [];
      let D = 0,
        have = 0;
      for await (const b of batches) {
        check4d(name, b);
        D = b.shape[3];
        const v = (await b.data()) as Float32Array;
        kept.push(v.slice());
        have += v.length / D;
        b.dispose();
      }
      if (D === 0) throw new FitError(`stage '${name}': fit saw no descriptors`);
      if (have < config.words) {
        throw new FitError(
          `stage '${name}': ${have} descriptors for ${config.words} words: use more images (--subset) or fewer words (--set ${name}.words=N)`,
        );
      }
      // a seeded subsample of `sample` rows from everything seen
      const want = Math.min(config.sample, have);
      const all = new Float32Array(have * D);
      let o = 0;
      for (const k of kept) {
        all.set(k, o);
        o += k.length;
      }
      let data = all,
        n = have;
      if (want < have) {
        const idx = new Uint32Array(have);
        for (let i = 0; i < have; i++) idx[i] = i;
        for (let i = 0; i < want; i++) {
          const j = i + Math.floor(rand() * (have - i));
          const t = idx[i];
          idx[i] = idx[j];
          idx[j] = t;
        }
        data = new Float32Array(want * D);
        for (let i = 0; i < want; i++) data.set(all.subarray(idx[i] * D, (idx[i] + 1) * D), i * D);
        n = want;
      }
      const r = await kmeans(data, n, D, {
        k: config.words,
        seed: config.seed,
        algorithm: config.kmeans,
        batchSize: config.batch,
        maxIter: config.maxIter,
        tol: config.tol,
      });
      const c = tf.tensor2d(r.centres, [config.words, D]);
      stage.setCentres(c);
      c.dispose();
      stage.lastFit = {
        seconds: (performance.now() - t0) / 1000,
        secondsPerIter: r.secondsPerIter,
        iterations: r.iterations,
        inertia: r.inertia,
        descriptors: n,
      };
    },
    wordIndices(x: Maps): tf.Tensor3D | null {
      check4d(name, x);
      if (config.mode !== 'hard') return null;
      const { K, B } = fitted();
      if (x.shape[3] !== K.shape[0]) throw new StageError(name, `descriptors have ${x.shape[3]} channels, the dictionary ${K.shape[0]}`);
      const { idx, best } = nearestWords(x, K, B);
      best.dispose();
      return idx as tf.Tensor3D;
    },
    async codeSums(x: Maps, regions: readonly Region[], op: PoolOp): Promise<Float32Array | null> {
      check4d(name, x);
      if (config.mode === 'hard') return null;
      const { K, B } = fitted();
      const [n, h, w, d] = x.shape;
      if (d !== K.shape[0]) throw new StageError(name, `descriptors have ${d} channels, the dictionary ${K.shape[0]}`);
      const M = config.words,
        R = regions.length;
      const out = new Float32Array(n * R * M);
      const addon = nativeKernelsActive() ? nativeAddon() : null;
      if (addon) {
        const reg = Int32Array.from(regions.flat());
        addon.codeSums(
          (await x.data()) as Float32Array,
          (await K.data()) as Float32Array,
          (await B.data()) as Float32Array,
          reg,
          out,
          n,
          h,
          w,
          d,
          M,
          R,
          config.mode === 'soft' ? 1 : 2,
          config.beta,
          config.mode === 'soft' ? config.knn : 0,
          op === 'sum' ? 0 : op === 'mean' ? 1 : 2,
        );
        return out;
      }
      // a few images at a time through apply(): their codes `[chunk,H,W,M]`, pooled region by region
      const chunk = Math.max(1, Math.floor((1 << 22) / Math.max(1, h * w * M)));
      for (let i = 0; i < n; i += chunk) {
        const c = Math.min(chunk, n - i);
        const pooled = tf.tidy(() => {
          const codes = stage.apply(tf.slice(x, [i, 0, 0, 0], [c, h, w, d]) as Maps);
          return tf.stack(
            regions.map(([r0, r1, c0, c1]) => {
              if (r1 <= r0 || c1 <= c0) return tf.zeros([c, M]);
              const reg = tf.slice(codes, [0, r0, c0, 0], [c, r1 - r0, c1 - c0, M]);
              return op === 'max' ? tf.max(reg, [1, 2]) : op === 'mean' ? tf.mean(reg, [1, 2]) : tf.sum(reg, [1, 2]);
            }),
            1,
          );
        });
        out.set((await pooled.data()) as Float32Array, i * R * M);
        pooled.dispose();
      }
      return out;
    },
    apply(x: Maps): Maps {
      check4d(name, x);
      const M = config.words;
      return tf.tidy(() => {
        const [n, h, w] = x.shape;
        const { flat, s } = scores(x); // the 1x1 conv: [P,M]
        let out: tf.Tensor;
        if (config.mode === 'hard') out = tf.cast(tf.oneHot(tf.argMax(s, 1), M), 'float32');
        else if (config.mode === 'soft' && config.knn > 0 && config.knn < M) {
          // the softmax over each position's knn highest scores, scattered back among the M words
          const { values, indices } = tf.topk(s, config.knn);
          const wts = tf.softmax(tf.mul(values, config.beta));
          out = tf.sum(tf.mul(tf.oneHot(indices, M), tf.expandDims(wts, 2)), 1);
        } else if (config.mode === 'soft') out = tf.softmax(tf.mul(s, config.beta));
        else {
          const z = tf.sqrt(tf.relu(tf.sub(tf.sum(tf.square(flat), 1, true), s))); // ||x - c_k||
          out = tf.relu(tf.sub(tf.mean(z, 1, true), z));
        }
        return tf.reshape(out, [n, h, w, M]) as tf.Tensor4D;
      });
    },
    outShape: (sh) => [sh[0], sh[1], config.words],
    card(sh): LayerCard {
      const D = sh[2] ?? 128,
        M = config.words;
      const what =
        config.mode === 'hard'
          ? 'winner-take-all'
          : config.mode === 'soft'
            ? `softmax (beta ${config.beta}${config.knn > 0 ? `, ${config.knn} nearest words` : ''})`
            : 'triangle activation';
      return {
        stage: name,
        classic: `BoW coding on ${M} visual words (${config.mode})`,
        cnn: `conv 1x1 ${D}->${M} + ${what}`,
        kernel: [1, 1],
        stride: 1,
        dilation: 1,
        mapsIn: D,
        mapsOut: M,
        params: D * M + M,
        origin: 'unsupervised',
        receptiveField: 1,
        outShape: [sh[0], sh[1], M],
        connections: sh[0] * sh[1] * M * (D + 1),
        identity: 'W_k = 2 c_k, b_k = -||c_k||^2',
      };
    },
    // the 1x1 conv (W = 2c, b = -||c||^2), then winner-take-all or a scaled softmax
    toLayers() {
      const cw = stage.convWeights();
      if (!cw) throw new StageError(name, 'not fitted: export a fitted pipeline');
      if (config.mode === 'triangle')
        throw new StageError(name, 'triangle coding is not exported (it needs ||x - c_k||, not a conv output)');
      if (config.mode === 'soft' && config.knn > 0)
        throw new StageError(
          name,
          `soft coding over the ${config.knn} nearest words is not exported (set knn=0 for a softmax over all words)`,
        );
      return [
        { className: 'Conv2D', config: { filters: config.words, kernelSize: 1, useBias: true, name }, weights: [cw.kernel, cw.bias] },
        config.mode === 'hard'
          ? { className: 'BowWinnerTakeAll', config: { name: `${name}_wta` } }
          : { className: 'BowScaledSoftmax', config: { beta: config.beta, name: `${name}_soft` } },
      ];
    },
    // the 32 words with the most mass, a readable sample of the dictionary (as SIFT glyphs when D = 128)
    pictures() {
      if (C?.shape[1] !== 128) return [];
      const all = C.arraySync() as number[][];
      const order = all
        .map((w, i) => [w.reduce((a, v) => a + v, 0), i] as const)
        .sort((a, z) => z[0] - a[0])
        .slice(0, 32)
        .map(([, i]) => i);
      return [
        {
          kind: 'words' as const,
          title: `32 visual words (the coding filters, k-means), drawn as SIFT glyphs`,
          data: order.map((i) => all[i]),
        },
      ];
    },
    ablations: () => (config.mode === 'hard' ? [{ change: 'hard -> soft coding', overrides: { mode: 'soft' } }] : []),
    state: (): Record<string, tf.Tensor> => (C ? { centres: C } : {}),
    restore(s) {
      if (s.centres) stage.setCentres(s.centres as tf.Tensor2D);
    },
    dispose() {
      for (const t of [C, kernel, bias]) t?.dispose();
      C = kernel = bias = null;
    },
  };
  return stage;
});
