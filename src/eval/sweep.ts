/**
 * Sweeps: a grid (config/sweep.ts) expanded into jobs, each a classifier fitted and scored on a dataset.
 * A job's id is a content hash of (the dataset's fingerprint, the classifier's configuration as run, the
 * seed): the same job is never run twice, and its result is a file named by that id in the cache
 * (`CACHE/results/ID.json`, written atomically). That makes a rerun free and at-least-once delivery (a
 * queue's worker killed mid-job, its job taken again by another) harmless: whoever finishes writes the
 * same result under the same name. The queue itself (BullMQ) is in eval/queue.ts; this module runs jobs.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { identity } from '../core/identity.js';
import { hostname } from 'node:os';
import type { Classifier } from '../core/classifier.js';
import { BowcnnError, ConfigError, Interrupted } from '../core/errors.js';
import { parseJson } from '../core/json.js';
import { ensureDir, writeFileAtomic } from '../core/atomic.js';
import { dataset } from '../data/registry.js';
import { fingerprint } from '../data/split.js';
import type { Dataset } from '../core/data.js';
import { parseConfig } from '../config/schema.js';
import { SweepGridSchema, type SweepDataset, type SweepGrid } from '../config/sweep.js';
import { applySets, classifierFrom, seeded } from '../models/resolve.js';
import { Pipeline } from '../pipeline/pipeline.js';
import { fitAndEvaluate } from './evaluate.js';
import { validationSplit } from './protocol.js';

/** What a job runs: plain JSON, the same on every machine. */
export interface JobConfig {
  dataset: { name: string; subset?: number; testSubset?: number; dataSeed: number };
  pipeline: string; // a recipe name, or an absolute path to a recipe .json or a pipeline module
  set: Record<string, unknown>; // the grid's --set values that apply to this pipeline
  seed: number;
  /**
   * what the job is scored on: the validation split carved from the training set (a candidate of the validation
   * protocol; `validation` is its size), or the test set (the protocol's chosen point, or any point under the
   * fixed protocol). Absent: the test set.
   */
  scoredOn?: 'validation' | 'test';
  validation?: number;
}

export interface SweepJob {
  id: string;
  config: JobConfig;
  /** the job before it that fits the same dictionary: on a queue it starts once that one is done, and reuses it */
  after?: string;
}

export interface JobResult {
  id: string;
  config: JobConfig;
  name: string; // the classifier's name
  /** on the validation split (a candidate) or the test set, as config.scoredOn says */
  accuracy: number | null;
  ci95?: [number, number];
  macroF1?: number;
  trainImages?: number;
  testImages?: number;
  timings: { fitSeconds?: number; evalSeconds?: number; totalSeconds: number; featuresCached?: boolean };
  error?: string;
  attempts?: number;
  worker?: string; // the host and process that ran it
  date: string;
}

/** Reads and validates a grid file; pipeline paths are taken relative to the grid's folder. */
export function readGrid(file: string): SweepGrid {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(
      `${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as NodeJS.ErrnoException).code === 'EISDIR' ? 'a folder, not a grid file' : (e as Error).message}`,
    );
  }
  const parsed = parseJson(text);
  if ('problem' in parsed) throw new ConfigError(`${file}: ${parsed.problem}`);
  const raw = parsed.value;
  const g = parseConfig(SweepGridSchema, raw, file);
  const base = dirname(resolve(file));
  return { ...g, pipelines: g.pipelines.map((p) => (/\.(json|m?js|m?ts)$/.test(p) && !isAbsolute(p) ? resolve(base, p) : p)) };
}

const datasetOf = (d: SweepDataset, g: SweepGrid): JobConfig['dataset'] => {
  const o = typeof d === 'string' ? { name: d } : d;
  return { name: o.name, subset: o.subset ?? g.subset, testSubset: o.testSubset ?? g.testSubset, dataSeed: g.dataSeed };
};

export function loadJobDataset(d: JobConfig['dataset'], dataDir?: string): Promise<Dataset> {
  return dataset(d.name, { subset: d.subset, testSubset: d.testSubset, seed: d.dataSeed, dir: dataDir });
}

