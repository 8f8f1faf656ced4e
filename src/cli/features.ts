/**
 * bowcnn features --dataset folder:PATH --pipeline P: a folder's dense features in shards, in this process
 * or on BullMQ workers (--queue), into the shared cache; OUT/features.json lists the shards.
 */
import { isAbsolute, join, resolve } from 'node:path';
import { ensureDir, writeFileAtomic } from '../core/atomic.js';
import { FitError, UsageError } from '../core/errors.js';
import { checkpoint } from '../core/interrupt.js';
import {
  type DictionaryJob,
  dictionaryDone,
  dictionaryId,
  featurePipeline,
  runDictionary,
  runShard,
  type ShardJob,
  type ShardResult,
  shardDone,
  shardId,
  writeListing,
} from '../eval/features.js';
import { parseQueueUrl, queueAndWait } from '../eval/queue.js';
import { Progress } from '../util/progress.js';
import { output, say, startBackend } from './common.js';
import { cacheFolder } from './sweep.js';
import type { Values } from './spec.js';

function sizeOf(s: string): [number, number] {
  const m = /^(\d+)x(\d+)$/.exec(s);
  if (!m || Number(m[1]) < 8 || Number(m[2]) < 8) throw new UsageError(`--size ${s}: expected HxW, each at least 8 (e.g. 28x28)`);
  return [Number(m[1]), Number(m[2])];
}

export async function featuresCommand(v: Values): Promise<void> {
  const name = v.dataset as string | undefined;
  if (!name?.startsWith('folder:')) throw new UsageError('give --dataset folder:PATH (a folder of class folders)');
  const root = resolve(name.slice('folder:'.length));
  const spec = v.pipeline as string;
  const pipeline = /\.(json|m?js|m?ts)$/.test(spec) && !isAbsolute(spec) ? resolve(spec) : spec;
  const out = resolve((v.out as string | undefined) ?? 'runs/features');
  const cacheDir = cacheFolder((v.cache as string | undefined) ?? join(out, 'cache'));
  const shard = v.shard as number;
  if (!(Number.isInteger(shard) && shard >= 1)) throw new UsageError(`--shard ${shard}: a positive whole number of images`);
  const sample = v.sample as number;
  if (!(Number.isInteger(sample) && sample >= 1)) throw new UsageError(`--sample ${sample}: a positive whole number of images`);
  const size = sizeOf(v.size as string);
  (await featurePipeline(pipeline)).dispose(); // a recipe that is not there, or a CNN, is refused before the folder is listed
  const queue = v.queue ? parseQueueUrl(v.queue as string) : null;
  const info = await startBackend(v);
  const t0 = performance.now();
  const listing = writeListing(cacheDir, root);
  const base = { listing: listing.id, pipeline, size, channels: Number(v.channels) as 1 | 3 };
  const dj: DictionaryJob = { ...base, sample, seed: v.seed as number };
  const did = dictionaryId(dj);
  const shards: ShardJob[] = [];
  for (let s = 0; s < listing.n; s += shard) shards.push({ ...base, dictionary: did, start: s, end: Math.min(listing.n, s + shard) });
  say(
    v,
    `features of ${listing.n} images (${listing.classes.length} classes) in ${shards.length} shard${shards.length === 1 ? '' : 's'} of ${shard}, ${queue ? `on ${queue.url}` : `in this process on ${info.name}`}; cache ${cacheDir}`,
  );
  const td = performance.now();
  if (queue) {
    const r = await queueAndWait(
      [{ id: did, name: 'dictionary', data: { kind: 'dictionary', job: dj }, result: () => dictionaryDone(cacheDir, did) }],
      queue,
      { retries: 2, cacheDir, onNote: (m) => say(v, m) },
    );
    const got = r.get(did);
    if (typeof got !== 'string') throw new FitError(`the dictionary job failed: ${(got as { error: string }).error}`);
  } else await runDictionary(dj, cacheDir);
  const dictionarySeconds = (performance.now() - td) / 1000;
  say(v, `dictionary fitted on ${Math.min(listing.n, dj.sample)} images in ${dictionarySeconds.toFixed(1)} s`);
  const bar = new Progress('features', shards.length, { unit: 'shard', silent: v.json ? true : undefined });
  const results: (ShardResult | { error: string })[] = [];
  if (queue) {
    let shown = 0;
    const got = await queueAndWait(
      shards.map((j) => ({
        id: shardId(j),
        name: 'shard',
        data: { kind: 'shard', job: j },
        result: () => shardDone(cacheDir, shardId(j)),
      })),
      queue,
      {
        retries: 2,
        cacheDir,
        onNote: (m) => process.stderr.write(`\nbowcnn: ${m}\n`),
        onProgress: (p) => {
          bar.set({ running: String(p.running), failed: String(p.failed) });
          bar.tick(p.done + p.failed - shown);
          shown = p.done + p.failed;
        },
      },
    );
    for (const j of shards) results.push(got.get(shardId(j))!);
  } else
    for (const j of shards) {
      await checkpoint();
      results.push(await runShard(j, cacheDir));
      bar.tick();
    }
  bar.end();
  const ok = results.filter((r): r is ShardResult => 'file' in r);
  const secs = ok.map((r) => r.seconds).sort((a, b) => a - b);
  const summary = {
    dataset: `folder:${root}`,
    pipeline,
    images: listing.n,
    classes: listing.classes,
    dimensions: ok[0]?.d ?? null,
    dictionary: { id: did, dir: dictionaryDone(cacheDir, did), seconds: dictionarySeconds },
    shards: results,
    seconds: (performance.now() - t0) / 1000,
    medianShardSeconds: secs.length ? secs[secs.length >> 1] : null,
  };
  ensureDir(out);
  writeFileAtomic(join(out, 'features.json'), `${JSON.stringify(summary, null, 1)}\n`);
  output(v.json, summary, () =>
    console.log(
      `${ok.length} of ${shards.length} shards, ${summary.dimensions} dimensions, in ${summary.seconds.toFixed(1)} s (median shard ${summary.medianShardSeconds?.toFixed(2)} s)\nindex: ${join(out, 'features.json')}`,
    ),
  );
  if (ok.length < shards.length)
    throw new FitError(`${shards.length - ok.length} shards failed (their errors are in ${join(out, 'features.json')})`);
}
