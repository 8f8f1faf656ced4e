// Pipeline: stages found by name and rebuilt by clone, so swapping never changes the old pipeline and a
// stage of the user's own survives with / set / without / save / load; configs refuse what they do not
// know; save/load round-trips with checksums; refits leak no tensors; the feature cache serves a
// classifier swap without recomputing descriptors or coding, keys on the whole fitted state, and never
// trusts a corrupt file.
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { tf, useBackend } from '../../src/backend/index.js';
import { ConfigError, ModelError } from '../../src/core/errors.js';
import { z } from '../../src/config/schema.js';
import { dataset } from '../../src/data/registry.js';
import { batchTensor } from '../../src/data/split.js';
import type { Dataset, Split } from '../../src/core/data.js';
import { accuracy } from '../../src/eval/metrics.js';
import { argmax } from '../../src/core/scores.js';
import { load } from '../../src/models/load.js';
import { Pipeline, PipelineError, pipeline } from '../../src/pipeline/pipeline.js';

import { bowPipeline, readRecipe } from '../../src/pipeline/recipes.js';
import { cells } from '../../src/stages/cells.js';
import { classifier } from '../../src/stages/classifier.js';
import { coding } from '../../src/stages/coding.js';
import { descriptor } from '../../src/stages/descriptor.js';
import { gradient } from '../../src/stages/gradient.js';
import { orientation } from '../../src/stages/orientation.js';
import { pooling } from '../../src/stages/pooling.js';
import { defineStage, type Maps } from '../../src/stages/stage.js';
import { csrToDense } from '../../src/core/sparse.js';

let ds: Dataset;
const small = (): Pipeline => bowPipeline(readRecipe('bow-sift')).set('coding.words', 24).set('coding.sample', 4000);
const quiet = { progress: false, batchSize: 128 } as const;
const score = async (p: Pipeline, s: Split, cacheDir?: string) =>
  accuracy(argmax(await p.scoreSplit(s, { progress: false, cacheDir }), 10), s.labels);

/** A stage of the user's own: a per-channel gain, with a schema (so that set and clone validate it). */
const gain = defineStage('gain', z.strictObject({ k: z.number().default(2) }), (config, name) => ({
  apply: (x: Maps) => tf.tidy(() => tf.mul(x, config.k) as Maps),
  outShape: (s) => [...s],
  card: (s) => ({
    stage: name,
    classic: `gain ${config.k}`,
    cnn: 'scale',
    mapsIn: s[2] ?? 1,
    mapsOut: s[2] ?? 1,
    params: 0,
    origin: 'handcrafted' as const,
    receptiveField: 1,
    outShape: [...s],
  }),
}));

beforeAll(async () => {
  await useBackend('wasm');
  ds = await dataset('mnist', { subset: 400, testSubset: 300, seed: 2 });
});

