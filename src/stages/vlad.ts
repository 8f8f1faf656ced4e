/**
 * VLAD encoding (Jégou et al. 2010) of the descriptor maps `[N,H,W,D]`, pooled over each region of a spatial
 * pyramid: `[N,1,1,R·K·D]`, each region's vector VLFeat's vl_vlad_encode of its descriptors with the stage's
 * flags (and the final L2), the regions side by side and divided by √R. The centres are learned by k-means
 * (learn/kmeans.ts) on `sample` descriptors. `assign: 'soft'` gives NetVLAD's soft assignment, a softmax of
 * -α|x - c_k|² (`alpha`), which as a layer (BowVlad) is a trainable 1x1 convolution: fine-tuned end to end with
 * the classifier, the bownet is NetVLAD (Arandjelović et al. 2016).
 *
 * In CNN terms: the assignments are a 1x1 convolution (W_k = 2c_k, b_k = -|c_k|²) with winner-take-all or a
 * softmax; Σ q x and Σ q are sum pooling of the assignment-weighted descriptors and of the assignments.
 */
import * as tf from '@tensorflow/tfjs';
import type { LayerCard } from '../core/card.js';
import { FitError } from '../core/errors.js';
import { rng } from '../core/random.js';
import { z } from '../config/schema.js';
import { kmeans } from '../learn/kmeans.js';
import { vladMaps } from '../ops/vlad.js';
import { check4d, defineStage, StageError, type Maps, type Stage } from './stage.js';

export const VladSchema = z.strictObject({
  words: z.number().int().min(1).default(64),
  pyramid: z.array(z.number().int().min(1)).min(1).default([1]),
  assign: z.enum(['hard', 'soft']).default('hard'),
  alpha: z.number().positive().default(10), // soft: softmax(-alpha |x - c|²)
  normalizeComponents: z.boolean().default(true), // intra-normalisation (Arandjelović and Zisserman 2013)
  squareRoot: z.boolean().default(true), // the signed square root of each value
  normalizeMass: z.boolean().default(false),
  sample: z.number().int().min(1).default(100_000), // descriptors k-means learns from
  seed: z.number().int().default(0),
  maxIter: z.number().int().min(1).default(30),
});
export type VladConfig = z.input<typeof VladSchema>;

export interface VladStage extends Stage {
  centres(): tf.Tensor2D | null;
  setCentres(c: tf.Tensor2D): void;
}

export const vlad = defineStage<typeof VladSchema, VladStage>('vlad', VladSchema, (config, name) => {
  let C: tf.Tensor2D | null = null;
  let soft: { kernel: tf.Tensor2D; bias: tf.Tensor1D } | null = null;
  const regions = config.pyramid.reduce((a, l) => a + l * l, 0);
  const flags = { normalizeComponents: config.normalizeComponents, squareRoot: config.squareRoot, normalizeMass: config.normalizeMass };
  const release = () => {
    const held: tf.Tensor[] = [];
    if (C) held.push(C);
    if (soft) held.push(soft.kernel, soft.bias);
    tf.dispose(held);
    C = soft = null;
  };
  const stage: Omit<VladStage, 'kind' | 'name' | 'config' | 'clone'> = {
    centres: () => C,
    setCentres(c: tf.Tensor2D) {
      release();
      C = tf.keep(c.clone());
      if (config.assign === 'soft') {
        const centres = C;
        soft = tf.tidy(() => ({
          kernel: tf.keep(tf.transpose(tf.mul(centres, 2 * config.alpha)) as tf.Tensor2D),
          bias: tf.keep(tf.mul(tf.sum(tf.square(centres), 1), -config.alpha) as tf.Tensor1D),
        }));
      }
    },
    fitConfig: () => ({ words: config.words, sample: config.sample, seed: config.seed, maxIter: config.maxIter }),
    fitSample: () => config.sample,
    async fit(batches: AsyncIterable<Maps>) {
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
        throw new FitError(`stage '${name}': ${n} descriptors for ${config.words} centres: use more images or fewer words`);
      const r = await kmeans(keep.subarray(0, n * D), n, D, { k: config.words, seed: config.seed, maxIter: config.maxIter });
      const c = tf.tensor2d(r.centres, [config.words, D]);
      stage.setCentres(c);
      c.dispose();
    },
    apply(x: Maps): Maps {
      check4d(name, x);
      if (!C) throw new StageError(name, 'not fitted (no centres)');
      if (x.shape[3] !== C.shape[1]) throw new StageError(name, `descriptors have ${x.shape[3]} channels, the centres ${C.shape[1]}`);
      return vladMaps(x, C, soft, config.pyramid, flags);
    },
    outShape: (sh) => [1, 1, regions * config.words * (sh[2] ?? 0)],
    card(sh): LayerCard {
      const D = sh[2] ?? 128,
        K = config.words;
      return {
        stage: name,
        classic: `VLAD on ${K} centres (${config.assign} assignment)${regions > 1 ? `, pyramid [${config.pyramid.join(', ')}]` : ''}`,
        cnn: `conv 1x1 ${D}->${K} + ${config.assign === 'hard' ? 'winner-take-all' : 'softmax'}, then sum pooling of q·x and q, minus the centres`,
        kernel: [sh[0], sh[1]], // it pools over the whole map: its receptive field is the image's
        stride: 1,
        dilation: 1,
        mapsIn: D,
        mapsOut: regions * K * D,
        params: K * D + (config.assign === 'soft' ? K * D + K : 0),
        origin: 'unsupervised',
        receptiveField: Math.max(sh[0], sh[1]),
        outShape: [1, 1, regions * K * D],
        connections: sh[0] * sh[1] * K * (2 * D + 1),
        identity: 'W_k = 2 c_k, b_k = -|c_k|² (soft: times α); v_k = Σ q_k x - (Σ q_k) c_k',
      };
    },
    toLayers(sh) {
      if (!C) throw new StageError(name, 'not fitted: export a fitted pipeline');
      const [k, d] = C.shape;
      return [
        {
          className: 'BowVlad',
          config: { name, words: k, dimension: sh[2] ?? d, pyramid: [...config.pyramid], assign: config.assign, ...flags },
          weights: soft ? [C.clone(), soft.kernel.clone(), soft.bias.clone()] : [C.clone()],
        },
      ];
    },
    state: (): Record<string, tf.Tensor> => (C ? { centres: C } : {}),
    restore(s) {
      if (s.centres) stage.setCentres(s.centres as tf.Tensor2D);
    },
    dispose: release,
  };
  return stage;
});
