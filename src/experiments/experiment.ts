/**
 * The course's experiments: each tests one claim of the lecture "Neural Nets for Image Classification" on
 * real data, through the public API only (recipes, Classifier, compare, robustness, cards), and reports the
 * claim beside what it measured, agreeing or not.
 */
import type { Dataset } from '../core/data.js';

export interface ExperimentContext {
  /** the dataset at the experiment's default subset, or the one the user asked for */
  dataset(): Promise<Dataset>;
  /** where the experiment may keep what it fits (models, caches, checkpoints) */
  out: string;
  seed: number;
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
