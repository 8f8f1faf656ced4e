/**
 * Seeded, stratified subsets and splits, batches as tensors, and fingerprints.
 */
import * as tf from '@tensorflow/tfjs';
import { rng, shuffle } from '../core/random.js';
import { makeSplit, type Split } from '../core/data.js';

/** Indices grouped by label, each group shuffled by the seed. */
function byClass(labels: Int32Array, seed: number): number[][] {
  const groups: number[][] = [];
  labels.forEach((l, i) => {
    groups[l] ??= [];
    groups[l].push(i);
  });
  const rand = rng(seed);
  return groups.map((g) => shuffle(g ?? [], rand));
}

/**
 * Stratified draw of `count` indices: each class gets count * share, rounded by largest remainder,
 * so class proportions are kept to within one image. Returns the picked and the rest, both sorted.
 */
export function stratifiedIndices(labels: Int32Array, count: number, seed: number): { picked: number[]; rest: number[] } {
  const n = labels.length;
  const k = Math.max(0, Math.min(n, Math.round(count)));
  const groups = byClass(labels, seed);
  const quotas = groups.map((g) => (g.length * k) / n);
  const take = quotas.map(Math.floor);
  let left = k - take.reduce((a, b) => a + b, 0);
  const order = quotas.map((q, i) => [q - Math.floor(q), i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (const [, i] of order) {
    if (left <= 0) break;
    if (take[i] < groups[i].length) {
      take[i]++;
      left--;
    }
  }
  const picked: number[] = [];
  const rest: number[] = [];
  groups.forEach((g, c) => {
    picked.push(...g.slice(0, take[c]));
    rest.push(...g.slice(take[c]));
  });
  return { picked: picked.sort((a, b) => a - b), rest: rest.sort((a, b) => a - b) };
}

export function take(s: Split, idx: readonly number[]): Split {
  const per = s.height * s.width * s.channels;
  const pixels = new Uint8Array(idx.length * per);
  const labels = new Int32Array(idx.length);
  idx.forEach((j, i) => {
    pixels.set(s.pixels.subarray(j * per, (j + 1) * per), i * per);
    labels[i] = s.labels[j];
  });
  return makeSplit(pixels, labels, s.height, s.width, s.channels);
}

export function subset(s: Split, count: number, seed: number): Split {
  if (count >= s.n) return s;
  return take(s, stratifiedIndices(s.labels, count, seed).picked);
}

/** Stratified split: `fraction` (0..1) or a count goes to the second part. */
export function splitOff(s: Split, fractionOrCount: number, seed: number): { kept: Split; held: Split } {
  const count = fractionOrCount < 1 ? fractionOrCount * s.n : fractionOrCount;
  const { picked, rest } = stratifiedIndices(s.labels, count, seed);
  return { kept: take(s, rest), held: take(s, picked) };
}

/** Images [start, end) as float32 in [0,1], `[B,H,W,C]`. */
export function batchTensor(s: Split, start: number, end: number): tf.Tensor4D {
  const per = s.height * s.width * s.channels;
  const b = Math.max(0, Math.min(end, s.n) - start);
  const f = new Float32Array(b * per);
  const src = s.pixels.subarray(start * per, (start + b) * per);
  for (let i = 0; i < f.length; i++) f[i] = src[i] / 255;
  return tf.tensor4d(f, [b, s.height, s.width, s.channels]);
}

/** Images at the given indices as `[B,H,W,C]` float32 values in [0, 1], and their labels. */
export function gatherPixels(s: Split, idx: ArrayLike<number>): { data: Float32Array; y: Int32Array } {
  const per = s.height * s.width * s.channels;
  const f = new Float32Array(idx.length * per);
  const y = new Int32Array(idx.length);
  for (let i = 0; i < idx.length; i++) {
    const j = idx[i];
    const o = i * per,
      src = j * per;
    for (let p = 0; p < per; p++) f[o + p] = s.pixels[src + p] / 255;
    y[i] = s.labels[j];
  }
  return { data: f, y };
}

/** Images at the given indices as `[B,H,W,C]` float32, and their labels. */
export function gatherBatch(s: Split, idx: ArrayLike<number>): { x: tf.Tensor4D; y: Int32Array } {
  const { data, y } = gatherPixels(s, idx);
  return { x: tf.tensor4d(data, [idx.length, s.height, s.width, s.channels]), y };
}

/** Batches of `[B,H,W,C]` float32 over a whole split, in order. The consumer disposes each. */
export async function* batches(s: Split, size: number): AsyncGenerator<tf.Tensor4D> {
  for (let i = 0; i < s.n; i += size) yield batchTensor(s, i, i + size);
}

/** A dataset's identity (core/identity.ts: its name, what was drawn, every split's pixels and labels). */
export { dataIdentity as fingerprint } from '../core/identity.js';
