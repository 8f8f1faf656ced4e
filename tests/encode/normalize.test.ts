import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/index.js';
import { l2Normalize, NORM_FLOOR, SQRT_FLOOR, signedSqrt } from '../../src/ops/normalize.js';
import { vladAssign, vladMaps } from '../../src/ops/vlad.js';
import { onBackend, randArray } from '../helpers.js';

// f(v) = Σ w · l2Normalize(signedSqrt(v)) over rows of length D, in float64 plain loops
function plainLoss(v: Float64Array, w: Float64Array, rows: number, d: number): number {
  let total = 0;
  for (let r = 0; r < rows; r++) {
    const s = Array.from({ length: d }, (_, j) => Math.sign(v[r * d + j]) * Math.sqrt(Math.abs(v[r * d + j])));
    const n = Math.max(Math.hypot(...s), NORM_FLOOR);
    for (let j = 0; j < d; j++) total += (w[r * d + j] * s[j]) / n;
  }
  return total;
}

/** Central differences of plainLoss at entry i, in float64. */
function centralDifference(v: Float32Array, w: Float32Array, rows: number, d: number, i: number, h = 1e-5): number {
  const up = Float64Array.from(v),
    down = Float64Array.from(v);
  up[i] += h;
  down[i] -= h;
  const w64 = Float64Array.from(w);
  return (plainLoss(up, w64, rows, d) - plainLoss(down, w64, rows, d)) / (2 * h);
}

const gradOf = (f: (v: tf.Tensor) => tf.Tensor, v: Float32Array, w: Float32Array, shape: number[]) =>
  tf.tidy(() => {
    const g = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(f(x), tf.tensor(w, shape))))(tf.tensor(v, shape));
    return g.dataSync().slice() as Float32Array;
  });

