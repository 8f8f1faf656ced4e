/**
 * Pipeline: named stages, fitted in order, swappable by name (scikit-learn's Pipeline, in tensors), and a
 * Classifier (core/classifier.ts) like a CNN.
 *
 *   fit(train)      fits each unsupervised stage (coding) on descriptors streamed through its fitted prefix
 *                   from a seeded subset of training images, then computes the classifier's input features
 *                   for the whole split in batches and fits the classifier.
 *   transform(x)    features before the classifier, `[N,1,1,D]`;  scores(x): `[N,classes]`.
 *   with(name, stage) / without(name) / set('stage.param', value): a NEW pipeline; the old one is never
 *                   changed. Fitted state of the stages before the first changed one is copied over.
 *                   Stages are found by name (their place) and rebuilt by `clone`, so a stage of the
 *                   user's own works the same.
 *   cards()         the stage <-> layer table.
 *   save(dir) / Pipeline.load(dir): pipeline.json + weights.bin + meta.json with checksums.
 *
 * Feature cache (opts.cacheDir): the fitted state of each unsupervised stage and the classifier's input
 * features of each split are cached, keyed by the split's fingerprint and the configs and the whole fitted
 * state (SHA-256) of the prefix. Swapping only the classifier therefore recomputes neither descriptors nor
 * coding.
 */
import * as tf from '@tensorflow/tfjs';
import type { LayerCard } from '../core/card.js';
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
import { ConfigError, FitError, ModelError } from '../core/errors.js';
import { checkpoint } from '../core/interrupt.js';
import { assertFinite, floats, type ModelMeta, readModelFile, readModelMeta, writeModelDir } from '../core/persist.js';
import { rng } from '../core/random.js';
import { didYouMean, listOf } from '../core/suggest.js';
import { batchTensor, fingerprint, gatherBatch } from '../data/split.js';
import type { Split } from '../core/data.js';
import { argmax } from '../core/scores.js';
import { rowsToMaps, runRows, runStages, stageDistances, stageOutputs } from '../passes/bow.js';
import { chainCards } from '../stages/dsift.js';
import { isRowClassifier, isViewStage, type Stage } from '../stages/stage.js';
import { isUnion, type UnionBranch } from '../stages/union.js';
import { Progress } from '../util/progress.js';
import { csrConcat, csrRows, type Csr } from '../core/sparse.js';
import { FeatureCache, type NamedArray } from './cache.js';
import { arrayIdentity, identity } from '../core/identity.js';
import { makeStage } from './registry.js';
import { PipelineFitSchema } from '../config/fit.js';
import { parseConfig } from '../config/schema.js';

export const FORMAT = 'bowcnn-pipeline';
export const FORMAT_VERSION = 2;

export class PipelineError extends ConfigError {
  override name = 'PipelineError';
}

/**
 * Images a batch by default: 256 up to 32x32, fewer as images grow (the same pixels a batch), so that a
 * batch's maps take the same memory at any image size (a 256x256 photograph: 4 a batch).
 */
export function imageBatch(s: { height: number; width: number }): number {
  return Math.max(1, Math.min(256, Math.floor((256 * 32 * 32) / (s.height * s.width))));
}

export interface PipelineFitOptions extends FitOptions {
  /** images a batch (default: imageBatch's) */
  batchSize?: number;
  /** images used to learn the dictionary (default: enough for 2x the coding stage's descriptor sample) */
  codingImages?: number;
}

interface StateArray {
  name: string;
  shape: number[];
  data: Float32Array;
}

/** A stage's fitted tensors read back (asynchronously: the webgpu backend has no fast synchronous read). */
async function stateArrays(s: Stage): Promise<StateArray[]> {
  const st = s.state?.() ?? {};
  return Promise.all(Object.entries(st).map(async ([name, t]) => ({ name, shape: t.shape, data: (await t.data()) as Float32Array })));
}

