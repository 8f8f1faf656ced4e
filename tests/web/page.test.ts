// The teaching page's Node side and its browser-safe parts: the browser bundles pull no Node-only module
// (and the check does catch one), the page's files made from saved models run in plain tfjs to the saved
// models' own scores, MNIST's framing of a drawing, and the composed pose of the sliders.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf, useBackend } from '../../src/backend/index.js';
import { ConfigError } from '../../src/core/errors.js';
import { dataset } from '../../src/data/registry.js';
import { batchTensor } from '../../src/data/split.js';
import { load } from '../../src/models/load.js';
import { pageFiles, type PageFiles } from '../../src/models/page.js';
import { type PageManifest, TappedModel } from '../../src/models/tapped.js';
import { poseBatch, transformBatch } from '../../src/ops/transform.js';
import { frameDigit } from '../../src/data/input-rule.js';
import { bundleBrowserEntry, nodeOnly } from '../../scripts/web-bundle.js';
import { build } from 'esbuild';
import { maxAbsDiff } from '../helpers.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const MODELS = join(ROOT, 'web', 'models');

describe('the browser bundles', () => {
  it("resolve 'bowcnn' under the browser condition to the browser entry, its types included", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bowcnn-exports-'));
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(ROOT, join(dir, 'node_modules', 'bowcnn'), 'dir');
    // the types: under the browser condition, a name only the Node entry has is an error, one the browser entry has is not
    writeFileSync(join(dir, 'ok.ts'), "import { TappedModel, deskew } from 'bowcnn';\nexport const a = [TappedModel, deskew];\n");
    writeFileSync(join(dir, 'node.ts'), "import { Pipeline } from 'bowcnn';\nexport const a = Pipeline;\n");
    const tsc = (file: string, conditions: string[]) =>
      spawnSync(
        process.execPath,
        [
          join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'),
          '--noEmit',
          '--strict',
          '--skipLibCheck',
          '--module',
          'esnext',
          '--moduleResolution',
          'bundler',
          ...(conditions.length ? ['--customConditions', conditions.join(',')] : []),
          join(dir, file),
        ],
        { encoding: 'utf8', cwd: dir },
      );
    const ok = tsc('ok.ts', ['browser']);
    expect(ok.status, ok.stdout + ok.stderr).toBe(0);
    const nodeOnlyName = tsc('node.ts', ['browser']);
    expect(nodeOnlyName.status).not.toBe(0);
    expect(nodeOnlyName.stdout).toMatch(/Pipeline/);
    expect(tsc('node.ts', []).status).toBe(0);
    const r = await build({
      stdin: { contents: "export * from 'bowcnn';", resolveDir: dir },
      bundle: true,
      write: false,
      metafile: true,
      platform: 'browser',
      format: 'esm',
      external: ['@tensorflow/*'],
      logLevel: 'silent',
    });
    expect(Object.keys(r.metafile.inputs).some((f) => f.endsWith('dist/browser.js'))).toBe(true);
    expect(Object.keys(r.metafile.inputs).some((f) => f.endsWith('dist/index.js'))).toBe(false);
    rmSync(dir, { recursive: true, force: true });
  });

  it('bundle src/browser.ts for a browser with no Node-only module, and the check catches one', async () => {
    const { meta, code } = await bundleBrowserEntry();
    const ours = Object.keys(meta.inputs).filter((f) => f.startsWith('src/'));
    expect(ours).toContain('src/models/tapped.ts');
    expect(ours).toContain('src/layers.ts');
    expect(nodeOnly(meta)).toEqual([]);
    // no Node built-in reached the code (packages' own "browser" fields disable theirs: '(disabled):fs')
    expect(Object.keys(meta.inputs).filter((f) => /^node:|^(fs|path|crypto|module|child_process)$/.test(f))).toEqual([]);
    expect(code).not.toMatch(/from ["']node:|require\(["']node:/);
    // the check is not vacuous: bowcnn's Node-only modules are named when they reach a bundle (here with Node's
    // built-ins and native packages left external, as a bundler for Electron would), and esbuild refuses them for a
    // browser outright
    const r = await build({
      entryPoints: [join(ROOT, 'src', 'index.ts')],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      metafile: true,
      logLevel: 'silent',
      external: ['node:*', 'sharp', 'libsvm-js', 'bullmq', 'webgpu', '@tensorflow/tfjs-backend-webgpu'],
    });
    const flagged = nodeOnly(r.metafile);
    expect(flagged).toEqual(expect.arrayContaining(['src/backend/native.ts', 'src/pipeline/cache.ts', 'src/index.ts']));
    await expect(
      build({ entryPoints: [join(ROOT, 'src', 'index.ts')], bundle: true, platform: 'browser', write: false, logLevel: 'silent' }),
    ).rejects.toThrow();
  });
});

describe("the page's files", () => {
  let files: PageFiles;
  let manifest: PageManifest;
  beforeAll(async () => {
    await useBackend('wasm');
    files = await pageFiles(MODELS);
    manifest = JSON.parse(String(files.get('manifest.json')));
  });

  it('name one BoW chain and one CNN, every stage with its layers and card, and sample test images', () => {
    expect(manifest.chains.map((c) => [c.name, c.kind])).toEqual([
      ['bow-sift-pyramid', 'bow'],
      ['lenet5', 'cnn'],
    ]);
    const bow = manifest.chains[0];
    expect(bow.stages.map((s) => s.kind)).toEqual(['gradient', 'orientation', 'cells', 'descriptor', 'coding', 'pooling', 'classifier']);
    expect(bow.stages.find((s) => s.kind === 'coding')!.card.origin).toBe('unsupervised');
    for (const c of manifest.chains) for (const s of c.stages) expect(s.layers.length, `${c.name}/${s.stage}`).toBeGreaterThan(0);
    const samples = JSON.parse(String(files.get('samples.json')));
    expect(Buffer.from(samples.pixels, 'base64').length).toBe(samples.labels.length * 784);
  });

  it("run in plain tfjs (TappedModel over the files, in memory) to the saved models' own scores, within 1e-4", async () => {
    const ds = await dataset('mnist', { subset: 10, testSubset: 50, seed: 3 });
    const x = batchTensor(ds.test, 0, 50);
    for (const chain of manifest.chains) {
      const json = JSON.parse(String(files.get(chain.model)));
      const bin = files.get(chain.model.replace('model.json', 'weights.bin')) as Uint8Array;
      const model = await tf.loadLayersModel(
        tf.io.fromMemory({
          modelTopology: json.modelTopology,
          weightSpecs: json.weightsManifest[0].weights,
          weightData: bin.slice().buffer,
        }),
      );
      const t = new TappedModel(chain, model);
      const out = t.run(x);
      const reps = t.representations(out);
      expect(Object.keys(reps)).toEqual(chain.stages.map((s) => s.stage));
      const c = await load(join(MODELS, chain.name));
      const want = await c.scores(x);
      expect(maxAbsDiff(out.scores.dataSync(), want.dataSync()), chain.name).toBeLessThan(1e-4);
      tf.dispose([want, ...Object.values(out.layers)]);
      c.dispose();
      t.dispose();
    }
    x.dispose();
  });

  it('refuse a folder without models, naming it', async () => {
    const d = mkdtempSync(join(tmpdir(), 'bowcnn-page-'));
    afterAll(() => rmSync(d, { recursive: true, force: true }));
    await expect(pageFiles(d)).rejects.toThrow(ConfigError);
    await expect(pageFiles(d)).rejects.toThrow(d);
    await expect(pageFiles(MODELS, { models: ['lenet'] })).rejects.toThrow(/no model named 'lenet' \(there: bow-sift-pyramid, lenet5\)/);
  });
});

describe("MNIST's framing of a drawing (the input rule's, shared with predict)", () => {
  it('scales the box of the ink to 20 px on its longer side and puts its centre of mass at the centre', () => {
    // a 40x80 bar of ink at (100..139, 50..129) on a 280x280 square: 20 px tall, 10 px wide once framed
    const g = new Float32Array(280 * 280);
    for (let y = 50; y < 130; y++) for (let x = 100; x < 140; x++) g[y * 280 + x] = 1;
    const f = frameDigit(g, 280, 280);
    let n = 0,
      mx = 0,
      my = 0,
      rows = new Set<number>(),
      cols = new Set<number>();
    for (let y = 0; y < 28; y++)
      for (let x = 0; x < 28; x++)
        if (f[y * 28 + x] > 0) {
          n += f[y * 28 + x];
          mx += f[y * 28 + x] * x;
          my += f[y * 28 + x] * y;
          rows.add(y);
          cols.add(x);
        }
    expect(rows.size).toBe(20);
    expect(cols.size).toBe(10);
    expect(n).toBeCloseTo(200, 5); // a full box stays full: area averaging keeps ink at 1
    // MNIST's convention: the centre of mass at pixel index 14 (its test set's mean: 14.00, 13.99), to within
    // the half pixel that whole-pixel placement allows
    expect(Math.abs(mx / n - 14)).toBeLessThanOrEqual(0.5);
    expect(Math.abs(my / n - 14)).toBeLessThanOrEqual(0.5);
    expect(Array.from(frameDigit(new Float32Array(280 * 280), 280, 280)).every((v) => v === 0)).toBe(true);
  });
});

describe('the sliders’ pose', () => {
  it('is each transform alone when the others are at rest, and a translation then a rotation when composed', async () => {
    await useBackend('wasm');
    const img = tf.tidy(() => tf.randomUniform([1, 28, 28, 1], 0, 1, 'float32', 5) as tf.Tensor4D);
    const rest = { dx: 0, dy: 0, scale: 1, rotate: 0 };
    const one = (p: Partial<typeof rest>) => poseBatch(img, [{ ...rest, ...p }]);
    const cases: [Partial<typeof rest>, Parameters<typeof transformBatch>[1], number][] = [
      [{ dx: 3 }, 'translate-x', 3],
      [{ dy: -2 }, 'translate-y', -2],
      [{ scale: 1.2 }, 'scale', 1.2],
      [{ rotate: 30 }, 'rotate', 30],
    ];
    const before = tf.memory().numTensors;
    for (const [p, kind, a] of cases) {
      const [got, want] = [one(p), transformBatch(img, kind, a)];
      expect(maxAbsDiff(got.dataSync(), want.dataSync()), kind).toBeLessThan(1e-5);
      tf.dispose([got, want]);
    }
    // an integer shift is exact, so shift-then-rotate in two resamplings equals the composed pose in one;
    // compared away from the border, where the two-step version has lost pixels shifted out and back
    const [a, b] = tf.tidy(() => [
      tf.slice(transformBatch(transformBatch(img, 'translate-x', 2), 'rotate', 20), [0, 6, 6, 0], [1, 16, 16, 1]).dataSync(),
      tf.slice(one({ dx: 2, rotate: 20 }), [0, 6, 6, 0], [1, 16, 16, 1]).dataSync(),
    ]);
    expect(maxAbsDiff(a, b)).toBeLessThan(1e-5);
    expect(tf.memory().numTensors).toBe(before);
    img.dispose();
  });
});
