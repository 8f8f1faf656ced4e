/**
 * Lloyd's k-means on the active tfjs backend. Squared distances by one matrix product per chunk:
 *   ||x - c||^2 = ||x||^2 - 2 x.c + ||c||^2,
 * assignments by argmin; new centres as the mean of each cluster's points (one pass over the data in JavaScript).
 *
 * - k-means++ seeding (Arthur & Vassilvitskii 2007) on a seeded sample of the data;
 * - a seed, a relative tolerance on the inertia and a maximum number of iterations;
 * - an empty cluster is re-seeded with the point currently farthest from its centre;
 * - progress through a callback (the CLI draws a bar).
 * (The tests check it against the npm package ml-kmeans from the same initial centres.)
 */
import * as tf from '@tensorflow/tfjs';
import { nearestWords } from '../backend/fused-ops.js';
import { checkpoint } from '../core/interrupt.js';
import { rng } from '../core/random.js';

export interface KMeansOptions {
  k: number;
  maxIter?: number;
  tol?: number; // stop when (inertia_prev - inertia) / inertia_prev < tol
  seed?: number;
  init?: 'kmeans++' | 'random' | Float32Array; // or initial centres [k*d]
  initSample?: number; // points k-means++ seeds from (default min(n, 20000))
  chunk?: number; // rows per distance product (memory vs dispatch count)
  onIter?: (it: { iter: number; inertia: number; seconds: number }) => void;
}

export interface KMeansResult {
  centres: Float32Array; // [k*d]
  inertia: number; // sum of squared distances to the assigned centre
  iterations: number;
  converged: boolean;
  secondsPerIter: number;
  seedSeconds: number;
  reseeded: number; // empty clusters re-seeded
}

/** k-means++ seeding: each next centre drawn with probability proportional to its squared distance to the nearest centre so far. */
async function kmeansppSeed(X: tf.Tensor2D, k: number, rand: () => number): Promise<Float32Array> {
  const [n, d] = X.shape;
  const centres = new Float32Array(k * d);
  const xData = (await X.data()) as Float32Array;
  const first = Math.floor(rand() * n);
  centres.set(xData.subarray(first * d, (first + 1) * d), 0);
  const x2 = tf.tidy(() => tf.sum(tf.square(X), 1));
  let best = tf.tidy(() =>
    tf.maximum(
      tf.sub(
        tf.add(x2, tf.sum(tf.square(tf.tensor1d(centres.subarray(0, d))))),
        tf.mul(2, tf.matMul(X, tf.tensor2d(centres.subarray(0, d), [d, 1])).reshape([n])),
      ),
      0,
    ),
  );
  for (let c = 1; c < k; c++) {
    await checkpoint();
    const dist = (await best.data()) as Float32Array;
    let total = 0;
    for (let i = 0; i < n; i++) total += dist[i];
    let pick = -1;
    if (total > 0) {
      let r = rand() * total;
      for (let i = 0; i < n; i++) {
        r -= dist[i];
        if (r <= 0) {
          pick = i;
          break;
        }
      }
      if (pick < 0) pick = n - 1;
    } else pick = Math.floor(rand() * n); // all points coincide with centres: any point
    const cv = xData.subarray(pick * d, (pick + 1) * d);
    centres.set(cv, c * d);
    const next = tf.tidy(() => {
      const ct = tf.tensor2d(cv, [d, 1]);
      const dc = tf.maximum(tf.sub(tf.add(x2, tf.sum(tf.square(ct))), tf.mul(2, tf.matMul(X, ct).reshape([n]))), 0);
      return tf.minimum(best, dc);
    });
    best.dispose();
    best = next;
  }
  tf.dispose([x2, best]);
  return centres;
}

