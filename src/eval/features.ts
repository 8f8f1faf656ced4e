/**
 * Dense features of a large image folder, in shards (`bowcnn features`): the folder is listed once (the
 * listing is a content-addressed file in the shared cache), the dictionary is fitted once by one job on a
 * seeded sample of the images, and each shard job (1,000 images by default) decodes its images and writes
 * their features, the sparse rows the classifier reads, into the cache. Every output is named by a hash
 * of what it is made from and written atomically: a job run twice (at-least-once delivery) writes the same
 * files. The jobs run in this process, or on BullMQ workers (eval/queue.ts) sharing the cache.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { bytesIdentity, identity } from '../core/identity.js';
import { ensureDir, writeFileAtomic } from '../core/atomic.js';
import { ConfigError } from '../core/errors.js';
import { checkpoint } from '../core/interrupt.js';
import { rng } from '../core/random.js';
import { readModelMeta } from '../core/persist.js';
import { listFolder, readFiles } from '../data/folder.js';
import { classifierFrom } from '../models/resolve.js';
import { Pipeline } from '../pipeline/pipeline.js';
import type { Processor } from './queue.js';

export interface FeatureJobBase {
  listing: string; // the listing's id (CACHE/listings/ID.json)
  pipeline: string;
  size: [number, number];
  channels: 1 | 3;
}

export interface DictionaryJob extends FeatureJobBase {
  sample: number;
  seed: number;
}

export interface ShardJob extends FeatureJobBase {
  dictionary: string; // the fitted feature pipeline's id (CACHE/dictionaries/ID/)
  start: number;
  end: number;
}

export interface ShardResult {
  id: string;
  start: number;
  end: number;
  n: number;
  d: number;
  nnz: number;
  file: string; // CACHE/shards/ID.bin: int32 n, d, nnz; int32 labels[n], indptr[n+1], indices[nnz]; float32 values[nnz]
  seconds: number;
}

const hash = (v: unknown) => identity(v, 24);

interface Listing {
  root: string;
  classes: string[];
  // paths as base64 of their bytes (names need not be UTF-8); size and modification time, so that a changed
  // image makes another listing, and so other dictionaries and shards
  files: { path: string; label: number; size: number; mtimeMs: number }[];
}

/** Lists the folder and writes the listing into the cache (once: it is named by its content). */
export function writeListing(cacheDir: string, root: string): { id: string; n: number; classes: string[] } {
  const l = listFolder(root);
  const listing: Listing = {
    root,
    classes: l.classes,
    files: l.files.map((f) => ({ path: f.path.toString('base64'), label: f.label, size: f.size, mtimeMs: f.mtimeMs })),
  };
  const text = JSON.stringify(listing);
  const id = bytesIdentity(text, 24);
  const file = join(cacheDir, 'listings', `${id}.json`);
  if (!existsSync(file)) {
    ensureDir(join(cacheDir, 'listings'));
    writeFileAtomic(file, text);
  }
  return { id, n: listing.files.length, classes: l.classes };
}

function readListing(cacheDir: string, id: string): Listing {
  const file = join(cacheDir, 'listings', `${id}.json`);
  if (!existsSync(file))
    throw new ConfigError(`${file}: the listing is not in the cache (does this worker share the coordinator's --cache?)`);
  return JSON.parse(readFileSync(file, 'utf8')) as Listing;
}

const filesOf = (l: Listing, idx: number[]) => idx.map((i) => ({ path: Buffer.from(l.files[i].path, 'base64'), label: l.files[i].label }));

export const dictionaryId = (j: DictionaryJob) => hash({ kind: 'dictionary', ...j });
export const dictionaryDir = (cacheDir: string, id: string) => join(cacheDir, 'dictionaries', id);
export const shardId = (j: ShardJob) => hash({ kind: 'shard', ...j });
const shardMeta = (cacheDir: string, id: string) => join(cacheDir, 'shards', `${id}.json`);

/** The fitted dictionary's folder when it is in the cache, else null. */
export function dictionaryDone(cacheDir: string, id: string): string | null {
  const d = dictionaryDir(cacheDir, id);
  try {
    readModelMeta(d);
    return d;
  } catch {
    return null;
  }
}

export function shardDone(cacheDir: string, id: string): ShardResult | null {
  const f = shardMeta(cacheDir, id);
  if (!existsSync(f)) return null;
  try {
    // the file is named in this cache, which another machine may mount at another path
    const r = { ...(JSON.parse(readFileSync(f, 'utf8')) as ShardResult), file: join(cacheDir, 'shards', `${id}.bin`) };
    return r.id === id && existsSync(r.file) ? r : null;
  } catch {
    return null;
  }
}

