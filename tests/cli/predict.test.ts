// bowcnn predict on what a student feeds it: a digit drawn black on white at 280x280, the same digit black on
// transparent, a Fashion-MNIST test image placed dark on a larger white canvas. Each gets the label its model
// gives the native 28x28 test image (the images are made here from test-set images, by plain loops).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../src/backend/index.js';
import { CnnClassifier } from '../../src/cnn/classifier.js';
import type { Classifier } from '../../src/core/classifier.js';
import type { Dataset } from '../../src/core/data.js';
import { dataset } from '../../src/data/registry.js';
import { batchTensor } from '../../src/data/split.js';
import { bowPipeline, readRecipe } from '../../src/pipeline/recipes.js';
import { encodePng } from '../../src/report/png.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'bowcnn-predict-'));

function predict(model: string, files: string[]) {
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'predict', '--model', model, ...files, '--json'],
    {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, BOWCNN_PROGRESS: '0' },
      timeout: 120_000,
    },
  );
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as { file: string; class: number; probability?: number; score?: number; warnings: string[] }[];
}

/** The model's labels for the first n native test images, and the n images as bytes. */
async function native(c: Classifier, ds: Dataset, n: number) {
  const x = batchTensor(ds.test, 0, n);
  const labels = Array.from(await c.predict(x));
  x.dispose();
  return { labels, images: Array.from({ length: n }, (_, i) => ds.test.pixels.subarray(i * 784, (i + 1) * 784)) };
}

const fitted: Record<string, string> = {};
let mnist: Dataset, fashion: Dataset;
beforeAll(async () => {
  await useBackend('wasm');
  mnist = await dataset('mnist', { subset: 6000, testSubset: 40, seed: 1 });
  fashion = await dataset('fashion-mnist', { subset: 6000, testSubset: 40, seed: 1 });
  const cnn = () => new CnnClassifier(readRecipe('lenet5') as never).set('train.epochs', 4).set('train.minSteps', 0);
  const jobs: [string, Classifier, Dataset][] = [
    ['lenet5-mnist', cnn(), mnist],
    ['bow-sift-mnist', bowPipeline(readRecipe('bow-sift')).set('coding.sample', 20000), mnist],
    ['lenet5-fashion', cnn(), fashion],
  ];
  for (const [name, c, ds] of jobs) {
    await c.fit(ds.train, { progress: false, data: { dataset: ds.name, classes: ds.classes, flipSafe: ds.flipSafe } });
    await c.save(join(dir, name));
    fitted[name] = join(dir, name);
    c.dispose();
  }
}, 300_000);

describe('predict reads ordinary images as the model reads its test images', () => {
  for (const name of ['lenet5-mnist', 'bow-sift-mnist']) {
    it(`${name}: a digit black on white at 280x280, and black on transparent, get the native image's label`, async () => {
      const { load } = await import('../../src/models/load.js');
      const c = await load(fitted[name]);
      const { labels, images } = await native(c, mnist, 12);
      c.dispose();
      const files: string[] = [];
      images.forEach((px, i) => {
        const grey = new Uint8Array(280 * 280);
        const rgba = new Uint8Array(280 * 280 * 4);
        for (let y = 0; y < 280; y++)
          for (let x = 0; x < 280; x++) {
            const v = px[Math.floor(y / 10) * 28 + Math.floor(x / 10)];
            grey[y * 280 + x] = 255 - v; // black ink on white paper
            rgba[(y * 280 + x) * 4 + 3] = v; // black ink, transparent elsewhere
          }
        writeFileSync(join(dir, `${name}-white-${i}.png`), encodePng(grey, 280, 280, 1));
        writeFileSync(join(dir, `${name}-clear-${i}.png`), encodePng(rgba, 280, 280, 4));
        files.push(join(dir, `${name}-white-${i}.png`), join(dir, `${name}-clear-${i}.png`));
      });
      const rows = predict(fitted[name], files);
      expect(rows.map((r) => r.class)).toEqual(labels.flatMap((l) => [l, l]));
      for (const r of rows) {
        expect(r.warnings).toEqual([]);
        if (name.startsWith('lenet5')) expect(r.probability).toBeGreaterThan(0);
        else expect(r.score).toBeTypeOf('number');
      }
    }, 120_000);
  }

  it('lenet5-fashion: a test image placed dark on a larger white canvas gets the native label; a colour photo is warned about', async () => {
    const { load } = await import('../../src/models/load.js');
    const c = await load(fitted['lenet5-fashion']);
    const { labels, images } = await native(c, fashion, 12);
    c.dispose();
    const files = images.map((px, i) => {
      const W = 100,
        H = 80;
      const canvas = new Uint8Array(W * H * 3).fill(255);
      for (let y = 0; y < 56; y++)
        for (let x = 0; x < 56; x++)
          canvas.fill(255 - px[(y >> 1) * 28 + (x >> 1)], ((12 + y) * W + 30 + x) * 3, ((12 + y) * W + 31 + x) * 3);
      const f = join(dir, `shoe-${i}.png`);
      writeFileSync(f, encodePng(canvas, H, W, 3));
      return f;
    });
    const rows = predict(fitted['lenet5-fashion'], files);
    expect(rows.map((r) => r.class)).toEqual(labels);
    // a colourful, wide image: read, with warnings
    const photo = new Uint8Array(60 * 300 * 3).map((_, i) => (i % 3 === 0 ? 220 : (i * 13) % 256));
    writeFileSync(join(dir, 'photo.png'), encodePng(photo, 60, 300, 3));
    const [p] = predict(fitted['lenet5-fashion'], [join(dir, 'photo.png')]);
    expect(p.warnings.join(' ')).toMatch(/colour image/);
    expect(p.warnings.join(' ')).toMatch(/extreme aspect ratio/);
  }, 120_000);
});
