// The transformations of the robustness sweep, against hand-computed pixel moves; the per-stage distances a
// pipeline computes without its one-hot maps, against plain loops over its full stage outputs.
import { beforeAll, describe, expect, it } from 'vitest';
import { tf, useBackend } from '../../src/backend/index.js';
import { dataset } from '../../src/data/registry.js';
import { batchTensor } from '../../src/data/split.js';
import { transformBatch } from '../../src/eval/robustness.js';
import { bowPipeline, parseRecipe, readRecipe, recipeStages } from '../../src/pipeline/recipes.js';

beforeAll(async () => {
  await useBackend('wasm');
});

describe('robustness transforms', () => {
  const H = 9,
    W = 11;
  const img = Array.from({ length: 2 * H * W }, (_, i) => (i % 7) + 1);
  const x = () => tf.tensor4d(img, [2, H, W, 1]);
  const at = (v: ArrayLike<number>, b: number, y: number, xx: number) => v[(b * H + y) * W + xx];

  it('translate-x by +2 moves content 2 px right (zeros come in), translate-y by -3 moves it up', () => {
    const a = x();
    const r = transformBatch(a, 'translate-x', 2).dataSync();
    for (let b = 0; b < 2; b++)
      for (let y = 0; y < H; y++) for (let c = 0; c < W; c++) expect(at(r, b, y, c)).toBe(c < 2 ? 0 : at(img, b, y, c - 2));
    const u = transformBatch(a, 'translate-y', -3).dataSync();
    for (let b = 0; b < 2; b++)
      for (let y = 0; y < H; y++) for (let c = 0; c < W; c++) expect(at(u, b, y, c)).toBe(y >= H - 3 ? 0 : at(img, b, y + 3, c));
    a.dispose();
  });

  it('scale 1 and rotation 0 are the identity; rotation by 90 degrees about the centre of a square image permutes pixels', () => {
    const a = x();
    expect(Array.from(transformBatch(a, 'scale', 1).dataSync())).toEqual(img);
    expect(Array.from(transformBatch(a, 'rotate', 0).dataSync())).toEqual(img);
    const sq = tf.tensor4d(
      Array.from({ length: 25 }, (_, i) => i + 1),
      [1, 5, 5, 1],
    );
    const r = transformBatch(sq, 'rotate', 90).dataSync();
    // output (x, y) reads input (cx - (y - cy), cy + (x - cx)) for a 90 degree rotation with y down
    for (let y = 0; y < 5; y++) for (let c = 0; c < 5; c++) expect(r[y * 5 + c]).toBeCloseTo((2 + (c - 2)) * 5 + (2 - (y - 2)) + 1, 4);
    tf.dispose([a, sq]);
  });
});

/** The plain form, per image: 1 - a.b / (|a| |b|) over each image's values, averaged over the batch. */
function plainMeanCosine(ta: tf.Tensor, tb: tf.Tensor): number {
  const n = ta.shape[0];
  const a = tf.tidy(() => ta.reshape([n, -1]).arraySync() as number[][]),
    b = tf.tidy(() => tb.reshape([n, -1]).arraySync() as number[][]);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    let dot = 0,
      na = 0,
      nb = 0;
    for (let j = 0; j < a[i].length; j++) {
      dot += a[i][j] * b[i][j];
      na += a[i][j] ** 2;
      nb += b[i][j] ** 2;
    }
    sum += 1 - dot / (Math.sqrt(na * nb) + 1e-12);
  }
  return sum / n;
}

describe('representation distances without the one-hot maps', () => {
  it("a pipeline's per-stage distances equal the cosine distances of its full stage outputs (one-hot coding maps included)", async () => {
    const ds = await dataset('mnist', { subset: 300, testSubset: 40, seed: 3 });
    const p = bowPipeline(readRecipe('bow-sift-spm')).set('coding.words', 32).set('coding.sample', 3000);
    await p.fit(ds.train, { progress: false });
    const x = batchTensor(ds.test, 0, 40);
    const xt = transformBatch(x, 'rotate', 20);
    const { distances: fast, predictions } = await p.representationDistances(x, xt);
    expect(Array.from(predictions)).toEqual(Array.from(await p.predict(xt)));
    const ra = await p.representations(x),
      rb = await p.representations(xt);
    expect(Object.keys(fast)).toEqual(Object.keys(ra));
    for (const name of Object.keys(ra)) {
      expect(Math.abs(fast[name] - plainMeanCosine(ra[name], rb[name]))).toBeLessThan(1e-4);
    }
    expect(fast.coding).toBeGreaterThan(0.05); // a 20 degree rotation changes words
    tf.dispose([x, xt, ...Object.values(ra), ...Object.values(rb)]);
    p.dispose();
  });

  it("a union's distance is that of its full output (each branch run fused)", async () => {
    const ds = await dataset('mnist', { subset: 300, testSubset: 30, seed: 4 });
    const bow = recipeStages('bow-sift-spm').map((e) =>
      e.kind === 'coding' ? { ...e, config: { ...e.config, words: 32, sample: 3000 } } : e,
    );
    const p = bowPipeline(
      parseRecipe(
        {
          kind: 'bow',
          name: 'u',
          stages: [
            { kind: 'deskew' },
            { kind: 'union', config: { branches: [{ recipe: 'hog-svm' }, { name: 'bow', stages: bow }] } },
            { kind: 'classifier' },
          ],
        },
        'test',
      ),
    );
    await p.fit(ds.train, { progress: false });
    const x = batchTensor(ds.test, 0, 30);
    // (not a shift: deskewing moves the centre of mass back to the centre and undoes it)
    const xt = transformBatch(x, 'rotate', 20);
    const { distances, predictions } = await p.representationDistances(x, xt);
    expect(Array.from(predictions)).toEqual(Array.from(await p.predict(xt)));
    const ua = tf.tidy(() => p.stages[1].apply(p.stages[0].apply(x))),
      ub = tf.tidy(() => p.stages[1].apply(p.stages[0].apply(xt)));
    expect(Math.abs(distances.union - plainMeanCosine(ua, ub))).toBeLessThan(1e-4);
    expect(distances.union).toBeGreaterThan(0.01);
    tf.dispose([x, xt, ua, ub]);
    p.dispose();
  }, 60_000);
});
