// Coding, pooling and kernel-map stages against plain loops and exact kernels; the linear SVM against
// libsvm-js (LIBSVM 3.22, linear kernel).
import { createRequire } from 'node:module';
import { beforeAll, describe, expect, it } from 'vitest';
import { tf, useBackend } from '../../src/backend/index.js';
import { classifier } from '../../src/stages/classifier.js';
import { coding } from '../../src/stages/coding.js';
import { kernelmap } from '../../src/stages/kernelmap.js';
import { pooling, signedSqrt } from '../../src/stages/pooling.js';
import { csrFromDense, csrToDense } from '../../src/core/sparse.js';
import { randArray } from '../helpers.js';

beforeAll(async () => {
  await useBackend('wasm');
});

async function* one(t: tf.Tensor4D) {
  yield t;
}

/** The part of libsvm-js's class the test uses. */
type LibSvmClass = {
  new (o: object): { train(x: number[][], y: number[]): void; predict(x: number[][]): number[]; free(): void };
  KERNEL_TYPES: Record<string, number>;
  SVM_TYPES: Record<string, number>;
};

describe('coding as a 1x1 conv', () => {
  it('hard coding + global sum pooling = a nearest-centroid histogram (plain loop), exactly', () => {
    const M = 16,
      D = 8,
      N = 3,
      H = 5,
      W = 7;
    const cents = randArray(M * D, 2);
    const desc = randArray(N * H * W * D, 4);
    const cod = coding({ words: M, mode: 'hard' });
    cod.setCentres(tf.tensor2d(cents, [M, D]));
    const pool = pooling({ op: 'sum' });
    const got = tf.tidy(() => pool.apply(cod.apply(tf.tensor4d(desc, [N, H, W, D]))).dataSync());
    for (let n = 0; n < N; n++) {
      const hist = new Array(M).fill(0);
      for (let p = 0; p < H * W; p++) {
        let best = 0,
          bd = Infinity;
        for (let k = 0; k < M; k++) {
          let dd = 0;
          for (let t = 0; t < D; t++) dd += (desc[(n * H * W + p) * D + t] - cents[k * D + t]) ** 2;
          if (dd < bd) {
            bd = dd;
            best = k;
          }
        }
        hist[best]++;
      }
      expect(Array.from(got.subarray(n * M, (n + 1) * M))).toEqual(hist);
    }
  });

  it('W_k = 2 c_k and b_k = -||c_k||^2; soft sums to 1; triangle = max(0, mean z - z_k)', () => {
    const M = 5,
      _D = 3;
    const c = [
      [0, 0, 0],
      [1, 0, 0],
      [0, 2, 0],
      [0, 0, 3],
      [1, 1, 1],
    ];
    const cod = coding({ words: M, mode: 'triangle' });
    cod.setCentres(tf.tensor2d(c));
    const { kernel, bias } = cod.convWeights()!;
    expect(Array.from(kernel.dataSync())).toEqual([0, 2, 0, 0, 2, 0, 0, 4, 0, 2, 0, 0, 0, 6, 2]);
    expect(Array.from(bias.dataSync(), (v) => v + 0)).toEqual([0, -1, -4, -9, -3]); // + 0 turns -0 into 0
    const x = [0.5, 0.5, 0.5];
    const z = c.map((ck) => Math.hypot(...ck.map((v, t) => v - x[t])));
    const mean = z.reduce((a, b) => a + b) / M;
    const got = tf.tidy(() => cod.apply(tf.tensor4d(x, [1, 1, 1, 3])).dataSync());
    z.forEach((zk, k) => expect(got[k]).toBeCloseTo(Math.max(0, mean - zk), 5));
    const soft = coding({ words: M, mode: 'soft', beta: 2 });
    soft.setCentres(tf.tensor2d(c));
    const s = tf.tidy(() => soft.apply(tf.tensor4d(x, [1, 1, 1, 3])).dataSync());
    const e = z.map((zk) => Math.exp(-2 * zk * zk));
    const se = e.reduce((a, b) => a + b);
    e.forEach((v, k) => expect(s[k]).toBeCloseTo(v / se, 5));
    tf.dispose([kernel, bias]);
  });
});

