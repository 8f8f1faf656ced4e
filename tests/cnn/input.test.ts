// A CNN recipe's declared input: images framed to it against plain loops (area means, the centre crop, BT.601
// luma), and CIFAR-10 binary files and a folder of the same images as PNGs going through the same path to the
// same trained model.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf, useBackend } from '../../src/backend/index.js';
import { CnnClassifier } from '../../src/cnn/classifier.js';
import { framedBatch, framedSplit, inputShape } from '../../src/cnn/input.js';
import type { CnnRecipe } from '../../src/config/recipes.js';
import { makeSplit } from '../../src/core/data.js';
import { CIFAR_RECORD, CIFAR10_CLASSES } from '../../src/data/cifar.js';
import { dataset } from '../../src/data/registry.js';
import { parseRecipe } from '../../src/pipeline/recipes.js';
import { rng } from '../../src/core/random.js';
import { declaredRead } from '../../src/cli/common.js';

beforeAll(async () => {
  await useBackend('wasm');
});

/** Bytes `[n, h, w, c]` from a seeded generator. */
function randomBytes(count: number, seed: number): Uint8Array {
  const r = rng(seed);
  return Uint8Array.from({ length: count }, () => Math.floor(r() * 256));
}

describe('framing to a declared input', () => {
  it('halves an image by the mean of each 2x2 block', () => {
    const [n, h, w, c] = [3, 8, 6, 3];
    const px = randomBytes(n * h * w * c, 1);
    const s = framedSplit(makeSplit(px, Int32Array.from([0, 1, 2]), h, w, c), [4, 3, 3]);
    expect([s.n, s.height, s.width, s.channels]).toEqual([3, 4, 3, 3]);
    for (let i = 0; i < n; i++)
      for (let y = 0; y < 4; y++)
        for (let x = 0; x < 3; x++)
          for (let q = 0; q < c; q++) {
            let sum = 0;
            for (const [dy, dx] of [
              [0, 0],
              [0, 1],
              [1, 0],
              [1, 1],
            ])
              sum += px[((i * h + 2 * y + dy) * w + 2 * x + dx) * c + q];
            expect(s.pixels[((i * 4 + y) * 3 + x) * c + q]).toBe(Math.round(sum / 4));
          }
    expect(Array.from(s.labels)).toEqual([0, 1, 2]);
  });

  it('fits the short side and keeps the centre (a 6x12 image to 3x3: the middle 6x6, halved)', () => {
    const [h, w] = [6, 12];
    const px = randomBytes(h * w, 2);
    const s = framedSplit(makeSplit(px, Int32Array.from([0]), h, w, 1), [3, 3, 1]);
    for (let y = 0; y < 3; y++)
      for (let x = 0; x < 3; x++) {
        let sum = 0;
        for (let dy = 0; dy < 2; dy++) for (let dx = 0; dx < 2; dx++) sum += px[(2 * y + dy) * w + 3 + 2 * x + dx];
        expect(s.pixels[y * 3 + x]).toBe(Math.round(sum / 4));
      }
  });

  it('makes colour grey by BT.601 luma and grey colour by repetition', () => {
    const px = randomBytes(2 * 2 * 3, 3);
    const grey = framedSplit(makeSplit(px, Int32Array.from([0]), 2, 2, 3), [2, 2, 1]);
    for (let i = 0; i < 4; i++) expect(grey.pixels[i]).toBe(Math.round(0.299 * px[3 * i] + 0.587 * px[3 * i + 1] + 0.114 * px[3 * i + 2]));
    const colour = framedSplit(grey, [2, 2, 3]);
    for (let i = 0; i < 12; i++) expect(colour.pixels[i]).toBe(grey.pixels[Math.floor(i / 3)]);
  });

  it('leaves a split of the right shape as it is, and frames a batch as it frames a split', () => {
    const px = randomBytes(2 * 8 * 8 * 3, 4);
    const s = makeSplit(px, Int32Array.from([0, 1]), 8, 8, 3);
    expect(framedSplit(s, [8, 8, 3])).toBe(s);
    const x = tf.tensor4d(Float32Array.from(px), [2, 8, 8, 3]);
    const y = framedBatch(x, [4, 4, 1]);
    expect(y.shape).toEqual([2, 4, 4, 1]);
    const want = framedSplit(s, [4, 4, 1]).pixels;
    const got = y.dataSync();
    for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i])).toBeLessThanOrEqual(0.5);
    x.dispose();
    y.dispose();
  });

  it('refuses an input it cannot use, saying what it takes', () => {
    const cnn = (input: unknown) => parseRecipe({ kind: 'cnn', name: 'x', model: 'vgg', input }, 'recipe x');
    expect(() => cnn({ size: [3] })).toThrow(/'input.size': expected a side in pixels .* or \[height, width\]/);
    expect(() => cnn({ size: '64' })).toThrow(/'input.size': expected a side in pixels/);
    expect(() => cnn({ size: 32, channels: 2 })).toThrow(/'input.channels': expected 1 \(grey\) or 3 \(colour\)/);
    expect(() => cnn({ size: 32, chanels: 1 })).toThrow(/unknown key 'input.chanels' \(did you mean 'input.channels'\?\)/);
    // a slip at the top of a cnn recipe is told against the cnn recipe's keys, not another kind's
    expect(() => parseRecipe({ kind: 'cnn', name: 'x', model: 'vgg', inputs: { size: 32 } }, 'recipe x')).toThrow(
      /unknown key 'inputs' \(did you mean 'input'\?\); allowed: .*'model', 'config', 'input', 'train'/,
    );
  });

  it('takes the recipe input where there is one, else the images own shape', () => {
    expect(inputShape(undefined, [28, 28, 1])).toEqual([28, 28, 1]);
    expect(inputShape({ size: 32 }, [256, 256, 1])).toEqual([32, 32, 1]);
    expect(inputShape({ size: [24, 40], channels: 3 }, [256, 256, 1])).toEqual([24, 40, 3]);
    expect(inputShape({ channels: 1 }, [256, 200, 3])).toEqual([256, 200, 1]);
  });
});