/** Puts saved state into a stage: the tensors synchronously, then the JSON state (which may await a module). */
function restoreArrays(s: Stage, arrays: StateArray[], extra?: Record<string, unknown>): void | Promise<void> {
  if (arrays.length) {
    const st: Record<string, tf.Tensor> = {};
    for (const a of arrays) st[a.name] = tf.tensor(a.data, a.shape);
    s.restore?.(st);
    tf.dispose(Object.values(st));
  }
  if (extra && Object.keys(extra).length) return s.restoreExtra?.(extra);
}

export interface PipelineJSON {
  format: string;
  version: number;
  name: string;
  inShape: number[] | null;
  stages: { kind: string; name: string; config: Record<string, unknown> }[];
  search?: Record<string, unknown[]>;
}

export class Pipeline implements Classifier {
  readonly kind = 'bow' as const;
  readonly stages: readonly Stage[];
  data: DataInfo | null = null;
  /** what the validation protocol chooses among (the recipe's `search`): set() paths and their values */
  search: Readonly<Record<string, unknown[]>> = {};

  constructor(
    stages: Stage[],
    readonly name = 'pipeline',
  ) {
    if (stages.length === 0) throw new PipelineError(`pipeline '${name}' has no stages`);
    const names = stages.map((s) => s.name);
    const dup = names.find((n, i) => names.indexOf(n) !== i);
    if (dup) throw new PipelineError(`pipeline '${name}': two stages are named '${dup}' (give one another name: factory(config, 'name'))`);
    checkConsistent(stages, name);
    checkViews(stages, name);
    this.stages = Object.freeze([...stages]);
    this.stages.forEach((s, i) => {
      if (!isUnion(s)) return;
      const fitted = this.stages.slice(0, i).find((t) => t.fit);
      if (fitted)
        throw new PipelineError(
          `pipeline '${name}': stage '${s.name}' (a union) comes after stage '${fitted.name}', which is fitted; a union's branches are fitted on its input, so only stages without fitted state may come before it`,
        );
      for (const b of s.branches()) this.branchPipeline(i, b); // names and settings checked as each branch will run
    });
  }

  private index(name: string, verb: string): number {
    const i = this.stages.findIndex((s) => s.name === name);
    if (i < 0) {
      const known = this.stages.map((s) => s.name);
      throw new PipelineError(
        `${verb}: pipeline '${this.name}' has no stage '${name}'${didYouMean(name, known)}; stages: ${listOf(known)}`,
      );
    }
    return i;
  }

  get(name: string): Stage {
    return this.stages[this.index(name, `get('${name}')`)];
  }

  /** The index of the stage fitted on labels (the classifier), else the end. */
  private classifierIndex(): number {
    return classifierAt(this.stages);
  }

  /** A new pipeline with the stage called `name` replaced by `stage`; the stages after it are unfitted copies. */
  with(name: string, stage: Stage): Pipeline {
    const i = this.index(name, `with('${name}')`);
    const put = stage.name === name ? stage : stage.clone({}, name);
    const next = this.stages.map((s, j) => (j === i ? put : j > i ? s.clone() : s));
    return this.rebuild(next, i);
  }

  without(name: string): Pipeline {
    const i = this.index(name, `without('${name}')`);
    const next = this.stages.filter((_, j) => j !== i).map((s, j) => (j >= i ? s.clone() : s));
    return this.rebuild(next, i);
  }

  settable(): string[] {
    return this.stages.map((s) => s.name);
  }

  /** set('coding.words', 512): the stage rebuilt with one config value changed (validated by its schema). */
  set(path: string, value: unknown): Pipeline {
    const dot = path.indexOf('.');
    if (dot < 0) throw new PipelineError(`set('${path}'): expected 'stage.param' (e.g. coding.words)`);
    const name = path.slice(0, dot);
    const param = path.slice(dot + 1);
    const s = this.stages[this.index(name, `set('${path}')`)];
    let next: Stage;
    try {
      next = s.clone({ [param]: value });
    } catch (e) {
      if (e instanceof ConfigError) throw new ConfigError(`pipeline '${this.name}': ${e.message}`);
      throw e;
    }
    return this.with(name, next);
  }

