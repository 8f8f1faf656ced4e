/**
 * compare: every classifier gets the same dataset, split and seed, through the Classifier contract only.
 * For each, eval/evaluate records accuracy with a bootstrap 95% interval and the rest; then McNemar's test
 * for every pair; optionally the robustness sweeps and the ablation; and the pictures each classifier
 * offers (gradient filters, visual words, a CNN's first-layer filters).
 *
 * Everything long is resumable: BoW features and dictionaries go to OUT/cache, CNN checkpoints to
 * OUT/checkpoints/<name>, each finished classifier's results to OUT/parts/<name>.json and its model to
 * OUT/models/<name> (all written atomically). A rerun reads a finished classifier's part back (when its
 * configuration, the data and the seed are the same) and loads its saved model instead of fitting it
 * again: its figures are the first run's, and it is marked cached.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { backendInfo } from '../backend/index.js';
import type { Classifier, Picture } from '../core/classifier.js';
import { ConfigError, ModelError } from '../core/errors.js';
import { sha256 } from '../core/persist.js';
import { subset } from '../data/split.js';
import type { Dataset } from '../core/data.js';
import { load } from '../models/load.js';
import { applySets, classifierFrom } from '../models/resolve.js';
import { ensureDir, writeFileAtomic } from '../core/atomic.js';
import { ablation, type AblationRow } from './ablation.js';
import { type ContenderResult, fitAndEvaluate } from './evaluate.js';
import { mcnemar, type McNemar } from './metrics.js';
import { robustness, type RobustnessResult, type TransformKind } from './robustness.js';

export type { ContenderResult };

export interface CompareOptions {
  out: string;
  seed?: number;
  robustness?: boolean;
  robustnessImages?: number;
  /** the sweeps to run (default: all four) */
  robustnessKinds?: TransformKind[];
  ablation?: boolean;
  /** --set values: 'coding.words' -> 512, 'train.epochs' -> 10 (each must apply to some classifier) */
  sets?: Record<string, unknown>;
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

export interface CompareResult {
  format: 'bowcnn-results';
  version: 2;
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
  };
  seed: number;
  contenders: ContenderResult[];
  mcnemar: (McNemar & { a: string; b: string; verdict: string })[];
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

/** A classifier's name as a folder name (letters, digits, '.', '_', '-'; never '.' or '..'). */
export function folderName(name: string): string {
  const s = name.replace(/[^\w.-]+/g, '_');
  return /^[.]/.test(s) || s === '' ? `_${s}` : s;
}

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

export async function compare(specs: (string | Classifier)[], ds: Dataset, opts: CompareOptions): Promise<CompareResult> {
  if (specs.length === 0) throw new ConfigError('give at least one classifier to compare (a recipe name, a path or a Classifier)');
  const say = opts.onStep ?? (() => {});
  const seed = opts.seed ?? 0;
  const given = await Promise.all(specs.map((s) => classifierFrom(s)));
  const cs = applySets(given, opts.sets ?? {});
  checkNames(cs);
  for (const d of ['parts', 'models', 'cache', 'checkpoints']) ensureDir(join(opts.out, d));
  const ours = new Set(cs.filter((c) => !specs.includes(c)));
  const results: ContenderResult[] = [];
  const dirs = (name: string) => ({ cacheDir: join(opts.out, 'cache'), checkpointDir: join(opts.out, 'checkpoints', folderName(name)) });
  try {
    for (let i = 0; i < cs.length; i++) {
      const c = cs[i];
      const key = sha256(JSON.stringify({ config: c.describe(), data: ds.fingerprint, seed, maxSeconds: opts.maxSeconds ?? null }));
      const partFile = join(opts.out, 'parts', `${folderName(c.name)}.json`);
      const modelDir = join(opts.out, 'models', folderName(c.name));
      const earlier = readPart(partFile, key);
      const loaded = earlier && existsSync(join(modelDir, 'meta.json')) ? await loadOrWarn(modelDir, say) : null;
      if (earlier && loaded) {
        say(`${c.name}: finished in an earlier run (${partFile}); its saved model is loaded, not fitted again`);
        if (ours.has(c)) c.dispose();
        ours.add(loaded);
        cs[i] = loaded;
        const f = earlier.result.fit;
        results.push({
          ...earlier.result,
          fit: {
            cached: true,
            seconds: 0,
            trainImagesPerSec: null,
            phases: f.phases,
            measured: f.measured ?? { seconds: f.seconds, trainImagesPerSec: f.trainImagesPerSec, date: earlier.result.date },
          },
        });
        continue;
      }
      say(`fitting ${c.name}`);
      const r = await fitAndEvaluate(c, ds, { seed, progress: opts.progress, maxSeconds: opts.maxSeconds, ...dirs(c.name) });
      await c.save(modelDir);
      atomicJson(partFile, { key, sha256: sha256(JSON.stringify(r)), result: r });
      say(`${c.name}: ${(100 * r.accuracy).toFixed(2)}% [${(100 * r.ci95[0]).toFixed(2)}, ${(100 * r.ci95[1]).toFixed(2)}]`);
      results.push(r);
    }
    const pairs: CompareResult['mcnemar'] = [];
    for (let i = 0; i < results.length; i++) {
      for (let j = i + 1; j < results.length; j++) {
        const m = mcnemar(results[i].correct, results[j].correct);
        const [a, b] = [results[i], results[j]];
        const verdict =
          m.p < 0.05
            ? `${m.onlyA > m.onlyB ? a.name : b.name} beats ${m.onlyA > m.onlyB ? b.name : a.name} (p = ${m.p.toExponential(2)})`
            : `no significant difference (p = ${m.p.toFixed(3)})`;
        pairs.push({ a: a.name, b: b.name, ...m, verdict });
      }
    }
    const result: CompareResult = {
      format: 'bowcnn-results',
      version: 2,
      date: new Date().toISOString(),
      command: opts.command ?? null,
      sets: opts.sets ?? {},
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
      },
      seed,
      contenders: results,
      mcnemar: pairs,
      pictures: (await Promise.all(cs.map(async (c) => (await c.pictures()).map((p) => ({ ...p, from: c.name }))))).flat(),
      samples: samplesPerClass(ds.test.labels, ds.classes.length),
      mistakes: Object.fromEntries(results.map((r) => [r.name, mistakes(r, ds.test.labels)])),
    };
    if (opts.robustness) {
      const n = Math.min(ds.test.n, opts.robustnessImages ?? 1000);
      const test = subset(ds.test, n, seed + 7);
      say(`robustness sweeps on ${n} test images`);
      result.robustness = await robustness(cs, test, { onStep: (s) => say(`robustness ${s}`), kinds: opts.robustnessKinds });
      result.robustnessImages = n;
    }
    if (opts.ablation) {
      say('ablation');
      for (const c of cs) if (c.ablations().length === 0) say(`${c.name}: no ablation is defined for it`);
      result.ablation = await ablation(cs, results, ds, {
        seed,
        progress: opts.progress,
        maxSeconds: opts.maxSeconds,
        onStep: say,
        dirOf: dirs,
      });
    }
    return result;
  } finally {
    for (const c of ours) c.dispose();
  }
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
function readPart(file: string, key: string): { key: string; result: ContenderResult } | null {
  if (!existsSync(file)) return null;
  try {
    const p = JSON.parse(readFileSync(file, 'utf8')) as { key: string; sha256: string; result: ContenderResult };
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
