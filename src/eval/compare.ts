/**
 * compare: every classifier gets the same dataset, split, seeds and protocol, through the Classifier
 * contract only. Under the validation protocol (eval/protocol.ts), each classifier's settings are chosen
 * from its search space on a validation split carved from the training set and refitted on all of it; the
 * test set is scored once per fitted model. For each, eval/evaluate records accuracy with Wilson's 95%
 * interval and the rest; with several seeds, the mean and spread; then a test for every pair (McNemar's,
 * or with several seeds a paired test over seeds and test images) and a verdict that names the protocol
 * and the training-set size; with several training-set sizes, learning curves and where they cross;
 * optionally the robustness sweeps and the ablation; and the pictures each classifier offers.
 *
 * Everything long is resumable: BoW features and dictionaries go to OUT/cache, CNN checkpoints to
 * OUT/checkpoints/<name>/, each search's candidates and each finished fit's results to OUT/parts/ and the
 * model at the largest size and first seed to OUT/models/<name> (all written atomically). A rerun reads a
 * finished part back (when its configuration, the data and the seed are the same) and loads its saved
 * model instead of fitting it again: its figures are the first run's, and it is marked cached.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { backendInfo } from '../backend/index.js';
import type { Classifier, Picture } from '../core/classifier.js';
import { ConfigError, ModelError } from '../core/errors.js';
import { sha256 } from '../core/persist.js';
import { identity } from '../core/identity.js';
import { folderName } from '../core/names.js';
import { fingerprint, subset } from '../data/split.js';
import { didYouMean, listOf } from '../core/suggest.js';
import type { Dataset } from '../core/data.js';
import { load } from '../models/load.js';
import { applySets, classifierFrom, seeded } from '../models/resolve.js';
import { ensureDir, writeFileAtomic } from '../core/atomic.js';
import { ablation, type AblationRow } from './ablation.js';
import { type ContenderResult, fitAndEvaluate, type SeedRun } from './evaluate.js';
import { mcnemar, type McNemar, meanSd, pairedSeedTest, type SeedTest, wilson } from './metrics.js';
import {
  type CandidateRecord,
  choose,
  checkSearch,
  DEFAULT_PROTOCOL,
  openSpace,
  PROTOCOLS,
  type ProtocolKind,
  type ProtocolOptions,
  type ProtocolRecord,
  withSettings,
} from './protocol.js';
import { robustness, type RobustnessResult, type TransformKind } from './robustness.js';

export type { ContenderResult };

export interface CompareOptions {
  out: string;
  seed?: number;
  /**
   * How settings are chosen (eval/protocol.ts): 'validation' (the default: each classifier's search space
   * tried on a validation split carved from the training set, the best refitted on all of it, the test set
   * scored once) or 'fixed' (the recipes' own settings); or the protocol with its validation split's size.
   */
  protocol?: ProtocolKind | ProtocolOptions;
  /** training seeds per classifier: seed, seed + 1, ... (default 1); the search runs once, with the first */
  seeds?: number;
  /** learning curves: every classifier at each of these training-set sizes (stratified, nested subsets) */
  trainSizes?: number[];
  robustness?: boolean;
  robustnessImages?: number;
  /** the sweeps to run (default: all four) */
  robustnessKinds?: TransformKind[];
  ablation?: boolean;
  /** --set values: 'coding.words' -> 512, 'train.epochs' -> 10 (each must apply to some classifier; a set path is not searched) */
  sets?: Record<string, unknown>;
  /** settings applied to the classifiers that have them, and skipped for the others (an experiment's --set) */
  optionalSets?: Record<string, unknown>;
  progress?: boolean;
  maxSeconds?: number;
  onStep?: (msg: string) => void;
  /** the command line that ran this, for results.json */
  command?: string[];
}

export interface Mistake {
  index: number;
  label: number;
  predicted: number;
  margin: number;
}

/** One classifier at one training-set size and seed, under the protocol. */
export interface CurvePoint {
  name: string;
  kind: 'bow' | 'cnn';
  trainSize: number;
  seed: number;
  accuracy: number;
  /** the refit's seconds (the search's are in searchSeconds) */
  fitSeconds: number;
  searchSeconds: number;
}

