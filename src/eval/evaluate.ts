/**
 * Fitting and evaluating one classifier on a dataset, through the Classifier contract only: accuracy with
 * Wilson's 95% interval, top-2, macro-F1 over the classes present, per-class scores, the confusion matrix, every test image's
 * predicted label and scores, fit time and training (or feature-extraction) speed ("cached" where nothing
 * was computed), inference speed measured on images through scores() (never through a feature cache; for a
 * classifier read back from an earlier run, the figure measured then), parameters, FLOPs per image,
 * peak memory.
 */
import { imageBatch } from '../pipeline/pipeline.js';
import type { LayerCard } from '../core/card.js';
import type { Classifier, EpochRecord, FitOptions, FitReport } from '../core/classifier.js';
import type { ProtocolRecord } from './protocol.js';
import type * as tf from '@tensorflow/tfjs';
import { inferenceBatch } from '../cnn/train.js';
import { checkpoint } from '../core/interrupt.js';
import { batchTensor } from '../data/split.js';
import type { Dataset } from '../core/data.js';
import { argmax } from '../core/scores.js';
import { accuracy, accuracyInterval, classesPresent, confusion, macroF1, perClass, topK, type PerClass } from './metrics.js';

export interface FitFigures {
  /** nothing was computed: the model (or all of its features) came from a cache, a checkpoint or an earlier run */
  cached: boolean;
  seconds: number; // this run's wall time for the fit
  trainImagesPerSec: number | null; // null when cached
  phases: FitReport['phases'];
  /** the figures measured when the model was computed, for a model taken from an earlier run */
  measured?: { seconds: number; trainImagesPerSec: number | null; date: string };
  /** a CNN resumed from its checkpoint: the last epoch the checkpoint held (0-based); `seconds` counts every epoch */
  resumedFromEpoch?: number | null;
  /** a fit that ended before its planned epochs (--max-seconds, early stopping, a target accuracy) */
  stopped?: FitReport['stopped'];
}

/** One training seed's model of a classifier, scored on the test set. */
export interface SeedRun {
  seed: number;
  accuracy: number;
  ci95: [number, number];
  macroF1: number;
  fitSeconds: number;
  /** per test image, whether this seed's model got it right */
  correct: number[];
}

export interface ContenderResult {
  name: string;
  kind: 'bow' | 'cnn';
  /** the training seed (the first, for a result over several seeds) */
  seed?: number;
  /** training images the model was fitted on */
  trainSize?: number;
  /** the validation protocol's search: candidates, their validation accuracy, what was chosen (null: fixed protocol) */
  protocol?: ProtocolRecord | null;
  /** every seed's model (one entry with one seed); accuracy is then their mean, accuracySd their spread */
  seeds?: SeedRun[];
  accuracySd?: number;
  config: Record<string, unknown>; // the recipe as run (stages and their configs, or the CNN recipe)
  accuracy: number;
  ci95: [number, number];
  top2: number;
  /** macro-F1 over the classes that have test images; how many they are */
  macroF1: number;
  macroF1Classes: number;
  perClass: PerClass[];
  confusion: number[][];
  fit: FitFigures;
  inferImagesPerSec: number;
  params: number;
  flopsPerImage: number | null;
  peakRssMB: number;
  cards: LayerCard[];
  epochs?: EpochRecord[]; // a CNN's training curve
  /** per test image: the predicted label, and whether it was right */
  predicted: number[];
  correct: number[];
  /** per test image, the classifier's scores for each class (5 significant digits) */
  scores: number[][];
  date: string;
}

export interface EvaluateOptions {
  seed?: number;
  cacheDir?: string;
  checkpointDir?: string;
  progress?: boolean;
  maxSeconds?: number;
  /** test images run through scores() to time inference (default 2000) */
  timingImages?: number;
  /** more options for fit (a CNN's fineTune, epochs, lr, batchSize) */
  fit?: Pick<FitOptions, 'fineTune' | 'epochs' | 'lr' | 'batchSize'>;
}

/** Peak resident memory over a piece of work (a timer that never keeps the process alive). */
export async function withPeakRss<T>(f: () => Promise<T>): Promise<{ value: T; peakRssMB: number }> {
  let peak = process.memoryUsage().rss;
  const t = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 200);
  t.unref();
  try {
    const value = await f();
    return { value, peakRssMB: Math.max(peak, process.memoryUsage().rss) / 2 ** 20 };
  } finally {
    clearInterval(t);
  }
}