describe('pooling', () => {
  it('spatial pyramid [1, 2]: regions, sum / max, L1 per region (plain loop)', () => {
    const N = 2,
      H = 5,
      W = 4,
      M = 3;
    const v = randArray(N * H * W * M, 9).map(Math.abs);
    const at = (n: number, y: number, x: number, m: number) => v[((n * H + y) * W + x) * M + m];
    for (const op of ['sum', 'max'] as const) {
      const got = tf.tidy(() =>
        pooling({ op, pyramid: [1, 2], regionNorm: 'l1' })
          .apply(tf.tensor4d(v, [N, H, W, M]))
          .dataSync(),
      );
      expect(got.length).toBe(N * M * 5);
      for (let n = 0; n < N; n++) {
        const regions: [number, number, number, number][] = [
          [0, 5, 0, 4],
          [0, 2, 0, 2],
          [0, 2, 2, 4],
          [2, 5, 0, 2],
          [2, 5, 2, 4],
        ];
        regions.forEach(([y0, y1, x0, x1], r) => {
          const p = new Array(M).fill(op === 'max' ? -Infinity : 0);
          for (let y = y0; y < y1; y++)
            for (let x = x0; x < x1; x++)
              for (let m = 0; m < M; m++) p[m] = op === 'max' ? Math.max(p[m], at(n, y, x, m)) : p[m] + at(n, y, x, m);
          const s = p.reduce((a, b) => a + b);
          for (let m = 0; m < M; m++) expect(got[n * M * 5 + r * M + m]).toBeCloseTo(p[m] / s, 5);
        });
      }
    }
  });
});

describe('signed square root (power normalisation)', () => {
  it('has the exact value, the exact gradient away from 0 and a finite one at 0', () => {
    const x = tf.tensor1d([-4, 0, 0.25, 9]);
    expect(Array.from(signedSqrt(x).dataSync())).toEqual([-2, 0, 0.5, 3]);
    const g = Array.from(
      tf
        .grad((v: tf.Tensor) => tf.sum(signedSqrt(v)))(x)
        .dataSync(),
    );
    // d/dx sign(x) sqrt|x| = 1 / (2 sqrt|x|), bounded at 0 by 1 / (2 sqrt(1e-4)) = 50
    [1 / 4, 50, 1, 1 / 6].forEach((want, i) => expect(g[i]).toBeCloseTo(want, i === 1 ? 3 : 3));
    expect(g.every(Number.isFinite)).toBe(true);
    x.dispose();
  });
});

describe('chi2 homogeneous kernel map', () => {
  it('dot products of mapped histograms approximate the exact chi2 kernel to 1e-2 (order 3; order 1 stays within 4e-2)', () => {
    const D = 64,
      N = 20;
    const h = Array.from({ length: N }, (_, i) => {
      const r = randArray(D, 100 + i).map((v) => (v + 1) ** 3); // skewed, like visual-word histograms
      const s = r.reduce((a, b) => a + b);
      return r.map((v) => v / s);
    });
    const worstFor = (order: number) => {
      const km = kernelmap({ kind: 'chi2', order });
      const mapped = tf.tidy(() =>
        km
          .apply(
            tf.tensor4d(
              h.flatMap((x) => Array.from(x)),
              [N, 1, 1, D],
            ),
          )
          .dataSync(),
      );
      const Dm = mapped.length / N;
      expect(Dm).toBe((2 * order + 1) * D);
      let worst = 0;
      for (let i = 0; i < N; i++)
        for (let j = 0; j < N; j++) {
          let exact = 0;
          for (let t = 0; t < D; t++) {
            const a = h[i][t] + h[j][t];
            if (a > 0) exact += (2 * h[i][t] * h[j][t]) / a;
          }
          let dot = 0;
          for (let t = 0; t < Dm; t++) dot += mapped[i * Dm + t] * mapped[j * Dm + t];
          worst = Math.max(worst, Math.abs(dot - exact));
        }
      return worst;
    };
    expect(worstFor(3)).toBeLessThan(1e-2);
    expect(worstFor(1)).toBeLessThan(4e-2);
  });
});