/** Where two classifiers' learning curves change order (mean accuracy over seeds). */
export interface Crossing {
  a: string;
  b: string;
  /** the sizes between which the order changes, and the size by log-linear interpolation */
  between: [number, number];
  at: number;
  /** who leads above the crossing */
  above: string;
}

/** Two classifiers on the same test images: McNemar's test (first seed), and with several seeds the paired seed test. */
export interface PairResult extends McNemar {
  a: string;
  b: string;
  /** accuracy of a minus b (means over seeds) */
  difference: number;
  /** the test the verdict rests on */
  test: 'mcnemar' | 'paired-seeds';
  pValue: number;
  seedTest?: SeedTest;
  /** the two accuracies' 95% intervals overlap */
  overlap: boolean;
  verdict: string;
}

export interface CompareResult {
  format: 'bowcnn-results';
  version: 3;
  date: string;
  command: string[] | null;
  sets: Record<string, unknown>;
  versions: Record<string, string>;
  backend: ReturnType<typeof backendInfo>;
  dataset: {
    name: string;
    source: string;
    train: number;
    test: number;
    classes: readonly string[];
    fingerprint: string;
    flipSafe: boolean;
    /** one image's [height, width, channels], as the contenders saw it */
    imageShape: [number, number, number];
  };
  seed: number;
  /** how settings were chosen, the seeds and the training-set sizes */
  protocol: ProtocolOptions & { seeds: number[]; trainSizes: number[] };
  /** each classifier at the largest training-set size (its mean over seeds, with the first seed's details) */
  contenders: ContenderResult[];
  pairs: PairResult[];
  /** the headline: the best BoW against the best CNN (else the best two), with the protocol and the size */
  verdict: string;
  curves: CurvePoint[];
  crossings: Crossing[];
  /** what the curves say, in words */
  curveSummary: string[];
  robustness?: RobustnessResult;
  robustnessImages?: number;
  ablation?: AblationRow[];
  pictures: (Picture & { from: string })[];
  /** test-image indices: a row of samples per class, and each classifier's most confident mistakes */
  samples: number[][];
  mistakes: Record<string, Mistake[]>;
}

/** Refuses two classifiers that would be saved in the same folder. */
export function checkNames(cs: readonly Classifier[]): void {
  for (const c of cs) {
    const stages = (c as { stages?: readonly { supervised?: boolean }[] }).stages;
    if (stages && !stages.some((s) => s.supervised))
      throw new ConfigError(
        `pipeline '${c.name}' ends without a classifier (a stage fitted on labels, e.g. { "kind": "classifier" }): there is nothing to score`,
      );
  }
  const names = cs.map((c) => folderName(c.name));
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup)
    throw new ConfigError(`two classifiers would be saved as '${dup}': give them distinct names (a pipeline: p.renamed('new-name'))`);
}

export { folderName };

const atomicJson = (file: string, v: unknown) => writeFileAtomic(file, JSON.stringify(v));

/** The test images a classifier got wrong with the largest margin between its predicted and the true class's score. */
export function mistakes(r: ContenderResult, labels: ArrayLike<number>, n = 8): Mistake[] {
  const out: Mistake[] = [];
  for (let i = 0; i < r.correct.length; i++) {
    if (r.correct[i]) continue;
    const s = r.scores[i];
    out.push({ index: i, label: labels[i], predicted: r.predicted[i], margin: s[r.predicted[i]] - s[labels[i]] });
  }
  return out.sort((a, b) => b.margin - a.margin).slice(0, n);
}

/** The first `per` test images of each class. */
function samplesPerClass(labels: ArrayLike<number>, classes: number, per = 8): number[][] {
  const out: number[][] = Array.from({ length: classes }, () => []);
  for (let i = 0; i < labels.length; i++) if (out[labels[i]].length < per) out[labels[i]].push(i);
  return out;
}