/** Total parameters and multiply-adds per image (the cards' connections), when the cards give them. */
export function size(cards: LayerCard[]): { params: number; flops: number | null } {
  const params = cards.reduce((a, c) => a + (c.params ?? 0), 0);
  const known = cards.every((c) => c.connections !== undefined || c.params === 0);
  const flops = known ? 2 * cards.reduce((a, c) => a + (c.connections ?? 0), 0) : null;
  return { params, flops };
}

/** Images per second of scores() over the first `n` test images, in batches (no cache involved). */
async function inferenceSpeed(c: Classifier, ds: Dataset, n: number): Promise<number> {
  const m = Math.min(n, ds.test.n);
  // a CNN's batches sized to its largest layer output (a soft-coded bownet's codes take megabytes an image); a
  // pipeline's to the images' size (500 of 28x28, 8 of 256x256), as its own batches are
  const model = (c as { model?: tf.LayersModel | null }).model;
  const bs = model ? inferenceBatch(model) : Math.min(500, 2 * imageBatch(ds.test));
  const t = performance.now();
  for (let i = 0; i < m; i += bs) {
    await checkpoint();
    const x = batchTensor(ds.test, i, Math.min(m, i + bs));
    const s = await c.scores(x);
    await s.data();
    x.dispose();
    s.dispose();
  }
  return m / Math.max(1e-9, (performance.now() - t) / 1000);
}

const round5 = (v: number) => Number(v.toPrecision(5));

/** Scores a fitted classifier on the test split. */
export async function evaluate(
  c: Classifier,
  ds: Dataset,
  fit: FitFigures,
  peakRssMB: number,
  opts: EvaluateOptions = {},
  epochs?: EpochRecord[],
): Promise<ContenderResult> {
  const k = ds.classes.length;
  const scores = await c.scoreSplit(ds.test, { cacheDir: opts.cacheDir, progress: opts.progress });
  const inferImagesPerSec = await inferenceSpeed(c, ds, opts.timingImages ?? 2000);
  const pred = argmax(scores, k);
  const correct = Array.from(pred, (p, i) => (p === ds.test.labels[i] ? 1 : 0));
  const cm = confusion(pred, ds.test.labels, k);
  const cards = c.cards();
  const sz = size(cards);
  return {
    name: c.name,
    kind: c.kind,
    config: c.describe(),
    accuracy: accuracy(pred, ds.test.labels),
    ci95: accuracyInterval(correct),
    top2: topK(scores, ds.test.labels, k, 2),
    macroF1: macroF1(cm),
    macroF1Classes: classesPresent(cm),
    perClass: perClass(cm),
    confusion: cm,
    fit,
    inferImagesPerSec,
    params: sz.params,
    flopsPerImage: sz.flops,
    peakRssMB,
    cards,
    ...(epochs ? { epochs } : {}),
    predicted: Array.from(pred),
    correct,
    scores: Array.from({ length: ds.test.n }, (_, i) => Array.from(scores.subarray(i * k, (i + 1) * k), round5)),
    date: new Date().toISOString(),
  };
}

/** Fits a classifier on the training split and evaluates it on the test split. */
export async function fitAndEvaluate(c: Classifier, ds: Dataset, opts: EvaluateOptions = {}): Promise<ContenderResult> {
  const fitOpts: FitOptions = {
    seed: opts.seed,
    cacheDir: opts.cacheDir,
    checkpointDir: opts.checkpointDir,
    progress: opts.progress,
    maxSeconds: opts.maxSeconds,
    data: { dataset: ds.name, classes: ds.classes, flipSafe: ds.flipSafe },
    ...opts.fit,
  };
  const { value: rep, peakRssMB } = await withPeakRss(() => c.fit(ds.train, fitOpts));
  const fit: FitFigures = {
    cached: rep.cached,
    seconds: rep.seconds,
    trainImagesPerSec: rep.cached ? null : rep.trainImagesPerSec,
    phases: rep.phases,
    ...(rep.resumedFromEpoch !== undefined ? { resumedFromEpoch: rep.resumedFromEpoch } : {}),
    ...(rep.stopped ? { stopped: rep.stopped } : {}),
  };
  return evaluate(c, ds, fit, peakRssMB, opts, rep.epochs);
}
