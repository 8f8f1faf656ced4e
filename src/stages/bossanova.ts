/**
 * BossaNova encoding (Avila et al., CVIU 2013) of the descriptor maps `[N,H,W,D]` over a spatial pyramid:
 * `[N,1,1,R·M·(B+1)]` (ops/bossanova.ts: per word, a histogram of the distances of the descriptors that count it
 * among their knn nearest, over B bins of [λmin σ_m, λmax σ_m], then the BoW term weighted by γ; the signed square
 * root and L2). Fitted: k-means words on `sample` descriptors, and each word's σ_m, the standard deviation of the
 * distances to it of the descriptors nearest to it.
 *
 * In CNN terms: a 1x1 convolution gives the squared distances (|x|² - 2c·x + |c|²), then a fixed binning of each
 * word's distance map into B maps (a soft histogram's hard limit) and sum pooling: the mid-level pooling the
 * paper argues for, between BoW's count and Fisher's moments.
 */
import * as tf from '@tensorflow/tfjs';
import type { LayerCard } from '../core/card.js';
import { FitError } from '../core/errors.js';
import { rng } from '../core/random.js';
import { z } from '../config/schema.js';
import { kmeans } from '../learn/kmeans.js';
import { bossanovaMaps } from '../ops/bossanova.js';
import { check4d, defineStage, StageError, type Maps, type Stage } from './stage.js';

export const BossaNovaSchema = z.strictObject({
  words: z.number().int().min(1).default(256),
  bins: z.number().int().min(1).default(2),
  lambdaMin: z.number().min(0).default(0.4),
  lambdaMax: z.number().positive().default(2),
  knn: z.number().int().min(1).default(10), // each descriptor counts for its knn nearest words
  gamma: z.number().min(0).default(1), // the BoW term's weight
  pyramid: z.array(z.number().int().min(1)).min(1).default([1]),
  sample: z.number().int().min(1).default(100_000),
  seed: z.number().int().default(0),
  maxIter: z.number().int().min(1).default(30),
});
export type BossaNovaConfig = z.input<typeof BossaNovaSchema>;

export interface BossaNovaStage extends Stage {
  words(): { centres: tf.Tensor2D; sigmas: tf.Tensor1D } | null;
  setWords(centres: tf.Tensor2D, sigmas: tf.Tensor1D): void;
}

