/**
 * Pipeline: named stages, fitted in order, swappable by name (scikit-learn's Pipeline, in tensors).
 *
 *   fit(train)    fits each unsupervised stage (coding) on descriptors streamed through its fitted prefix
 *                 from a seeded subset of training images, then computes the classifier's input features
 *                 for the whole split in batches and fits the classifier.
 *   transform(x)  features before the classifier, `[N,1,1,D]`;  predict(x): scores `[N,classes]`;
 *   score(split)  accuracy.
 *   with(name, stage) / without(name) / set('stage.param', value): a NEW pipeline; the old one is never
 *                 changed. Fitted state of the stages before the first changed one is copied over.
 *   cards()       the stage <-> layer table.
 *   save(dir) / Pipeline.load(dir): JSON + binary weights, with a format version.
 *
 * Feature cache (opts.cacheDir): the fitted state of each unsupervised stage and the classifier's input
 * features of each split are cached, keyed by the split's fingerprint and the configs and fitted state
 * of the prefix. Swapping only the classifier therefore recomputes neither descriptors nor coding.
 */
import { replaceDirAtomic } from '../util/atomic.js';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { batchTensor, fingerprint, gatherBatch, rng } from '../data/split.js';
import type { Split } from '../data/types.js';
import { cells } from '../stages/cells.js';
import { classifier } from '../stages/classifier.js';
import { coding, type CodingStage } from '../stages/coding.js';
import { descriptor } from '../stages/descriptor.js';
import { chainCards, denseSift } from '../stages/dsift.js';
import { gradient } from '../stages/gradient.js';
import { kernelmap } from '../stages/kernelmap.js';
import { orientation } from '../stages/orientation.js';
import { pooling, type PoolingStage } from '../stages/pooling.js';
import type { Maps, Stage } from '../stages/stage.js';
import { accuracy, argmax } from '../eval/metrics.js';
import { Progress } from '../util/progress.js';
import { cacheKey, FeatureCache } from './cache.js';
import type { LayerCard } from './card.js';

export const FORMAT = 'bowcnn-pipeline';
export const FORMAT_VERSION = 1;

export class PipelineError extends Error {
  constructor(message: string) { super(message); this.name = 'PipelineError'; }
}

type Factory = (cfg: Record<string, unknown>) => Stage;
export const STAGES: Record<string, Factory> = {
  gradient: (c) => gradient(c), orientation: (c) => orientation(c), cells: (c) => cells(c), descriptor: (c) => descriptor(c),
  dsift: (c) => denseSift(c), coding: (c) => coding(c), pooling: (c) => pooling(c), kernelmap: (c) => kernelmap(c),
  classifier: (c) => classifier(c),
};

export function makeStage(name: string, config: Record<string, unknown> = {}): Stage {
  const f = STAGES[name];
  if (!f) throw new PipelineError(`unknown stage '${name}' (known: ${Object.keys(STAGES).join(', ')})`);
  return f(config);
}

export interface PipelineFitOptions {
  batchSize?: number;
  cacheDir?: string;
  progress?: boolean;
  seed?: number;
  /** images used to learn the dictionary (default: enough for 2x the coding stage's descriptor sample) */
  codingImages?: number;
}

export interface PipelineFitReport {
  seconds: number;
  stages: Record<string, number>;   // seconds per phase: '<stage> fit', 'features', 'classifier fit'
  cache: { hits: number; misses: number; corrupt: number };
}

function stateArrays(s: Stage): { name: string; shape: number[]; data: Float32Array }[] {
  const st = s.state?.() ?? {};
  return Object.entries(st).map(([name, t]) => ({ name, shape: t.shape, data: t.dataSync() as Float32Array }));
}

function restoreArrays(s: Stage, arrays: { name: string; shape: number[]; data: Float32Array }[]): void {
  const st: Record<string, tf.Tensor> = {};
  for (const a of arrays) st[a.name] = tf.tensor(a.data, a.shape);
  s.restore?.(st);
  tf.dispose(Object.values(st));
}

export class Pipeline {
  readonly stages: readonly Stage[];
  inShape: number[] | null = null;
  lastFit: PipelineFitReport | null = null;
  constructor(stages: Stage[], readonly name = 'pipeline') {
    const names = stages.map((s) => s.name);
    const dup = names.find((n, i) => names.indexOf(n) !== i);
    if (dup) throw new PipelineError(`two stages are named '${dup}'`);
    this.stages = Object.freeze([...stages]);
  }

