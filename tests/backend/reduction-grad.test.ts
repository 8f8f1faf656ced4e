// Sum and Mean gradients (src/backend/gradients.ts: broadcast, no ones tensor) against hand-derived values:
// for L = sum_j c[j] * sum_{i,k} x[i,j,k], dL/dx[i,j,k] = c[j]; for the mean over the same axes, c[j] / (I*K).
import { describe, expect, it } from 'vitest';
import { tf, useBackend } from '../../src/backend/index.js';
import { maxAbsDiff, randArray } from '../helpers.js';

describe('reduction gradients', () => {
  for (const backend of ['wasm', 'cpu'] as const) {
    it(`sum and mean over axes [0,2], with and without keepDims, on ${backend}`, async () => {
      await useBackend(backend);
      const x = tf.tensor3d(randArray(2 * 3 * 4, 1), [2, 3, 4]);
      const c = randArray(3, 2);
      for (const keepDims of [false, true]) {
        const ct = tf.tensor(c, keepDims ? [1, 3, 1] : [3]);
        const gs = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.sum(v, [0, 2], keepDims), ct)))(x);
        const gm = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.mean(v, [0, 2], keepDims), ct)))(x);
        const want = Array.from({ length: 24 }, (_, i) => c[Math.floor(i / 4) % 3]);
        expect(gs.shape).toEqual([2, 3, 4]);
        expect(maxAbsDiff(Array.from(gs.dataSync()), want)).toBeLessThan(1e-6);
        expect(maxAbsDiff(Array.from(gm.dataSync()), want.map((v) => v / 8))).toBeLessThan(1e-6);
        tf.dispose([ct, gs, gm]);
      }
      // a full reduction (scalar dy) and a reduction over the last axis
      const g1 = tf.grad((v: tf.Tensor) => tf.mul(tf.mean(v), 3))(x);
      expect(maxAbsDiff(Array.from(g1.dataSync()), new Array(24).fill(3 / 24))).toBeLessThan(1e-6);
      const g2 = tf.grad((v: tf.Tensor) => tf.sum(tf.square(tf.sum(v, -1))))(x);
      const rows = tf.sum(x, -1).dataSync();
      expect(maxAbsDiff(Array.from(g2.dataSync()), Array.from({ length: 24 }, (_, i) => 2 * rows[Math.floor(i / 4)]))).toBeLessThan(1e-5);
      tf.dispose([x, g1, g2]);
    });
  }
});