/** The protocol options from what compare() was given. */
export function protocolOf(p: CompareOptions['protocol']): ProtocolOptions {
  if (p === undefined) return { ...DEFAULT_PROTOCOL };
  if (typeof p === 'string') {
    if (!(PROTOCOLS as readonly string[]).includes(p))
      throw new ConfigError(`protocol '${p}'${didYouMean(p, PROTOCOLS)}: it is one of ${listOf(PROTOCOLS)}`);
    return { ...DEFAULT_PROTOCOL, kind: p };
  }
  if (!(PROTOCOLS as readonly string[]).includes(p.kind)) throw new ConfigError(`protocol '${p.kind}': it is one of ${listOf(PROTOCOLS)}`);
  if (!(p.validation > 0)) throw new ConfigError(`validation split ${p.validation}: give a fraction in (0, 1) or a count of images`);
  return { ...p };
}

/** The sizes of a learning curve, checked against the training split. */
function sizesOf(given: number[] | undefined, n: number, classes: number): number[] {
  if (!given?.length) return [n];
  const bad = given.find((s) => !Number.isInteger(s) || s < 2 * classes);
  if (bad !== undefined) throw new ConfigError(`train size ${bad}: each must be a whole number of at least ${2 * classes} (2 per class)`);
  const over = given.find((s) => s > n);
  if (over !== undefined) throw new ConfigError(`train size ${over}: the training split has ${n} images`);
  return [...new Set(given)].sort((a, b) => a - b);
}

const thousands = (v: number) => Math.round(v).toLocaleString('en-US');

/** "at 60,000 training images, under the validation protocol (3 seeds)". */
export function conditions(p: ProtocolOptions, size: number, seeds: number): string {
  return `at ${thousands(size)} training images, under the ${p.kind} protocol${seeds > 1 ? ` (${seeds} seeds)` : ''}`;
}

/**
 * Compares two classifiers' results on the same test images. "beats" only where the test is significant
 * (p < 0.05) and the two accuracies' 95% intervals do not overlap.
 */
export function pairOf(a: ContenderResult, b: ContenderResult, where: string): PairResult {
  const m = mcnemar(a.correct, b.correct);
  const ca = (a.seeds ?? []).map((s) => s.correct);
  const cb = (b.seeds ?? []).map((s) => s.correct);
  const multi = ca.length > 1 && ca.length === cb.length;
  const seedTest = multi ? pairedSeedTest(ca, cb) : undefined;
  const p = seedTest ? seedTest.p : m.p;
  const difference = a.accuracy - b.accuracy;
  const overlap = a.ci95[0] <= b.ci95[1] && b.ci95[0] <= a.ci95[1];
  const [w, l] = difference >= 0 ? [a.name, b.name] : [b.name, a.name];
  const pts = `${(100 * Math.abs(difference)).toFixed(2)} points`;
  const test = seedTest ? 'paired test over seeds and test images' : 'McNemar';
  const pv = p < 1e-4 ? p.toExponential(2) : p.toFixed(4);
  let verdict: string;
  if (p < 0.05 && !overlap) verdict = `${where}, ${w} beats ${l} by ${pts} (${test}, p = ${pv})`;
  else if (p < 0.05) verdict = `${where}, ${w} is ahead of ${l} by ${pts} (${test}, p = ${pv}), but their 95% intervals overlap`;
  else if (difference === 0) verdict = `${where}, ${a.name} and ${b.name} are level (${test}, p = ${pv})`;
  else verdict = `${where}, no significant difference between ${a.name} and ${b.name} (${w} ahead by ${pts}; ${test}, p = ${pv})`;
  return {
    a: a.name,
    b: b.name,
    ...m,
    difference,
    test: seedTest ? 'paired-seeds' : 'mcnemar',
    pValue: p,
    ...(seedTest ? { seedTest } : {}),
    overlap,
    verdict,
  };
}

/** Mean accuracy over seeds per (name, size). */
function meanCurve(curves: CurvePoint[], name: string): { size: number; accuracy: number }[] {
  const sizes = [...new Set(curves.filter((c) => c.name === name).map((c) => c.trainSize))].sort((a, b) => a - b);
  return sizes.map((size) => {
    const at = curves.filter((c) => c.name === name && c.trainSize === size);
    return { size, accuracy: at.reduce((x, c) => x + c.accuracy, 0) / at.length };
  });
}

