/**
 * A CNN as a Classifier (core/classifier.ts): built from a recipe (lenet5, alexnet-small, or a bownet: a
 * BoW recipe fitted, exported as a CNN and fine-tuned), trained by cnn/train, saved as a plain tfjs
 * LayersModel (cnn/io).
 */
import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs';
import type { LayerCard, Origin } from '../core/card.js';
import {
  type Ablation,
  type Classifier,
  type DataInfo,
  dataInfo,
  type FitOptions,
  type FitReport,
  type Maps,
  type Picture,
} from '../core/classifier.js';
import { ConfigError, FitError } from '../core/errors.js';
import { BOW_LAYERS, BowReplicatePad } from '../layers.js';
import { stageLayerClassNames } from '../stages/stage.js';
import { CnnFitSchema } from '../config/fit.js';
import { parseConfig } from '../config/schema.js';
import type { ModelMeta } from '../core/persist.js';
import type { BowNetRecipe, CnnRecipe } from '../config/recipes.js';
import type { Split } from '../core/data.js';
import { argmax } from '../core/scores.js';
import type { Pipeline } from '../pipeline/pipeline.js';
import { didYouMean, listOf } from '../core/suggest.js';
import { bowPipeline, cnnSettable, parseRecipe, readRecipe, recipeWith } from '../pipeline/recipes.js';
import { augment } from './alexnet.js';
import { exportBowNet } from './bownet.js';
import { cardsFromModel } from './cards.js';
import { loadModel, saveModel } from './io.js';
import { predictLogits, predictSplit, trainModel, type PredictOptions } from './train.js';
import { framedBatch, framedSplit, type InShape, inputShape } from './input.js';
import { ZOO } from './zoo.js';

/** Layers whose outputs robustness and the teaching page compare (representation per layer): tfjs's and bowcnn's own, padding aside. */
const REPRESENTED = new Set([
  'Conv2D',
  'Dense',
  'MaxPooling2D',
  'AveragePooling2D',
  'DepthwiseConv2D',
  ...BOW_LAYERS.filter((c) => c !== BowReplicatePad).map((c) => c.className),
]);
/** The above, and the layer classes of stage kinds registered with their own (defineStage's `layers`). */
const represented = (className: string) => REPRESENTED.has(className) || stageLayerClassNames().includes(className);

