/**
 * k-means on the active tfjs backend: Lloyd's iterations, or scikit-learn's mini-batch k-means (`algorithm`). Squared distances by one matrix product per chunk:
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
  /** 'lloyd': full-batch iterations; 'minibatch': scikit-learn's MiniBatchKMeans (Sculley 2010) */
  algorithm?: 'lloyd' | 'minibatch';
  maxIter?: number; // lloyd: iterations; minibatch: passes over the data (steps = maxIter * n / batchSize)
  tol?: number; // lloyd: stop when (inertia_prev - inertia) / inertia_prev < tol
  batchSize?: number; // minibatch: points per step (default 4096)
  maxNoImprovement?: number; // minibatch: stop after this many steps without a lower smoothed batch inertia (default 10)
  seed?: number;
  init?: 'kmeans++' | 'random' | Float32Array; // or initial centres [k*d]
  initSample?: number; // points k-means++ seeds from (default min(n, 20000); minibatch: 3 x batchSize, as scikit-learn)
  chunk?: number; // rows per distance product (memory vs dispatch count)
  onIter?: (it: { iter: number; inertia: number; seconds: number }) => void;
}

export interface KMeansResult {
  centres: Float32Array; // [k*d]
  inertia: number; // sum of squared distances to the assigned centre
  iterations: number; // lloyd: iterations; minibatch: steps
  converged: boolean;
  secondsPerIter: number;
  seedSeconds: number;
  reseeded: number; // empty clusters re-seeded
}

/**
 * k-means++ seeding: each next centre drawn with probability proportional to its squared distance to the nearest
 * centre so far, on `sample` `[s*d]`. Each step takes the new centre's dot products with the sample in one product
 * on the backend, and keeps the distances ||x||^2 - 2 x.c + ||c||^2 (clamped at 0) in JavaScript.
 */
export async function kmeansppSeed(sample: Float32Array, s: number, d: number, k: number, rand: () => number): Promise<Float32Array> {
  const centres = new Float32Array(k * d);
  const dist = new Float64Array(s).fill(Infinity);
  const x2 = new Float64Array(s);
  for (let i = 0; i < s; i++) {
    let t = 0;
    for (let q = 0; q < d; q++) t += sample[i * d + q] ** 2;
    x2[i] = t;
  }
  const X = tf.tensor2d(sample, [s, d]);
  try {
    let pick = Math.floor(rand() * s);
    for (let c = 0; c < k; c++) {
      await checkpoint();
      const cv = sample.subarray(pick * d, (pick + 1) * d);
      centres.set(cv, c * d);
      if (c + 1 === k) break;
      let c2 = 0;
      for (let q = 0; q < d; q++) c2 += cv[q] * cv[q];
      const dots = tf.tidy(() => tf.matMul(X, tf.tensor2d(cv, [d, 1])));
      const dv = (await dots.data()) as Float32Array;
      dots.dispose();
      let total = 0;
      for (let i = 0; i < s; i++) {
        const t = Math.max(0, x2[i] + c2 - 2 * dv[i]);
        if (t < dist[i]) dist[i] = t;
        total += dist[i];
      }
      if (total > 0) {
        let r = rand() * total;
        pick = s - 1;
        for (let i = 0; i < s; i++) {
          r -= dist[i];
          if (r <= 0) {
            pick = i;
            break;
          }
        }
      } else pick = Math.floor(rand() * s); // all points coincide with centres: any point
    }
  } finally {
    X.dispose();
  }
  return centres;
}

export async function kmeans(data: Float32Array, n: number, d: number, opts: KMeansOptions): Promise<KMeansResult> {
  const { k } = opts;
  if (n < k) throw new Error(`k-means: ${n} points for k = ${k} clusters`);
  if (data.length !== n * d) throw new Error(`k-means: ${data.length} values for ${n} x ${d}`);
  const maxIter = opts.maxIter ?? 50,
    tol = opts.tol ?? 1e-4;
  const rand = rng(opts.seed ?? 0);
  const minibatch = opts.algorithm === 'minibatch';
  const batchSize = Math.min(n, opts.batchSize ?? 4096);
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
    const s = Math.min(n, opts.initSample ?? (minibatch ? Math.max(3 * batchSize, 3 * k) : 20000));
    const idx = new Set<number>();
    if (s === n) for (let i = 0; i < n; i++) idx.add(i);
    else while (idx.size < s) idx.add(Math.floor(rand() * n));
    const sample = new Float32Array(s * d);
    [...idx].forEach((p, i) => sample.set(data.subarray(p * d, (p + 1) * d), i * d));
    init = await kmeansppSeed(sample, s, d, k, rand);
  }
  const seedSeconds = (performance.now() - t0) / 1000;
  if (minibatch) return miniBatch(data, n, d, k, init, seedSeconds, batchSize, maxIter, opts, rand);
  const chunk = opts.chunk ?? Math.max(1024, Math.floor(8_000_000 / Math.max(k, d)));
  // the data as kept chunks [m,d] and their squared norms
  const chunks: { X: tf.Tensor2D; x2: tf.Tensor1D; start: number }[] = [];
  for (let s = 0; s < n; s += chunk) {
    const m = Math.min(chunk, n - s);
    const X = tf.tensor2d(data.subarray(s * d, (s + m) * d), [m, d]);
    chunks.push({ X, x2: tf.keep(tf.tidy(() => tf.sum(tf.square(X), 1))), start: s });
  }
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

