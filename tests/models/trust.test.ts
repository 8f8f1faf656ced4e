// Saved models from someone else, damaged or made to mislead, with their checksums made consistent as a
// sender would: weight paths that leave the folder or are absolute, metadata that disagrees with the
// topology, weights cut short or not finite. Each is refused with the file named, by load() and by the CLI.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../src/backend/index.js';
import { CnnClassifier } from '../../src/cnn/classifier.js';
import { sha256 } from '../../src/core/persist.js';
import { ModelError } from '../../src/core/errors.js';
import { dataset } from '../../src/data/registry.js';
import { load } from '../../src/models/load.js';
import { bowPipeline, readRecipe } from '../../src/pipeline/recipes.js';
import { encodePng } from '../../src/report/png.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const root = mkdtempSync(join(tmpdir(), 'bowcnn-trust-'));
const cnnDir = join(root, 'cnn');
const bowDir = join(root, 'bow');
const digit = join(root, 'digit.png');

function cli(args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, BOWCNN_PROGRESS: '0' },
    timeout: 120_000,
  });
}

/** A copy of a saved model with `change` applied to its files, and meta.json's checksums made to match. */
function tampered(from: string, tag: string, change: (dir: string) => void): string {
  const dir = join(root, tag);
  cpSync(from, dir, { recursive: true });
  change(dir);
  const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8'));
  for (const name of Object.keys(meta.files))
    try {
      meta.files[name] = sha256(readFileSync(join(dir, name)));
    } catch {
      // a name outside the folder: its sum is whatever the sender wrote
    }
  writeFileSync(join(dir, 'meta.json'), JSON.stringify(meta));
  return dir;
}
const editJson = (file: string, f: (j: Record<string, unknown>) => void) => {
  const j = JSON.parse(readFileSync(file, 'utf8'));
  f(j);
  writeFileSync(file, JSON.stringify(j));
};

beforeAll(async () => {
  await useBackend('wasm');
  const ds = await dataset('mnist', { subset: 500, testSubset: 10, seed: 4 });
  const data = { dataset: ds.name, classes: ds.classes, flipSafe: false };
  const cnn = new CnnClassifier(readRecipe('lenet5') as never).set('train.epochs', 1).set('train.minSteps', 0);
  await cnn.fit(ds.train, { progress: false, data });
  await cnn.save(cnnDir);
  cnn.dispose();
  const bow = bowPipeline(readRecipe('bow-sift')).set('coding.words', 16).set('coding.sample', 3000);
  await bow.fit(ds.train, { progress: false, data });
  await bow.save(bowDir);
  bow.dispose();
  writeFileSync(digit, encodePng(ds.test.pixels.subarray(0, 784), 28, 28, 1));
}, 120_000);

/** Refused by load() and by `predict` (exit 1), each naming `file` and saying `why`. */
async function refused(dir: string, file: RegExp, why: RegExp) {
  const e = await load(dir).then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(ModelError);
  expect((e as Error).message).toMatch(file);
  expect((e as Error).message).toMatch(why);
  const r = cli(['predict', '--model', dir, digit]);
  expect(r.status, r.stdout).toBe(1);
  expect(r.stderr).toMatch(file);
  expect(r.stderr).toMatch(why);
}

describe('models from elsewhere', () => {
  it('the untouched models load and predict', async () => {
    for (const d of [cnnDir, bowDir]) {
      (await load(d)).dispose();
      expect(cli(['predict', '--model', d, digit]).status).toBe(0);
    }
  });

  it('a weights path in model.json that leaves the folder, or is absolute, is refused (the file is never read)', async () => {
    writeFileSync(join(root, 'x.bin'), readFileSync(join(cnnDir, 'weights.bin')));
    for (const [tag, path] of [
      ['up', '../x.bin'],
      ['abs', join(root, 'x.bin')],
    ]) {
      const dir = tampered(cnnDir, tag, (d) => {
        editJson(join(d, 'model.json'), (j) => {
          (j.weightsManifest as { paths: string[] }[])[0].paths = [path];
        });
        editJson(join(d, 'meta.json'), (j) => {
          (j.files as Record<string, string>)[path] = sha256(readFileSync(join(root, 'x.bin')));
        });
      });
      await refused(dir, /meta\.json|model\.json/, /must lie inside its folder/);
    }
  }, 60_000);

  it('a weights file that model.json names but meta.json does not cover is refused', async () => {
    const dir = tampered(cnnDir, 'uncovered', (d) => {
      cpSync(join(d, 'weights.bin'), join(d, 'other.bin'));
      editJson(join(d, 'model.json'), (j) => {
        (j.weightsManifest as { paths: string[] }[])[0].paths = ['other.bin'];
      });
    });
    await refused(dir, /model\.json/, /'other\.bin' is not covered by meta\.json's checksums/);
  }, 60_000);

  it('metadata that disagrees with the topology: 3 class names over a 10-way output, another input shape', async () => {
    for (const base of [cnnDir, bowDir]) {
      const three = tampered(base, `three-${base === cnnDir ? 'cnn' : 'bow'}`, (d) =>
        editJson(join(d, 'meta.json'), (j) => {
          (j.data as { classes: string[] }).classes = ['a', 'b', 'c'];
        }),
      );
      await refused(three, /meta\.json/, /names 3 classes \(a, b, c\), but the model has 10 outputs/);
    }
    const shape = tampered(cnnDir, 'shape', (d) =>
      editJson(join(d, 'meta.json'), (j) => {
        (j.data as { inShape: number[] }).inShape = [32, 32, 3];
      }),
    );
    await refused(shape, /meta\.json/, /records 32x32x3 images, which the model does not take/);
  }, 120_000);

  it('weights cut short, or not finite, are refused with the weights file named', async () => {
    const cut = (tag: string, base: string, bytes: number) =>
      tampered(base, tag, (d) => {
        const w = readFileSync(join(d, 'weights.bin'));
        writeFileSync(join(d, 'weights.bin'), w.subarray(0, w.length - bytes));
      });
    await refused(cut('short-cnn', cnnDir, 8), /weights\.bin/, /bytes for weights that take \d+: the file was cut short/);
    await refused(cut('odd-bow', bowDir, 2), /weights\.bin/, /not a whole number of 32-bit values/);
    await refused(cut('short-bow', bowDir, 400), /weights\.bin/, /truncated/);
    const nan = tampered(cnnDir, 'nan', (d) => {
      const w = readFileSync(join(d, 'weights.bin'));
      w.writeFloatLE(Number.NaN, 0);
      writeFileSync(join(d, 'weights.bin'), w);
    });
    await refused(nan, /weights\.bin/, /holds NaN/);
  }, 120_000);
});
