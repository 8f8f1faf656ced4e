/**
 * A CNN as a Classifier (DESIGN.md): built from a recipe (lenet5, alexnet-small, bownet), fitted with the
 * training loop, scored on a split, described by its cards, saved to a folder.
 */
import * as tf from '@tensorflow/tfjs';
import type { Dataset, Split } from '../data/types.js';
import type { LayerCard } from '../pipeline/card.js';
import { bowPipeline, readRecipe, type BowNetRecipe, type BowRecipe, type CnnRecipe } from '../pipeline/recipes.js';
import type { Pipeline } from '../pipeline/pipeline.js';
import { alexnetCards, alexnetSmall, augment, type AugmentConfig } from './alexnet.js';
import { exportBowNet } from './bownet.js';
import { cardsFromModel } from './cards.js';
import { saveModel } from './io.js';
import { lenet5, lenet5Cards, type LeNetVariant } from './lenet5.js';
import { accuracyOf, predictSplit, trainModel, type FitReport, type PredictOptions, type TrainOptions } from './train.js';

export interface CnnFitOptions { seed?: number; checkpointDir?: string; validation?: Split; progress?: boolean; maxSeconds?: number; targetAccuracy?: number; cacheDir?: string }

/** Mean and standard deviation of a split's pixels, on the model's [0, 1] scale. */
export function pixelStats(s: Split): { mean: number; std: number } {
  let sum = 0, sq = 0;
  const p = s.pixels;
  for (let i = 0; i < p.length; i++) { const v = p[i]; sum += v; sq += v * v; }
  const n = Math.max(1, p.length), mean = sum / n / 255;
  return { mean, std: Math.sqrt(Math.max(1e-12, sq / n / 65025 - mean * mean)) };
}

export class CnnClassifier {
  model: tf.LayersModel | null = null;
  lastFit: (FitReport & { before?: number }) | null = null;
  /** for bownet: the fitted BoW pipeline it was exported from */
  source: Pipeline | null = null;
  constructor(readonly recipe: CnnRecipe | BowNetRecipe, readonly ds: Pick<Dataset, 'classes' | 'flipSafe'> & { train: Split }) {}
  get name(): string { return this.recipe.name; }

  /** how scores() predicts: the recipe's test-time flips, where the dataset allows mirrors */
  get predictOptions(): PredictOptions {
    const p = this.recipe.kind === 'cnn' ? this.recipe.predict : undefined;
    return { flip: (p?.flip ?? false) && this.ds.flipSafe };
  }

  build(seed = 0): tf.LayersModel {
    const s = this.ds.train;
    const shape: [number, number, number] = [s.height, s.width, s.channels];
    const r = this.recipe as CnnRecipe;
    if (r.model === 'lenet5') {
      // normalize: true in a recipe means the training set's own pixel mean and std
      const normalize = r.config.normalize === true ? pixelStats(s) : (r.config.normalize as boolean | undefined);
      return lenet5({ variant: (r.config.variant as LeNetVariant) ?? 'modern', inputShape: shape, classes: this.ds.classes.length, seed, normalize });
    }
    if (r.model === 'alexnet-small') return alexnetSmall({ ...(r.config as object), inputShape: shape, classes: this.ds.classes.length, seed });
    throw new Error(`unknown model '${r.model}' in recipe ${r.name}`);
  }

  async fit(train: Split, opts: CnnFitOptions = {}): Promise<FitReport> {
    const t = { ...(this.recipe.train as TrainOptions & { augment?: AugmentConfig }) };
    const aug = t.augment ? augment({ ...t.augment, flip: (t.augment.flip ?? true) && this.ds.flipSafe }) : undefined;
    let before: number | undefined;
    if (this.recipe.kind === 'bownet') {
      const r = this.recipe;
      const p = bowPipeline(readRecipe(r.from) as BowRecipe);
      await p.fit(train, { cacheDir: opts.cacheDir, progress: opts.progress, seed: opts.seed });
      this.source = p;
      this.model = exportBowNet(p, { coding: r.coding, beta: r.beta, trainable: r.trainable });
      before = opts.validation ? await accuracyOf(this.model, opts.validation) : undefined;
    } else {
      this.model = this.build(opts.seed ?? 0);
    }
    const rep = await trainModel(this.model, train, {
      ...t, augment: aug, seed: opts.seed ?? 0, checkpointDir: opts.checkpointDir, validation: opts.validation, label: this.name,
      evalFlip: this.predictOptions.flip,
      progress: opts.progress, maxSeconds: opts.maxSeconds ?? t.maxSeconds, targetAccuracy: opts.targetAccuracy ?? t.targetAccuracy,
    });
    this.lastFit = { ...rep, before };
    return rep;
  }

  scores(split: Split): Promise<Float32Array> {
    if (!this.model) throw new Error(`${this.name}: not fitted`);
    return predictSplit(this.model, split, 500, this.predictOptions);
  }

  cards(): LayerCard[] {
    const m = this.model ?? this.build();
    const r = this.recipe as CnnRecipe;
    if (r.model === 'lenet5') return lenet5Cards(m);
    if (r.model === 'alexnet-small') return alexnetCards(m);
    return cardsFromModel(m);
  }

  async save(dir: string): Promise<void> {
    if (!this.model) throw new Error(`${this.name}: not fitted`);
    // testTimeFlips: how this model's scores were made (bowcnn eval / predict of the folder do the same)
    await saveModel(this.model, dir, { recipe: this.recipe, classes: this.ds.classes, testTimeFlips: this.predictOptions.flip });
  }
}
