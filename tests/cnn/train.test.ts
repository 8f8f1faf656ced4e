// The training loop: memory steady across epochs, same seed -> same weights, a killed run resumes from
// its last checkpoint to exactly the weights of an uninterrupted run, and LeNet-5 learns.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { tf, useBackend } from '../../src/backend/index.js';
import { cardsFromModel } from '../../src/cnn/cards.js';
import { lenet5 } from '../../src/cnn/lenet5.js';
import { ZOO } from '../../src/cnn/zoo.js';
import type { CnnRecipe } from '../../src/config/recipes.js';
import { parseRecipe } from '../../src/pipeline/recipes.js';
import { accuracyOf, predictSplit, shiftImages, trainModel } from '../../src/cnn/train.js';
import { CnnClassifier } from '../../src/cnn/classifier.js';
import { subset } from '../../src/data/split.js';
import { makeSplit } from '../../src/core/data.js';
import { maxAbsDiff } from '../helpers.js';
import { dataset } from '../../src/data/registry.js';
import type { Dataset } from '../../src/core/data.js';

let ds: Dataset;
beforeAll(async () => {
  await useBackend('wasm');
  ds = await dataset('mnist', { subset: 600, testSubset: 500, seed: 1 });
});

const weights = (m: tf.LayersModel) => m.getWeights().map((w) => Array.from(w.dataSync()));
const quiet = { progress: false, batchSize: 64 } as const;

describe('trainModel', () => {
  it('keeps tf.memory().numTensors steady from epoch to epoch', async () => {
    const m = lenet5({ seed: 2 });
    const counts: number[] = [];
    await trainModel(m, ds.train, { ...quiet, epochs: 3, onEpoch: () => counts.push(tf.memory().numTensors) });
    expect(counts[1]).toBe(counts[0]);
    expect(counts[2]).toBe(counts[0]);
    m.dispose();
  });

  it('gives the same weights for the same seed, and other weights for another', async () => {
    const run = async (seed: number) => {
      const m = lenet5({ seed });
      await trainModel(m, ds.train, { ...quiet, epochs: 1, seed });
      const w = weights(m);
      m.dispose();
      return w;
    };
    const a = await run(5),
      b = await run(5),
      c = await run(6);
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
  });

  it('resumes a killed run from its last checkpoint to the same weights as an uninterrupted one', async () => {
    const opts = { ...quiet, epochs: 3, seed: 9, schedule: 'cosine' as const };
    const straight = lenet5({ seed: 9 });
    await trainModel(straight, ds.train, opts);
    const dir = mkdtempSync(join(tmpdir(), 'bowcnn-ckpt-'));
    // "killed" after epoch 2: a run that stops early but has written its checkpoints
    const first = lenet5({ seed: 9 });
    await trainModel(first, ds.train, { ...opts, checkpointDir: dir, maxSeconds: 0 });
    const second = lenet5({ seed: 9 }); // a fresh process: new, untrained weights
    const r2 = await trainModel(second, ds.train, { ...opts, checkpointDir: dir });
    expect(r2.resumedFromEpoch).toBe(0);
    expect(r2.epochs.length).toBe(3);
    const a = weights(straight),
      b = weights(second);
    for (let i = 0; i < a.length; i++) for (let j = 0; j < a[i].length; j++) expect(Math.abs(a[i][j] - b[i][j])).toBeLessThan(1e-6);
    [straight, first, second].forEach((m) => m.dispose());
  });

  it('LeNet-5 learns: accuracy far above chance after two epochs on 600 digits', async () => {
    const m = lenet5({ seed: 3 });
    const r = await trainModel(m, ds.train, { ...quiet, epochs: 2, lr: 3e-3 });
    expect(r.epochs[1].loss).toBeLessThan(r.epochs[0].loss);
    expect(await accuracyOf(m, ds.test)).toBeGreaterThan(0.6);
    m.dispose();
  });
});