export const bossanova = defineStage<typeof BossaNovaSchema, BossaNovaStage>('bossanova', BossaNovaSchema, (config, name) => {
  // checked where the config is whole (its shape, card and fit), not here: --set changes one value at a time.
  // knn above words is allowed: a descriptor then counts for every word (ops/bossanova.ts clamps it)
  const checkRange = () => {
    if (config.lambdaMin >= config.lambdaMax)
      throw new StageError(
        name,
        `lambdaMin ${config.lambdaMin} must be below lambdaMax ${config.lambdaMax}: the bins span [lambdaMin σ, lambdaMax σ]`,
      );
  };
  let C: tf.Tensor2D | null = null;
  let S: tf.Tensor1D | null = null;
  const regions = config.pyramid.reduce((a, l) => a + l * l, 0);
  const per = config.words * (config.bins + 1);
  const settings = () => ({ ...config, pyramid: config.pyramid });
  const stage: Omit<BossaNovaStage, 'kind' | 'name' | 'config' | 'clone'> = {
    words: () => (C && S ? { centres: C, sigmas: S } : null),
    setWords(centres, sigmas) {
      tf.dispose([C, S].filter((t): t is tf.Tensor2D => t !== null));
      C = tf.keep(centres.clone());
      S = tf.keep(sigmas.clone());
    },
    fitConfig: () => ({ words: config.words, sample: config.sample, seed: config.seed, maxIter: config.maxIter }),
    fitSample: () => config.sample,
    async fit(batches: AsyncIterable<Maps>) {
      checkRange();
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
      if (!keep || n < config.words)
        throw new FitError(`stage '${name}': ${n} descriptors for ${config.words} words: use more images or fewer words`);
      const data = keep.subarray(0, n * D);
      const r = await kmeans(data, n, D, { k: config.words, seed: config.seed, maxIter: config.maxIter });
      // σ_m: the spread of the distances to each word of the descriptors nearest to it
      const m = config.words;
      const sum = new Float64Array(m),
        sq = new Float64Array(m),
        cnt = new Float64Array(m);
      for (let i = 0; i < n; i++) {
        let best = 0,
          bd = Number.POSITIVE_INFINITY;
        for (let c = 0; c < m; c++) {
          let s = 0;
          for (let j = 0; j < D; j++) s += (data[i * D + j] - r.centres[c * D + j]) ** 2;
          if (s < bd) [bd, best] = [s, c];
        }
        const dd = Math.sqrt(bd);
        sum[best] += dd;
        sq[best] += dd * dd;
        cnt[best]++;
      }
      const sig = Float32Array.from({ length: m }, (_, c) =>
        cnt[c] > 1 ? Math.sqrt(Math.max(1e-12, sq[c] / cnt[c] - (sum[c] / cnt[c]) ** 2)) : 1e-3,
      );
      const ct = tf.tensor2d(r.centres, [m, D]),
        st = tf.tensor1d(sig);
      stage.setWords(ct, st);
      tf.dispose([ct, st]);
    },
    apply(x: Maps): Maps {
      check4d(name, x);
      if (!C || !S) throw new StageError(name, 'not fitted (no words)');
      if (x.shape[3] !== C.shape[1]) throw new StageError(name, `descriptors have ${x.shape[3]} channels, the words ${C.shape[1]}`);
      return bossanovaMaps(x, C, S, settings());
    },
    outShape: () => {
      checkRange();
      return [1, 1, regions * per];
    },
    card(sh): LayerCard {
      checkRange();
      const D = sh[2] ?? 128,
        M = config.words;
      return {
        stage: name,
        classic: `BossaNova on ${M} words, ${config.bins} distance bins${regions > 1 ? `, pyramid [${config.pyramid.join(', ')}]` : ''}`,
        cnn: `conv 1x1 ${D}->${M} (squared distances), binning into ${config.bins} maps a word, sum pooling`,
        kernel: [sh[0], sh[1]], // it pools over the whole map: its receptive field is the image's
        stride: 1,
        dilation: 1,
        mapsIn: D,
        mapsOut: regions * per,
        params: M * D + M,
        origin: 'unsupervised',
        receptiveField: Math.max(sh[0], sh[1]),
        outShape: [1, 1, regions * per],
        connections: sh[0] * sh[1] * M * (D + 1),
        identity: '|x - c_m|² = |x|² - 2 c_m·x + |c_m|²; z_m,b = share of the distances in bin b of [λmin σ_m, λmax σ_m]',
      };
    },
    toLayers() {
      if (!C || !S) throw new StageError(name, 'not fitted: export a fitted pipeline');
      const [m, d] = C.shape;
      const { bins, lambdaMin, lambdaMax, knn, gamma, pyramid } = config;
      return [
        {
          className: 'BowBossaNova',
          config: { name, words: m, dimension: d, bins, lambdaMin, lambdaMax, knn, gamma, pyramid: [...pyramid] },
          weights: [C.clone(), S.clone()],
        },
      ];
    },
    state: (): Record<string, tf.Tensor> => (C && S ? { centres: C, sigmas: S } : {}),
    restore(s) {
      if (s.centres && s.sigmas) stage.setWords(s.centres as tf.Tensor2D, s.sigmas as tf.Tensor1D);
    },
    dispose() {
      tf.dispose([C, S].filter((t): t is tf.Tensor2D => t !== null));
      C = S = null;
    },
  };
  return stage;
});