/** Where each pair of learning curves changes order, by log-linear interpolation between the sizes around it. */
export function crossings(curves: CurvePoint[]): Crossing[] {
  const names = [...new Set(curves.map((c) => c.name))];
  const out: Crossing[] = [];
  for (let i = 0; i < names.length; i++)
    for (let j = i + 1; j < names.length; j++) {
      const a = meanCurve(curves, names[i]),
        b = meanCurve(curves, names[j]);
      const sizes = a.map((p) => p.size).filter((s) => b.some((q) => q.size === s));
      const d = sizes.map((s) => (a.find((p) => p.size === s)?.accuracy ?? 0) - (b.find((p) => p.size === s)?.accuracy ?? 0));
      for (let k = 1; k < sizes.length; k++) {
        if (d[k - 1] === 0 || d[k] === 0 || Math.sign(d[k - 1]) === Math.sign(d[k])) continue;
        const t = d[k - 1] / (d[k - 1] - d[k]);
        const at = Math.exp(Math.log(sizes[k - 1]) + t * (Math.log(sizes[k]) - Math.log(sizes[k - 1])));
        out.push({ a: names[i], b: names[j], between: [sizes[k - 1], sizes[k]], at, above: d[k] > 0 ? names[i] : names[j] });
      }
    }
  return out;
}

/** The learning curves in words: who leads at the smallest and the largest size, and where they cross. */
export function summariseCurves(curves: CurvePoint[], cross: Crossing[]): string[] {
  const names = [...new Set(curves.map((c) => c.name))];
  const sizes = [...new Set(curves.map((c) => c.trainSize))].sort((a, b) => a - b);
  if (sizes.length < 2 || names.length < 2) return [];
  const lead = (size: number) => {
    const at = names.map((n) => ({ n, acc: meanCurve(curves, n).find((p) => p.size === size)?.accuracy ?? -1 }));
    at.sort((x, y) => y.acc - x.acc);
    return `${at[0].n} (${(100 * at[0].acc).toFixed(2)}%)`;
  };
  const lines = [
    `with ${thousands(sizes[0])} training images ${lead(sizes[0])} leads; with ${thousands(sizes[sizes.length - 1])}, ${lead(sizes[sizes.length - 1])}`,
  ];
  for (const c of cross)
    lines.push(
      `${c.a} and ${c.b} cross between ${thousands(c.between[0])} and ${thousands(c.between[1])} training images (about ${thousands(c.at)} by log-linear interpolation); above it ${c.above} leads`,
    );
  if (!cross.length) lines.push('no two curves cross over the sizes run');
  return lines;
}

/** The folders a comparison makes inside its output folder: per-classifier results, saved models, the feature cache, training checkpoints. */
export const RUN_FOLDERS = ['parts', 'models', 'cache', 'checkpoints'] as const;

/** The headline: the best BoW against the best CNN where both are present, else the two best. */
function headline(results: ContenderResult[], pairs: PairResult[], where: string): string {
  if (results.length === 1) return `${where}, ${results[0].name}: ${(100 * results[0].accuracy).toFixed(2)}%`;
  const best = (k?: 'bow' | 'cnn') => [...results].filter((r) => !k || r.kind === k).sort((x, y) => y.accuracy - x.accuracy)[0];
  const [x, y] = best('bow') && best('cnn') ? [best('bow'), best('cnn')] : [...results].sort((p, q) => q.accuracy - p.accuracy);
  return pairs.find((p) => (p.a === x.name && p.b === y.name) || (p.a === y.name && p.b === x.name))?.verdict ?? '';
}

interface Part {
  key: string;
  sha256: string;
  result: ContenderResult;
}

