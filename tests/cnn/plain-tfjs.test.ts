// Saved models are plain tfjs: LeNet-5 and alexnet-small saved by bowcnn load in a child process that
// imports only @tensorflow/tfjs (no bowcnn, no native addon) and give bowcnn's predictions; a bownet loads
// with @tensorflow/tfjs and bowcnn/layers only (bundled here for a browser: no Node module may be in it).
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf, useBackend } from '../../src/backend/index.js';
import { CnnClassifier } from '../../src/cnn/classifier.js';
import { exportBowNet } from '../../src/cnn/bownet.js';
import { dataset } from '../../src/data/registry.js';
import { batchTensor } from '../../src/data/split.js';
import type { Dataset } from '../../src/core/data.js';
import { bowPipeline, readRecipe } from '../../src/pipeline/recipes.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
let ds: Dataset;
const N = 64;
const made: string[] = [];
/** A folder inside the checkout (so that the child's bare imports resolve to its node_modules), removed afterwards. */
const scratch = (): string => {
  const d = mkdtempSync(join(ROOT, 'node_modules', '.cache-plain-'));
  made.push(d);
  return d;
};
afterAll(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

beforeAll(async () => {
  await useBackend('wasm');
  ds = await dataset('mnist', { subset: 300, testSubset: N, seed: 4 });
});

/** Scores of the first N test images by a saved model, computed in a process that has only @tensorflow/tfjs (and `extra`). */
function plainScores(dir: string, extra = ''): { scores: number[]; shape: number[]; classes: string[] } {
  const x = Array.from(ds.test.pixels.subarray(0, N * 784), (v) => v / 255);
  const input = join(dir, 'input.json');
  writeFileSync(input, JSON.stringify(x));
  const script = `
    import * as tf from '@tensorflow/tfjs';
    ${extra}
    import { readFileSync } from 'node:fs';
    const dir = ${JSON.stringify(dir)};
    const json = JSON.parse(readFileSync(dir + '/model.json', 'utf8'));
    const bin = readFileSync(dir + '/weights.bin');
    const m = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest[0].weights,
      weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength) }));
    const x = tf.tensor4d(JSON.parse(readFileSync(${JSON.stringify(input)}, 'utf8')), [${N}, 28, 28, 1]);
    const y = m.predict(x);
    const loaded = Object.keys(await import('node:module').then((mod) => mod.createRequire(import.meta.url).cache ?? {}));
    process.stdout.write(JSON.stringify({ scores: Array.from(y.dataSync()), shape: y.shape, classes: m.layers.map((l) => l.getClassName()),
      bowcnn: loaded.filter((f) => f.startsWith(${JSON.stringify(`${ROOT}/src/`)}) || f.includes('bowcnn_native')) }));
  `;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '3' },
  });
  const r = JSON.parse(out) as { scores: number[]; shape: number[]; classes: string[]; bowcnn: string[] };
  expect(r.bowcnn).toEqual([]);
  return r;
}

function agree(ours: Float32Array, theirs: number[], k: number) {
  let same = 0,
    worst = 0;
  for (let i = 0; i < ours.length / k; i++) {
    const a = ours.subarray(i * k, (i + 1) * k),
      b = theirs.slice(i * k, (i + 1) * k);
    if (a.indexOf(Math.max(...a)) === b.indexOf(Math.max(...b))) same++;
  }
  for (let i = 0; i < ours.length; i++) worst = Math.max(worst, Math.abs(ours[i] - theirs[i]) / Math.max(1, Math.abs(ours[i])));
  return { same, worst };
}

describe('a CNN saved by bowcnn is a plain tfjs LayersModel', () => {
  for (const name of ['lenet5', 'alexnet-small'] as const) {
    it(`${name}: loads with @tensorflow/tfjs alone and gives bowcnn's scores (argmax 100%, within 1e-5)`, async () => {
      const c = new CnnClassifier(readRecipe(name) as never)
        .set('train.epochs', 1)
        .set('train.minSteps', 0)
        .set('predict.flip', false) as CnnClassifier;
      await c.fit(ds.train, { progress: false, data: { dataset: 'mnist', classes: ds.classes } });
      const dir = join(scratch(), 'model');
      await c.save(dir);
      const x = batchTensor(ds.test, 0, N);
      const s = await c.scores(x);
      const ours = (await s.data()) as Float32Array;
      tf.dispose([x, s]);
      const r = plainScores(dir);
      expect(r.shape).toEqual([N, 10]);
      for (const cls of r.classes) expect(cls).not.toMatch(/^Bowcnn|^Bow/);
      const { same, worst } = agree(ours, r.scores, 10);
      expect(same).toBe(N);
      expect(worst).toBeLessThan(1e-5);
      c.dispose();
    });
  }

  it('a bownet loads with @tensorflow/tfjs and bowcnn/layers only (a browser bundle with no Node module)', async () => {
    const p = bowPipeline(readRecipe('bow-sift')).set('coding.words', 16).set('coding.sample', 3000);
    await p.fit(ds.train, { progress: false, data: { dataset: 'mnist', classes: ds.classes } });
    const m = exportBowNet(p);
    const net = new CnnClassifier(readRecipe('bownet') as never);
    net.model = m;
    net.data = p.data;
    const base = scratch();
    const dir = join(base, 'bownet');
    await net.save(dir);
    // bowcnn/layers for a browser: a Node module anywhere in it would make esbuild fail here
    mkdirSync(join(base, 'lib'), { recursive: true });
    const bundle = join(base, 'lib', 'layers.mjs');
    const res = await build({
      entryPoints: [join(ROOT, 'src', 'layers.ts')],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      external: ['@tensorflow/tfjs'],
      outfile: bundle,
      logLevel: 'silent',
      metafile: true,
    });
    expect(Object.keys(res.metafile.inputs).filter((f) => /node:|native|backend\//.test(f))).toEqual([]);
    const x = batchTensor(ds.test, 0, N);
    const s = await p.scores(x);
    const ours = (await s.data()) as Float32Array;
    tf.dispose([x, s]);
    const r = plainScores(dir, `import ${JSON.stringify(bundle)};`);
    const { same, worst } = agree(ours, r.scores, 10);
    expect(same).toBe(N);
    expect(worst).toBeLessThan(1e-4);
    expect(r.classes).toContain('BowGatherConv');
    net.dispose();
    p.dispose();
  });
});