describe('Pipeline', () => {
  it('features as sparse rows are the dense transform, and scoreSplit scores them as scores() does', async () => {
    const p = bowPipeline(readRecipe('bow-sift-spm')).set('coding.words', 24).set('coding.sample', 4000);
    await p.fit(ds.train, quiet);
    const part = { ...ds.test, n: 40, labels: ds.test.labels.subarray(0, 40) };
    const x = batchTensor(ds.test, 0, 40);
    const dense = await p.transform(x);
    const { rows } = await p.features(part, quiet);
    expect([rows.n, rows.d]).toEqual([40, dense.shape[3]]);
    const want = dense.dataSync();
    const got = csrToDense(rows);
    let worst = 0;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
    expect(worst).toBeLessThan(1e-5);
    expect(rows.indptr[40]).toBe(Array.from(want).filter((v) => v !== 0).length); // held as its nonzeros
    const s = await p.scores(x);
    const fromRows = await p.scoreSplit(part, { progress: false });
    const sd = s.dataSync();
    for (let i = 0; i < sd.length; i++) expect(Math.abs(fromRows[i] - sd[i])).toBeLessThan(1e-4);
    tf.dispose([x, dense, s]);
    p.dispose();
  });

  it('with / without / set return new pipelines and leave the old one as it was', () => {
    const a = small();
    const before = JSON.stringify(a.toJSON());
    const b = a.with('coding', coding({ words: 8, mode: 'soft', beta: 3 }));
    const c = a.without('pooling');
    const d = a.set('classifier.C', 0.1);
    expect(JSON.stringify(a.toJSON())).toBe(before);
    expect(b.get('coding').config).toMatchObject({ words: 8, mode: 'soft' });
    expect(c.stages.map((s) => s.name)).not.toContain('pooling');
    expect(d.get('classifier').config.C).toBe(0.1);
    expect(a.get('classifier').config.C).toBe(1);
    expect(() => a.with('nope', coding())).toThrow(PipelineError);
  });

  it('refuses unknown keys, wrong values and unknown stages, naming them and the nearest allowed', () => {
    const a = small();
    expect(() => a.set('coding.mode', 'hrad')).toThrow(ConfigError);
    expect(() => a.set('coding.mode', 'hrad')).toThrow(
      /'mode': 'hrad' is not allowed \(did you mean 'hard'\?\); allowed: 'hard', 'soft', 'triangle'/,
    );
    expect(() => a.set('coding.wordz', 3)).toThrow(/unknown key 'wordz' \(did you mean 'words'\?\)/);
    expect(() => a.set('codng.words', 3)).toThrow(/no stage 'codng' \(did you mean 'coding'\?\)/);
    expect(() => a.set('coding.words', 0)).toThrow(/'words': 0 is too small/);
    expect(() => a.set('pooling.op', 'median')).toThrow(/allowed: 'sum', 'mean', 'max'/);
    expect(() => a.set('orientation.mode', 'nearest')).toThrow(/allowed: 'wta', 'bilinear'/);
    expect(() => a.set('descriptor.norm', 'l3')).toThrow(/allowed: 'sift', 'rootsift', 'l2', 'none'/);
    expect(() => a.set('classifier.solver', 'sgd')).toThrow(/allowed: 'dcd', 'adam'/);
    // a constraint between stages: the descriptor's cells are the cells stage's
    expect(() => a.set('cells.size', 2)).toThrow(/cellSize \(4\) must equal the cells stage's size \(2\)/);
    expect(() => a.set('gradient.orientations', 6)).toThrow(
      /stage 'orientation' bins 8 orientations; stage 'gradient' has orientations = 6/,
    );
  });

  it('keeps two stages of one kind apart by name', () => {
    const p = pipeline([
      gradient(),
      orientation(),
      cells(),
      descriptor(),
      coding({ words: 8 }, 'words8'),
      coding({ words: 16 }, 'words16'),
      pooling(),
    ]);
    expect(p.stages.map((s) => [s.kind, s.name])).toContainEqual(['coding', 'words16']);
    expect(p.set('words16.words', 32).get('words16').config.words).toBe(32);
    expect(p.get('words8').config.words).toBe(8);
    expect(() => pipeline([coding(), coding()])).toThrow(/two stages are named 'coding'/);
  });

  it('fits, predicts better than chance, keeps memory flat over 10 refits, and save/load gives the same scores', async () => {
    const p = small();
    await p.fit(ds.train, quiet);
    const n1 = tf.memory().numTensors;
    for (let i = 0; i < 10; i++) await p.fit(ds.train, quiet);
    expect(tf.memory().numTensors).toBe(n1);
    expect(await score(p, ds.test)).toBeGreaterThan(0.5);
    const dir = join(mkdtempSync(join(tmpdir(), 'bowcnn-pipe-')), 'model');
    await p.save(dir);
    const q = (await load(dir)) as Pipeline;
    expect(q).toBeInstanceOf(Pipeline);
    const x = batchTensor(ds.test, 0, 50);
    const a = await p.scores(x),
      b = await q.scores(x);
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
    tf.dispose([x, a, b]);
    expect(q.cards().map((c) => c.stage)).toEqual(p.cards().map((c) => c.stage));
    expect(q.data?.inShape).toEqual([28, 28, 1]);
    q.dispose();
  });

  it('refuses a saved pipeline whose weights changed after saving (checksum), naming the file', async () => {
    const p = small();
    await p.fit(ds.train, quiet);
    const dir = join(mkdtempSync(join(tmpdir(), 'bowcnn-pipe-')), 'model');
    await p.save(dir);
    const w = readFileSync(join(dir, 'weights.bin'));
    for (let i = 0; i < 4; i++) w[100 + i] ^= 0x5a;
    writeFileSync(join(dir, 'weights.bin'), w);
    await expect(load(dir)).rejects.toThrow(ModelError);
    await expect(load(dir)).rejects.toThrow(new RegExp(`${join(dir, 'weights.bin')}: checksum mismatch`));
    // a recipe of another version is refused before anything is read
    const j = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8'));
    writeFileSync(join(dir, 'meta.json'), JSON.stringify({ ...j, version: 99 }));
    await expect(load(dir)).rejects.toThrow(/format version 99; this bowcnn reads version 2/);
  });

  it('refuses to save weights that are not finite', async () => {
    const p = small();
    await p.fit(ds.train, quiet);
    const cod = p.get('coding') as ReturnType<typeof coding>;
    const c = cod.centres()!;
    const bad = c.dataSync().slice();
    bad[3] = Number.NaN;
    cod.setCentres(tf.tensor2d(bad, c.shape));
    await expect(p.save(join(mkdtempSync(join(tmpdir(), 'bowcnn-pipe-')), 'm'))).rejects.toThrow(/weight 'coding\/centres' holds NaN/);
  });

  it("a stage of the user's own survives with, set, without, save and load", async () => {
    const base = small();
    const p = base.with('pooling', base.get('pooling')).without('classifier');
    const withGain = pipeline([gain({ k: 3 }), ...p.stages.map((s) => s.clone())], 'gained');
    const q = withGain.set('gain.k', 0.5);
    expect(q.get('gain').config.k).toBe(0.5);
    expect(() => withGain.set('gain.kk', 1)).toThrow(/unknown key 'kk' \(did you mean 'k'\?\)/);
    const r = q.without('gain').with('coding', coding({ words: 12, sample: 2000 }));
    expect(r.stages.map((s) => s.kind)).not.toContain('gain');
    const full = pipeline([...q.stages.map((s) => s.clone()), classifier()], 'gained');
    await full.fit(ds.train, quiet);
    const dir = join(mkdtempSync(join(tmpdir(), 'bowcnn-pipe-')), 'model');
    await full.save(dir);
    const back = (await load(dir)) as Pipeline;
    expect(back.get('gain').config.k).toBe(0.5);
    const x = batchTensor(ds.test, 0, 20);
    const a = await full.scores(x),
      b = await back.scores(x);
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
    tf.dispose([x, a, b]);
  });

  it('swapping only the classifier reuses the cached dictionary and features', async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), 'bowcnn-cache-'));
    const p = small();
    const r1 = await p.fit(ds.train, { ...quiet, cacheDir });
    expect(r1.phases['coding fit'].cached).toBe(false);
    expect(r1.cached).toBe(false);
    const q = p.with('classifier', classifier({ C: 0.5 }));
    const r2 = await q.fit(ds.train, { ...quiet, cacheDir });
    expect(r2.phases['coding fit'].cached).toBe(true); // the dictionary came from the cache
    expect(r2.phases.features.cached).toBe(true);
    expect(r2.cached).toBe(true); // nothing but the classifier was fitted
    expect(r2.trainImagesPerSec).toBeNull(); // no speed is claimed for features read from a file
    // another dictionary (other fitted state, same configs before it) is another key
    const other = small().set('coding.seed', 5);
    const r3 = await other.fit(ds.train, { ...quiet, cacheDir });
    expect(r3.phases.features.cached).toBe(false);
  });

  it('detects a corrupt or truncated cache file and recomputes it', async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), 'bowcnn-cache-'));
    const p = small();
    await p.fit(ds.train, { ...quiet, cacheDir });
    const accA = await score(p, ds.test, cacheDir);
    for (const f of readdirSync(cacheDir).filter((n) => n.endsWith('.rows'))) {
      const b = readFileSync(join(cacheDir, f));
      b[b.length - 5] ^= 0xff; // flip a byte of the body
      writeFileSync(join(cacheDir, f), f.charCodeAt(0) % 2 ? b : b.subarray(0, b.length - 100)); // some also truncated
    }
    const q = small();
    const r = await q.fit(ds.train, { ...quiet, cacheDir });
    expect(r.phases.features.cached).toBe(false);
    expect(await score(q, ds.test, cacheDir)).toBeCloseTo(accA, 10);
  });
});
