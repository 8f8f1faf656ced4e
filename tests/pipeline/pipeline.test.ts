// Pipeline: swapping by name never changes the old pipeline; save/load round-trips; the feature cache
// serves a classifier swap without recomputing descriptors or coding, and never trusts a corrupt file.
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { tf, useBackend } from '../../src/backend/index.js';
import { dataset } from '../../src/data/registry.js';
import { batchTensor } from '../../src/data/split.js';
import type { Dataset } from '../../src/data/types.js';
import { Pipeline, PipelineError } from '../../src/pipeline/pipeline.js';
import { bowPipeline, readRecipe, type BowRecipe } from '../../src/pipeline/recipes.js';
import { classifier } from '../../src/stages/classifier.js';
import { coding } from '../../src/stages/coding.js';

let ds: Dataset;
const small = (): Pipeline => bowPipeline(readRecipe('bow-sift') as BowRecipe).set('coding.words', 24).set('coding.sample', 4000);
const quiet = { progress: false, batchSize: 128 } as const;

beforeAll(async () => {
  await useBackend('wasm');
  ds = await dataset('mnist', { subset: 400, testSubset: 300, seed: 2 });
});

describe('Pipeline', () => {
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
    expect(() => a.set('coding.wordz', 3)).toThrow(/no option 'wordz'/);
    expect(() => a.with('nope', coding())).toThrow(PipelineError);
  });

  it('fits, predicts better than chance, keeps memory steady, and save/load gives the same scores', async () => {
    const p = small();
    const n0 = tf.memory().numTensors;
    await p.fit(ds.train, quiet);
    const n1 = tf.memory().numTensors;
    await p.fit(ds.train, quiet);           // refit: same number of live tensors
    expect(tf.memory().numTensors).toBe(n1);
    expect(n1 - n0).toBeLessThan(40);        // fitted weights only
    const acc = p.score(ds.test, quiet);
    expect(acc).toBeGreaterThan(0.5);
    const dir = join(mkdtempSync(join(tmpdir(), 'bowcnn-pipe-')), 'model');
    await p.save(dir);
    const q = await Pipeline.load(dir);
    const x = batchTensor(ds.test, 0, 50);
    const a = p.predict(x), b = q.predict(x);
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
    tf.dispose([x, a, b]);
    expect(q.cards().map((c) => c.stage)).toEqual(p.cards().map((c) => c.stage));
    // a file from an unknown format version is refused with a clear error
    const j = JSON.parse(readFileSync(join(dir, 'pipeline.json'), 'utf8'));
    writeFileSync(join(dir, 'pipeline.json'), JSON.stringify({ ...j, version: 99 }));
    await expect(Pipeline.load(dir)).rejects.toThrow(/format version 99 is not supported/);
  });

  it('swapping only the classifier reuses the cached dictionary and features', async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), 'bowcnn-cache-'));
    const p = small();
    const r1 = await p.fit(ds.train, { ...quiet, cacheDir });
    expect(r1.cache.hits).toBe(0);
    const q = p.with('classifier', classifier({ C: 0.5 }));
    const r2 = await q.fit(ds.train, { ...quiet, cacheDir });
    expect(r2.stages['coding fit']).toBeUndefined();            // the dictionary came from the cache
    expect(r2.stages['coding fit (cached)']).toBeDefined();
    expect(r2.cache.hits).toBe(2);                               // dictionary + train features
    expect(r2.stages.features).toBeLessThan(r1.stages.features / 3);
  });

  it('detects a corrupt or truncated cache file and recomputes it', async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), 'bowcnn-cache-'));
    const p = small();
    await p.fit(ds.train, { ...quiet, cacheDir });
    const accA = p.score(ds.test, { ...quiet, cacheDir });
    for (const f of readdirSync(cacheDir).filter((n) => n.endsWith('.feat'))) {
      const b = readFileSync(join(cacheDir, f));
      b[b.length - 5] ^= 0xff;                                   // flip a byte of the body
      writeFileSync(join(cacheDir, f), f.length % 2 ? b : b.subarray(0, b.length - 100));   // some also truncated
    }
    const q = small();
    const r = await q.fit(ds.train, { ...quiet, cacheDir });
    expect(r.cache.corrupt).toBeGreaterThanOrEqual(1);
    expect(q.score(ds.test, { ...quiet, cacheDir })).toBeCloseTo(accA, 10);
  });
});