  /**
   * A new pipeline of `stages`: stages [0, keepBefore) are clones with the fitted state of this one's copied
   * in (the old pipeline and the new share no tensors), the others are taken as given. Restoring is
   * synchronous for every stage whose state was made in this process (restoreExtra awaits only a module
   * that is not loaded yet).
   */
  private rebuild(stages: Stage[], keepBefore: number, name = this.name): Pipeline {
    const fresh = stages.map((s, i) => {
      if (i >= keepBefore) return s;
      const t = this.stages[i].clone();
      // the fitted tensors are copied on the device (restore clones them), the JSON state as it is
      const from = this.stages[i];
      t.restore?.(from.state?.() ?? {});
      const extra = from.extraState?.();
      if (extra && Object.keys(extra).length) void t.restoreExtra?.(extra);
      return t;
    });
    const p = new Pipeline(fresh, name);
    p.data = this.data;
    // the search paths of the stages that are still there (without('classifier') drops classifier.C)
    const names = new Set(fresh.map((s) => s.name));
    p.search = Object.fromEntries(Object.entries(this.search).filter(([k]) => names.has(k.split('.')[0])));
    return p;
  }

  searchSpace(): Record<string, unknown[]> {
    return { ...this.search };
  }

  /** The same pipeline (fitted state copied) with another search space; each path is checked by set(). */
  searching(space: Record<string, unknown[]>): Pipeline {
    for (const [k, vs] of Object.entries(space)) for (const v of vs) this.set(k, v).dispose();
    const p = this.renamed(this.name);
    p.search = { ...space };
    return p;
  }

  /** Stages [from, to) over a batch (fused where the stages allow: passes/bow.ts). */
  run(x: Maps, from = 0, to = this.stages.length): Promise<Maps> {
    return runStages(this.stages, x, from, to);
  }

  /** Features before the classifier, `[N,1,1,D]`. */
  transform(x: Maps): Promise<Maps> {
    return this.run(x, 0, this.classifierIndex());
  }

  async scores(x: Maps): Promise<tf.Tensor2D> {
    const y = await this.run(x);
    const out = tf.reshape(y, [y.shape[0], -1]) as tf.Tensor2D;
    y.dispose();
    return out;
  }

  async predict(x: Maps): Promise<Int32Array> {
    const s = await this.scores(x);
    const v = (await s.data()) as Float32Array;
    const k = s.shape[1];
    s.dispose();
    return argmax(v, k);
  }

  async representations(x: Maps): Promise<Record<string, tf.Tensor>> {
    return stageOutputs(this.stages, x);
  }

  async representationDistances(a: Maps, b: Maps): Promise<{ distances: Record<string, number>; predictions: Int32Array }> {
    const { distances, last } = await stageDistances(this.stages, a, b);
    return { distances, predictions: argmax(last, last.length / b.shape[0]) };
  }

  /** Checks that images of this shape get through every stage (a descriptor frame fits, no map is empty). */
  checkInput(inShape: readonly number[]): void {
    let shape = [...inShape];
    for (const s of this.stages.slice(0, this.classifierIndex())) {
      const next = s.outShape(shape);
      if (next.some((v) => !(v > 0))) {
        throw new FitError(
          `pipeline '${this.name}': ${inShape.slice(0, 2).join('x')} images are too small for stage '${s.name}' (${s.card(shape).classic}): it would output ${next.join('x')} maps; use larger images or smaller cells`,
        );
      }
      shape = next;
    }
  }