describe('test-time flips', () => {
  it("score each image by the mean of its logits and its mirror's (mirrors made by plain loops)", async () => {
    const m = lenet5({ seed: 3 });
    const t = subset(ds.test, 40, 2);
    const { height: H, width: W } = t;
    const mirrored = new Uint8Array(t.pixels.length);
    for (let i = 0; i < t.n; i++)
      for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) mirrored[(i * H + y) * W + x] = t.pixels[(i * H + y) * W + (W - 1 - x)];
    const plain = await predictSplit(m, t),
      mirror = await predictSplit(m, makeSplit(mirrored, t.labels, H, W, 1));
    const flip = await predictSplit(m, t, 16, { flip: true });
    expect(
      maxAbsDiff(
        flip,
        plain.map((v, i) => (v + mirror[i]) / 2),
      ),
    ).toBeLessThan(1e-5);
    expect(maxAbsDiff(plain, mirror)).toBeGreaterThan(1e-3);
    m.dispose();
  });

  it('shifts: the mean of the logits over the image and its four copies moved by s pixels (plain loops), with flips 10 views', async () => {
    const m = lenet5({ seed: 3 });
    const t = subset(ds.test, 30, 4);
    const { height: H, width: W } = t;
    // out[y][x] = in[y - dy][x - dx], 0 outside
    const moved = (dy: number, dx: number) => {
      const out = new Uint8Array(t.pixels.length);
      for (let i = 0; i < t.n; i++)
        for (let y = 0; y < H; y++)
          for (let x = 0; x < W; x++) {
            const sy = y - dy,
              sx = x - dx;
            if (sy < 0 || sy >= H || sx < 0 || sx >= W) continue;
            out[(i * H + y) * W + x] = t.pixels[(i * H + sy) * W + sx];
          }
      return makeSplit(out, t.labels, H, W, 1);
    };
    // one shift on its own, against the loop: the direction as shiftImages states it
    const x = tf.tensor4d(
      Float32Array.from(t.pixels, (v) => v / 255),
      [t.n, H, W, 1],
    );
    const got = tf.tidy(() => shiftImages(x, 1, -2).dataSync());
    const want = Float32Array.from(moved(1, -2).pixels, (v) => v / 255);
    expect(maxAbsDiff(got, want)).toBe(0);
    x.dispose();
    for (const s of [1, 2]) {
      const offsets = [
        [0, 0],
        [s, 0],
        [-s, 0],
        [0, s],
        [0, -s],
      ];
      const single = await Promise.all(offsets.map(([dy, dx]) => predictSplit(m, moved(dy, dx))));
      const mean = (parts: Float32Array[]) => single[0].map((_, i) => parts.reduce((a, p) => a + p[i], 0) / parts.length);
      expect(maxAbsDiff(await predictSplit(m, t, 16, { shifts: s }), mean(single))).toBeLessThan(1e-5);
      // the mirror of a shifted image: flips apply to each shifted view
      const both = await predictSplit(m, t, 16, { shifts: s, flip: true });
      const flippedShifts = await Promise.all(
        offsets.map(async ([dy, dx]) => {
          // flip of the shifted view: mirror after the shift
          const sh = moved(dy, dx);
          const out = new Uint8Array(sh.pixels.length);
          for (let i = 0; i < t.n; i++)
            for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) out[(i * H + y) * W + x] = sh.pixels[(i * H + y) * W + (W - 1 - x)];
          return predictSplit(m, makeSplit(out, t.labels, H, W, 1));
        }),
      );
      expect(maxAbsDiff(both, mean([...single, ...flippedShifts]))).toBeLessThan(1e-5);
      expect(maxAbsDiff(single[0], mean(single))).toBeGreaterThan(1e-3);
    }
    // a shift that would move the whole image out of view is refused, naming the setting and the size
    const n0 = tf.memory().numTensors;
    await expect(predictSplit(m, t, 16, { shifts: 28 })).rejects.toThrow(/predict\.shifts 28: the 28x28 images .*at most 27/);
    expect(tf.memory().numTensors).toBe(n0);
    m.dispose();
  });

  it('a recipe asks for them; a dataset that mirrors would change (digits) turns them off', () => {
    const r = parseRecipe({ kind: 'cnn', name: 'x', model: 'lenet5', predict: { flip: true } }, 'test') as CnnRecipe;
    const withData = (rec: CnnRecipe, flipSafe: boolean) => {
      const c = new CnnClassifier(rec);
      c.data = { dataset: 'x', classes: ['a', 'b'], inShape: [28, 28, 1], flipSafe };
      return c.predictOptions.flip;
    };
    expect(withData(r, true)).toBe(true);
    expect(withData(r, false)).toBe(false);
    expect(withData({ ...r, predict: { flip: false, shifts: 0 } }, true)).toBe(false);
  });
});

describe('LeNet-5 cards', () => {
  it('gives the course counts for C1 (156 parameters, 122,304 connections) and the parameter total', () => {
    const m = lenet5({ variant: 'classic' });
    const cards = cardsFromModel(m, ZOO.lenet5.classic);
    const c1 = cards.find((c) => c.stage === 'C1')!;
    expect([c1.params, c1.connections, c1.mapsIn, c1.mapsOut]).toEqual([156, 122304, 1, 6]);
    const c5 = cards.find((c) => c.stage === 'C5')!;
    expect(c5.params).toBe(48120); // 120 x (16*5*5 + 1), as in the paper
    expect(cards.find((c) => c.stage === 'F6')!.params).toBe(10164); // 84 x (120 + 1)
    expect(cards.reduce((a, c) => a + c.params, 0)).toBe(m.countParams());
    expect(c5.receptiveField).toBe(32); // C5 sees the whole 32x32 padded input
    m.dispose();
  });
});
