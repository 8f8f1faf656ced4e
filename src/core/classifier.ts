/**
 * The one contract both halves keep (docs/architecture.md): a fitted BoW Pipeline and a trained CNN are each a
 * Classifier, and evaluation, comparison, robustness, ablation, the report and the CLI see nothing else.
 *
 *   fit(train, opts)       fits on a split; returns what was done and how fast ("cached" where nothing
 *                          had to be computed)
 *   scores(x)              `[N,classes]` scores of a batch `[N,H,W,C]` in [0,1] (the caller disposes)
 *   predict(x)             labels of a batch
 *   scoreSplit(split)      scores of a whole split, batched (with a feature cache where the kind has one)
 *   cards()                the stage <-> layer table
 *   representations(x)     per stage or layer, in order: what robustness and the report measure
 *   representationDistances(a, b)  optional: per stage or layer, the mean cosine distance between the
 *                          representations of a and of b, computed without holding them all, and the
 *                          predicted labels of b (robustness)
 *   pictures()             what the report can draw of it (filters, visual words)
 *   ablations()            the variants the course's ablation experiment fits against it
 *   describe()             the configuration as run (JSON: recipe, stages, training options)
 *   set(path, value)       a new classifier with one setting changed (validated; --set on the CLI)
 *   inferenceOnly(path)    optional: the path changes how a fitted classifier scores, not what it learns
 *   save(dir)              a folder with checksums (core/persist); models/load reads it back as the right kind
 *   dispose()              frees its tensors
 */
import type * as tf from '@tensorflow/tfjs';
import type { Split } from './data.js';
import type { LayerCard } from './card.js';

export type Maps = tf.Tensor4D; // [N,H,W,C], float32

/** What a classifier knows of the data it was fitted on (saved with it; eval and predict check against it). */
export interface DataInfo {
  dataset: string;
  classes: readonly string[];
  inShape: [number, number, number]; // [H,W,C] of one image
  /** a CNN's training images as read, before they were framed to its input (cnn/input.ts), when they differed */
  readShape?: [number, number, number];
  flipSafe: boolean; // a horizontal mirror keeps the label
}

export interface FitOptions {
  seed?: number;
  cacheDir?: string; // BoW: dictionaries and features
  checkpointDir?: string; // CNN: a checkpoint per epoch; a rerun resumes
  progress?: boolean;
  maxSeconds?: number;
  validation?: Split;
  /** the dataset's name, classes and mirror safety (default: classes '0'..'K-1', no mirrors) */
  data?: Partial<DataInfo>;
  /** CNN: continue training the current weights (a loaded or fitted model) instead of a new model */
  fineTune?: boolean;
  /** CNN: the recipe's training options, changed for this fit */
  epochs?: number;
  lr?: number;
  batchSize?: number;
}

export interface EpochRecord {
  epoch: number;
  loss: number;
  trainAccuracy: number;
  valAccuracy: number | null;
  lr: number;
  seconds: number;
  imagesPerSec: number;
}

export interface FitReport {
  seconds: number; // wall time of this fit, cache reads included
  /** true when nothing was computed: every part came from the cache or a finished checkpoint */
  cached: boolean;
  /** training (CNN) or feature-extraction (BoW) images per second, as measured when it was computed */
  trainImagesPerSec: number | null;
  /** per phase: seconds and whether it came from the cache ('coding fit', 'features', 'classifier fit', 'training') */
  phases: Record<string, { seconds: number; cached: boolean }>;
  epochs?: EpochRecord[]; // CNN: the training curve (from the checkpoint when resumed)
  /** CNN resumed from a checkpoint: the last epoch (0-based) the checkpoint held; `seconds` then counts every epoch's time */
  resumedFromEpoch?: number | null;
  /** a fit that ended before its planned epochs, and why */
  stopped?: { reason: 'patience' | 'target-accuracy' | 'max-seconds'; epochs: number; planned: number };
  /** CNN: the epoch (0-based) with the best validation accuracy (train accuracy without a validation split) */
  bestEpoch?: number;
}

export interface Picture {
  kind: 'filters' | 'words';
  title: string;
  /** filters: [n][h][w] weights; words: [n][128] SIFT-layout descriptors */
  data: number[][][] | number[][];
  labels?: string[];
}

export interface Ablation {
  change: string;
  make(): Classifier;
}

export interface Classifier {
  readonly name: string;
  readonly kind: 'bow' | 'cnn';
  /** the data it was fitted on (null before fit or load) */
  readonly data: DataInfo | null;
  fit(train: Split, opts?: FitOptions): Promise<FitReport>;
  scores(x: Maps): Promise<tf.Tensor2D>;
  predict(x: Maps): Promise<Int32Array>;
  scoreSplit(split: Split, opts?: { cacheDir?: string; progress?: boolean }): Promise<Float32Array>;
  cards(inShape?: readonly number[]): LayerCard[];
  representations(x: Maps): Promise<Record<string, tf.Tensor>>;
  representationDistances?(a: Maps, b: Maps): Promise<{ distances: Record<string, number>; predictions: Int32Array }>;
  pictures(): Promise<Picture[]>;
  ablations(): Ablation[];
  describe(): Record<string, unknown>;
  /** A new, unfitted-where-it-must-be classifier with one setting changed ('coding.words', 'train.epochs'). */
  set(path: string, value: unknown): Classifier;
  /** The first parts of the paths set() takes: stage names, or 'train', 'config', 'predict'. */
  settable(): string[];
  /**
   * Whether a set() path changes only how the fitted classifier scores (a CNN's test-time views, `predict.*`),
   * so that set() keeps the fitted model: the protocol then scores such candidates on one fit. Absent: none does.
   */
  inferenceOnly?(path: string): boolean;
  /** The settings the validation protocol chooses among: set() paths and the values to try (its recipe's `search`). */
  searchSpace(): Record<string, unknown[]>;
  /** The same classifier (unfitted where it must be) with another search space. */
  searching(space: Record<string, unknown[]>): Classifier;
  save(dir: string): Promise<void>;
  dispose(): void;
}

/** The data info for a split and what the caller knows of it. */
export function dataInfo(train: Split, given: Partial<DataInfo> = {}): DataInfo {
  let k = 0;
  for (let i = 0; i < train.n; i++) k = Math.max(k, train.labels[i] + 1);
  return {
    dataset: given.dataset ?? 'unnamed',
    classes: given.classes ?? Array.from({ length: k }, (_, i) => String(i)),
    inShape: [train.height, train.width, train.channels],
    flipSafe: given.flipSafe ?? false,
  };
}