  /**
   * Identity of a prefix: the split, the configs of stages [0, upto) and the fitted state of [0, stateUpto)
   * (all of it, hashed). For the state of a stage being fitted (stateUpto = upto - 1), only the config its
   * fit depends on counts.
   */
  private async prefixKey(upto: number, fp: string, stateUpto = upto): Promise<string> {
    const stateHash = async (s: Stage) => {
      const h = (await stateArrays(s)).map((a) => [a.name, a.shape, arrayIdentity(a.data)]);
      return identity([h, s.extraState?.() ?? {}]);
    };
    return identity({
      fp,
      stages: this.stages
        .slice(0, upto)
        .map((s, i) => ({ kind: s.kind, config: i === stateUpto && s.fitConfig ? s.fitConfig() : (s.applyConfig?.() ?? s.config) })),
      state: await Promise.all(this.stages.slice(0, stateUpto).map(stateHash)),
    });
  }

  /**
   * The classifier's input features of a split as sparse rows `[n, D]` (passes/bow.ts runRows), from the cache
   * when it has them.
   */
  async features(
    split: Split,
    opts: PipelineFitOptions = {},
    cache?: FeatureCache,
    label = 'features',
  ): Promise<{ rows: Csr; cached: boolean }> {
    const upto = this.classifierIndex();
    const bs = opts.batchSize ?? imageBatch(split);
    const key = cache ? await this.prefixKey(upto, fingerprint({ name: 'split', splits: [split] })) : '';
    const hit = cache?.get(key, 'rows');
    const rowsOf = (h: NamedArray[]) => {
      const at = (name: string) => h.find((a) => a.name === name)?.data;
      const shape = at('shape'),
        indptr = at('indptr'),
        indices = at('indices'),
        values = at('values');
      if (!(shape instanceof Int32Array && indptr instanceof Int32Array && indices instanceof Int32Array && values instanceof Float32Array))
        return null;
      return { n: shape[0], d: shape[1], indptr, indices, values };
    };
    const got = hit ? rowsOf(hit) : null;
    if (got && got.n === split.n) return { rows: got, cached: true };
    const bar = new Progress(`${this.name} ${label}`, split.n, { unit: 'img', silent: opts.progress === false ? true : undefined });
    const parts: Csr[] = [];
    for (let i = 0; i < split.n; i += bs) {
      await checkpoint();
      const x = batchTensor(split, i, i + bs);
      parts.push(await runRows(this.stages, x, 0, upto));
      x.dispose();
      bar.tick(Math.min(bs, split.n - i));
    }
    bar.end();
    const rows = csrConcat(parts);
    cache?.put(key, 'rows', [
      { name: 'shape', shape: [2], data: Int32Array.of(rows.n, rows.d) },
      { name: 'indptr', shape: [rows.n + 1], data: rows.indptr },
      { name: 'indices', shape: [rows.indices.length], data: rows.indices },
      { name: 'values', shape: [rows.values.length], data: rows.values },
    ]);
    return { rows, cached: false };
  }