export async function kmeans(data: Float32Array, n: number, d: number, opts: KMeansOptions): Promise<KMeansResult> {
  const { k } = opts;
  if (n < k) throw new Error(`k-means: ${n} points for k = ${k} clusters`);
  if (data.length !== n * d) throw new Error(`k-means: ${data.length} values for ${n} x ${d}`);
  const maxIter = opts.maxIter ?? 50,
    tol = opts.tol ?? 1e-4;
  const rand = rng(opts.seed ?? 0);
  const chunk = opts.chunk ?? Math.max(1024, Math.floor(8_000_000 / Math.max(k, d)));
  // the data as kept chunks [m,d] and their squared norms
  const chunks: { X: tf.Tensor2D; x2: tf.Tensor1D; start: number }[] = [];
  for (let s = 0; s < n; s += chunk) {
    const m = Math.min(chunk, n - s);
    const X = tf.tensor2d(data.subarray(s * d, (s + m) * d), [m, d]);
    chunks.push({ X, x2: tf.keep(tf.tidy(() => tf.sum(tf.square(X), 1))), start: s });
  }
  const t0 = performance.now();
  let init: Float32Array;
  if (opts.init instanceof Float32Array) {
    if (opts.init.length !== k * d) throw new Error(`k-means: initial centres have ${opts.init.length} values, expected ${k} x ${d}`);
    init = opts.init.slice();
  } else if (opts.init === 'random') {
    init = new Float32Array(k * d);
    const picks = new Set<number>();
    while (picks.size < k) picks.add(Math.floor(rand() * n));
    [...picks].forEach((p, i) => init.set(data.subarray(p * d, (p + 1) * d), i * d));
  } else {
    const s = Math.min(n, opts.initSample ?? 20000);
    const idx = new Set<number>();
    if (s === n) for (let i = 0; i < n; i++) idx.add(i);
    else while (idx.size < s) idx.add(Math.floor(rand() * n));
    const sample = new Float32Array(s * d);
    [...idx].forEach((p, i) => sample.set(data.subarray(p * d, (p + 1) * d), i * d));
    const S = tf.tensor2d(sample, [s, d]);
    init = await kmeansppSeed(S, k, rand);
    S.dispose();
  }
  const seedSeconds = (performance.now() - t0) / 1000;
  let C = tf.tensor2d(init, [k, d]);
  let prev = Infinity,
    inertia = Infinity,
    iter = 0,
    converged = false,
    reseeded = 0;
  const tIter = performance.now();
  const assign = new Int32Array(n);
  const minDist = new Float32Array(n);
  for (iter = 1; iter <= maxIter; iter++) {
    const ts = performance.now();
    inertia = 0;
    // the nearest centre as the largest 2 x.c - ||c||^2 (one native pass where the kernels are in use), its
    // squared distance ||x||^2 - that score
    const K = tf.tidy(() => tf.transpose(tf.mul(C, 2)) as tf.Tensor2D);
    const B = tf.tidy(() => tf.neg(tf.sum(tf.square(C), 1)) as tf.Tensor1D);
    for (const { X, x2, start } of chunks) {
      await checkpoint();
      const { idx, best } = nearestWords(X, K, B);
      const md = tf.tidy(() => tf.maximum(tf.sub(x2, best), 0));
      assign.set((await idx.data()) as Int32Array, start);
      const mdv = (await md.data()) as Float32Array;
      minDist.set(mdv, start);
      for (let i = 0; i < mdv.length; i++) inertia += mdv[i];
      tf.dispose([idx, best, md]);
    }
    tf.dispose([K, B]);
    // new centres = mean of the assigned points: one pass over the data in JavaScript (n*d adds, far
    // cheaper than a one-hot product of n*k*d); an empty cluster takes the point farthest from its centre
    const sums = new Float64Array(k * d);
    const cnt = new Float64Array(k);
    for (let i = 0; i < n; i++) {
      const j = assign[i];
      cnt[j]++;
      const o = j * d,
        p = i * d;
      for (let t = 0; t < d; t++) sums[o + t] += data[p + t];
    }
    const cv = new Float32Array(k * d);
    const empty: number[] = [];
    for (let j = 0; j < k; j++) {
      if (cnt[j] === 0) {
        empty.push(j);
        continue;
      }
      for (let t = 0; t < d; t++) cv[j * d + t] = sums[j * d + t] / cnt[j];
    }
    if (empty.length) {
      const order = Array.from(minDist.keys()).sort((a, b) => minDist[b] - minDist[a]);
      empty.forEach((j, e) => {
        const p = order[e];
        cv.set(data.subarray(p * d, (p + 1) * d), j * d);
        minDist[p] = 0;
      });
      reseeded += empty.length;
    }
    const centres = tf.tensor2d(cv, [k, d]);
    C.dispose();
    C = centres;
    opts.onIter?.({ iter, inertia, seconds: (performance.now() - ts) / 1000 });
    if (Number.isFinite(prev) && prev - inertia <= tol * Math.max(prev, 1e-30) && empty.length === 0) {
      converged = true;
      break;
    }
    prev = inertia;
  }
  const done = Math.min(iter, maxIter);
  const secondsPerIter = (performance.now() - tIter) / 1000 / Math.max(1, done);
  const centres = ((await C.data()) as Float32Array).slice();
  C.dispose();
  for (const c of chunks) tf.dispose([c.X, c.x2]);
  // inertia of the returned centres (the loop measured the centres before the last update)
  return { centres, inertia: await inertiaOf(data, n, d, centres, k), iterations: done, converged, secondsPerIter, seedSeconds, reseeded };
}

/** Sum of squared distances of each point to its nearest centre. */
export async function inertiaOf(data: Float32Array, n: number, d: number, centres: Float32Array, k: number): Promise<number> {
  let total = 0;
  const chunk = Math.max(1024, Math.floor(4_000_000 / Math.max(k, d)));
  const C = tf.tensor2d(centres, [k, d]);
  for (let s = 0; s < n; s += chunk) {
    const m = Math.min(chunk, n - s);
    const v = tf.tidy(() => {
      const X = tf.tensor2d(data.subarray(s * d, (s + m) * d), [m, d]);
      const dist = tf.add(tf.sub(tf.sum(tf.square(X), 1, true), tf.mul(2, tf.matMul(X, C, false, true))), tf.sum(tf.square(C), 1));
      return tf.sum(tf.maximum(tf.min(dist, 1), 0));
    });
    total += (await v.data())[0];
    v.dispose();
  }
  C.dispose();
  return total;
}