/** A short identity of a model's current weights (what a fine-tune starts from). */
async function weightsKey(m: tf.LayersModel): Promise<string> {
  const h = createHash('sha256');
  for (const w of m.weights) {
    const d = (await w.read().data()) as Float32Array;
    h.update(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
  }
  return h.digest('hex').slice(0, 16);
}

/** A bownet recipe's fitted pipeline exported as the CNN its fine-tuning starts from. */
const exportStart = (p: Pipeline, r: BowNetRecipe): tf.Sequential =>
  exportBowNet(p, { coding: r.coding, beta: r.beta, trainable: r.trainable });

export class CnnClassifier implements Classifier {
  readonly kind = 'cnn' as const;
  model: tf.LayersModel | null = null;
  data: DataInfo | null = null;
  /** for a bownet: the fitted BoW pipeline it was exported from */
  source: Pipeline | null = null;
  /** the model is another classifier's (a set('predict.*') copy of a fitted one): dispose() does not free it */
  private borrowed = false;

  constructor(
    readonly recipe: CnnRecipe | BowNetRecipe,
    readonly name: string = recipe.name,
  ) {}

  /** how scores() predicts: the recipe's test-time views (flips where the data allows mirrors, shifts) */
  get predictOptions(): PredictOptions {
    if (this.recipe.kind !== 'cnn') return { flip: false, shifts: 0 };
    return { flip: this.recipe.predict.flip && (this.data?.flipSafe ?? false), shifts: this.recipe.predict.shifts };
  }

  /** predict.*: how a trained model scores, not what it learns (a search tries these on one fitted model) */
  inferenceOnly(path: string): boolean {
    return this.recipe.kind === 'cnn' && path.split('.')[0] === 'predict';
  }

  private build(info: Pick<DataInfo, 'inShape' | 'classes'>, seed: number, train?: Split): tf.Sequential {
    if (this.recipe.kind !== 'cnn')
      throw new ConfigError(
        `recipe '${this.recipe.name}' is a ${this.recipe.kind} recipe: it is built by fitting its BoW recipe '${this.recipe.from}' (the layers it starts from: bowcnn explain ${this.recipe.from})`,
      );
    return ZOO[this.recipe.model].build(this.recipe.config, { inShape: info.inShape, classes: info.classes.length, seed, train });
  }

  /** The `[H, W, C]` a new model of the recipe takes for images of `image`: its declared input, else the images' own. */
  private recipeShape(image: readonly number[]): InShape {
    return inputShape(this.recipe.kind === 'cnn' ? this.recipe.input : undefined, image);
  }

  /** The `[H, W, C]` the model takes: a fitted model's, else the recipe's declared input, else the images' own. */
  inShapeFor(image: readonly number[]): InShape {
    return this.model ? (this.model.inputs[0].shape.slice(1) as InShape) : this.recipeShape(image);
  }

  async fit(given: Split, givenOpts: FitOptions = {}): Promise<FitReport> {
    const opts = parseConfig(CnnFitSchema, givenOpts, `${this.name}: fit options`) as FitOptions;
    const t0 = performance.now();
    // the images framed to the model's input: a fine-tune's model's, else the recipe's (cnn/input.ts)
    const read: InShape = [given.height, given.width, given.channels];
    const shape = opts.fineTune ? this.inShapeFor(read) : this.recipeShape(read);
    const framed = read.join('x') !== shape.join('x');
    if (opts.progress !== false) {
      const from = read.join('x');
      const to = shape.join('x');
      const up = shape[0] > given.height || shape[1] > given.width;
      if (framed)
        process.stderr.write(
          `bowcnn: ${this.name}: images framed from ${from} to ${opts.fineTune ? "the model's" : 'its'} input ${to}${up ? `: scaled up, so it sees less detail than its input can hold (read the images at ${shape[0]}x${shape[1]} or more)` : ''}\n`,
        );
      else if (!opts.fineTune && this.recipe.kind === 'cnn' && !this.recipe.input?.size && Math.max(shape[0], shape[1]) > 96)
        process.stderr.write(
          `bowcnn: ${this.name}: training on the images' own ${shape[0]}x${shape[1]} pixels; a smaller input frames them first and trains faster (--set input.size=64)\n`,
        );
    }
    const train = framedSplit(given, shape);
    if (opts.validation) opts.validation = framedSplit(opts.validation, shape);
    const info = { ...dataInfo(train, opts.data), ...(framed ? { readShape: read } : {}) };
    if (train.n === 0) throw new FitError(`${this.name}: the training split is empty`);
    if (info.classes.length < 2)
      throw new FitError(`${this.name}: the training split has ${info.classes.length} class: a classifier needs at least 2`);
    // the recipe's training options, with those fit was given
    const t = {
      ...this.recipe.train,
      ...(opts.epochs !== undefined ? { epochs: opts.epochs, minSteps: 0 } : {}),
      ...(opts.lr !== undefined ? { lr: opts.lr } : {}),
      ...(opts.batchSize !== undefined ? { batchSize: opts.batchSize } : {}),
    };
    const aug = t.augment ? augment({ ...t.augment, flip: t.augment.flip && info.flipSafe }) : undefined;
    const phases: FitReport['phases'] = {};
    if (opts.fineTune) {
      // continue from the current weights: the model must take these images and give these classes
      const m = this.fitted();
      const outputs = (m.outputs[0].shape[1] ?? 0) as number;
      const inShape = m.inputs[0].shape.slice(1).join('x');
      if (inShape !== info.inShape.join('x'))
        throw new FitError(`${this.name}: fine-tuning on ${info.inShape.join('x')} images; the model takes ${inShape}`);
      if (outputs !== info.classes.length)
        throw new FitError(`${this.name}: fine-tuning on ${info.classes.length} classes; the model has ${outputs} outputs`);
      if (this.data && this.data.classes.join('\n') !== info.classes.join('\n'))
        throw new FitError(
          `${this.name}: fine-tuning on classes [${info.classes.join(', ')}]; the model was trained on [${this.data.classes.join(', ')}]`,
        );
      this.data = info;
    } else {
      this.dispose(); // a refit starts from a new model: the old one's tensors are freed
      this.data = info;
      if (this.recipe.kind === 'bownet') {
        const r = this.recipe;
        const p = bowPipeline(readRecipe(r.from));
        const { epochs: _e, lr: _l, batchSize: _b, fineTune: _f, ...pipelineOpts } = opts;
        const pf = await p.fit(train, { ...pipelineOpts, checkpointDir: undefined });
        for (const [k, v] of Object.entries(pf.phases)) phases[`${r.from} ${k}`] = v;
        this.source = p;
        this.model = exportStart(p, r);
      } else {
        this.model = this.build(info, opts.seed ?? 0, train);
      }
    }
    const { augment: _a, ...rest } = t;
    const steps = Math.ceil(train.n / t.batchSize);
    if (t.minSteps > steps * t.epochs && opts.progress !== false)
      process.stderr.write(
        `bowcnn: ${this.name}: ${train.n} images make ${steps} step${steps === 1 ? '' : 's'} an epoch: each of the ${t.epochs} epochs passes over them ${Math.ceil(t.minSteps / (steps * t.epochs))} times, to make train.minSteps = ${t.minSteps} steps (--set train.minSteps=0 for one pass an epoch)\n`,
      );
    const model = this.fitted();
    const rep = await trainModel(model, train, {
      ...rest,
      // a fine-tune's checkpoints belong to the weights it started from
      ...(opts.fineTune ? { startKey: await weightsKey(model) } : {}),
      augment: aug,
      seed: opts.seed ?? 0,
      checkpointDir: opts.checkpointDir,
      validation: opts.validation,
      label: this.name,
      evalFlip: this.predictOptions.flip,
      progress: opts.progress,
      maxSeconds: opts.maxSeconds ?? t.maxSeconds,
      targetAccuracy: t.targetAccuracy,
    });
    const cached = rep.epochsRun === 0 && rep.epochs.length > 0;
    phases.training = { seconds: rep.seconds, cached };
    // a resumed fit made its model over several runs: its time is this run's and every earlier epoch's
    const earlier = rep.epochs.slice(0, rep.epochs.length - rep.epochsRun).reduce((a, e) => a + e.seconds, 0);
    return {
      seconds: (performance.now() - t0) / 1000 + earlier,
      cached,
      trainImagesPerSec: rep.epochs.length ? rep.imagesPerSec : null,
      phases,
      epochs: rep.epochs,
      resumedFromEpoch: rep.resumedFromEpoch,
      bestEpoch: rep.bestEpoch,
      ...(rep.stopReason ? { stopped: { reason: rep.stopReason, epochs: rep.epochs.length, planned: rep.epochsPlanned } } : {}),
    };
  }

  private fitted(): tf.LayersModel {
    if (!this.model) throw new FitError(`${this.name}: not fitted (fit it, or load a saved one)`);
    return this.model;
  }

  async scores(x: Maps): Promise<tf.Tensor2D> {
    const m = this.fitted();
    return tf.tidy(() => predictLogits(m, framedBatch(x, this.inShapeFor(x.shape.slice(1))), this.predictOptions) as tf.Tensor2D);
  }

  async predict(x: Maps): Promise<Int32Array> {
    const s = await this.scores(x);
    const v = (await s.data()) as Float32Array;
    const k = s.shape[1];
    s.dispose();
    return argmax(v, k);
  }

  scoreSplit(split: Split): Promise<Float32Array> {
    return predictSplit(
      this.fitted(),
      framedSplit(split, this.inShapeFor([split.height, split.width, split.channels])),
      500,
      this.predictOptions,
    );
  }

  /**
   * A bownet fitted here, scored as it was before fine-tuning: its source pipeline exported again (the model
   * fine-tuning started from) and run on the split as scoreSplit runs the trained one; null for any other model
   * (a CNN recipe, or a bownet loaded from disk, which keeps no source pipeline).
   */
  async scoreSplitBeforeFineTune(split: Split): Promise<Float32Array | null> {
    const r = this.recipe;
    if (r.kind !== 'bownet' || !this.source || !this.model) return null;
    const start = exportStart(this.source, r);
    try {
      return await predictSplit(
        start,
        framedSplit(split, this.inShapeFor([split.height, split.width, split.channels])),
        500,
        this.predictOptions,
      );
    } finally {
      start.dispose();
    }
  }

  /**
   * Where a bownet's frozen weights came from, by layer name: the source pipeline's card for that stage when it was
   * fitted here, else the one origin the recipe keeps frozen (handcrafted by default).
   */
  private frozenOrigin(): (layer: string) => Origin {
    const r = this.recipe;
    const frozen = r.kind === 'bownet' ? (['handcrafted', 'unsupervised', 'supervised'] as const).filter((o) => !r.trainable[o]) : [];
    const byStage = new Map((this.source?.cards() ?? []).map((c) => [c.stage, c.origin]));
    return (layer) => byStage.get(layer) ?? (frozen.length === 1 ? frozen[0] : 'handcrafted');
  }

  /** The cards of the fitted model, or of the model the recipe builds for images of inShape. */
  cards(inShape: readonly number[] = this.data?.inShape ?? [28, 28, 1]): LayerCard[] {
    const classic = this.recipe.kind === 'cnn' ? ZOO[this.recipe.model].classic : {};
    if (this.model) return cardsFromModel(this.model, classic, this.frozenOrigin());
    const m = this.build(
      { inShape: this.inShapeFor(inShape), classes: this.data?.classes ?? Array.from({ length: 10 }, (_, i) => String(i)) },
      0,
    );
    const cards = cardsFromModel(m, classic);
    m.dispose();
    return cards;
  }

  async representations(x: Maps): Promise<Record<string, tf.Tensor>> {
    const m = this.fitted();
    const keep = m.layers.filter((l) => represented(l.getClassName()));
    const probe = tf.model({ inputs: m.inputs, outputs: keep.map((l) => l.output as tf.SymbolicTensor) });
    const ys = tf.tidy(
      () => probe.apply(framedBatch(x, this.inShapeFor(x.shape.slice(1))), { training: false }) as tf.Tensor | tf.Tensor[],
    ) as tf.Tensor | tf.Tensor[]; // one pass (predict() slices into batches of 32)
    const arr = Array.isArray(ys) ? ys : [ys];
    return Object.fromEntries(keep.map((l, i) => [l.name, arr[i]]));
  }

  /** The first convolution's filters, summed over input channels (what the report sets beside the gradient filters). */
  async pictures(): Promise<Picture[]> {
    if (!this.model || this.recipe.kind !== 'cnn') return [];
    const conv = this.model.layers.find((l) => l.getClassName() === 'Conv2D');
    if (!conv) return [];
    const w = conv.getWeights()[0];
    const [kh, kw, ci, co] = w.shape;
    const v = (await w.array()) as number[][][][];
    const data = Array.from({ length: Math.min(co, 32) }, (_, o) =>
      Array.from({ length: kh }, (_, y) =>
        Array.from({ length: kw }, (_, x) => {
          let s = 0;
          for (let q = 0; q < ci; q++) s += v[y][x][q][o];
          return s;
        }),
      ),
    );
    return [{ kind: 'filters', title: `${this.name}: first-layer filters ${conv.name}, learned (backpropagation)`, data }];
  }

  ablations(): Ablation[] {
    const r = this.recipe;
    if (r.kind !== 'cnn') return [];
    return ZOO[r.model].ablations(r.config).map((a) => ({
      change: a.change,
      make: () => new CnnClassifier({ ...r, name: r.name, config: a.config }, `${this.name} [${a.change}]`),
    }));
  }

  describe(): Record<string, unknown> {
    return { ...this.recipe, name: this.name };
  }

  searchSpace(): Record<string, unknown[]> {
    return { ...(this.recipe.search ?? {}) };
  }

  /** The same recipe with another search space (each path and value checked by set()); unfitted. */
  searching(space: Record<string, unknown[]>): CnnClassifier {
    for (const [k, vs] of Object.entries(space)) for (const v of vs) this.set(k, v);
    return new CnnClassifier({ ...this.recipe, search: { ...space } }, this.name);
  }

  settable(): string[] {
    return cnnSettable(this.recipe);
  }

  /** set('train.epochs', 10): a new, unfitted classifier whose recipe has one value changed (validated by the recipe's schema). */
  set(path: string, value: unknown): CnnClassifier {
    const parts = path.split('.');
    if (!this.settable().includes(parts[0]))
      throw new ConfigError(
        `set('${path}'): ${this.name} has no setting '${parts[0]}'${didYouMean(parts[0], this.settable())}; settings: ${listOf(this.settable())}`,
      );
    const next = new CnnClassifier(recipeWith(this.recipe, path, value, `${this.name}: set('${path}')`), this.name);
    if (parts[0] === 'predict' && this.model) {
      // how it predicts, not what it learned: the same trained model, borrowed (disposing the copy leaves it to
      // its owner, so that a chain of set() calls can drop its intermediate copies)
      next.model = this.model;
      next.data = this.data;
      next.borrowed = true;
    }
    return next;
  }

  /**
   * The same trained model with other training options (`{ 'train.epochs': 2, 'train.lr': 1e-4 }`), for
   * fit(..., { fineTune: true }); the two share the model (dispose one of them).
   */
  withTraining(sets: Record<string, unknown>): CnnClassifier {
    let r = this.recipe;
    for (const [path, value] of Object.entries(sets)) {
      if (!path.startsWith('train.')) throw new ConfigError(`${this.name}: withTraining('${path}'): only training options (train.*)`);
      r = recipeWith(r, path, value, `${this.name}: set('${path}')`);
    }
    const next = new CnnClassifier(r, this.name);
    next.model = this.model;
    next.data = this.data;
    return next;
  }

  async save(dir: string): Promise<void> {
    // testTimeFlips, testTimeShifts: how this model's scores are made (the recipe gives them back at load; eval and
    // predict do the same), stated for readers of meta.json
    const views = this.predictOptions;
    await saveModel(this.fitted(), dir, {
      name: this.name,
      recipe: this.recipe,
      data: this.data,
      testTimeFlips: views.flip,
      testTimeShifts: views.shifts ?? 0,
    });
  }

  /**
   * A fitted BoW pipeline as a CNN (a bownet) that gives its predictions, ready to save or fine-tune: its recipe
   * names the pipeline it came from.
   */
  static fromPipeline(p: Pipeline, opts: { coding?: 'hard' | 'soft'; beta?: number; name?: string } = {}): CnnClassifier {
    const recipe = parseRecipe(
      {
        kind: 'bownet',
        name: opts.name ?? `${p.name}-net`,
        from: p.name,
        ...(opts.coding ? { coding: opts.coding } : {}),
        ...(opts.beta !== undefined ? { beta: opts.beta } : {}),
      },
      `export of '${p.name}'`,
    ) as BowNetRecipe;
    const net = new CnnClassifier(recipe);
    net.model = exportBowNet(p, { coding: opts.coding, beta: opts.beta, trainable: recipe.trainable });
    net.data = p.data;
    return net;
  }

  /** A saved CNN (meta.json kind 'cnn'): the model, its recipe and the data it was trained on. */
  static async load(dir: string, meta: ModelMeta): Promise<CnnClassifier> {
    const c = new CnnClassifier(parseRecipe(meta.recipe, `${dir}/meta.json`) as CnnRecipe | BowNetRecipe, meta.name);
    c.model = await loadModel(dir, meta);
    c.data = (meta.data as DataInfo | null) ?? null;
    return c;
  }

  dispose(): void {
    if (!this.borrowed) this.model?.dispose();
    this.model = null;
    this.borrowed = false;
    this.source?.dispose();
    this.source = null;
  }
}