/** The pipeline's feature stages: everything before its classifier. */
export async function featurePipeline(spec: string): Promise<Pipeline> {
  const c = await classifierFrom(spec);
  if (!(c instanceof Pipeline)) throw new ConfigError(`features --pipeline ${spec}: a BoW pipeline is needed (${c.name} is a CNN)`);
  const clf = c.stages.find((s) => s.supervised);
  return clf ? c.without(clf.name) : c;
}

/** Fits the dictionary (every unsupervised stage) on a seeded sample of the listed images; saved into the cache. */
export async function runDictionary(j: DictionaryJob, cacheDir: string): Promise<string> {
  const id = dictionaryId(j);
  const done = dictionaryDone(cacheDir, id);
  if (done) return done;
  const l = readListing(cacheDir, j.listing);
  const n = l.files.length;
  // a seeded sample without replacement (partial Fisher-Yates), in listing order
  const rand = rng(j.seed);
  const idx = Array.from({ length: n }, (_, i) => i);
  const m = Math.min(n, j.sample);
  for (let i = 0; i < m; i++) {
    const k = i + Math.floor(rand() * (n - i));
    [idx[i], idx[k]] = [idx[k], idx[i]];
  }
  const split = await readFiles(
    filesOf(
      l,
      idx.slice(0, m).sort((a, b) => a - b),
    ),
    j.size[0],
    j.size[1],
    j.channels,
  );
  const p = await featurePipeline(j.pipeline);
  await p.fit(split, { seed: j.seed, progress: false, data: { dataset: `folder:${l.root}`, classes: l.classes } });
  await p.save(dictionaryDir(cacheDir, id));
  p.dispose();
  return dictionaryDir(cacheDir, id);
}

/** One shard: its images' features as sparse rows, written into the cache. */
export async function runShard(j: ShardJob, cacheDir: string): Promise<ShardResult> {
  const id = shardId(j);
  const done = shardDone(cacheDir, id);
  if (done) return done;
  const t0 = performance.now();
  const dir = dictionaryDone(cacheDir, j.dictionary);
  if (!dir) throw new ConfigError(`the dictionary ${j.dictionary} is not in ${cacheDir}/dictionaries (fit it first)`);
  const l = readListing(cacheDir, j.listing);
  const split = await readFiles(
    filesOf(
      l,
      Array.from({ length: j.end - j.start }, (_, i) => j.start + i),
    ),
    j.size[0],
    j.size[1],
    j.channels,
  );
  await checkpoint();
  const p = await Pipeline.load(dir);
  try {
    const { rows } = await p.features(split, { progress: false });
    const head = Int32Array.of(rows.n, rows.d, rows.indices.length);
    const parts = [head, split.labels, rows.indptr, rows.indices, rows.values];
    const bytes = new Uint8Array(parts.reduce((a, x) => a + x.byteLength, 0));
    let o = 0;
    for (const x of parts) {
      bytes.set(new Uint8Array(x.buffer, x.byteOffset, x.byteLength), o);
      o += x.byteLength;
    }
    ensureDir(join(cacheDir, 'shards'));
    const file = join(cacheDir, 'shards', `${id}.bin`);
    writeFileAtomic(file, bytes);
    const r: ShardResult = {
      id,
      start: j.start,
      end: j.end,
      n: rows.n,
      d: rows.d,
      nnz: rows.indices.length,
      file,
      seconds: (performance.now() - t0) / 1000,
    };
    writeFileAtomic(shardMeta(cacheDir, id), JSON.stringify(r));
    return r;
  } finally {
    p.dispose();
  }
}

/** Reads a shard file back: labels and sparse rows. */
export function readShard(file: string): {
  labels: Int32Array;
  n: number;
  d: number;
  indptr: Int32Array;
  indices: Int32Array;
  values: Float32Array;
} {
  const b = readFileSync(file);
  const buf = b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
  const [n, d, nnz] = new Int32Array(buf, 0, 3);
  let o = 12;
  const take = <T>(C: new (b: ArrayBuffer, o: number, n: number) => T, k: number): T => {
    const v = new C(buf, o, k);
    o += 4 * k;
    return v;
  };
  const labels = take(Int32Array, n),
    indptr = take(Int32Array, n + 1),
    indices = take(Int32Array, nnz),
    values = take(Float32Array, nnz);
  return { labels, n, d, indptr, indices, values };
}

/** The queue's processors for feature extraction. */
export const featureProcessors: Record<string, Processor> = {
  dictionary: async (data, ctx) => ({ dir: await runDictionary(data.job as DictionaryJob, ctx.cacheDir) }),
  shard: async (data, ctx) => {
    const r = await runShard(data.job as ShardJob, ctx.cacheDir);
    return { id: r.id, n: r.n };
  },
};