  get(name: string): Stage {
    const s = this.stages.find((x) => x.name === name);
    if (!s) throw new PipelineError(`no stage '${name}' in ${this.name} (stages: ${this.stages.map((x) => x.name).join(', ')})`);
    return s;
  }

  private classifierIndex(): number {
    const i = this.stages.findIndex((s) => s.name === 'classifier');
    return i < 0 ? this.stages.length : i;
  }

  /** A new pipeline of fresh stages, with the fitted state of stages [0, keepBefore) copied over. */
  private rebuild(stages: Stage[], keepBefore: number, name = this.name): Pipeline {
    const fresh = stages.map((s, i) => {
      if (i >= keepBefore) return s;
      const t = makeStage(s.name, { ...s.config });
      const arr = stateArrays(this.stages[i]);
      if (arr.length) restoreArrays(t, arr);
      return t;
    });
    const p = new Pipeline(fresh, name);
    p.inShape = this.inShape;
    return p;
  }

  /** The same pipeline (fitted state copied) under another name. */
  named(name: string): Pipeline {
    return this.rebuild([...this.stages], this.stages.length, name);
  }

  with(name: string, stage: Stage): Pipeline {
    const i = this.stages.findIndex((s) => s.name === name);
    if (i < 0) throw new PipelineError(`with('${name}'): no such stage`);
    if (stage.name !== name) throw new PipelineError(`with('${name}'): the new stage is named '${stage.name}'`);
    const next = [...this.stages];
    next[i] = stage;
    return this.rebuild(next.map((s, j) => (j > i ? makeStage(s.name, { ...s.config }) : s)), i);
  }

  without(name: string): Pipeline {
    const i = this.stages.findIndex((s) => s.name === name);
    if (i < 0) throw new PipelineError(`without('${name}'): no such stage`);
    const next = this.stages.filter((_, j) => j !== i).map((s, j) => (j >= i ? makeStage(s.name, { ...s.config }) : s));
    return this.rebuild(next, i);
  }

  /** set('coding.words', 512): the stage rebuilt with one config value changed. */
  set(path: string, value: unknown): Pipeline {
    const dot = path.indexOf('.');
    if (dot < 0) throw new PipelineError(`set('${path}'): expected 'stage.param'`);
    const name = path.slice(0, dot), param = path.slice(dot + 1);
    const s = this.get(name);
    if (!(param in s.config)) throw new PipelineError(`set('${path}'): stage '${name}' has no option '${param}' (options: ${Object.keys(s.config).join(', ')})`);
    return this.with(name, makeStage(name, { ...s.config, [param]: value }));
  }

  /**
   * Applies stages [from, to) to x. Hard coding followed by pooling runs fused: the word indices are
   * counted into region histograms (PoolingStage.fromIndices), the same numbers as pooling the one-hot
   * maps, without materialising `[N,H,W,M]` (500 MB per batch of 256 at M = 1024 and 22x22 frames).
   */
  run(x: Maps, from = 0, to = this.stages.length): Maps {
    return tf.tidy(() => {
      let m = x;
      for (let i = from; i < to; i++) {
        const s = this.stages[i], next = this.stages[i + 1];
        // (not on webgpu: the fused path reads the indices back synchronously)
        if (s.name === 'coding' && s.config.mode === 'hard' && next?.name === 'pooling' && i + 1 < to && tf.getBackend() !== 'webgpu') {
          const idx = (s as CodingStage).indices(m);
          const [n, h, w] = idx.shape;
          m = (next as PoolingStage).fromIndices(idx.dataSync() as Int32Array, [n, h, w], Number(s.config.words));
          i++;
          continue;
        }
        m = s.apply(m);
      }
      return m;
    });
  }

  transform(x: Maps): Maps { return this.run(x, 0, this.classifierIndex()); }

  predict(x: Maps): tf.Tensor2D {
    return tf.tidy(() => { const y = this.run(x); return tf.reshape(y, [y.shape[0], -1]) as tf.Tensor2D; });
  }

  /**
   * Identity of a prefix: the split, the configs of stages [0, upto) and the fitted state of [0, stateUpto).
   * For the state of a stage being fitted (stateUpto = upto - 1), only the config its fit depends on counts.
   */
  private prefixKey(upto: number, fp: string, stateUpto = upto): string {
    return cacheKey({ fp, stages: this.stages.slice(0, upto).map((s, i) => ({ name: s.name, config: i === stateUpto && s.fitConfig ? s.fitConfig() : s.config })),
      state: this.stages.slice(0, stateUpto).map((s) => cacheKey(stateArrays(s).map((a) => [a.name, a.shape, Array.from(a.data.subarray(0, 64)), a.data.reduce((x, y) => x + y, 0)]))) });
  }