describe('the size a folder is read at for the CNN recipes of a run', () => {
  const cnn = (name: string, input?: unknown, search?: unknown) =>
    new CnnClassifier(parseRecipe({ kind: 'cnn', name, model: 'vgg', input, ...(search ? { search } : {}) }, name) as CnnRecipe);

  it('takes the largest height and width apart, never under 32x32, searched sizes included; channels when all CNNs agree', () => {
    expect(declaredRead([cnn('a')])).toBeUndefined();
    expect(declaredRead([cnn('a', { size: [24, 100] }), cnn('b', { size: 64 })])).toEqual({ size: [64, 100], from: ['a', 'b'] });
    expect(declaredRead([cnn('a', { size: 16 })])?.size).toEqual([32, 32]);
    expect(declaredRead([cnn('a', { size: 48 }, { 'input.size': [32, 96] })])?.size).toEqual([96, 96]);
    expect(declaredRead([cnn('a', { size: 64, channels: 1 }), cnn('b', { channels: 1 })])).toEqual({
      size: [64, 64],
      channels: 1,
      from: ['a'],
    });
    expect(declaredRead([cnn('a', { size: 64, channels: 1 }), cnn('b', { channels: 3 })])?.channels).toBeUndefined();
    const bow = { name: 'bow', kind: 'bow' } as unknown as Parameters<typeof declaredRead>[0][number];
    expect(declaredRead([cnn('a', { size: 64, channels: 1 }), bow])).toEqual({ size: [64, 64], from: ['a'] });
  });
});

