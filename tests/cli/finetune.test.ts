// Fine-tuning from the command line and from code: `bowcnn train --model DIR --epochs 1` trains a saved
// bownet (a BoW pipeline exported with soft coding) and a saved CNN on from their weights; fit's options are
// validated and honoured (epochs: 1 runs one epoch).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../src/backend/index.js';
import { CnnClassifier } from '../../src/cnn/classifier.js';
import { ConfigError } from '../../src/core/errors.js';
import { dataset } from '../../src/data/registry.js';
import { bowPipeline, readRecipe } from '../../src/pipeline/recipes.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'bowcnn-finetune-'));
function cli(args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, BOWCNN_PROGRESS: '0' },
    timeout: 240_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
const small = ['--subset', '600', '--test-subset', '100'];

beforeAll(() => useBackend('wasm'));

describe('bowcnn train --model DIR fine-tunes a saved model', () => {
  it('a bownet exported with soft coding: trained on, saved, and its weights changed', () => {
    const run = join(dir, 'run');
    const c = cli([
      'compare',
      '--pipelines',
      'bow-sift',
      '--protocol',
      'fixed',
      '--set',
      'coding.words=32',
      ...small,
      '--out',
      run,
      '--json',
    ]);
    expect(c.code, c.err).toBe(0);
    const net = join(dir, 'net');
    expect(cli(['export', '--model', join(run, 'models', 'bow-sift'), '--out', net, '--coding', 'soft']).code).toBe(0);
    const t = cli(['train', '--model', net, '--epochs', '1', '--lr', '0.001', ...small, '--out', join(dir, 'tuned'), '--json']);
    expect(t.code, t.err).toBe(0);
    const r = JSON.parse(t.out) as { epochs: number; testAccuracy: number; dataset: string };
    expect(r.epochs).toBe(1);
    expect(r.dataset).toBe('mnist'); // the dataset the model was fitted on, from its metadata
    const before = readFileSync(join(net, 'weights.bin'));
    const after = readFileSync(join(dir, 'tuned', 'model', 'weights.bin'));
    expect(after.length).toBe(before.length);
    expect(after.equals(before)).toBe(false);
    // a fitted BoW pipeline is not trained by backpropagation: the error says to export it first
    const p = cli(['train', '--model', join(run, 'models', 'bow-sift'), '--epochs', '1']);
    expect(p.code).toBe(2);
    expect(p.err).toMatch(/Export it as a CNN first \(bowcnn export/);
  }, 300_000);

  it("a CNN: trained on from its weights (not from a new model, nor from a fresh run's checkpoint)", () => {
    const a = join(dir, 'cnn-a');
    const first = cli(['train', '--model', 'lenet5', '--epochs', '1', ...small, '--out', a, '--json']);
    expect(first.code, first.err).toBe(0);
    const firstJson = JSON.parse(first.out) as { testAccuracy: number; peakResidentBytes: number; tensorBytes: number };
    const acc0 = firstJson.testAccuracy;
    // bytes, not the OS's kilobytes: a Node process with tfjs and a dataset loaded holds well over 30 MB, under 24 GB
    expect(firstJson.peakResidentBytes).toBeGreaterThan(30e6);
    expect(firstJson.peakResidentBytes).toBeLessThan(24e9);
    expect(Number.isInteger(firstJson.tensorBytes) && firstJson.tensorBytes >= 0).toBe(true);
    const b = join(dir, 'cnn-b');
    const again = cli(['train', '--model', join(a, 'model'), '--epochs', '1', ...small, '--out', b, '--json']);
    expect(again.code, again.err).toBe(0);
    const r = JSON.parse(again.out) as { epochs: number; resumedFromEpoch: number | null; testAccuracy: number };
    expect(r.epochs).toBe(1);
    expect(r.resumedFromEpoch).toBeNull();
    expect(readFileSync(join(b, 'model', 'weights.bin')).equals(readFileSync(join(a, 'model', 'weights.bin')))).toBe(false);
    // two epochs in all do at least as well here as the first one alone did from scratch
    expect(r.testAccuracy).toBeGreaterThan(acc0 - 0.05);
  }, 300_000);
});

describe("fit's options are validated and honoured", () => {
  it('epochs: 1 runs one epoch; an unknown option is named with its nearest; a pipeline refuses epochs', async () => {
    const ds = await dataset('mnist', { subset: 300, seed: 1 });
    const c = new CnnClassifier(readRecipe('lenet5') as never);
    const r = await c.fit(ds.train, { epochs: 1, progress: false });
    expect(r.epochs).toHaveLength(1);
    await expect(c.fit(ds.train, { epoch: 1 } as never)).rejects.toThrow(/unknown key 'epoch' \(did you mean 'epochs'\?\)/);
    await expect(c.fit(ds.train, { epochs: 0 })).rejects.toThrow(ConfigError);
    const p = bowPipeline(readRecipe('bow-sift'));
    await expect(p.fit(ds.train, { epochs: 1 } as never)).rejects.toThrow(/unknown key 'epochs'/);
    c.dispose();
    p.dispose();
  }, 120_000);
});