  /** Classifier input features of a split, `n x D` as row chunks, from the cache when it has them. */
  features(split: Split, opts: PipelineFitOptions = {}, cache?: FeatureCache, label = 'features'): { chunks: Float32Array[]; d: number } {
    const upto = this.classifierIndex();
    const bs = opts.batchSize ?? 256;
    const key = cache ? this.prefixKey(upto, fingerprint({ name: 'split', splits: [split] })) : '';
    const hit = cache?.get(key, 'feat');
    if (hit) return { chunks: [hit[0].data], d: hit[0].shape[1] };
    const bar = new Progress(`${this.name} ${label}`, split.n, { unit: 'img', silent: opts.progress === false ? true : undefined });
    const chunks: Float32Array[] = [];
    let d = 0;
    for (let i = 0; i < split.n; i += bs) {
      const x = batchTensor(split, i, i + bs);
      const f = this.run(x, 0, upto);
      d = f.shape[1] * f.shape[2] * f.shape[3];
      chunks.push(f.dataSync() as Float32Array);
      tf.dispose([x, f]);
      bar.tick(Math.min(bs, split.n - i));
    }
    bar.end();
    if (cache) {
      const all = new Float32Array(split.n * d);
      let o = 0;
      for (const c of chunks) { all.set(c, o); o += c.length; }
      cache.put(key, 'feat', [{ name: 'features', shape: [split.n, d], data: all }]);
      return { chunks: [all], d };
    }
    return { chunks, d };
  }

  async fit(train: Split, opts: PipelineFitOptions = {}): Promise<PipelineFitReport> {
    const t0 = performance.now();
    const cache = opts.cacheDir ? new FeatureCache(opts.cacheDir) : undefined;
    const bs = opts.batchSize ?? 256;
    this.inShape = [train.height, train.width, train.channels];
    const fp = fingerprint({ name: 'split', splits: [train] });
    const times: Record<string, number> = {};
    const ci = this.classifierIndex();
    for (let i = 0; i < ci; i++) {
      const s = this.stages[i];
      if (!s.fit) continue;
      const ts = performance.now();
      const key = this.prefixKey(i + 1, fp, i);     // this stage's config, the fitted state before it
      const hit = cache?.get(key, 'state');
      if (hit) { restoreArrays(s, hit); times[`${s.name} fit (cached)`] = (performance.now() - ts) / 1000; continue; }
      // a seeded subset of images, streamed through the fitted prefix
      const perImage = chainCards(this.stages.slice(0, i), this.inShape).at(-1)?.outShape?.slice(0, 2).reduce((a, b) => a * b, 1) ?? 1;
      const sample = Number((s.config as { sample?: number }).sample ?? 100_000);
      const want = Math.min(train.n, opts.codingImages ?? Math.ceil((2 * sample) / Math.max(1, perImage)));
      const rand = rng(opts.seed ?? 0);
      const idx = Array.from({ length: train.n }, (_, j) => j);
      for (let j = 0; j < want; j++) { const k = j + Math.floor(rand() * (train.n - j)); [idx[j], idx[k]] = [idx[k], idx[j]]; }
      const chosen = idx.slice(0, want).sort((a, b) => a - b);
      const self = this;
      const bar = new Progress(`${this.name} ${s.name} descriptors`, want, { unit: 'img', silent: opts.progress === false ? true : undefined });
      async function* stream(): AsyncGenerator<Maps> {
        for (let j = 0; j < chosen.length; j += bs) {
          const sub = chosen.slice(j, j + bs);
          const { x } = gatherBatch(train, sub);
          const y = self.run(x, 0, i);
          x.dispose();
          bar.tick(sub.length);
          yield y;
        }
        bar.end();
      }
      await s.fit(stream());
      cache?.put(key, 'state', stateArrays(s));
      times[`${s.name} fit`] = (performance.now() - ts) / 1000;
    }
    const tf0 = performance.now();
    const { chunks, d } = this.features(train, opts, cache, 'train features');
    times.features = (performance.now() - tf0) / 1000;
    if (ci < this.stages.length) {
      const tc = performance.now();
      const clf = this.stages[ci];
      async function* rows(): AsyncGenerator<Maps> { for (const c of chunks) yield tf.tensor4d(c, [c.length / d, 1, 1, d]); }
      await clf.fit?.(rows(), train.labels);
      times['classifier fit'] = (performance.now() - tc) / 1000;
    }
    this.lastFit = { seconds: (performance.now() - t0) / 1000, stages: times, cache: { hits: cache?.hits ?? 0, misses: cache?.misses ?? 0, corrupt: cache?.corrupt ?? 0 } };
    return this.lastFit;
  }

