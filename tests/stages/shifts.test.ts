// Virtual examples: the shifted maps and each image's drawn copy against a plain loop, the draws spread over
// every direction and fixed by the image; a pipeline with a shifts stage scores exactly as the same pipeline
// without it fitted on the training images and their shifted copies made by a plain loop (and not as the
// pipeline fitted on the images alone); at test time the stage is the identity; save and load, the feature
// cache, and the placements a pipeline refuses.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { tf, useBackend } from '../../src/backend/index.js';
import { makeSplit, type Dataset, type Split } from '../../src/core/data.js';
import { dataset } from '../../src/data/registry.js';
import { batchTensor } from '../../src/data/split.js';
import { Pipeline, PipelineError } from '../../src/pipeline/pipeline.js';
import { makeStage, union } from '../../src/pipeline/registry.js';
import { recipeStages } from '../../src/pipeline/recipes.js';
import { drawOffset, shiftCopy, shiftOffsets, shifts } from '../../src/stages/shifts.js';
import type { Maps } from '../../src/stages/stage.js';
import { maxAbsDiff, randArray } from '../helpers.js';

const quiet = { progress: false, batchSize: 64 } as const;
const hogStages = () => recipeStages('hog-svm').map((e) => makeStage(e.kind, e.config, e.name));
const svm = () => makeStage('classifier', { kind: 'linear', C: 0.1 });

/** out[y][x] = in[y - dy][x - dx] inside the image, else 0, for every image and channel. */
function shiftLoop<T extends Float32Array | Uint8Array>(v: T, n: number, h: number, w: number, c: number, dx: number, dy: number): T {
  const out = new (v.constructor as new (k: number) => T)(v.length);
  for (let i = 0; i < n; i++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++)
        for (let k = 0; k < c; k++) {
          const sy = y - dy,
            sx = x - dx;
          if (sy >= 0 && sy < h && sx >= 0 && sx < w) out[((i * h + y) * w + x) * c + k] = v[((i * h + sy) * w + sx) * c + k];
        }
  return out;
}

let ds: Dataset;
beforeAll(async () => {
  await useBackend('wasm');
  ds = await dataset('mnist', { subset: 200, testSubset: 60, seed: 4 });
});

describe('shiftCopy', () => {
  it('moves maps by whole pixels with zeros coming in, as a plain loop does (one offset: every image takes it)', () => {
    const [n, h, w, c] = [2, 5, 6, 3];
    const v = randArray(n * h * w * c, 7);
    const x = tf.tensor4d(v, [n, h, w, c]) as Maps;
    for (const [dx, dy] of [
      [1, 0],
      [-1, 0],
      [0, 2],
      [-2, -1],
      [3, 1],
      [6, 0],
      [0, -5],
    ]) {
      const y = shiftCopy(x, [[dx, dy]], 0);
      expect(y.shape).toEqual([n, h, w, c]);
      expect(maxAbsDiff(y.dataSync(), shiftLoop(v, n, h, w, c, dx, dy))).toBe(0);
      y.dispose();
    }
    x.dispose();
  });

  it('offers 4 or 8 distinct offsets at the given distance', () => {
    for (const [px, dirs] of [
      [1, 4],
      [2, 8],
    ] as const) {
      const o = shiftOffsets(px, dirs);
      expect(o).toHaveLength(dirs);
      expect(new Set(o.map((d) => d.join())).size).toBe(dirs);
      for (const [dx, dy] of o) expect(Math.max(Math.abs(dx), Math.abs(dy))).toBe(px);
    }
  });

  it('moves each image of a copy by its own draw, as a plain loop does; the draws cover every direction and follow the image, not its place', () => {
    const x = batchTensor(ds.train, 0, 120);
    const [n, h, w] = x.shape;
    const v = x.dataSync() as Float32Array;
    const offsets = shiftOffsets(1, 8);
    for (const copy of [0, 1]) {
      const y = shiftCopy(x, offsets, copy);
      const got = y.dataSync();
      const seen = new Set<number>();
      for (let i = 0; i < n; i++) {
        const img = v.slice(i * h * w, (i + 1) * h * w);
        const k = drawOffset(img, copy, 8);
        seen.add(k);
        const want = shiftLoop(img, 1, h, w, 1, offsets[k][0], offsets[k][1]);
        expect(maxAbsDiff(got.subarray(i * h * w, (i + 1) * h * w), want)).toBe(0);
      }
      expect(seen.size).toBe(8);
      y.dispose();
    }
    // the same image gets the same draw in another batch, at another place
    const r = tf.reverse(x, 0) as Maps;
    const a = shiftCopy(x, offsets, 0),
      b = shiftCopy(r, offsets, 0);
    const br = tf.reverse(b, 0);
    expect(maxAbsDiff(a.dataSync(), br.dataSync())).toBe(0);
    // an image's first `directions` copies take every direction once, then the order repeats; orders differ by image
    const orders = new Set<string>();
    for (let i = 0; i < n; i++) {
      const img = v.slice(i * h * w, (i + 1) * h * w);
      for (const count of [4, 8]) {
        const order = Array.from({ length: count }, (_, k) => drawOffset(img, k, count));
        expect(new Set(order).size).toBe(count);
        expect(drawOffset(img, count + 1, count)).toBe(order[1]);
        if (count === 4) orders.add(order.join());
      }
    }
    expect(orders.size).toBeGreaterThan(12);
    tf.dispose([x, r, a, b, br]);
  });
});

