/**
 * Fisher vector encoding (Perronnin et al. 2010) of the descriptor maps `[N,H,W,D]`, pooled over each region of a
 * spatial pyramid: `[N,1,1,R·2KD]`, each region's vector VLFeat's vl_fisher_encode of its descriptors (all K·D
 * mean gradients, then all K·D variance gradients; 'improved': signed square root, then L2), the regions side by
 * side and divided by √R (a unit vector in all).
 *
 * In CNN terms, three layers: the posteriors are a 1x1 convolution over [x, x²] (K filters: μλ and -λ/2, λ = 1/σ²,
 * and the bias log π - ½ Σ (log σ² + μ²λ) - (D/2) log 2π) followed by a softmax; then sum pooling, per region, of
 * q, q·x and q·x² (S0, S1, S2); then the closed form u_k = (S1 - μ S0) / (σ P √π), v_k = ((S2 - 2μ S1 + μ² S0) / σ²
 * - S0) / (P √(2π)), P the region's descriptors. The GMM is fitted by learn/gmm.ts on `sample` descriptors.
 * The codes `[N,H,W,K·2D]` are never built: a region's sums are two batched matrix products of q with x and x².
 */
import * as tf from '@tensorflow/tfjs';
import type { LayerCard } from '../core/card.js';
import { FitError } from '../core/errors.js';
import { rng } from '../core/random.js';
import { z } from '../config/schema.js';
import { fitGmm, type Gmm } from '../learn/gmm.js';
import { check4d, defineStage, StageError, type Maps, type Stage } from './stage.js';
import { fisherMaps, fisherWeights, type FisherWeights } from '../ops/fisher.js';

export { fisherMaps, fisherWeights, pyramidRegions, type FisherWeights } from '../ops/fisher.js';

export const FisherSchema = z.strictObject({
  components: z.number().int().min(1).default(64),
  pyramid: z.array(z.number().int().min(1)).min(1).default([1]),
  improved: z.boolean().default(true), // signed square root and L2, per region
  sample: z.number().int().min(1).default(100_000), // descriptors the GMM is fitted on
  seed: z.number().int().default(0),
  iterations: z.number().int().min(1).default(50), // EM iterations at most
  restarts: z.number().int().min(1).default(1), // EM runs (k-means and k-means++ starts in turn), the best kept
});
export type FisherConfig = z.input<typeof FisherSchema>;

export interface FisherStage extends Stage {
  /** the fitted GMM, or null before fit */
  gmm(): Gmm | null;
  setGmm(g: Gmm): void;
}

export const fisher = defineStage<typeof FisherSchema, FisherStage>('fisher', FisherSchema, (config, name) => {
  let g: Gmm | null = null;
  let held: { means: tf.Tensor2D; variances: tf.Tensor2D; priors: tf.Tensor1D } | null = null;
  let wts: FisherWeights | null = null;
  const regions = config.pyramid.reduce((a, l) => a + l * l, 0);
  const release = () => {
    if (wts) tf.dispose(Object.values(wts));
    if (held) tf.dispose(Object.values(held));
    wts = held = null;
  };
  const stage: Omit<FisherStage, 'kind' | 'name' | 'config' | 'clone'> = {
    gmm: () => g,
    setGmm(next: Gmm) {
      release();
      g = {
        ...next,
        means: Float32Array.from(next.means),
        variances: Float32Array.from(next.variances),
        priors: Float32Array.from(next.priors),
      };
      const { components: k, dimension: d } = g;
      held = {
        means: tf.keep(tf.tensor2d(g.means, [k, d])),
        variances: tf.keep(tf.tensor2d(g.variances, [k, d])),
        priors: tf.keep(tf.tensor1d(g.priors)),
      };
      const w = fisherWeights(held.means, held.variances, held.priors);
      wts = Object.fromEntries(Object.entries(w).map(([key, t]) => [key, tf.keep(t)])) as unknown as FisherWeights;
    },
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
      if (!keep || n < config.components)
        throw new FitError(`stage '${name}': ${n} descriptors for ${config.components} components: use more images or fewer components`);
      const fit = await fitGmm(keep.subarray(0, n * D), {
        components: config.components,
        dimension: D,
        seed: config.seed,
        iterations: config.iterations,
        restarts: config.restarts,
      });
      stage.setGmm(fit);
    },
    apply(x: Maps): Maps {
      check4d(name, x);
      if (!wts || !g) throw new StageError(name, 'not fitted (no GMM)');
      if (x.shape[3] !== g.dimension) throw new StageError(name, `descriptors have ${x.shape[3]} channels, the GMM ${g.dimension}`);
      return fisherMaps(x, wts, config.pyramid, config.improved);
    },
    outShape: (sh) => [1, 1, regions * 2 * config.components * (sh[2] ?? 0)],
    card(sh): LayerCard {
      const D = sh[2] ?? 64,
        K = config.components;
      return {
        stage: name,
        classic: `Fisher vectors on a ${K}-component GMM${regions > 1 ? `, pyramid [${config.pyramid.join(', ')}]` : ''}${config.improved ? ' (improved)' : ''}`,
        cnn: `conv 1x1 over [x, x²] ${2 * D}->${K} + softmax, then sum pooling of q, qx, qx² and the closed-form gradients`,
        kernel: [sh[0], sh[1]], // it pools over the whole map: its receptive field is the image's
        stride: 1,
        dilation: 1,
        mapsIn: D,
        mapsOut: regions * 2 * K * D,
        params: 2 * D * K + K,
        origin: 'unsupervised',
        receptiveField: Math.max(sh[0], sh[1]),
        outShape: [1, 1, regions * 2 * K * D],
        connections: sh[0] * sh[1] * K * (2 * D + 1) * (1 + 2 * D),
        identity: 'logits_k = (μ_k/σ_k²)·x - (1/2σ_k²)·x² + b_k; u = (S1 - μS0)/(σP√π), v = ((S2 - 2μS1 + μ²S0)/σ² - S0)/(P√2π)',
      };
    },
    toLayers(sh) {
      if (!held || !g) throw new StageError(name, 'not fitted: export a fitted pipeline');
      return [
        {
          className: 'BowFisher',
          config: {
            name,
            components: g.components,
            dimension: sh[2] ?? g.dimension,
            pyramid: [...config.pyramid],
            improved: config.improved,
          },
          weights: [held.means.clone(), held.variances.clone(), held.priors.clone()],
        },
      ];
    },
    state: (): Record<string, tf.Tensor> => (held ? { ...held } : {}),
    restore(s) {
      if (!s.means || !s.variances || !s.priors) return;
      const [k, d] = s.means.shape;
      stage.setGmm({
        means: s.means.dataSync() as Float32Array,
        variances: s.variances.dataSync() as Float32Array,
        priors: s.priors.dataSync() as Float32Array,
        components: k,
        dimension: d,
      });
    },
    dispose() {
      release();
      g = null;
    },
  };
  return stage;
});