export async function compare(specs: (string | Classifier)[], ds: Dataset, opts: CompareOptions): Promise<CompareResult> {
  if (specs.length === 0) throw new ConfigError('give at least one classifier to compare (a recipe name, a path or a Classifier)');
  const say = opts.onStep ?? (() => {});
  const seed = opts.seed ?? 0;
  const protocol = protocolOf(opts.protocol);
  const nSeeds = opts.seeds ?? 1;
  if (!(Number.isInteger(nSeeds) && nSeeds >= 1)) throw new ConfigError(`seeds ${nSeeds}: give a whole number >= 1`);
  const seeds = Array.from({ length: nSeeds }, (_, i) => seed + i);
  const sizes = sizesOf(opts.trainSizes, ds.train.n, ds.classes.length);
  const optional = opts.optionalSets ?? {};
  const sets = { ...optional, ...opts.sets };
  const given = await Promise.all(specs.map((s) => classifierFrom(s)));
  const applicable = Object.fromEntries(
    Object.entries(optional).filter(([k]) => given.some((c) => c.settable().includes(k.split('.')[0]))),
  );
  const base = applySets(applySets(given, applicable), opts.sets ?? {});
  checkNames(base);
  // a search that cannot be chosen is refused before anything is fitted
  if (protocol.kind === 'validation') for (const c of base) checkSearch(c, openSpace(c, sets));
  for (const d of RUN_FOLDERS) ensureDir(join(opts.out, d));
  const ours = new Set(base.filter((c) => !specs.includes(c)));
  const largest = sizes[sizes.length - 1];
  const primary: Classifier[] = [];
  const results: ContenderResult[] = [];
  const curves: CurvePoint[] = [];
  const cacheDir = join(opts.out, 'cache');
  try {
    for (const size of sizes) {
      const train = size < ds.train.n ? subset(ds.train, size, seed + 11) : ds.train;
      const at: Dataset = size < ds.train.n ? { ...ds, train, fingerprint: fingerprint({ name: ds.name, splits: [train, ds.test] }) } : ds;
      if (sizes.length > 1) say(`${thousands(size)} training images`);
      for (const c of base) {
        const tag = size === largest ? '' : `@${size}`;
        const space = protocol.kind === 'validation' ? openSpace(c, sets) : {};
        let chosen: Classifier = c;
        let record: ProtocolRecord | null = null;
        if (protocol.kind === 'validation') {
          record = await searchPart(c, at, space, protocol, seed, tag, opts, say);
          chosen = withSettings(c, record.chosen);
          if (chosen !== c) ours.add(chosen);
          if (Object.keys(record.chosen).length)
            say(
              `${c.name}: chose ${Object.entries(record.chosen)
                .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
                .join(' ')} on validation`,
            );
        }
        const runs: ContenderResult[] = [];
        for (const s of seeds) {
          const first = s === seeds[0];
          const k = seeded(chosen, sets, s);
          if (k !== chosen) ours.add(k);
          const keep = size === largest && first;
          const r = await runPart(k, at, s, tag + (first ? '' : `.s${s}`), keep, opts, say, (loaded) => {
            ours.add(loaded);
            primary.push(loaded);
          });
          if (keep && r.fitted) primary.push(k);
          r.result.trainSize = size;
          r.result.protocol = record;
          runs.push(r.result);
          curves.push({
            name: c.name,
            kind: c.kind,
            trainSize: size,
            seed: s,
            accuracy: r.result.accuracy,
            fitSeconds: r.result.fit.measured?.seconds ?? r.result.fit.seconds,
            searchSeconds: record?.seconds ?? 0,
          });
          if (!keep && k !== c && k !== chosen) {
            k.dispose();
            ours.delete(k);
          }
        }
        if (size === largest) results.push(withSeeds(runs));
      }
    }
    const where = conditions(protocol, largest, seeds.length);
    const pairs: PairResult[] = [];
    for (let i = 0; i < results.length; i++) for (let j = i + 1; j < results.length; j++) pairs.push(pairOf(results[i], results[j], where));
    const cross = crossings(curves);
    const result: CompareResult = {
      format: 'bowcnn-results',
      version: 3,
      date: new Date().toISOString(),
      command: opts.command ?? null,
      sets,
      versions: { bowcnn: pkgVersion(), node: process.version, tfjs: tf.version.tfjs },
      backend: backendInfo(),
      dataset: {
        name: ds.name,
        source: ds.source,
        train: ds.train.n,
        test: ds.test.n,
        classes: ds.classes,
        fingerprint: ds.fingerprint,
        flipSafe: ds.flipSafe,
        imageShape: [ds.train.height, ds.train.width, ds.train.channels],
      },
      seed,
      protocol: { ...protocol, seeds, trainSizes: sizes },
      contenders: results,
      pairs,
      verdict: headline(results, pairs, where),
      curves,
      crossings: cross,
      curveSummary: summariseCurves(curves, cross),
      pictures: (await Promise.all(primary.map(async (c) => (await c.pictures()).map((p) => ({ ...p, from: c.name }))))).flat(),
      samples: samplesPerClass(ds.test.labels, ds.classes.length),
      mistakes: Object.fromEntries(results.map((r) => [r.name, mistakes(r, ds.test.labels)])),
    };
    const big: Dataset = largest < ds.train.n ? { ...ds, train: subset(ds.train, largest, seed + 11) } : ds;
    if (opts.robustness) {
      const n = Math.min(ds.test.n, opts.robustnessImages ?? 1000);
      const test = subset(ds.test, n, seed + 7);
      say(`robustness sweeps on ${n} test images`);
      result.robustness = await robustness(primary, test, { onStep: (s) => say(`robustness ${s}`), kinds: opts.robustnessKinds });
      result.robustnessImages = n;
    }
    if (opts.ablation) {
      say("ablation (each variant with its full classifier's chosen settings)");
      for (const c of primary) if (c.ablations().length === 0) say(`${c.name}: no ablation is defined for it`);
      result.ablation = await ablation(primary, results, big, {
        seed,
        cacheDir,
        progress: opts.progress,
        maxSeconds: opts.maxSeconds,
        onStep: say,
        dirOf: (name) => ({ cacheDir, checkpointDir: join(opts.out, 'checkpoints', folderName(name)) }),
      });
    }
    return result;
  } finally {
    for (const c of ours) c.dispose();
  }
}