/**
 * scikit-learn's MiniBatchKMeans (1.2), step for step: each step draws `batchSize` points (with replacement),
 * assigns them to the nearest centre (the same native pass as Lloyd's), and moves each centre to the running
 * mean of every point it was ever given (centre = (centre * count + sum of its new points) / (count + new)).
 * Every 10 k points processed, centres holding less than 1% of the largest count are moved to random points of
 * the batch. It stops after maxIter passes over the data, or once the exponentially weighted batch inertia has not
 * improved for maxNoImprovement steps.
 */
async function miniBatch(
  data: Float32Array,
  n: number,
  d: number,
  k: number,
  init: Float32Array,
  seedSeconds: number,
  batchSize: number,
  maxIter: number,
  opts: KMeansOptions,
  rand: () => number,
): Promise<KMeansResult> {
  const C = init.slice();
  const counts = new Float64Array(k);
  const steps = Math.max(1, Math.floor((maxIter * n) / batchSize));
  const alpha = Math.min(1, (2 * batchSize) / (n + 1));
  const patience = opts.maxNoImprovement ?? 10;
  const xb = new Float32Array(batchSize * d);
  const x2 = new Float64Array(batchSize);
  const pick = new Int32Array(batchSize);
  const sums = new Float64Array(k * d);
  const got = new Float64Array(k);
  let ewa = Number.NaN,
    ewaMin = Infinity,
    noImprovement = 0,
    sinceReassign = 0,
    reseeded = 0,
    step = 0,
    converged = false;
  const tIter = performance.now();
  for (step = 1; step <= steps; step++) {
    await checkpoint();
    const ts = performance.now();
    for (let b = 0; b < batchSize; b++) {
      const i = Math.floor(rand() * n);
      pick[b] = i;
      xb.set(data.subarray(i * d, (i + 1) * d), b * d);
      let t = 0;
      for (let q = 0; q < d; q++) t += xb[b * d + q] ** 2;
      x2[b] = t;
    }
    const X = tf.tensor2d(xb, [batchSize, d]);
    const Ct = tf.tensor2d(C, [k, d]);
    const K = tf.tidy(() => tf.transpose(tf.mul(Ct, 2)) as tf.Tensor2D);
    const B = tf.tidy(() => tf.neg(tf.sum(tf.square(Ct), 1)) as tf.Tensor1D);
    const { idx, best } = nearestWords(X, K, B);
    const labels = (await idx.data()) as Int32Array;
    const scores = (await best.data()) as Float32Array;
    tf.dispose([X, Ct, K, B, idx, best]);
    let inertia = 0;
    sums.fill(0);
    got.fill(0);
    for (let b = 0; b < batchSize; b++) {
      inertia += Math.max(0, x2[b] - scores[b]);
      const j = labels[b];
      got[j]++;
      for (let q = 0; q < d; q++) sums[j * d + q] += xb[b * d + q];
    }
    for (let j = 0; j < k; j++) {
      if (got[j] === 0) continue;
      const total = counts[j] + got[j];
      for (let q = 0; q < d; q++) C[j * d + q] = (C[j * d + q] * counts[j] + sums[j * d + q]) / total;
      counts[j] = total;
    }
    sinceReassign += batchSize;
    if (sinceReassign >= 10 * k) {
      sinceReassign = 0;
      let most = 0;
      for (let j = 0; j < k; j++) most = Math.max(most, counts[j]);
      const low: number[] = [];
      for (let j = 0; j < k; j++) if (counts[j] < 0.01 * most) low.push(j);
      if (low.length) {
        const take = low.slice(0, Math.floor(0.5 * batchSize));
        let rest = Infinity;
        const lowSet = new Set(take);
        for (let j = 0; j < k; j++) if (!lowSet.has(j)) rest = Math.min(rest, counts[j]);
        for (const j of take) {
          const b = Math.floor(rand() * batchSize);
          C.set(xb.subarray(b * d, (b + 1) * d), j * d);
          counts[j] = Number.isFinite(rest) ? rest : 0;
        }
        reseeded += take.length;
      }
    }
    const mean = inertia / batchSize;
    ewa = Number.isNaN(ewa) ? mean : ewa * (1 - alpha) + mean * alpha;
    opts.onIter?.({ iter: step, inertia, seconds: (performance.now() - ts) / 1000 });
    if (ewa < ewaMin) {
      ewaMin = ewa;
      noImprovement = 0;
    } else if (++noImprovement >= patience) {
      converged = true;
      break;
    }
  }
  const done = Math.min(step, steps);
  const secondsPerIter = (performance.now() - tIter) / 1000 / Math.max(1, done);
  return { centres: C, inertia: await inertiaOf(data, n, d, C, k), iterations: done, converged, secondsPerIter, seedSeconds, reseeded };
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
