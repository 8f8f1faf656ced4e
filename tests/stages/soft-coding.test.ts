// Soft and triangle coding pooled as they are made: the fused pass (native codeSums, or a few images at a
// time without the addon) against the stages' tensor path (coding.apply, then pooling.apply), for every mode,
// pooling op and pyramid, as maps and as sparse rows; soft coding over the k nearest words against a plain loop.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf, useBackend } from '../../src/backend/index.js';
import { nativeAddon, setNativeKernelsEnabled } from '../../src/backend/native.js';
import { csrToDense } from '../../src/core/sparse.js';
import { runRows, runStages } from '../../src/passes/bow.js';
import { coding } from '../../src/stages/coding.js';
import { pooling } from '../../src/stages/pooling.js';
import type { Maps } from '../../src/stages/stage.js';
import { maxAbsDiff, randArray } from '../helpers.js';

const D = 16,
  M = 37;
let x: Maps;
let centres: tf.Tensor2D;

beforeAll(async () => {
  await useBackend('wasm');
  // [3,5,6,D] descriptors >= 0 with unit norm, as SIFT's are, and two all-zero positions
  const v = randArray(3 * 5 * 6 * D, 7).map((a) => Math.abs(a));
  v.fill(0, 4 * D, 6 * D);
  x = tf.tidy(() => {
    const t = tf.tensor4d(v, [3, 5, 6, D]);
    const n = tf.norm(t, 2, 3, true);
    return tf.div(t, tf.where(tf.greater(n, 0), n, tf.onesLike(n))) as Maps;
  });
  centres = tf.tidy(() => {
    const c = tf.abs(tf.tensor2d(randArray(M * D, 8), [M, D]));
    return tf.div(c, tf.norm(c, 2, 1, true)) as tf.Tensor2D;
  });
});
afterAll(() => {
  setNativeKernelsEnabled(true);
  tf.dispose([x, centres]);
});

const modes = [{ mode: 'soft', beta: 10 }, { mode: 'soft', beta: 10, knn: 5 }, { mode: 'triangle' }] as const;
const pools = [
  { op: 'sum', pyramid: [1, 2], regionNorm: 'l1' },
  { op: 'mean', pyramid: [1, 3], regionNorm: 'none', norm: 'l2' },
  { op: 'max', pyramid: [2], regionNorm: 'l2' },
  { op: 'sum', pyramid: [1], regionNorm: 'power' },
] as const;

describe('soft and triangle codes pooled as they are made', () => {
  for (const native of nativeAddon() ? [true, false] : [false]) {
    for (const m of modes)
      it(`${m.mode}${'knn' in m ? ` knn ${m.knn}` : ''} (${native ? 'native' : 'tensor chunks'}) = coding.apply then pooling.apply`, async () => {
        setNativeKernelsEnabled(native);
        const cod = coding({ words: M, ...m });
        cod.setCentres(centres);
        for (const p of pools) {
          const pool = pooling({ ...p, pyramid: [...p.pyramid] });
          const want = tf.tidy(() => pool.apply(cod.apply(x)));
          const got = await runStages([cod, pool], x);
          expect(got.shape).toEqual(want.shape);
          const w = (await want.data()) as Float32Array;
          expect(maxAbsDiff(await got.data(), w)).toBeLessThan(1e-5);
          const rows = await runRows([cod, pool], x);
          expect(maxAbsDiff(csrToDense(rows), w)).toBeLessThan(1e-5);
          if ('knn' in m && p.op === 'sum' && p.regionNorm === 'power') {
            // sparse: at most knn words per position, so a global histogram has at most 30 knn nonzeros
            expect(rows.indptr[1] - rows.indptr[0]).toBeLessThanOrEqual(30 * m.knn);
          }
          tf.dispose([want, got]);
        }
        cod.dispose?.();
        setNativeKernelsEnabled(true);
      });
  }

  it('soft coding over the k nearest words is a softmax over those k (a plain loop), 0 elsewhere', async () => {
    const knn = 4,
      beta = 7;
    const cod = coding({ words: M, mode: 'soft', beta, knn });
    cod.setCentres(centres);
    const codes = cod.apply(x);
    const got = (await codes.data()) as Float32Array;
    const xs = (await x.data()) as Float32Array,
      cs = (await centres.data()) as Float32Array;
    for (const p of [0, 3, 17, 60, 89]) {
      // (not the zero positions 4 and 5: all words are at nearly the same distance there, and float rounding orders them)
      const dist = Array.from({ length: M }, (_, k) => {
        let s = 0;
        for (let d = 0; d < D; d++) s += (xs[p * D + d] - cs[k * D + d]) ** 2;
        return [s, k] as const;
      }).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
      const near = dist.slice(0, knn);
      const z = near.reduce((a, [s]) => a + Math.exp(-beta * (s - near[0][0])), 0);
      const want = new Float32Array(M);
      for (const [s, k] of near) want[k] = Math.exp(-beta * (s - near[0][0])) / z;
      expect(maxAbsDiff(got.subarray(p * M, (p + 1) * M), want)).toBeLessThan(1e-5);
    }
    expect(() => cod.toLayers?.([5, 6, D])).toThrow(/nearest words is not exported/);
    tf.dispose(codes);
    cod.dispose?.();
  });
});