/** Every combination of the grid's values (a key's values in order; the first key varies slowest). */
function combinations(set: Record<string, unknown[]>): Record<string, unknown>[] {
  let out: Record<string, unknown>[] = [{}];
  for (const [k, vs] of Object.entries(set)) out = out.flatMap((o) => vs.map((v) => ({ ...o, [k]: v })));
  return out;
}

/**
 * The classifier a job fits: its pipeline with the job's settings, and the job's seed in every stage that
 * has a seed option (k-means' initialisation, the SVM's order) unless the grid sets it; the seed also goes
 * to fit (a CNN's initialisation and shuffling, a pipeline's image sample).
 */
export async function classifierOf(c: JobConfig): Promise<Classifier> {
  return seeded(applySets([await classifierFrom(c.pipeline)], c.set)[0], c.set, c.seed);
}

/**
 * What a BoW job's fitted prefix (its dictionary: every stage with a fit before the classifier, and the
 * stages before them) is made of, or null for a classifier without one. Jobs with the same key share it
 * through the feature cache.
 */
export function dictionaryKey(datasetFingerprint: string, c: Classifier): string | null {
  if (!(c instanceof Pipeline)) return null;
  const ci = c.stages.findIndex((s) => s.supervised === true);
  const stages = ci < 0 ? c.stages : c.stages.slice(0, ci);
  const last = stages.map((s) => !!s.fit).lastIndexOf(true);
  if (last < 0) return null;
  return identity({ data: datasetFingerprint, stages: stages.slice(0, last + 1).map((s) => ({ kind: s.kind, config: s.config })) });
}

export function jobId(
  datasetFingerprint: string,
  classifier: Classifier,
  seed: number,
  scoredOn?: JobConfig['scoredOn'],
  validation?: number,
): string {
  return identity(
    {
      data: datasetFingerprint,
      classifier: classifier.describe(),
      seed,
      ...(scoredOn === 'validation' ? { scoredOn, validation } : {}),
    },
    24,
  );
}

/**
 * The grid's jobs, each once: a setting applies to the pipelines that have it (so lenet5 in a grid over
 * coding.words is one job per seed and dataset, not one per word count); a setting that no pipeline has is
 * an error naming it. Loads each dataset once, for its fingerprint.
 */
export async function expandGrid(g: SweepGrid, opts: { dataDir?: string; where?: string } = {}): Promise<SweepJob[]> {
  const where = opts.where ?? g.name;
  const named = async <T>(what: string, f: () => Promise<T>): Promise<T> => {
    try {
      return await f();
    } catch (e) {
      // the same kind of error (a typo exits 2, a missing dataset 1), saying where in the grid
      if (e instanceof BowcnnError) e.message = `${where}: ${what}: ${e.message}`;
      throw e;
    }
  };
  const base = await Promise.all(g.pipelines.map((p, i) => named(`pipelines[${i}]`, () => classifierFrom(p))));
  for (const [k, vs] of Object.entries(g.set))
    for (const v of vs)
      try {
        applySets(base, { [k]: v }); // names an unknown key or a bad value, with its did-you-mean
      } catch (e) {
        if (e instanceof ConfigError)
          throw new ConfigError(`${where}: set '${k}' = ${JSON.stringify(v)}: ${e.message.replace(/^--set \S+: /, '')}`);
        throw e;
      }
  const jobs = new Map<string, SweepJob>();
  const lastOfGroup = new Map<string, string>();
  for (const [di, d] of g.datasets.entries()) {
    const dc = datasetOf(d, g);
    const ds = await named(`datasets[${di}]`, () => loadJobDataset(dc, opts.dataDir));
    const fp = fingerprint({ name: ds.name, splits: [ds.train, ds.test] });
    g.pipelines.forEach((spec, i) => {
      const own = Object.fromEntries(Object.entries(g.set).filter(([k]) => base[i].settable().includes(k.split('.')[0])));
      const scoredOn = g.protocol === 'validation' ? ('validation' as const) : ('test' as const);
      const extra = scoredOn === 'validation' ? { scoredOn, validation: g.validation } : {};
      for (const set of combinations(own))
        for (const seed of g.seeds) {
          const c = seeded(applySets([base[i]], set)[0], set, seed);
          const id = jobId(fp, c, seed, scoredOn, g.validation);
          if (jobs.has(id)) continue;
          // jobs on the same split that fit the same dictionary share it (the validation split has its own)
          const group = dictionaryKey(`${fp}/${scoredOn}`, c);
          const after = group ? lastOfGroup.get(group) : undefined;
          if (group) lastOfGroup.set(group, id);
          jobs.set(id, { id, config: { dataset: dc, pipeline: spec, set, seed, ...extra }, ...(after ? { after } : {}) });
        }
    });
  }
  base.forEach((c) => c.dispose());
  return [...jobs.values()];
}

