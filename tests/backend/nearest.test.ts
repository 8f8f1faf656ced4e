// The nearest-word pass (BowcnnNearest, native/bowcnn.cc `nearest`, through backend/fused-ops nearestWords):
// for each row, the column of the largest x . k + b and that score, against a plain loop in float64 — rows
// of zeros among them (the shortcut), word counts that are not whole tiles, one word, ties (the first
// wins) — and the tfjs path (product, ArgMax, Max) that other backends take.
import { beforeAll, describe, expect, it } from 'vitest';
import { tf, useBackend } from '../../src/backend/index.js';
import { nearestWords } from '../../src/backend/fused-ops.js';
import { nativeAddon, setNativeKernelsEnabled } from '../../src/backend/native.js';
import { randArray } from '../helpers.js';

const built = nativeAddon() !== null;

/** The plain loop: argmax (first of equals) and max of x_p . k + b, in float64. */
function reference(x: Float32Array, k: Float32Array, b: Float32Array, P: number, D: number, M: number) {
  const idx = new Int32Array(P),
    best = new Float64Array(P);
  for (let p = 0; p < P; p++) {
    let bi = 0,
      bv = -Infinity;
    for (let m = 0; m < M; m++) {
      let s = b[m];
      for (let d = 0; d < D; d++) s += x[p * D + d] * k[d * M + m];
      if (s > bv) {
        bv = s;
        bi = m;
      }
    }
    idx[p] = bi;
    best[p] = bv;
  }
  return { idx, best };
}

function run(x: Float32Array, k: Float32Array, b: Float32Array, P: number, D: number, M: number) {
  return tf.tidy(() => {
    const r = nearestWords(tf.tensor2d(x, [P, D]), tf.tensor2d(k, [D, M]), tf.tensor1d(b));
    return { idx: Array.from(r.idx.dataSync()), best: Float32Array.from(r.best.dataSync()) };
  });
}

describe.skipIf(!built)('nearest word, native', () => {
  beforeAll(async () => {
    await useBackend('wasm');
    setNativeKernelsEnabled(true);
  });

  for (const [P, D, M] of [
    [300, 128, 1024],
    [37, 128, 100],
    [20, 5, 1],
    [64, 7, 65],
  ] as const) {
    it(`${P} rows of ${D} against ${M} words: the plain loop's argmax and score, zero rows included`, () => {
      const x = randArray(P * D, P + D),
        k = randArray(D * M, M + 1),
        b = randArray(M, 7).map((v) => v - 1);
      for (let p = 0; p < P; p += 3) x.fill(0, p * D, (p + 1) * D); // every third row a flat patch
      const want = reference(x, k, b, P, D, M);
      const calls = { n: 0 };
      const addon = nativeAddon()!,
        orig = addon.nearest;
      addon.nearest = (...a) => {
        calls.n++;
        return orig(...a);
      };
      let got: ReturnType<typeof run>;
      try {
        got = run(x, k, b, P, D, M);
      } finally {
        addon.nearest = orig;
      }
      expect(calls.n).toBe(1);
      expect(got.idx).toEqual(Array.from(want.idx));
      for (let p = 0; p < P; p++) expect(Math.abs(got.best[p] - want.best[p])).toBeLessThan(1e-4 * Math.max(1, Math.abs(want.best[p])));
    });
  }

  it('sparse rows (most entries zero, some dimensions zero in whole blocks of rows): the plain loop', () => {
    const P = 250,
      D = 128,
      M = 200;
    const u = randArray(P * D, 21);
    // three quarters of the entries zero, and dimensions 40..79 zero in every row but every seventh
    const x = Float32Array.from(u, (v, i) => (v > 0.5 || (i % D >= 40 && i % D < 80 && Math.floor(i / D) % 7) ? 0 : Math.abs(v)));
    const k = randArray(D * M, 22),
      b = randArray(M, 23).map((v) => v - 1);
    const want = reference(x, k, b, P, D, M);
    const got = run(x, k, b, P, D, M);
    expect(got.idx).toEqual(Array.from(want.idx));
    for (let p = 0; p < P; p++) expect(Math.abs(got.best[p] - want.best[p])).toBeLessThan(1e-4 * Math.max(1, Math.abs(want.best[p])));
  });

  it('gives the first of equal scores, as tfjs ArgMax does', () => {
    // two identical words: every row ties between them, and word 1 must win over word 3
    const D = 4,
      M = 5,
      P = 9;
    const k = new Float32Array(D * M);
    for (let d = 0; d < D; d++) {
      k[d * M + 1] = 1;
      k[d * M + 3] = 1;
    }
    const x = Float32Array.from({ length: P * D }, (_, i) => (i % 5) + 1);
    const b = new Float32Array(M);
    const got = run(x, k, b, P, D, M);
    expect(got.idx).toEqual(new Array(P).fill(1));
  });

  it('matches the tfjs path (product, ArgMax, Max) that other backends take', () => {
    const P = 200,
      D = 128,
      M = 300;
    const x = randArray(P * D, 3),
      k = randArray(D * M, 4),
      b = randArray(M, 5);
    const nat = run(x, k, b, P, D, M);
    setNativeKernelsEnabled(false);
    try {
      const js = run(x, k, b, P, D, M);
      expect(nat.idx).toEqual(js.idx);
      for (let p = 0; p < P; p++) expect(Math.abs(nat.best[p] - js.best[p])).toBeLessThan(1e-4);
    } finally {
      setNativeKernelsEnabled(true);
    }
  });
});