/** One classifier's results over seeds: the mean accuracy (and its spread), the first seed's details. */
export function withSeeds(runs: ContenderResult[]): ContenderResult {
  const first = runs[0];
  const seedsRun: SeedRun[] = runs.map((r, i) => ({
    seed: r.seed ?? i,
    accuracy: r.accuracy,
    ci95: r.ci95,
    macroF1: r.macroF1,
    fitSeconds: r.fit.measured?.seconds ?? r.fit.seconds,
    correct: r.correct,
  }));
  if (runs.length === 1) return { ...first, seeds: seedsRun };
  const { mean, sd } = meanSd(runs.map((r) => r.accuracy));
  const n = first.correct.length;
  return {
    ...first,
    accuracy: mean,
    // the test sample's part of the uncertainty, at the mean; the seeds' part is accuracySd (and the paired test)
    ci95: wilson(Math.round(mean * n), n),
    accuracySd: sd,
    macroF1: meanSd(runs.map((r) => r.macroF1)).mean,
    seeds: seedsRun,
  };
}

/**
 * The protocol's search for one classifier and training split, resumable: the candidates finished so far
 * are kept in OUT/parts/NAME.search[@SIZE].json (written after each), and a rerun with the same classifier,
 * space, data and options reuses them.
 */
async function searchPart(
  c: Classifier,
  ds: Dataset,
  space: Record<string, unknown[]>,
  protocol: ProtocolOptions,
  seed: number,
  tag: string,
  opts: CompareOptions,
  say: (m: string) => void,
): Promise<ProtocolRecord> {
  const file = join(opts.out, 'parts', `${folderName(c.name)}.search${tag}.json`);
  const key = identity({
    config: c.describe(),
    space,
    data: fingerprint({ name: 'train', splits: [ds.train] }),
    seed,
    protocol,
    maxSeconds: opts.maxSeconds ?? null,
  });
  let done: CandidateRecord[] = [];
  if (existsSync(file))
    try {
      const p = JSON.parse(readFileSync(file, 'utf8')) as { key: string; candidates: CandidateRecord[]; record?: ProtocolRecord };
      if (p.key === key && p.record) {
        say(`${c.name}: its validation search finished in an earlier run (${file})`);
        return p.record;
      }
      if (p.key === key) done = p.candidates;
    } catch {
      // a part that does not parse is searched again (parts are written atomically: this is a foreign file)
    }
  const record = await choose(c, ds.train, space, {
    validation: protocol.validation,
    seed,
    cacheDir: join(opts.out, 'cache'),
    checkpointDir: (i) => join(opts.out, 'checkpoints', folderName(c.name), `search${tag}-${i}`),
    progress: opts.progress,
    maxSeconds: opts.maxSeconds,
    data: { dataset: ds.name, classes: ds.classes, flipSafe: ds.flipSafe },
    done,
    onStep: say,
    onCandidate: (rec) => {
      done = [...done, rec];
      atomicJson(file, { key, candidates: done });
    },
  });
  atomicJson(file, { key, candidates: record.candidates, record });
  return record;
}