/**
 * The validation protocol's second wave: per dataset and pipeline, the grid point whose candidates have the
 * best mean validation accuracy over the seeds (the first of equals, in the grid's order), as one test job per
 * seed: fitted on the whole training set, scored on the test set. Nothing for a fixed-protocol sweep.
 */
export async function finalJobs(g: SweepGrid, candidates: JobResult[], opts: { dataDir?: string } = {}): Promise<SweepJob[]> {
  if (g.protocol !== 'validation') return [];
  const groups = new Map<string, JobResult[]>();
  for (const r of candidates) {
    if (typeof r.accuracy !== 'number' || r.config.scoredOn !== 'validation') continue;
    const k = JSON.stringify([r.config.dataset, r.config.pipeline]);
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  const out: SweepJob[] = [];
  for (const rows of groups.values()) {
    const bySet = new Map<string, number[]>();
    for (const r of rows)
      bySet.set(JSON.stringify(r.config.set), [...(bySet.get(JSON.stringify(r.config.set)) ?? []), r.accuracy as number]);
    let bestSet = '',
      bestMean = -1;
    for (const [set, accs] of bySet) {
      const mean = accs.reduce((a, b) => a + b, 0) / accs.length;
      if (mean > bestMean) [bestSet, bestMean] = [set, mean];
    }
    const first = rows[0].config;
    const ds = await loadJobDataset(first.dataset, opts.dataDir);
    const fp = fingerprint({ name: ds.name, splits: [ds.train, ds.test] });
    const set = JSON.parse(bestSet) as Record<string, unknown>;
    const base = await classifierFrom(first.pipeline);
    for (const seed of g.seeds) {
      const c = seeded(applySets([base], set)[0], set, seed);
      out.push({
        id: jobId(fp, c, seed, 'test'),
        config: { dataset: first.dataset, pipeline: first.pipeline, set, seed, scoredOn: 'test' },
      });
      if (c !== base) c.dispose();
    }
    base.dispose();
  }
  return out;
}

export const resultFile = (cacheDir: string, id: string) => join(cacheDir, 'results', `${id}.json`);

/** A finished job's result from the cache, or null (a damaged file counts as none; failures are never cached). */
export function readResult(cacheDir: string, id: string): JobResult | null {
  const f = resultFile(cacheDir, id);
  if (!existsSync(f)) return null;
  try {
    const r = JSON.parse(readFileSync(f, 'utf8')) as JobResult;
    return r.id === id && typeof r.accuracy === 'number' && !r.error ? r : null;
  } catch {
    return null;
  }
}

export function writeResult(cacheDir: string, r: JobResult): void {
  ensureDir(join(cacheDir, 'results'));
  writeFileAtomic(resultFile(cacheDir, r.id), `${JSON.stringify(r, null, 1)}\n`);
}

export const workerName = () => `${hostname()}:${process.pid}`;

/**
 * Runs one job: the dataset, the classifier with its settings, fit and score (features and dictionaries
 * through the shared cache). Its result goes into the cache; an error is thrown to the caller (a queue
 * retries it; the in-process sweep records it).
 */
export async function runJob(
  job: SweepJob,
  opts: { cacheDir: string; dataDir?: string; onPhase?: (p: string) => void },
): Promise<JobResult> {
  const done = readResult(opts.cacheDir, job.id);
  if (done) return done;
  const t0 = performance.now();
  opts.onPhase?.('data');
  const ds = await loadJobDataset(job.config.dataset, opts.dataDir);
  const c = await classifierOf(job.config);
  try {
    // content addressing holds only if this machine builds the same job: the same data, recipe and bowcnn
    const here = jobId(
      fingerprint({ name: ds.name, splits: [ds.train, ds.test] }),
      c,
      job.config.seed,
      job.config.scoredOn,
      job.config.validation,
    );
    if (here !== job.id)
      throw new ConfigError(
        `job ${job.id}: this machine makes it job ${here} (another copy of the dataset, another recipe file or another bowcnn version than the sweep's)`,
      );
    opts.onPhase?.('fit');
    // a candidate of the validation protocol: fitted on the training set less its validation split, scored on
    // that split (the test set is not read)
    const scored: Dataset =
      job.config.scoredOn === 'validation'
        ? (() => {
            const { fit, held } = validationSplit(ds.train, job.config.validation ?? 0.1, job.config.dataset.dataSeed);
            return { ...ds, train: fit, test: held, fingerprint: fingerprint({ name: `${ds.name}/validation`, splits: [fit, held] }) };
          })()
        : ds;
    const r = await fitAndEvaluate(c, scored, {
      seed: job.config.seed,
      cacheDir: join(opts.cacheDir, 'features'),
      progress: false,
      timingImages: 0,
    });
    const total = (performance.now() - t0) / 1000;
    const result: JobResult = {
      id: job.id,
      config: job.config,
      name: c.name,
      accuracy: r.accuracy,
      ci95: r.ci95,
      macroF1: r.macroF1,
      trainImages: scored.train.n,
      testImages: scored.test.n,
      timings: {
        fitSeconds: r.fit.seconds,
        evalSeconds: Math.max(0, total - r.fit.seconds),
        totalSeconds: total,
        featuresCached: r.fit.cached,
      },
      worker: workerName(),
      date: new Date().toISOString(),
    };
    writeResult(opts.cacheDir, result);
    return result;
  } finally {
    c.dispose();
  }
}

/** The queue's processor for a sweep's jobs ('fit'). */
export async function fitProcessor(
  data: { kind: string; [k: string]: unknown },
  ctx: { cacheDir: string; dataDir?: string; progress: (p: string) => void },
) {
  const r = await runJob(data.job as SweepJob, { cacheDir: ctx.cacheDir, dataDir: ctx.dataDir, onPhase: ctx.progress });
  return { id: r.id, accuracy: r.accuracy };
}

/** A job's failure as a result row (not cached: a rerun tries it again). */
export function failedResult(job: SweepJob, error: unknown, seconds: number, attempts = 1): JobResult {
  return {
    id: job.id,
    config: job.config,
    name: job.config.pipeline,
    accuracy: null,
    timings: { totalSeconds: seconds },
    error: error instanceof Error ? error.message : String(error),
    attempts,
    date: new Date().toISOString(),
  };
}

export interface SweepProgress {
  total: number;
  done: number;
  failed: number;
  running: number;
  cached: number;
}

/** Runs every job in this process, in order, skipping those whose result is in the cache. */
export async function runSweepHere(
  jobs: SweepJob[],
  opts: { cacheDir: string; dataDir?: string; onProgress?: (p: SweepProgress, last?: JobResult) => void },
): Promise<JobResult[]> {
  const out: JobResult[] = [];
  const p: SweepProgress = { total: jobs.length, done: 0, failed: 0, running: 0, cached: 0 };
  for (const job of jobs) {
    const hit = readResult(opts.cacheDir, job.id);
    if (hit) {
      out.push(hit);
      p.done++;
      p.cached++;
      opts.onProgress?.(p, hit);
      continue;
    }
    const t0 = performance.now();
    p.running = 1;
    opts.onProgress?.(p);
    let r: JobResult;
    try {
      r = await runJob(job, opts);
      p.done++;
    } catch (e) {
      if (e instanceof Interrupted) throw e;
      r = failedResult(job, e, (performance.now() - t0) / 1000);
      p.failed++;
    }
    p.running = 0;
    out.push(r);
    opts.onProgress?.(p, r);
  }
  return out;
}