describe('signedSqrt and l2Normalize: the plain values, and gradients that stay finite at zero', () => {
  it('give the plain formulas and, away from zero, the derivative (central differences in float64)', async () => {
    await onBackend('cpu', () => {
      const [rows, d] = [3, 5];
      const v = randArray(rows * d, 7).map((x) => (x < 0 ? x - 0.2 : x + 0.2)); // |v| ≥ 0.2
      const w = randArray(rows * d, 8);
      const out = tf.tidy(() =>
        l2Normalize(signedSqrt(tf.tensor(v, [rows, d])))
          .dataSync()
          .slice(),
      );
      for (let r = 0; r < rows; r++) {
        const s = Array.from({ length: d }, (_, j) => Math.sign(v[r * d + j]) * Math.sqrt(Math.abs(v[r * d + j])));
        const n = Math.hypot(...s);
        for (let j = 0; j < d; j++) expect(out[r * d + j]).toBeCloseTo(s[j] / n, 6);
      }
      const g = gradOf((x) => l2Normalize(signedSqrt(x)), v, w, [rows, d]);
      for (let i = 0; i < v.length; i++) {
        const fd = centralDifference(v, w, rows, d, i);
        expect(Math.abs(g[i] - fd)).toBeLessThan(1e-4 * Math.max(1, Math.abs(fd)));
      }
    });
  });

  it('at an all-zero row: plain ops give NaN; these give the derivative of what is computed (dy / floor), the square root capped', async () => {
    await onBackend('cpu', () => {
      const [rows, d] = [2, 4];
      const v = randArray(rows * d, 3).map((x) => (x < 0 ? x - 0.2 : x + 0.2));
      v.fill(0, d, 2 * d); // row 1 is zero
      const w = randArray(rows * d, 4);
      const plain = (x: tf.Tensor) => {
        const s = tf.mul(tf.sign(x), tf.sqrt(tf.abs(x)));
        return tf.div(s, tf.maximum(tf.sqrt(tf.sum(tf.square(s), -1, true)), NORM_FLOOR));
      };
      expect(gradOf(plain, v, w, [rows, d]).some(Number.isNaN)).toBe(true);
      const g = gradOf((x) => l2Normalize(signedSqrt(x)), v, w, [rows, d]);
      expect(g.every(Number.isFinite)).toBe(true);
      // row 1: l2Normalize divides by the floor, a constant there: dy / 1e-12; the square root's derivative at 0
      // is taken at SQRT_FLOOR: 1 / (2 √1e-6)
      for (let j = 0; j < d; j++) {
        const want = w[d + j] / NORM_FLOOR / (2 * Math.sqrt(SQRT_FLOOR));
        expect(Math.abs(g[d + j] - want)).toBeLessThan(1e-5 * Math.abs(want));
      }
      // row 0 (no zeros): the derivative, by central differences
      for (let j = 0; j < d; j++) {
        const fd = centralDifference(v, w, rows, d, j);
        expect(Math.abs(g[j] - fd)).toBeLessThan(1e-4 * Math.max(1, Math.abs(fd)));
      }
    });
  });

  it('zeros inside a row above the floor: the derivative elsewhere, and at a zero w_j / |s|₂ times the capped 1 / (2 √1e-6)', async () => {
    await onBackend('cpu', () => {
      const [rows, d] = [1, 6];
      const v = randArray(d, 21).map((x) => (x < 0 ? x - 0.2 : x + 0.2));
      const zeros = [1, 4];
      for (const j of zeros) v[j] = 0;
      const w = randArray(d, 22);
      const g = gradOf((x) => l2Normalize(signedSqrt(x)), v, w, [rows, d]);
      const s = Array.from(v, (x) => Math.sign(x) * Math.sqrt(Math.abs(x)));
      const n = Math.hypot(...s);
      for (let j = 0; j < d; j++) {
        if (zeros.includes(j)) {
          // y_j = 0, so dL/ds_j = w_j / n; the square root's derivative at 0 is taken at SQRT_FLOOR
          const want = w[j] / n / (2 * Math.sqrt(SQRT_FLOOR));
          expect(Math.abs(g[j] - want)).toBeLessThan(1e-5 * Math.abs(want));
        } else {
          const fd = centralDifference(v, w, rows, d, j);
          expect(Math.abs(g[j] - fd)).toBeLessThan(1e-4 * Math.max(1, Math.abs(fd)));
        }
      }
    });
  });

  it('soft VLAD with a word that no descriptor reaches: finite gradients for the assignment and the centres', async () => {
    await onBackend('cpu', () => {
      const [n, h, wd, d, k] = [2, 3, 3, 4, 3];
      const x = randArray(n * h * wd * d, 11);
      const c = randArray(k * d, 12);
      c.fill(1000, 2 * d, 3 * d); // the third centre far away: its soft weight underflows to 0 everywhere
      const alpha = 10;
      const grads = tf.tidy(() => {
        const maps = tf.tensor4d(x, [n, h, wd, d]);
        const centres = tf.tensor2d(c, [k, d]);
        const kernel = tf.mul(tf.transpose(centres), 2 * alpha) as tf.Tensor2D;
        const bias = tf.mul(tf.sum(tf.square(centres), 1), -alpha) as tf.Tensor1D;
        const f = (cc: tf.Tensor, kk: tf.Tensor, bb: tf.Tensor) =>
          tf.sum(
            tf.mul(
              vladMaps(maps, cc as tf.Tensor2D, { kernel: kk as tf.Tensor2D, bias: bb as tf.Tensor1D }, [1], {
                normalizeComponents: true,
                squareRoot: true,
                normalizeMass: false,
              }),
              tf.tensor(randArray(k * d, 13), [1, 1, 1, k * d]),
            ),
          );
        return tf
          .grads(f)([centres, kernel, bias])
          .map((g) => g.dataSync().slice());
      });
      // the third word gets exactly no weight from any descriptor: its component is 0 (where plain ops give NaN)
      const mass = tf.tidy(() => {
        const centres = tf.tensor2d(c, [k, d]);
        const q = vladAssign(tf.tensor3d(x, [n, h * wd, d]), centres, {
          kernel: tf.mul(tf.transpose(centres), 2 * alpha) as tf.Tensor2D,
          bias: tf.mul(tf.sum(tf.square(centres), 1), -alpha) as tf.Tensor1D,
        });
        return tf.sum(q, [0, 1]).dataSync().slice();
      });
      expect(mass[2]).toBe(0);
      expect(Math.min(mass[0], mass[1])).toBeGreaterThan(0);
      for (const g of grads) {
        expect(g.every(Number.isFinite)).toBe(true);
        expect(g.some((v) => v !== 0)).toBe(true);
      }
    });
  });
});