describe('a pipeline with virtual examples', () => {
  /** The training split followed by its shifted copies, each image moved by its draw (a plain loop on the bytes). */
  function withCopies(s: Split, copies: number, offsets: [number, number][]): Split {
    const per = s.height * s.width * s.channels;
    const parts = [s.pixels];
    for (let copy = 0; copy < copies; copy++) {
      const out = new Uint8Array(s.pixels.length);
      for (let i = 0; i < s.n; i++) {
        const img = s.pixels.subarray(i * per, (i + 1) * per);
        const [dx, dy] =
          offsets[
            drawOffset(
              Float32Array.from(img, (b) => b / 255),
              copy,
              offsets.length,
            )
          ];
        out.set(shiftLoop(img, 1, s.height, s.width, s.channels, dx, dy), i * per);
      }
      parts.push(out);
    }
    const px = new Uint8Array(parts.length * s.pixels.length);
    parts.forEach((p, k) => px.set(p, k * s.pixels.length));
    const labels = new Int32Array(parts.length * s.n);
    for (let k = 0; k < parts.length; k++) labels.set(s.labels, k * s.n);
    return makeSplit(px, labels, s.height, s.width, s.channels);
  }

  it('fits its classifier on the images and their shifted copies, and is the identity at test time', async () => {
    const withShifts = new Pipeline([shifts({ copies: 3, directions: 4 }), ...hogStages(), svm()], 'virtual');
    await withShifts.fit(ds.train, quiet);
    const reference = new Pipeline([...hogStages(), svm()], 'reference');
    await reference.fit(withCopies(ds.train, 3, shiftOffsets(1, 4)), quiet);
    const alone = new Pipeline([...hogStages(), svm()], 'alone');
    await alone.fit(ds.train, quiet);
    const got = await withShifts.scoreSplit(ds.test, quiet);
    const want = await reference.scoreSplit(ds.test, quiet);
    expect(maxAbsDiff(got, want)).toBeLessThan(1e-5);
    // the copies changed the classifier: the pipeline fitted on the images alone scores otherwise
    expect(maxAbsDiff(got, await alone.scoreSplit(ds.test, quiet))).toBeGreaterThan(1e-3);
    const x = batchTensor(ds.test, 0, 8);
    const shifted = withShifts.get('shifts').apply(x);
    expect(maxAbsDiff(shifted.dataSync(), x.dataSync())).toBe(0);
    tf.dispose([x, shifted]);
    for (const p of [withShifts, reference, alone]) p.dispose();
  });

  it('keeps its config through save and load, and a second fit reads every copy from the cache', async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), 'bowcnn-shifts-'));
    const make = () => new Pipeline([shifts({ copies: 2, pixels: 2 }), ...hogStages(), svm()], 'virtual2');
    const p = make();
    const first = await p.fit(ds.train, { ...quiet, cacheDir });
    expect(first.cached).toBe(false);
    const again = make();
    const second = await again.fit(ds.train, { ...quiet, cacheDir });
    expect(second.cached).toBe(true);
    const want = await p.scoreSplit(ds.test, quiet);
    expect(maxAbsDiff(await again.scoreSplit(ds.test, quiet), want)).toBeLessThan(1e-6);
    // each copy has a cache entry of its own: the cached fits score as a fit without any cache
    const uncached = make();
    await uncached.fit(ds.train, quiet);
    expect(maxAbsDiff(await uncached.scoreSplit(ds.test, quiet), want)).toBeLessThan(1e-6);
    uncached.dispose();
    // the stage is the identity at test time, so the images' own features are shared with other copies
    const none = new Pipeline([shifts({ copies: 0 }), ...hogStages(), svm()], 'none');
    expect((await none.fit(ds.train, { ...quiet, cacheDir })).cached).toBe(true);
    none.dispose();
    const dir = mkdtempSync(join(tmpdir(), 'bowcnn-shifts-model-'));
    await p.save(dir);
    const loaded = await Pipeline.load(dir);
    expect(loaded.get('shifts').config).toEqual({ copies: 2, pixels: 2, directions: 8 });
    expect(maxAbsDiff(await loaded.scoreSplit(ds.test, quiet), want)).toBeLessThan(1e-6);
    for (const q of [p, again, loaded]) q.dispose();
  });

  it('refuses to shift maps that are no longer the image: after a stage that changes the grid, before anything is fitted', async () => {
    const stages = hogStages();
    const late = new Pipeline([...stages.slice(0, 3), shifts(), ...stages.slice(3), svm()], 'late-shift');
    await expect(late.fit(ds.train, quiet)).rejects.toThrow(
      /stage 'shifts' shifts images by pixels, but stage 'blocks' before it turns the 28x28 input into 6x6 maps; put 'shifts' first/,
    );
    // a stage that keeps the grid may come before it (gradients: 28x28, more maps)
    const early = new Pipeline([stages[0], shifts({ copies: 1 }), ...stages.slice(1), svm()], 'after-gradient');
    await early.fit(ds.train, quiet);
    early.dispose();
    expect(() => shifts({ directions: 6 as 8 })).toThrow(/'directions': 6 is not allowed; allowed: 4, 8/);
  });

  it('refuses two view stages, one after the classifier, and one inside a union branch, saying where it goes', () => {
    expect(() => new Pipeline([shifts(), shifts({}, 'more'), ...hogStages(), svm()], 'two')).toThrow(/'shifts', 'more' all make virtual/);
    expect(() => new Pipeline([...hogStages(), svm(), shifts()], 'late')).toThrow(/must come before the classifier/);
    const u = union({
      branches: [
        { name: 'hog', stages: [{ kind: 'shifts' }, ...recipeStages('hog-svm')] },
        { name: 'plain', stages: recipeStages('hog-svm') },
      ],
    });
    expect(() => new Pipeline([u, svm()], 'inner')).toThrow(PipelineError);
    expect(() => new Pipeline([u, svm()], 'inner')).toThrow(/put it before the union/);
  });
});