  /**
   * Fits the stages before the classifier that learn without labels (coding), in order, each on a seeded
   * subset of training images streamed through the fitted stages before it; a union's branches each as the
   * pipeline of the stages before the union and the branch. Fitted state comes from the cache when it has it.
   */
  private async fitUnsupervised(
    train: Split,
    info: DataInfo,
    opts: PipelineFitOptions,
    cache: FeatureCache | undefined,
  ): Promise<FitReport['phases']> {
    const bs = opts.batchSize ?? imageBatch(train);
    const fp = fingerprint({ name: 'split', splits: [train] });
    const phases: FitReport['phases'] = {};
    const ci = this.classifierIndex();
    for (let i = 0; i < ci; i++) {
      const s = this.stages[i];
      if (isUnion(s)) {
        for (const b of s.branches()) {
          const got = await this.branchPipeline(i, b).fitUnsupervised(train, info, opts, cache);
          for (const [k, v] of Object.entries(got)) phases[`${s.name}.${b.name} ${k}`] = v;
        }
        continue;
      }
      if (!s.fit) continue;
      const ts = performance.now();
      const key = await this.prefixKey(i + 1, fp, i); // this stage's config, the fitted state before it
      const got = cache?.get(key, 'state');
      const hit = got?.every((a): a is StateArray => a.data instanceof Float32Array) ? got : null;
      if (hit) {
        await restoreArrays(s, hit);
        phases[`${s.name} fit`] = { seconds: (performance.now() - ts) / 1000, cached: true };
        continue;
      }
      // a seeded subset of images, streamed through the fitted prefix
      const upOut = chainCards(this.stages.slice(0, i), info.inShape).at(-1)?.outShape; // [H,W,C] coming in
      const upShape = upOut ?? info.inShape;
      const perImage = upOut?.slice(0, 2).reduce((a, b) => a * b, 1) ?? 1;
      const sample = s.fitSample?.() ?? 100_000;
      const want = Math.min(train.n, opts.codingImages ?? Math.ceil((2 * sample) / Math.max(1, perImage)));
      const rand = rng(opts.seed ?? 0);
      const idx = Array.from({ length: train.n }, (_, j) => j);
      for (let j = 0; j < want; j++) {
        const k = j + Math.floor(rand() * (train.n - j));
        [idx[j], idx[k]] = [idx[k], idx[j]];
      }
      const chosen = idx.slice(0, want).sort((a, b) => a - b);
      const self = this;
      const bar = new Progress(`${this.name} ${s.name}: descriptors of ${want} sampled images`, want, {
        unit: 'img',
        silent: opts.progress === false ? true : undefined,
      });
      async function* stream(): AsyncGenerator<Maps> {
        for (let j = 0; j < chosen.length; j += bs) {
          await checkpoint();
          const sub = chosen.slice(j, j + bs);
          const { x } = gatherBatch(train, sub);
          const y = await self.run(x, 0, i);
          x.dispose();
          bar.tick(sub.length);
          yield y;
        }
        bar.end();
        // the fit itself (k-means, a GMM, PCA) draws no bar: say what runs, so that a quiet minute is not taken for a hang
        bar.note(`${self.name} ${s.name}: fitting ${s.card(upShape).classic} on those descriptors`);
      }
      await s.fit(stream());
      cache?.put(key, 'state', await stateArrays(s));
      phases[`${s.name} fit`] = { seconds: (performance.now() - ts) / 1000, cached: false };
    }
    return phases;
  }

  /**
   * The pipelines that make virtual training examples: this one with its view stage (stages/shifts.ts) replaced
   * by each of the stage's stand-ins, sharing every fitted stage; none when the pipeline has no view stage.
   */
  private trainingViews(): Pipeline[] {
    const i = this.stages.slice(0, this.classifierIndex()).findIndex(isViewStage);
    const s = this.stages[i];
    if (i < 0 || !isViewStage(s)) return [];
    return s.trainingViews().map(
      (v) =>
        new Pipeline(
          this.stages.map((t, j) => (j === i ? v : t)),
          this.name,
        ),
    );
  }

  /**
   * A view stage moves images by pixels, so it must see maps of the input's height and width: first, or after
   * stages that keep the grid (deskewing, gradients). After a stage that changes it (HOG's blocks, flatten), a
   * shift would move whole cells, or empty a 1x1 map.
   */
  private checkViewInput(inShape: readonly number[]): void {
    const i = this.stages.findIndex(isViewStage);
    const grid = (s: readonly number[]) => `${s[0]}x${s[1]}`;
    const changed = chainCards(this.stages.slice(0, i), inShape).find((c) => grid(c.outShape ?? inShape) !== grid(inShape));
    if (changed)
      throw new PipelineError(
        `pipeline '${this.name}': stage '${this.stages[i].name}' shifts images by pixels, but stage '${changed.stage}' before it turns the ${grid(inShape)} input into ${grid(changed.outShape ?? inShape)} maps; put '${this.stages[i].name}' first, or after stages that keep the image's grid (deskew)`,
      );
  }

