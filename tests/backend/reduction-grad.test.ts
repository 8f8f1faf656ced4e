// Sum and Mean gradients (src/backend/gradients.ts: broadcast, no ones tensor) against hand-derived values:
// for L = sum_j c[j] * sum_{i,k} x[i,j,k], dL/dx[i,j,k] = c[j]; for the mean over the same axes, c[j] / (I*K).
// ReLU's gradient (one kernel on wasm): for L = sum_i c[i] relu(x[i]), dL/dx[i] = x[i] > 0 ? c[i] : 0.
import { afterAll, describe, expect, it } from 'vitest';
import { tf, useBackend } from '../../src/backend/index.js';
import { setSimdKernelsEnabled } from '../../src/backend/simd/index.js';
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
        expect(
          maxAbsDiff(
            Array.from(gm.dataSync()),
            want.map((v) => v / 8),
          ),
        ).toBeLessThan(1e-6);
        tf.dispose([ct, gs, gm]);
      }
      // a full reduction (scalar dy) and a reduction over the last axis
      const g1 = tf.grad((v: tf.Tensor) => tf.mul(tf.mean(v), 3))(x);
      expect(maxAbsDiff(Array.from(g1.dataSync()), new Array(24).fill(3 / 24))).toBeLessThan(1e-6);
      const g2 = tf.grad((v: tf.Tensor) => tf.sum(tf.square(tf.sum(v, -1))))(x);
      const rows = tf.sum(x, -1).dataSync();
      expect(
        maxAbsDiff(
          Array.from(g2.dataSync()),
          Array.from({ length: 24 }, (_, i) => 2 * rows[Math.floor(i / 4)]),
        ),
      ).toBeLessThan(1e-5);
      tf.dispose([x, g1, g2]);
    });
  }
});

describe('ReLU gradient', () => {
  afterAll(() => setSimdKernelsEnabled(true));
  for (const [backend, simd] of [
    ['wasm', true],
    ['wasm', false],
    ['cpu', true],
  ] as const) {
    it(`against dL/dx = x > 0 ? c : 0 on ${backend}${backend === 'wasm' ? (simd ? ' (SIMD)' : ' (JavaScript)') : ''}, with zeros and a size not a multiple of 4`, async () => {
      await useBackend(backend);
      setSimdKernelsEnabled(simd);
      const n = 4 * 5 * 7 + 3;
      const xv = randArray(n, 3).map((v, i) => (i % 9 === 0 ? 0 : v)),
        c = randArray(n, 4);
      const x = tf.tensor1d(xv),
        ct = tf.tensor1d(c);
      const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.relu(v), ct)))(x);
      expect(
        maxAbsDiff(
          g.dataSync(),
          Array.from(xv, (v, i) => (v > 0 ? c[i] : 0)),
        ),
      ).toBe(0); // (cpu: dy * 0 may be -0)
      if (backend === 'wasm') {
        // one kernel, not Step + Cast + Multiply
        const p = await tf.profile(() => tf.grad((v: tf.Tensor) => tf.sum(tf.relu(v)))(x));
        const names = p.kernels.map((k) => k.name);
        expect(names).toContain('BowcnnReluGrad');
        expect(names).not.toContain('Step');
      }
      tf.dispose([x, ct, g]);
    });
  }
});
