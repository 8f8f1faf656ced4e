// k-means on the backend against ml-kmeans (the npm reference) from the same initial centres.
import { kmeans as mlKmeans } from 'ml-kmeans';
import { beforeAll, describe, expect, it } from 'vitest';
import { tf, useBackend } from '../../src/backend/index.js';
import { inertiaOf, kmeans } from '../../src/learn/kmeans.js';
import { randArray } from '../helpers.js';

beforeAll(async () => {
  await useBackend('wasm');
});

/** Three Gaussian-ish blobs plus uniform noise, n x d. */
function blobs(n: number, d: number, seed: number): Float32Array {
  const u = randArray(n * d, seed);
  const x = new Float32Array(n * d);
  for (let i = 0; i < n; i++) for (let t = 0; t < d; t++) x[i * d + t] = (i % 3) * 2 + (t % 2) + 0.6 * u[i * d + t];
  return x;
}

describe('k-means (tfjs Lloyd)', async () => {
  it('reaches the same centres as ml-kmeans from the same initial centres, with no worse inertia', async () => {
    const n = 1500,
      d = 6,
      k = 7;
    const x = blobs(n, d, 3);
    const init = x.slice(0, k * d);
    const ours = await kmeans(x, n, d, { k, init, maxIter: 200, tol: 0 });
    const rows = Array.from({ length: n }, (_, i) => Array.from(x.subarray(i * d, (i + 1) * d)));
    const ref = mlKmeans(rows, k, { initialization: Array.from({ length: k }, (_, i) => rows[i]), maxIterations: 200, tolerance: 0 });
    for (let j = 0; j < k; j++)
      for (let t = 0; t < d; t++) expect(Math.abs(ours.centres[j * d + t] - ref.centroids[j][t])).toBeLessThan(1e-4);
    const refC = Float32Array.from(ref.centroids.flat());
    expect(ours.inertia).toBeLessThanOrEqual((await inertiaOf(x, n, d, refC, k)) * (1 + 1e-6));
  });

  it('k-means++ seeding is seeded: the same seed gives the same result, and no cluster is empty', async () => {
    const n = 2000,
      d = 4,
      k = 12;
    const x = blobs(n, d, 5);
    const a = await kmeans(x, n, d, { k, seed: 11, maxIter: 20 });
    const b = await kmeans(x, n, d, { k, seed: 11, maxIter: 20 });
    expect(Array.from(b.centres)).toEqual(Array.from(a.centres));
    const c = await kmeans(x, n, d, { k, seed: 12, maxIter: 20 });
    expect(Array.from(c.centres)).not.toEqual(Array.from(a.centres));
  });

  it('re-seeds an empty cluster with the farthest point', async () => {
    // 4 identical initial centres: three of them get no points in the first step
    const n = 400,
      d = 2,
      k = 4;
    const x = blobs(n, d, 7);
    const init = new Float32Array(k * d).fill(0);
    const r = await kmeans(x, n, d, { k, init, maxIter: 30 });
    expect(r.reseeded).toBeGreaterThanOrEqual(3);
    const keys = new Set<string>();
    for (let j = 0; j < k; j++) keys.add(`${r.centres[j * d].toFixed(4)},${r.centres[j * d + 1].toFixed(4)}`);
    expect(keys.size).toBe(k);
  });

  it('leaves no tensors behind', async () => {
    const before = tf.memory().numTensors;
    await kmeans(blobs(500, 3, 1), 500, 3, { k: 5, maxIter: 5 });
    expect(tf.memory().numTensors).toBe(before);
  });
});