  /** The stages before a union at `i`, then one of its branches: what that branch is fitted as. */
  private branchPipeline(i: number, b: UnionBranch): Pipeline {
    return new Pipeline([...this.stages.slice(0, i), ...b.stages], `${this.name}.${b.name}`);
  }

  async fit(train: Split, given: PipelineFitOptions = {}): Promise<FitReport> {
    const opts = parseConfig(PipelineFitSchema, given, `pipeline '${this.name}': fit options`) as PipelineFitOptions;
    const t0 = performance.now();
    if (train.n === 0) throw new FitError(`pipeline '${this.name}': the training split is empty`);
    const info = dataInfo(train, opts.data);
    this.checkInput(info.inShape);
    const views = this.trainingViews();
    if (views.length) this.checkViewInput(info.inShape); // before anything is fitted
    const cache = opts.cacheDir ? new FeatureCache(opts.cacheDir) : undefined;
    const phases = await this.fitUnsupervised(train, info, opts, cache);
    const ci = this.classifierIndex();
    const tf0 = performance.now();
    let { rows, cached } = await this.features(train, opts, cache, 'train features');
    let labels = train.labels;
    let computed = cached ? 0 : train.n; // images run through the chain in this fit, not read from the cache
    if (views.length) {
      // virtual examples: the training images through each view, after the images themselves, labels repeated
      const parts = [rows];
      for (const [k, v] of views.entries()) {
        const got = await v.features(train, opts, cache, `train features, virtual copy ${k + 1}/${views.length}`);
        parts.push(got.rows);
        cached &&= got.cached;
        if (!got.cached) computed += train.n;
      }
      rows = csrConcat(parts);
      labels = new Int32Array(rows.n);
      for (let k = 0; k <= views.length; k++) labels.set(train.labels, k * train.n);
    }
    const featureSeconds = (performance.now() - tf0) / 1000;
    phases.features = { seconds: featureSeconds, cached };
    if (ci < this.stages.length) {
      const tc = performance.now();
      const clf = this.stages[ci];
      if (isRowClassifier(clf)) await clf.fitRows(rows, labels, { progress: opts.progress });
      else {
        // a classifier of the user's own, without a rows form: dense batches
        const bs2 = opts.batchSize ?? 256;
        async function* batches(): AsyncGenerator<Maps> {
          for (let i = 0; i < rows.n; i += bs2) {
            const part = csrRows(rows, i, Math.min(rows.n, i + bs2));
            yield rowsToMaps(part);
          }
        }
        await clf.fit?.(batches(), labels);
      }
      phases[`${clf.name} fit`] = { seconds: (performance.now() - tc) / 1000, cached: false };
    }
    this.data = info;
    // cached: nothing but the classifier was fitted (its fit is never cached)
    const clfPhase = ci < this.stages.length ? `${this.stages[ci].name} fit` : '';
    return {
      seconds: (performance.now() - t0) / 1000,
      cached: Object.entries(phases).every(([k, p]) => p.cached || k === clfPhase),
      trainImagesPerSec: computed ? computed / Math.max(1e-9, featureSeconds) : null,
      phases,
    };
  }

  /** Scores `[N,classes]` of a whole split (features from the cache when given one). */
  async scoreSplit(split: Split, opts: { cacheDir?: string; progress?: boolean } = {}): Promise<Float32Array> {
    const cache = opts.cacheDir ? new FeatureCache(opts.cacheDir) : undefined;
    const { rows } = await this.features(split, opts, cache, 'test features');
    const ci = this.classifierIndex();
    const clf = this.stages[ci];
    if (isRowClassifier(clf)) return clf.scoreRows(rows);
    const out: Float32Array[] = [];
    const bs = 256;
    for (let i = 0; i < rows.n; i += bs) {
      const part = csrRows(rows, i, Math.min(rows.n, i + bs));
      const x = rowsToMaps(part);
      const y = await this.run(x, ci);
      out.push((await y.data()) as Float32Array);
      tf.dispose([x, y]);
    }
    const all = new Float32Array(out.reduce((a, o) => a + o.length, 0));
    let o = 0;
    for (const c of out) {
      all.set(c, o);
      o += c.length;
    }
    return all;
  }