describe('linear SVM (squared hinge, one-vs-rest, on the backend) vs libsvm-js', () => {
  it('reaches the accuracy of LIBSVM with a linear kernel within 1 point', async () => {
    // 4 classes, 10 dims, overlapping Gaussian-ish clouds
    const K = 4,
      D = 10,
      ntr = 400,
      nte = 400;
    const make = (n: number, seed: number) => {
      const u = randArray(n * D, seed);
      const x = new Float32Array(n * D),
        y = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        y[i] = i % K;
        for (let t = 0; t < D; t++) x[i * D + t] = (t === y[i] ? 1.2 : 0) + (t === (y[i] + 1) % K ? 0.6 : 0) + 0.9 * u[i * D + t];
      }
      return { x, y };
    };
    const tr = make(ntr, 21),
      te = make(nte, 22);
    const clf = classifier({ C: 1 });
    await clf.fit!(one(tf.tensor4d(tr.x, [ntr, 1, 1, D])), tr.y);
    const scores = tf.tidy(() => clf.apply(tf.tensor4d(te.x, [nte, 1, 1, D])).dataSync());
    let ours = 0;
    for (let i = 0; i < nte; i++) {
      let b = 0;
      for (let c = 1; c < K; c++) if (scores[i * K + c] > scores[i * K + b]) b = c;
      if (b === te.y[i]) ours++;
    }
    const SVM = await (createRequire(import.meta.url)('libsvm-js') as Promise<LibSvmClass>);
    const svm = new SVM({ kernel: SVM.KERNEL_TYPES.LINEAR, type: SVM.SVM_TYPES.C_SVC, cost: 1, quiet: true });
    const rows = (x: Float32Array, n: number) => Array.from({ length: n }, (_, i) => Array.from(x.subarray(i * D, (i + 1) * D)));
    svm.train(rows(tr.x, ntr), Array.from(tr.y));
    const pred = svm.predict(rows(te.x, nte));
    const ref = pred.filter((p: number, i: number) => p === te.y[i]).length;
    svm.free();
    expect(ref / nte).toBeGreaterThan(0.5); // the problem is learnable, not trivial
    expect(Math.abs(ours - ref) / nte).toBeLessThanOrEqual(0.01);
  });
});

describe('fused hard coding + pooling', () => {
  it('counting word indices gives exactly the pooled one-hot maps (sum, mean, max; pyramid; norms)', () => {
    const M = 12,
      D = 6,
      N = 3,
      H = 7,
      W = 5;
    const cod = coding({ words: M, mode: 'hard' });
    cod.setCentres(tf.tensor2d(randArray(M * D, 41), [M, D]));
    const x = tf.tensor4d(randArray(N * H * W * D, 42), [N, H, W, D]);
    for (const cfg of [
      { op: 'sum' as const, pyramid: [1, 2], regionNorm: 'l1' as const },
      { op: 'mean' as const, pyramid: [1, 3], norm: 'l2' as const },
      { op: 'max' as const, pyramid: [2], regionNorm: 'power' as const },
    ]) {
      const p = pooling(cfg);
      const ref = tf.tidy(() => p.apply(cod.apply(x)).dataSync());
      const idx = cod.wordIndices(x)!;
      const got = tf.tidy(() => p.poolIndices(idx.dataSync() as Int32Array, [N, H, W], M).dataSync());
      idx.dispose();
      expect(Array.from(got)).toEqual(Array.from(ref));
    }
    expect(coding({ words: M, mode: 'soft' }).wordIndices(x)).toBeNull(); // only hard coding emits indices
    x.dispose();
  });
});

