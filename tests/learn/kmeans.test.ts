// k-means on the backend against ml-kmeans (the npm reference) from the same initial centres; k-means++ seeding
// against a plain loop; mini-batch k-means against Lloyd's on data whose clusters are known.
import { kmeans as mlKmeans } from 'ml-kmeans';
import { beforeAll, describe, expect, it } from 'vitest';
import { tf, useBackend } from '../../src/backend/index.js';
import { inertiaOf, kmeans, kmeansppSeed } from '../../src/learn/kmeans.js';
import { rng } from '../../src/core/random.js';
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

/** Three well-separated blobs in d dimensions (centres 0, 5, 10 on every axis), noise +-0.5. */
function separated(n: number, d: number, seed: number): { x: Float32Array; means: number[][] } {
  const u = randArray(n * d, seed);
  const x = new Float32Array(n * d);
  const sums = [0, 1, 2].map(() => new Array(d).fill(0));
  const counts = [0, 0, 0];
  for (let i = 0; i < n; i++) {
    const c = i % 3;
    counts[c]++;
    for (let t = 0; t < d; t++) {
      x[i * d + t] = 5 * c + 0.5 * u[i * d + t];
      sums[c][t] += x[i * d + t];
    }
  }
  return { x, means: sums.map((s, c) => s.map((v) => v / counts[c])) };
}

describe('k-means++ seeding', () => {
  it('picks the centres a plain loop picks from the same random stream (exact squared distances in float64)', async () => {
    const n = 600,
      d = 5,
      k = 9;
    const x = blobs(n, d, 9);
    const ours = await kmeansppSeed(x, n, d, k, rng(4));
    const rand = rng(4);
    const dist = new Float64Array(n).fill(Infinity);
    const picks: number[] = [Math.floor(rand() * n)];
    while (picks.length < k) {
      const c = picks[picks.length - 1];
      let total = 0;
      for (let i = 0; i < n; i++) {
        let t = 0;
        for (let q = 0; q < d; q++) t += (x[i * d + q] - x[c * d + q]) ** 2;
        dist[i] = Math.min(dist[i], t);
        total += dist[i];
      }
      let r = rand() * total,
        pick = n - 1;
      for (let i = 0; i < n; i++) {
        r -= dist[i];
        if (r <= 0) {
          pick = i;
          break;
        }
      }
      picks.push(pick);
    }
    for (let j = 0; j < k; j++)
      expect(Array.from(ours.subarray(j * d, (j + 1) * d))).toEqual(Array.from(x.subarray(picks[j] * d, (picks[j] + 1) * d)));
  });
});

describe('mini-batch k-means', () => {
  it("finds the blobs' means, as Lloyd's does, and stops early once the smoothed batch inertia stops falling", async () => {
    const n = 6000,
      d = 4;
    const { x, means } = separated(n, d, 2);
    const mb = await kmeans(x, n, d, { k: 3, algorithm: 'minibatch', batchSize: 256, maxIter: 100, seed: 1 });
    const lloyd = await kmeans(x, n, d, { k: 3, maxIter: 100, seed: 1 });
    const steps = Math.floor((100 * n) / 256);
    expect(mb.converged).toBe(true);
    expect(mb.iterations).toBeLessThan(steps);
    for (const m of means) {
      // each true mean has a mini-batch centre within 0.05 (the noise is +-0.5, the blobs 5 apart)
      let best = Infinity;
      for (let j = 0; j < 3; j++) best = Math.min(best, Math.hypot(...m.map((v, t) => v - mb.centres[j * d + t])));
      expect(best).toBeLessThan(0.05);
    }
    expect(mb.inertia).toBeLessThan(lloyd.inertia * 1.01);
  });

  it('is seeded, moves starved centres to data points, and leaves no tensors behind', async () => {
    const n = 3000,
      d = 3;
    const { x } = separated(n, d, 5);
    const before = tf.memory().numTensors;
    const a = await kmeans(x, n, d, { k: 6, algorithm: 'minibatch', batchSize: 128, maxIter: 20, seed: 3 });
    const b = await kmeans(x, n, d, { k: 6, algorithm: 'minibatch', batchSize: 128, maxIter: 20, seed: 3 });
    expect(Array.from(b.centres)).toEqual(Array.from(a.centres));
    expect(tf.memory().numTensors).toBe(before);
    // all 6 centres start at one point: after the first steps five hold nothing and are moved
    const init = new Float32Array(6 * d);
    for (let j = 0; j < 6; j++) init.set(x.subarray(0, d), j * d);
    const r = await kmeans(x, n, d, { k: 6, init, algorithm: 'minibatch', batchSize: 128, maxIter: 20, seed: 3 });
    expect(r.reseeded).toBeGreaterThanOrEqual(5);
    const keys = new Set<string>();
    for (let j = 0; j < 6; j++) keys.add(Array.from(r.centres.subarray(j * d, (j + 1) * d), (v) => v.toFixed(3)).join(','));
    expect(keys.size).toBe(6);
  });
});