  cards(inShape: readonly number[] | null = this.data?.inShape ?? null): LayerCard[] {
    return chainCards(this.stages, inShape ?? [28, 28, 1]);
  }

  async pictures(): Promise<Picture[]> {
    const per = await Promise.all(
      this.stages.map(async (s) => (await (s.pictures?.() ?? [])).map((p) => ({ ...p, title: `${this.name}: ${p.title}` }))),
    );
    return per.flat();
  }

  ablations(): Ablation[] {
    return this.stages.flatMap((s) =>
      (s.ablations?.() ?? []).map((a) => ({
        change: a.change,
        make: () => {
          let p: Pipeline = this;
          for (const [k, v] of Object.entries(a.overrides)) p = p.set(`${s.name}.${k}`, v);
          return p.renamed(`${this.name} [${a.change}]`);
        },
      })),
    );
  }

  /** The same pipeline (fitted state copied) under another name. */
  renamed(name: string): Pipeline {
    return this.rebuild([...this.stages], this.stages.length, name);
  }

  describe(): Record<string, unknown> {
    const { format: _f, version: _v, ...rest } = this.toJSON();
    return { kind: 'bow', ...rest };
  }

  toJSON(): PipelineJSON {
    return {
      format: FORMAT,
      version: FORMAT_VERSION,
      name: this.name,
      inShape: this.data?.inShape ?? null,
      stages: this.stages.map((s) => ({ kind: s.kind, name: s.name, config: { ...s.config } })),
      ...(Object.keys(this.search).length ? { search: { ...this.search } } : {}),
    };
  }

  /** pipeline.json + weights.bin + meta.json (checksums, the data it was fitted on), atomically. */
  async save(dir: string): Promise<void> {
    const tensors: { stage: string; name: string; shape: number[]; offset: number; length: number }[] = [];
    const parts: Float32Array[] = [];
    const extra: Record<string, Record<string, unknown>> = {};
    let off = 0;
    for (const s of this.stages) {
      const arrays = await stateArrays(s);
      assertFinite(
        arrays.map((a) => ({ name: `${s.name}/${a.name}`, data: a.data })),
        dir,
      );
      for (const a of arrays) {
        tensors.push({ stage: s.name, name: a.name, shape: a.shape, offset: off, length: a.data.length });
        parts.push(a.data);
        off += a.data.length;
      }
      const e = s.extraState?.();
      if (e && Object.keys(e).length) extra[s.name] = e;
    }
    const body = new Float32Array(off);
    let o = 0;
    for (const p of parts) {
      body.set(p, o);
      o += p.length;
    }
    const json = `${JSON.stringify({ ...this.toJSON(), tensors, extra }, null, 2)}\n`;
    await writeModelDir(
      dir,
      { 'pipeline.json': json, 'weights.bin': new Uint8Array(body.buffer) },
      { kind: 'bow', name: this.name, data: this.data },
    );
  }

  static fromJSON(
    j: { name?: string; stages: { kind: string; name?: string; config?: Record<string, unknown> }[]; search?: Record<string, unknown[]> },
    where = 'pipeline',
  ): Pipeline {
    const p = new Pipeline(
      j.stages.map((s) => makeStage(s.kind, s.config ?? {}, s.name, where)),
      j.name ?? 'pipeline',
    );
    if (!j.search || !Object.keys(j.search).length) return p;
    try {
      return p.searching(j.search);
    } catch (e) {
      if (e instanceof ConfigError) throw new ConfigError(`${where}: search: ${e.message}`);
      throw e;
    } finally {
      p.dispose();
    }
  }

