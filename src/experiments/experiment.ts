/**
 * The course's experiments: each tests one claim of the lecture "Neural Nets for Image Classification" on
 * real data, through the public API only (recipes, Classifier, compare, robustness, cards), and reports the
 * claim beside what it measured, agreeing or not.
 */
import { join } from 'node:path';
import type { Classifier } from '../core/classifier.js';
import type * as tf from '@tensorflow/tfjs';
import type { Dataset, Split } from '../core/data.js';
import { checkpoint } from '../core/interrupt.js';
import { batchTensor } from '../data/split.js';
import { type CompareResult, folderName } from '../eval/compare.js';
import type { ContenderResult } from '../eval/evaluate.js';
import { load } from '../models/load.js';
import type { ProtocolOptions } from '../eval/protocol.js';

export interface ExperimentContext {
  /** the dataset at the experiment's default subset, or the one the user asked for */
  dataset(): Promise<Dataset>;
  /** where the experiment may keep what it fits (models, caches, checkpoints) */
  out: string;
  seed: number;
  /** how each classifier's settings are chosen (eval/protocol.ts): on a validation split (the default) or fixed */
  protocol: ProtocolOptions;
  /** settings for every classifier that has them (`--set train.epochs=2`: a quick look) */
  sets: Record<string, unknown>;
  progress: boolean;
  say(message: string): void;
}

export interface Table {
  title: string;
  head: string[];
  rows: (string | number)[][];
}

export type Verdict = 'agrees' | 'disagrees' | 'partly' | 'inconclusive';

/** What an experiment found: its tables, plots (SVG) and figures (everything in numbers, for results.json). */
export interface Findings {
  measured: string; // one line, beside the claim
  verdict: Verdict;
  tables: Table[];
  plots: { title: string; svg: string }[];
  notes: string[];
  figures: Record<string, unknown>;
  data?: { name: string; train: number; test: number; source: string };
}

export interface Experiment {
  name: string;
  title: string;
  /** the lecture's claim, in its words where it has them */
  claim: string;
  defaults: { dataset: string; subset?: number; testSubset?: number };
  run(ctx: ExperimentContext): Promise<Findings>;
}

export interface ExperimentResult extends Findings {
  experiment: string;
  title: string;
  claim: string;
  seed: number;
  seconds: number;
  date: string;
  command?: string[];
  versions: Record<string, string>;
}

export const pct = (v: number, d = 2) => `${(100 * v).toFixed(d)}%`;
export const num = (v: number) => v.toLocaleString('en-US');

/** The dataset as a report names it. */
export const dataOf = (ds: Dataset) => ({ name: ds.name, train: ds.train.n, test: ds.test.n, source: ds.source });

/** A comparison's result for one classifier, by name. */
export const contender = (r: CompareResult, name: string): ContenderResult | undefined => r.contenders.find((c) => c.name === name);

/** The classifier `compare` fitted and saved under `out` (its models/ folder). */
export const fitted = (out: string, name: string): Promise<Classifier> => load(join(out, 'models', folderName(name)));

/** Accuracy on a split, batch by batch: `predict` gets each batch `[n,H,W,C]` (freed after) and its first index. */
export async function splitAccuracy(
  s: Split,
  predict: (x: tf.Tensor4D, start: number) => Promise<Int32Array>,
  batch = 500,
): Promise<number> {
  let right = 0;
  for (let i = 0; i < s.n; i += batch) {
    await checkpoint();
    const x = batchTensor(s, i, Math.min(s.n, i + batch));
    try {
      const p = await predict(x, i);
      for (let j = 0; j < p.length; j++) if (p[j] === s.labels[i + j]) right++;
    } finally {
      x.dispose();
    }
  }
  return right / s.n;
}