  /** Scores `[N,classes]` of a whole split (features from the cache when given one). */
  scores(split: Split, opts: PipelineFitOptions = {}): Float32Array {
    const cache = opts.cacheDir ? new FeatureCache(opts.cacheDir) : undefined;
    const { chunks, d } = this.features(split, opts, cache, 'test features');
    const ci = this.classifierIndex();
    const out: Float32Array[] = [];
    for (const c of chunks) {
      const n = c.length / d;
      const y = tf.tidy(() => this.run(tf.tensor4d(c, [n, 1, 1, d]), ci));
      out.push(y.dataSync() as Float32Array);
      y.dispose();
    }
    const total = out.reduce((a, o) => a + o.length, 0);
    const all = new Float32Array(total);
    let o = 0;
    for (const c of out) { all.set(c, o); o += c.length; }
    return all;
  }

  score(split: Split, opts: PipelineFitOptions = {}): number {
    const s = this.scores(split, opts);
    return accuracy(argmax(s, s.length / Math.max(1, split.n)), split.labels);
  }

  cards(inShape: number[] | null = this.inShape): LayerCard[] {
    return chainCards(this.stages, inShape ?? [28, 28, 1]);
  }

  toJSON(): { format: string; version: number; name: string; inShape: number[] | null; stages: { name: string; config: Record<string, unknown> }[] } {
    return { format: FORMAT, version: FORMAT_VERSION, name: this.name, inShape: this.inShape, stages: this.stages.map((s) => ({ name: s.name, config: { ...s.config } })) };
  }

  /** pipeline.json + weights.bin, written into DIR.tmp-PID and renamed into place. */
  async save(dir: string): Promise<void> {
    const tensors: { stage: string; name: string; shape: number[]; offset: number; length: number }[] = [];
    const parts: Float32Array[] = [];
    let off = 0;
    for (const s of this.stages) for (const a of stateArrays(s)) {
      tensors.push({ stage: s.name, name: a.name, shape: a.shape, offset: off, length: a.data.length });
      parts.push(a.data); off += a.data.length;
    }
    const body = new Float32Array(off);
    let o = 0;
    for (const p of parts) { body.set(p, o); o += p.length; }
    await replaceDirAtomic(dir, (tmp) => {
      writeFileSync(join(tmp, 'weights.bin'), new Uint8Array(body.buffer));
      writeFileSync(join(tmp, 'pipeline.json'), JSON.stringify({ ...this.toJSON(), tensors }, null, 2));
    });
  }

  static fromJSON(j: { name?: string; stages: { name: string; config: Record<string, unknown> }[] }): Pipeline {
    return new Pipeline(j.stages.map((s) => makeStage(s.name, s.config)), j.name ?? 'pipeline');
  }

  static async load(dir: string): Promise<Pipeline> {
    const file = join(dir, 'pipeline.json');
    if (!existsSync(file)) throw new PipelineError(`${file}: no saved pipeline here`);
    let j: ReturnType<Pipeline['toJSON']> & { tensors: { stage: string; name: string; shape: number[]; offset: number; length: number }[] };
    try { j = JSON.parse(readFileSync(file, 'utf8')); } catch (e) { throw new PipelineError(`${file}: not valid JSON (${(e as Error).message})`); }
    if (j.format !== FORMAT) throw new PipelineError(`${file}: not a bowcnn pipeline (format '${j.format}')`);
    if (j.version !== FORMAT_VERSION) throw new PipelineError(`${file}: format version ${j.version} is not supported by this bowcnn (it reads version ${FORMAT_VERSION})`);
    const p = Pipeline.fromJSON(j);
    p.inShape = j.inShape;
    const bin = readFileSync(join(dir, 'weights.bin'));
    const all = new Float32Array(bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength));
    const need = j.tensors.reduce((a, t) => Math.max(a, t.offset + t.length), 0);
    if (all.length < need) throw new PipelineError(`${join(dir, 'weights.bin')}: truncated (${all.length} of ${need} values)`);
    for (const s of p.stages) {
      const mine = j.tensors.filter((t) => t.stage === s.name).map((t) => ({ name: t.name, shape: t.shape, data: all.subarray(t.offset, t.offset + t.length) }));
      if (mine.length) restoreArrays(s, mine);
    }
    return p;
  }
}

export function pipeline(stages: Stage[], name?: string): Pipeline {
  return new Pipeline(stages, name);
}