describe('CIFAR-10 files and a folder of the same images go through the same path', () => {
  const root = mkdtempSync(join(tmpdir(), 'bowcnn-cifar-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  /** Each class a colour and a stripe direction, with noise: images a small CNN can tell apart. */
  function image(label: number, seed: number): Uint8Array {
    const r = rng(seed);
    const out = new Uint8Array(32 * 32 * 3); // [32,32,3]
    for (let y = 0; y < 32; y++)
      for (let x = 0; x < 32; x++) {
        const stripe = ((label % 2 ? x : y) >> (1 + (label % 3))) % 2;
        for (let q = 0; q < 3; q++) {
          const base = ((label * 37 + q * 91) % 200) + 28 * stripe;
          out[(y * 32 + x) * 3 + q] = Math.min(255, Math.floor(base + 20 * r()));
        }
      }
    return out;
  }

  /** A CIFAR-10 binary file: for each record, its label byte then the red, green and blue planes. */
  function cifarFile(images: { label: number; px: Uint8Array }[]): Uint8Array {
    const b = new Uint8Array(images.length * CIFAR_RECORD);
    images.forEach(({ label, px }, i) => {
      const o = i * CIFAR_RECORD;
      b[o] = label;
      for (let p = 0; p < 1024; p++) for (let q = 0; q < 3; q++) b[o + 1 + q * 1024 + p] = px[p * 3 + q];
    });
    return b;
  }

  async function write(split: 'train' | 'test', perClass: number, seed: number): Promise<{ label: number; px: Uint8Array }[]> {
    const images: { label: number; px: Uint8Array }[] = [];
    for (let label = 0; label < 10; label++) {
      mkdirSync(join(root, 'folder', split, CIFAR10_CLASSES[label]), { recursive: true });
      for (let k = 0; k < perClass; k++) {
        const px = image(label, seed + 100 * label + k);
        images.push({ label, px });
        await sharp(Buffer.from(px), { raw: { width: 32, height: 32, channels: 3 } })
          .png()
          .toFile(join(root, 'folder', split, CIFAR10_CLASSES[label], `${String(k).padStart(5, '0')}.png`));
      }
    }
    return images;
  }

  it('reads the same images, frames them the same way and trains the same model', async () => {
    mkdirSync(join(root, 'cifar'), { recursive: true });
    writeFileSync(join(root, 'cifar', 'data_batch_1.bin'), cifarFile(await write('train', 6, 1000)));
    writeFileSync(join(root, 'cifar', 'test_batch.bin'), cifarFile(await write('test', 2, 5000)));

    const fromFiles = await dataset('cifar10', { dir: join(root, 'cifar') });
    const fromFolder = await dataset(`folder:${join(root, 'folder')}`, { folder: { size: 'keep', listingCache: false } });
    expect(fromFolder.classes).toEqual(fromFiles.classes);
    for (const k of ['train', 'test'] as const) {
      expect([fromFolder[k].height, fromFolder[k].width, fromFolder[k].channels]).toEqual([32, 32, 3]);
      expect(Buffer.from(fromFolder[k].pixels).equals(Buffer.from(fromFiles[k].pixels))).toBe(true);
      expect(Array.from(fromFolder[k].labels)).toEqual(Array.from(fromFiles[k].labels));
    }

    const recipe = parseRecipe(
      {
        kind: 'cnn',
        name: 'tiny-16',
        model: 'vgg',
        config: { widths: [6, 8], convs: 1, head: 'gap', dropout: 0 },
        input: { size: 16 },
        train: { epochs: 8, batchSize: 10, lr: 0.01, schedule: 'onecycle', augment: { pad: 1, flip: true } },
        predict: { flip: true },
      },
      'test recipe',
    ) as CnnRecipe;
    const scored: Float32Array[] = [];
    for (const d of [fromFiles, fromFolder]) {
      const net = new CnnClassifier(recipe);
      await net.fit(d.train, { seed: 3, progress: false, data: { dataset: d.name, classes: d.classes, flipSafe: d.flipSafe } });
      expect(net.model?.inputs[0].shape).toEqual([null, 16, 16, 3]);
      expect(net.data?.inShape).toEqual([16, 16, 3]);
      expect(net.data?.readShape).toEqual([32, 32, 3]); // what eval reads a folder in, by default
      scored.push(await net.scoreSplit(d.test));
      net.dispose();
    }
    expect(Array.from(scored[1])).toEqual(Array.from(scored[0]));
    // and the model learned from the framed images: better than chance (10%) on the test images
    let right = 0;
    for (let i = 0; i < fromFiles.test.n; i++) {
      const row = scored[0].subarray(i * 10, (i + 1) * 10);
      if (row.indexOf(Math.max(...row)) === fromFiles.test.labels[i]) right++;
    }
    expect(right / fromFiles.test.n).toBeGreaterThan(0.3);
  }, 60_000);
});
