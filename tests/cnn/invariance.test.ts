// The course's invariance layers: local contrast normalisation and rotation-pooled convolution, forward against
// plain loops, gradients on wasm against tfjs's cpu backend, and a model holding them saved and loaded.
import { beforeAll, describe, expect, it } from 'vitest';
import { tf, useBackend } from '../../src/backend/index.js';
import { gaussianWindow, localContrastNorm, rotationMatrix, rotationPoolConv } from '../../src/ops/invariance.js';
import { lenet5 } from '../../src/cnn/lenet5.js';
import '../../src/layers.js';
import { maxAbsDiff, onBackend, randArray, saveAndLoad } from '../helpers.js';

beforeAll(async () => {
  await useBackend('wasm');
});

/** x[n][y][x][c] from a flat array. */
const at = (v: ArrayLike<number>, H: number, W: number, C: number) => (n: number, y: number, x: number, c: number) =>
  y < 0 || y >= H || x < 0 || x >= W ? 0 : v[((n * H + y) * W + x) * C + c];

function loopLcn(v: Float32Array, N: number, H: number, W: number, C: number, size: number, sigma: number): Float64Array {
  const g = gaussianWindow(size, sigma);
  const r = (size - 1) / 2;
  const x = at(v, H, W, C);
  const out = new Float64Array(v.length);
  for (let n = 0; n < N; n++) {
    const mean = new Float64Array(H * W);
    for (let i = 0; i < H; i++)
      for (let j = 0; j < W; j++) {
        let s = 0;
        for (let p = 0; p < size; p++)
          for (let q = 0; q < size; q++) for (let c = 0; c < C; c++) s += (g[p][q] / C) * x(n, i + p - r, j + q - r, c);
        mean[i * W + j] = s;
      }
    const d = (i: number, j: number, c: number) => (i < 0 || i >= H || j < 0 || j >= W ? 0 : x(n, i, j, c) - mean[i * W + j]);
    const sd = new Float64Array(H * W);
    for (let i = 0; i < H; i++)
      for (let j = 0; j < W; j++) {
        let s = 0;
        for (let p = 0; p < size; p++)
          for (let q = 0; q < size; q++) for (let c = 0; c < C; c++) s += (g[p][q] / C) * d(i + p - r, j + q - r, c) ** 2;
        sd[i * W + j] = Math.sqrt(s);
      }
    const floor = Math.max(1e-4, sd.reduce((a, b) => a + b, 0) / sd.length);
    for (let i = 0; i < H; i++)
      for (let j = 0; j < W; j++)
        for (let c = 0; c < C; c++) out[((n * H + i) * W + j) * C + c] = d(i, j, c) / Math.max(sd[i * W + j], floor);
  }
  return out;
}

describe('local contrast normalisation', () => {
  it('equals a plain loop (zeros beyond the image, 2 channels)', () => {
    const [N, H, W, C] = [2, 11, 9, 2];
    const v = randArray(N * H * W * C, 4).map((a) => a + 1);
    const y = tf.tidy(() => localContrastNorm(tf.tensor4d(v, [N, H, W, C]), 5, 1.5).dataSync());
    expect(maxAbsDiff(y, loopLcn(v, N, H, W, C, 5, 1.5))).toBeLessThan(1e-4);
  });

  it('is unmoved by a change of contrast (a x, a > 0), and removes the local mean', () => {
    const [H, W] = [16, 20];
    const v = randArray(H * W, 9).map((a) => 0.5 + 0.4 * a);
    const [y, z] = tf.tidy(() => {
      const x = tf.tensor4d(v, [1, H, W, 1]);
      return [localContrastNorm(x, 5, 1.5).dataSync(), localContrastNorm(tf.mul(x, 0.3) as tf.Tensor4D, 5, 1.5).dataSync()];
    });
    expect(maxAbsDiff(y, z)).toBeLessThan(1e-4);
    // a constant image has no contrast: everything is its local mean, away from the borders
    const flat = tf.tidy(() => localContrastNorm(tf.fill([1, H, W, 1], 0.7) as tf.Tensor4D, 5, 1.5).dataSync());
    for (let i = 4; i < H - 4; i++) for (let j = 4; j < W - 4; j++) expect(Math.abs(flat[i * W + j])).toBeLessThan(1e-3);
  });
});

