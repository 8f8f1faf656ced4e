// The per-channel passes bowcnn's batch norm runs on (src/backend/channel-kernels.ts: SIMD kernels and
// their JavaScript loops on wasm) against plain loops. The batch norm itself, against tfjs-layers' own,
// is tested where the execution pass uses it (tests/passes/cnn.test.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf, useBackend } from '../../src/backend/index.js';
import { channelAffine, channelMoments, channelSums } from '../../src/backend/channel-kernels.js';
import { setSimdKernelsEnabled, simdKernels } from '../../src/backend/simd/index.js';
import { maxAbsDiff, randArray } from '../helpers.js';

const SHAPE: [number, number, number, number] = [6, 5, 7, 4];
const _N = SHAPE.reduce((a, b) => a * b, 1),
  _C = SHAPE[3];

for (const simd of [true, false])
  describe(`per-channel passes on wasm against plain loops (${simd ? 'SIMD kernels' : 'JavaScript loops'})`, () => {
    beforeAll(async () => {
      await useBackend('wasm');
      setSimdKernelsEnabled(simd);
    });
    afterAll(() => setSimdKernelsEnabled(true));
    // C = 4: every pass in SIMD; C = 6: affine in SIMD with an overlapping block, the sums in JavaScript
    for (const shape of [SHAPE, [3, 5, 7, 6]])
      it(`moments, sums and affine, C = ${shape[3]}`, () => {
        const N = shape.reduce((p, q) => p * q, 1),
          C = shape[3];
        const x = randArray(N, 7).map((v, i) => v + (i % C)),
          y = randArray(N, 8),
          a = randArray(C, 9),
          b = randArray(C, 10),
          a2 = randArray(C, 11);
        const mean = new Float64Array(C),
          sq = new Float64Array(C),
          s = new Float64Array(C),
          d = new Float64Array(C);
        for (let i = 0; i < N; i++) {
          const c = i % C;
          mean[c] += x[i] / (N / C);
          s[c] += y[i];
          d[c] += y[i] * x[i];
        }
        for (let i = 0; i < N; i++) {
          const c = i % C;
          sq[c] += (x[i] - mean[c]) ** 2 / (N / C);
        }
        const r = tf.tidy(() => {
          const xt = tf.tensor4d(x, shape as typeof SHAPE),
            yt = tf.tensor4d(y, shape as typeof SHAPE);
          const m = channelMoments(xt),
            su = channelSums(xt, yt);
          const one = channelAffine(xt, tf.tensor1d(a), tf.tensor1d(b));
          const two = channelAffine(xt, tf.tensor1d(a), tf.tensor1d(b), yt, tf.tensor1d(a2));
          return [m.mean, m.variance, su.sum, su.dot, one, two].map((t) => Array.from(t.dataSync()));
        });
        expect(maxAbsDiff(r[0], mean)).toBeLessThan(1e-5);
        expect(maxAbsDiff(r[1], sq)).toBeLessThan(1e-4);
        expect(maxAbsDiff(r[2], s)).toBeLessThan(1e-4);
        expect(maxAbsDiff(r[3], d)).toBeLessThan(1e-4);
        expect(
          maxAbsDiff(
            r[4],
            Array.from(x, (v, i) => a[i % C] * v + b[i % C]),
          ),
        ).toBeLessThan(1e-5);
        expect(
          maxAbsDiff(
            r[5],
            Array.from(x, (v, i) => a[i % C] * v + b[i % C] + a2[i % C] * y[i]),
          ),
        ).toBeLessThan(1e-5);
        expect(tf.getKernel('BowcnnChannelMoments', 'wasm')).toBeDefined();
        expect(simdKernels(tf.backend()) !== null).toBe(simd);
      });

    it('affine stays right when its output makes the wasm heap grow', () => {
      const heap = (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.length;
      const n = Math.ceil(heap / 4 / 2 / 16) * 16; // x takes about half the heap now: out cannot fit beside it
      const xv = new Float32Array(n).map((_, i) => (i % 97) - 48);
      const got = tf.tidy(() => {
        const x = tf.tensor2d(xv, [n / 16, 16]);
        const y = channelAffine(x, tf.fill([16], 2) as tf.Tensor1D, tf.fill([16], 1) as tf.Tensor1D);
        return Array.from(y.dataSync().subarray(n - 200));
      });
      expect(got).toEqual(Array.from(xv.subarray(n - 200), (v) => 2 * v + 1));
      expect((tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.length).toBeGreaterThan(heap);
    });
  });