/**
 * One fit and test scoring, resumable: a finished part (OUT/parts/NAME[TAG].json) for the same configuration,
 * data and seed is read back (with the saved model, where one is kept) instead of fitting again.
 */
async function runPart(
  c: Classifier,
  ds: Dataset,
  seed: number,
  tag: string,
  keep: boolean,
  opts: CompareOptions,
  say: (m: string) => void,
  onLoaded: (c: Classifier) => void,
): Promise<{ result: ContenderResult; fitted: boolean }> {
  const key = identity({ config: c.describe(), data: ds.fingerprint, seed, maxSeconds: opts.maxSeconds ?? null });
  const partFile = join(opts.out, 'parts', `${folderName(c.name)}${tag}.json`);
  const modelDir = join(opts.out, 'models', folderName(c.name));
  const earlier = readPart(partFile, key);
  const loaded = earlier && keep && existsSync(join(modelDir, 'meta.json')) ? await loadOrWarn(modelDir, say) : null;
  if (earlier && (loaded || !keep)) {
    say(
      `${c.name}${tag ? ` (${tag.replace(/^@/, 'size ').replace('.s', ' seed ')})` : ''}: finished in an earlier run (${partFile}); not fitted again`,
    );
    if (loaded) onLoaded(loaded);
    const f = earlier.result.fit;
    return {
      fitted: false,
      result: {
        ...earlier.result,
        fit: {
          ...f,
          cached: true,
          seconds: 0,
          trainImagesPerSec: null,
          measured: f.measured ?? { seconds: f.seconds, trainImagesPerSec: f.trainImagesPerSec, date: earlier.result.date },
        },
      },
    };
  }
  say(`fitting ${c.name} on ${thousands(ds.train.n)} training images${seed !== (opts.seed ?? 0) ? `, seed ${seed}` : ''}`);
  const r = await fitAndEvaluate(c, ds, {
    seed,
    progress: opts.progress,
    maxSeconds: opts.maxSeconds,
    cacheDir: join(opts.out, 'cache'),
    checkpointDir: join(opts.out, 'checkpoints', folderName(c.name), tag ? `run${tag}` : 'run'),
  });
  r.seed = seed;
  if (keep) await c.save(modelDir);
  atomicJson(partFile, { key, sha256: sha256(JSON.stringify(r)), result: r });
  say(`${c.name}: ${(100 * r.accuracy).toFixed(2)}% [${(100 * r.ci95[0]).toFixed(2)}, ${(100 * r.ci95[1]).toFixed(2)}]`);
  return { result: r, fitted: true };
}

/** An earlier run's saved model, or null (and a line saying why) when it cannot be loaded: it is then fitted again. */
async function loadOrWarn(dir: string, say: (m: string) => void): Promise<Classifier | null> {
  try {
    return await load(dir);
  } catch (e) {
    if (!(e instanceof ModelError)) throw e;
    say(`the saved model ${dir} cannot be used (${e.message}): fitting it again`);
    return null;
  }
}

/** An earlier run's part for the same configuration, data and seed, whose checksum holds; else null. */
function readPart(file: string, key: string): Part | null {
  if (!existsSync(file)) return null;
  try {
    const p = JSON.parse(readFileSync(file, 'utf8')) as Part;
    return p.key === key && p.result?.name && p.sha256 === sha256(JSON.stringify(p.result)) ? p : null;
  } catch {
    return null; // a part that does not parse is refitted (parts are written atomically: this is a foreign file)
  }
}

export function pkgVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export function loadResults(file: string): CompareResult {
  if (!existsSync(file)) throw new ConfigError(`${file}: no results here`);
  const r = JSON.parse(readFileSync(file, 'utf8')) as CompareResult;
  if (r.format !== 'bowcnn-results') throw new ConfigError(`${file}: not a bowcnn results file`);
  return r;
}