function loopRotationConv(
  v: Float32Array,
  N: number,
  H: number,
  W: number,
  C: number,
  w: Float32Array,
  k: number,
  F: number,
  K: number,
  b: Float32Array,
) {
  const x = at(v, H, W, C);
  const r = (k - 1) / 2;
  const mats = Array.from({ length: K }, (_, m) => rotationMatrix(k, (2 * Math.PI * m) / K));
  const out = new Float64Array(N * H * W * F);
  for (let n = 0; n < N; n++)
    for (let i = 0; i < H; i++)
      for (let j = 0; j < W; j++)
        for (let f = 0; f < F; f++) {
          let best = -Infinity;
          for (let m = 0; m < K; m++) {
            let s = 0;
            for (let p = 0; p < k; p++)
              for (let q = 0; q < k; q++)
                for (let c = 0; c < C; c++) {
                  // the rotated kernel's value at (p, q): the rotation matrix applied to the original kernel
                  let kv = 0;
                  for (let t = 0; t < k * k; t++) kv += mats[m][p * k + q][t] * w[(t * C + c) * F + f];
                  s += kv * x(n, i + p - r, j + q - r, c);
                }
            best = Math.max(best, s);
          }
          out[((n * H + i) * W + j) * F + f] = best + b[f];
        }
  return out;
}

describe('rotation-pooled convolution', () => {
  it('a rotation by 0 is the identity, and by 90 degrees the exact quarter turn of the kernel', () => {
    const k = 5;
    const I = rotationMatrix(k, 0);
    for (let a = 0; a < k * k; a++) for (let b = 0; b < k * k; b++) expect(I[a][b]).toBeCloseTo(a === b ? 1 : 0, 12);
    const R = rotationMatrix(k, Math.PI / 2);
    // out (x, y) reads the original at (cos dx + sin dy, -sin dx + cos dy) = (dy, -dx) about the centre
    for (let y = 0; y < k; y++)
      for (let x = 0; x < k; x++) {
        const sx = y,
          sy = k - 1 - x;
        expect(R[y * k + x][sy * k + sx]).toBeCloseTo(1, 12);
      }
  });

  it('equals a plain loop (K = 4 and 6 rotations, 2 input channels, 3 filters)', () => {
    const [N, H, W, C, k, F] = [2, 8, 7, 2, 3, 3];
    const v = randArray(N * H * W * C, 2);
    const w = randArray(k * k * C * F, 3);
    const b = randArray(F, 5);
    for (const K of [4, 6]) {
      const y = tf.tidy(() => rotationPoolConv(tf.tensor4d(v, [N, H, W, C]), tf.tensor4d(w, [k, k, C, F]), tf.tensor1d(b), K).dataSync());
      expect(maxAbsDiff(y, loopRotationConv(v, N, H, W, C, w, k, F, K, b))).toBeLessThan(1e-4);
    }
  });
});

describe('gradients on wasm against the cpu backend', () => {
  const grads = () =>
    tf.tidy(() => {
      const x = tf.tensor4d(
        randArray(2 * 9 * 9 * 1, 6).map((a) => a + 0.5),
        [2, 9, 9, 1],
      );
      const w = tf.tensor4d(randArray(5 * 5 * 1 * 4, 7), [5, 5, 1, 4]);
      const r = tf.tensor4d(randArray(2 * 9 * 9 * 4, 8), [2, 9, 9, 4]);
      const g = tf.grads((xx: tf.Tensor, ww: tf.Tensor) =>
        tf.sum(tf.mul(rotationPoolConv(localContrastNorm(xx as tf.Tensor4D, 5, 1.5), ww as tf.Tensor4D, null, 8), r)),
      );
      const [gx, gw] = g([x, w]);
      return { gx: gx.dataSync(), gw: gw.dataSync() };
    });
  it('d/dx through LCN and the rotation-pooled conv, and d/dkernel, agree within 1e-4', async () => {
    const a = grads();
    const b = await onBackend('cpu', grads);
    expect(maxAbsDiff(a.gx, b.gx)).toBeLessThan(1e-4);
    expect(maxAbsDiff(a.gw, b.gw)).toBeLessThan(1e-4);
    expect(Math.max(...Array.from(a.gw, Math.abs))).toBeGreaterThan(1e-3); // a real gradient
  });
});

describe('in a model', () => {
  it("LeNet-5 with LCN and a rotation-pooled C1 has a plain C1's parameters and round-trips through save / load", async () => {
    const plain = lenet5({ seed: 1 });
    const m = lenet5({ seed: 1, lcn: true, rotations: 8 });
    expect(m.countParams()).toBe(plain.countParams());
    const back = await saveAndLoad(m);
    const x = tf.randomUniform([3, 28, 28, 1], 0, 1, 'float32', 2);
    const ya = m.predict(x) as tf.Tensor,
      yb = back.predict(x) as tf.Tensor;
    expect(maxAbsDiff(ya.dataSync(), yb.dataSync())).toBeLessThan(1e-6);
    expect(back.layers.map((l) => l.getClassName())).toEqual(expect.arrayContaining(['BowLCN', 'BowRotationConv']));
    tf.dispose([x, ya, yb]);
    for (const z of [plain, m, back]) z.dispose();
  });
});
