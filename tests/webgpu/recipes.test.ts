// The CNN recipes on webgpu (Dawn; the software adapter in CI): LeNet-5 and vgg-bn, trained with the same
// settings and seed on a subset of MNIST, reach the accuracy the wasm path reaches, within the noise of 500
// test images. A software adapter runs a batch of 128 through vgg-bn in seconds, so the runs are short: batches
// of 32, and vgg-bn at a third of its widths (its batch norm, shifts, random erasing, label smoothing and
// one-cycle schedule kept).
import { webgpuAdapter } from './adapter.js';
import { describe, expect, it } from 'vitest';
import { useBackend } from '../../src/backend/index.js';
import { CnnClassifier } from '../../src/cnn/classifier.js';
import type { CnnRecipe } from '../../src/config/recipes.js';
import { argmax } from '../../src/core/scores.js';
import { dataset } from '../../src/data/registry.js';
import { readRecipe, recipeWith } from '../../src/pipeline/recipes.js';

const available = await webgpuAdapter('webgpu recipe tests');

/** Test accuracy of a recipe trained on the backend, with a few settings changed to fit the test's time. */
async function accuracy(backend: 'wasm' | 'webgpu', name: string, sets: Record<string, unknown>): Promise<number> {
  await useBackend(backend, { allowSoftware: true });
  const ds = await dataset('mnist', { subset: 1000, testSubset: 500, seed: 0 });
  let r = readRecipe(name) as CnnRecipe;
  for (const [k, v] of Object.entries(sets)) r = recipeWith(r, k, v, 'test');
  const net = new CnnClassifier(r);
  await net.fit(ds.train, { seed: 1, progress: false, data: { dataset: ds.name, classes: ds.classes, flipSafe: ds.flipSafe } });
  const pred = argmax(await net.scoreSplit(ds.test), 10);
  net.dispose();
  let right = 0;
  for (let i = 0; i < ds.test.n; i++) if (pred[i] === ds.test.labels[i]) right++;
  return right / ds.test.n;
}

/** Two accuracies on the same n test images agree within noise: under 2.5 standard errors of their mean. */
function withinNoise(a: number, b: number, n: number): void {
  const p = (a + b) / 2;
  expect(Math.abs(a - b)).toBeLessThanOrEqual(2.5 * Math.sqrt((p * (1 - p)) / n) + 1e-9);
}

describe.skipIf(!available)('the CNN recipes on webgpu', () => {
  it('lenet5 (its one-cycle schedule, 160 steps): the wasm path accuracy within noise', async () => {
    const sets = { 'train.epochs': 5, 'train.minSteps': 0, 'train.batchSize': 32 };
    const wasm = await accuracy('wasm', 'lenet5', sets);
    const gpu = await accuracy('webgpu', 'lenet5', sets);
    expect(wasm).toBeGreaterThan(0.85);
    withinNoise(gpu, wasm, 500);
  });

  it('vgg-bn at widths 8-16-32 (batch norm, shifts, random erasing, one-cycle; 128 steps): the wasm path accuracy within noise', async () => {
    const sets = { 'train.epochs': 4, 'train.batchSize': 32, 'config.widths': [8, 16, 32], 'config.fc': 64 };
    const wasm = await accuracy('wasm', 'vgg-bn', sets);
    const gpu = await accuracy('webgpu', 'vgg-bn', sets);
    expect(wasm).toBeGreaterThan(0.6); // 10 classes: chance is 0.1
    withinNoise(gpu, wasm, 500);
  });
});
