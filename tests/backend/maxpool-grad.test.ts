// bowcnn's MaxPoolGrad on wasm (native 2x2/stride-2 kernel; wasm: a 2x2/stride-2 fast path and a general
// pass) against a plain-loop reference of TensorFlow's rule: each window's dy goes to the window's first
// maximum in row-major order; and MaxPool's forward against a plain-loop maximum.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf, useBackend } from '../../src/backend/index.js';
import { setSimdKernelsEnabled } from '../../src/backend/simd/index.js';
import { nativeAddon, setNativeKernelsEnabled } from '../../src/backend/native.js';
import { randArray } from '../helpers.js';

function reference(
  x: Float32Array,
  dy: Float32Array,
  [N, H, W, C]: number[],
  k: number,
  s: number,
  OH: number,
  OW: number,
  top: number,
  left: number,
): Float32Array {
  const dx = new Float32Array(x.length);
  for (let n = 0; n < N; n++)
    for (let oy = 0; oy < OH; oy++)
      for (let ox = 0; ox < OW; ox++)
        for (let c = 0; c < C; c++) {
          let best = -Infinity,
            at = -1;
          for (let i = 0; i < k; i++)
            for (let j = 0; j < k; j++) {
              const y = oy * s + i - top,
                xx = ox * s + j - left;
              if (y < 0 || y >= H || xx < 0 || xx >= W) continue;
              const p = ((n * H + y) * W + xx) * C + c;
              if (at < 0 || x[p] > best) {
                best = x[p];
                at = p;
              }
            }
          dx[at] += dy[((n * OH + oy) * OW + ox) * C + c];
        }
  return dx;
}

const CASES: { shape: [number, number, number, number]; k: number; s: number; pad: 'valid' | 'same' }[] = [
  { shape: [3, 8, 8, 5], k: 2, s: 2, pad: 'valid' }, // fast path (SIMD: C % 4 != 0, overlapping last block)
  { shape: [4, 28, 28, 6], k: 2, s: 2, pad: 'valid' }, // fast path, LeNet-5's S2
  { shape: [2, 6, 6, 3], k: 2, s: 2, pad: 'valid' }, // fast path (JavaScript: C < 4)
  { shape: [2, 7, 9, 16], k: 2, s: 2, pad: 'valid' }, // fast path (SIMD), a row and a column no window covers
  { shape: [4, 28, 28, 8], k: 2, s: 2, pad: 'valid' }, // fast path (SIMD), a first layer's size
  { shape: [2, 7, 7, 3], k: 2, s: 2, pad: 'same' }, // 'same' on odd sizes pads: general pass
  { shape: [2, 9, 9, 4], k: 3, s: 2, pad: 'valid' }, // overlapping windows add up
];

// y[n,oy,ox,c] = max over the window (plain loop)
function maxRef(
  x: Float32Array,
  [N, H, W, C]: number[],
  k: number,
  s: number,
  OH: number,
  OW: number,
  top: number,
  left: number,
): Float32Array {
  const y = new Float32Array(N * OH * OW * C).fill(-Infinity);
  for (let n = 0; n < N; n++)
    for (let oy = 0; oy < OH; oy++)
      for (let ox = 0; ox < OW; ox++)
        for (let c = 0; c < C; c++)
          for (let i = 0; i < k; i++)
            for (let j = 0; j < k; j++) {
              const yy = oy * s + i - top,
                xx = ox * s + j - left;
              if (yy < 0 || yy >= H || xx < 0 || xx >= W) continue;
              const o = ((n * OH + oy) * OW + ox) * C + c;
              y[o] = Math.max(y[o], x[((n * H + yy) * W + xx) * C + c]);
            }
  return y;
}

// the native kernels (2x2 / stride 2; the rest falls through to bowcnn's wasm kernel), then bowcnn's wasm
// kernel with its SIMD pass, then with JavaScript loops
const MODES = [
  ['native kernels', true, true],
  ['SIMD kernel where C >= 4', false, true],
  ['JavaScript loops', false, false],
] as const;
for (const [mode, native, simd] of MODES)
  describe.skipIf(native && !nativeAddon())(`MaxPool and MaxPoolGrad on wasm (${mode})`, () => {
    beforeAll(async () => {
      await useBackend('wasm');
      setSimdKernelsEnabled(simd);
      setNativeKernelsEnabled(native);
    });
    afterAll(() => {
      setSimdKernelsEnabled(true);
      setNativeKernelsEnabled(true);
    });
    for (const c of CASES) {
      it(`matches first-max plain loops: ${c.shape.join('x')} window ${c.k} stride ${c.s} ${c.pad}, with ties`, () => {
        const n = c.shape.reduce((a, b) => a * b, 1);
        // values on a coarse grid, so that windows hold ties (the first maximum must win)
        const xv = randArray(n, 5).map((v) => Math.round(v * 3) / 3);
        const info = tf.backend_util.computePool2DInfo(c.shape, c.k, c.s, 1, c.pad);
        const dyv = randArray(
          info.outShape.reduce((a, b) => a * b, 1),
          9,
        );
        const [pooled, got] = tf.tidy(() => {
          const x = tf.tensor4d(xv, c.shape),
            dy = tf.tensor4d(dyv, info.outShape as [number, number, number, number]);
          const y = tf.maxPool(x, c.k, c.s, c.pad);
          return [
            y,
            tf.engine().runKernel('MaxPoolGrad', { dy, input: x, output: y }, { filterSize: c.k, strides: c.s, pad: c.pad }) as tf.Tensor,
          ];
        });
        const want = reference(xv, dyv, c.shape, c.k, c.s, info.outHeight, info.outWidth, info.padInfo.top, info.padInfo.left);
        expect(Array.from(got.dataSync())).toEqual(Array.from(want));
        // (+0 and -0 tie in a maximum: either may come out, so compare them as equal)
        const plus0 = (a: ArrayLike<number>) => Array.from(a, (v) => v + 0);
        expect(plus0(pooled.dataSync())).toEqual(
          plus0(maxRef(xv, c.shape, c.k, c.s, info.outHeight, info.outWidth, info.padInfo.top, info.padInfo.left)),
        );
        tf.dispose([pooled, got]);
      });
    }
  });