  /** A pipeline folder saved by save(): checksums checked, then every stage rebuilt by its kind. */
  static async load(dir: string, meta: ModelMeta = readModelMeta(dir)): Promise<Pipeline> {
    const file = `${dir}/pipeline.json`;
    const raw = readModelFile(dir, meta, 'pipeline.json').toString('utf8');
    let j: PipelineJSON & {
      tensors: { stage: string; name: string; shape: number[]; offset: number; length: number }[];
      extra?: Record<string, Record<string, unknown>>;
    };
    try {
      j = JSON.parse(raw);
    } catch (e) {
      throw new PipelineError(`${file}: not valid JSON (${(e as Error).message})`);
    }
    if (j.format !== FORMAT) throw new PipelineError(`${file}: not a bowcnn pipeline (format '${j.format}')`);
    if (j.version !== FORMAT_VERSION)
      throw new PipelineError(`${file}: format version ${j.version} is not supported by this bowcnn (it reads version ${FORMAT_VERSION})`);
    const p = Pipeline.fromJSON(j, file);
    p.data = (meta.data as DataInfo | null) ?? null;
    const all = floats(readModelFile(dir, meta, 'weights.bin'), `${dir}/weights.bin`);
    const need = j.tensors.reduce((a, t) => Math.max(a, t.offset + t.length), 0);
    if (all.length !== need) throw new ModelError(`${dir}/weights.bin`, `truncated or padded: ${all.length} values for ${need}`);
    for (const s of p.stages) {
      const mine = j.tensors
        .filter((t) => t.stage === s.name)
        .map((t) => ({ name: t.name, shape: t.shape, data: all.subarray(t.offset, t.offset + t.length) }));
      assertFinite(
        mine.map((a) => ({ name: `${s.name}/${a.name}`, data: a.data })),
        `${dir}/weights.bin`,
      );
      await restoreArrays(s, mine, j.extra?.[s.name]);
    }
    return p;
  }

  dispose(): void {
    for (const s of this.stages) s.dispose?.();
  }
}

/** Constraints between stages, each stated by the stage it binds (checkUpstream). */
/** The index of the stage fitted on labels (the classifier), else the end. */
function classifierAt(stages: readonly Stage[]): number {
  const i = stages.findIndex((s) => s.supervised === true);
  return i < 0 ? stages.length : i;
}

function checkConsistent(stages: readonly Stage[], name: string): void {
  stages.forEach((s, i) => {
    const problem = s.checkUpstream?.(stages.slice(0, i));
    if (problem) throw new PipelineError(`pipeline '${name}': ${problem}`);
  });
}

/**
 * Virtual examples come from one stage before the classifier, at the pipeline's top level: two would multiply
 * the training rows by each other's copies, and one inside a union's branch would shift that branch alone.
 */
function checkViews(stages: readonly Stage[], name: string): void {
  const top = stages.filter(isViewStage);
  if (top.length > 1)
    throw new PipelineError(`pipeline '${name}': stages ${listOf(top.map((s) => s.name))} all make virtual training examples; keep one`);
  if (top.length && stages.indexOf(top[0]) > classifierAt(stages))
    throw new PipelineError(
      `pipeline '${name}': stage '${top[0].name}' makes virtual training examples, so it must come before the classifier`,
    );
  for (const u of stages.filter(isUnion))
    for (const b of u.branches()) {
      const inner = b.stages.find(isViewStage);
      if (inner)
        throw new PipelineError(
          `pipeline '${name}': stage '${inner.name}' in branch '${b.name}' of '${u.name}' makes virtual training examples; put it before the union, where every branch sees the same copies`,
        );
    }
}

export function pipeline(stages: Stage[], name?: string): Pipeline {
  return new Pipeline(stages, name);
}