describe('linear SVM solvers agree', () => {
  it('dual coordinate descent (default) and Adam on the backend reach the same test accuracy within 1 point', async () => {
    const K = 3,
      D = 6,
      n = 300;
    const u = randArray(2 * n * D, 61);
    const x = new Float32Array(2 * n * D),
      y = new Int32Array(2 * n);
    for (let i = 0; i < 2 * n; i++) {
      y[i] = i % K;
      for (let t = 0; t < D; t++) x[i * D + t] = (t === y[i] ? 1 : 0) + 0.7 * u[i * D + t];
    }
    const acc = async (solver: 'dcd' | 'adam') => {
      const c = classifier({ C: 1, solver, maxEpochs: 400 });
      await c.fit!(one(tf.tensor4d(x.subarray(0, n * D), [n, 1, 1, D])), y.subarray(0, n));
      const s = tf.tidy(() => c.apply(tf.tensor4d(x.subarray(n * D), [n, 1, 1, D])).dataSync());
      let ok = 0;
      for (let i = 0; i < n; i++) {
        let b = 0;
        for (let k = 1; k < K; k++) if (s[i * K + k] > s[i * K + b]) b = k;
        if (b === y[n + i]) ok++;
      }
      return ok / n;
    };
    const a = await acc('dcd'),
      b = await acc('adam');
    expect(a).toBeGreaterThan(0.6);
    expect(Math.abs(a - b)).toBeLessThanOrEqual(0.01);
  });
});

describe('sparse rows: the same numbers as the dense maps', () => {
  const n = 3,
    h = 7,
    w = 6,
    M = 12;
  // word indices with a few words repeated often (as a digit's background is)
  const u = randArray(n * h * w, 91);
  const idx = Int32Array.from(u, (v) => (v > 0.2 ? 0 : Math.floor(((v + 1) / 1.2) * M) % M));
  for (const op of ['sum', 'mean', 'max'] as const)
    for (const regionNorm of ['none', 'l1', 'l2', 'power'] as const)
      for (const norm of ['none', 'l1', 'l2'] as const)
        it(`pooling ${op}, region ${regionNorm}, vector ${norm}, pyramid [1, 2, 3]: rows = the dense histograms`, () => {
          const p = pooling({ op, pyramid: [1, 2, 3], regionNorm, norm });
          const dense = tf.tidy(() => p.poolIndices(idx, [n, h, w], M).dataSync());
          const rows = p.poolIndicesRows!(idx, [n, h, w], M);
          expect(rows.d * n).toBe(dense.length);
          const back = csrToDense(rows);
          for (let i = 0; i < dense.length; i++) expect(back[i]).toBeCloseTo(dense[i], 6);
          // only the nonzeros are kept, in increasing order within a row
          for (let r = 0; r < n; r++)
            for (let t = rows.indptr[r] + 1; t < rows.indptr[r + 1]; t++) expect(rows.indices[t]).toBeGreaterThan(rows.indices[t - 1]);
          expect(rows.indptr[n]).toBe(Array.from(dense).filter((v) => v !== 0).length);
        });

  for (const cfg of [{ kind: 'chi2' as const, order: 1 }, { kind: 'chi2' as const, order: 3 }, { kind: 'hellinger' as const }])
    it(`kernel map ${cfg.kind}${'order' in cfg ? ` order ${cfg.order}` : ''} on rows = on the dense vectors`, () => {
      const D = 20;
      const v = randArray(n * D, 17).map((x) => (x > 0 ? x * x * 3 : 0)); // histograms: zeros and positive values
      const k = kernelmap(cfg);
      const dense = tf.tidy(() => k.apply(tf.tensor4d(v, [n, 1, 1, D])).dataSync());
      const rows = k.applyRows(csrFromDense(v, n, D));
      const back = csrToDense(rows);
      expect(back.length).toBe(dense.length);
      for (let i = 0; i < dense.length; i++) expect(Math.abs(back[i] - dense[i])).toBeLessThan(1e-5);
    });

  it('a classifier fitted on rows scores rows as its fully connected layer scores the dense vectors', async () => {
    const D = 10,
      K = 3,
      m = 90;
    const v = randArray(m * D, 5).map((x) => Math.max(0, x));
    const labels = Int32Array.from({ length: m }, (_, i) => i % K);
    for (let i = 0; i < m; i++) v[i * D + labels[i]] += 1;
    const c = classifier({ C: 1 });
    await c.fitRows(csrFromDense(v, m, D), labels);
    const dense = tf.tidy(() => c.apply(tf.tensor4d(v, [m, 1, 1, D])).dataSync());
    const rows = c.scoreRows(csrFromDense(v, m, D));
    for (let i = 0; i < dense.length; i++) expect(Math.abs(rows[i] - dense[i])).toBeLessThan(1e-4);
  });
});
