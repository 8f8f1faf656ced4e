// Dense SIFT as one native pass (passes/sift.ts) against the stages' own apply, one after the other (the
// reference that tests/stages/dsift.test.ts holds to VLFeat): every option of the chain, gray and RGB, the
// multi-scale stage, MNIST digits and random images, within 1e-5.
import { beforeAll, describe, expect, it } from 'vitest';
import { tf, useBackend } from '../../src/backend/index.js';
import { nativeAddon } from '../../src/backend/native.js';
import { dataset } from '../../src/data/registry.js';
import { batchTensor } from '../../src/data/split.js';
import { runStages } from '../../src/passes/bow.js';
import { fusedSift } from '../../src/passes/sift.js';
import { type DenseSiftConfig, denseSift, denseSiftStages } from '../../src/stages/dsift.js';
import type { Maps, Stage } from '../../src/stages/stage.js';
import { randArray } from '../helpers.js';

const built = nativeAddon() !== null;
let digits: Maps;

beforeAll(async () => {
  await useBackend('wasm');
  const ds = await dataset('mnist', { subset: 8, testSubset: 8, seed: 1 });
  digits = tf.keep(batchTensor(ds.train, 0, 6));
});

/** The stages one by one, each with its own apply. */
function reference(stages: readonly Stage[], x: Maps): Float32Array {
  return tf.tidy(() => stages.reduce((m, s) => s.apply(m), x).dataSync() as Float32Array);
}

async function compare(stages: Stage[], x: Maps) {
  expect(fusedSift(stages, 0, stages.length, x)).not.toBeNull(); // the pass takes it
  const got = await runStages(stages, x);
  const want = reference(stages, x);
  expect(got.shape).toEqual(tf.tidy(() => stages.reduce((m, s) => s.apply(m), x)).shape);
  const g = got.dataSync();
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(g[i] - want[i]));
  got.dispose();
  expect(worst).toBeLessThan(1e-5);
  return worst;
}

describe.skipIf(!built)('dense SIFT in one native pass = the four stages', () => {
  const configs: Omit<DenseSiftConfig, 'sizes'>[] = [
    { size: 4, step: 2, mode: 'wta', window: 'box', norm: 'sift' },
    { size: 2, step: 1, mode: 'bilinear', window: 'triangle', norm: 'sift' },
    { size: 3, step: 1, mode: 'bilinear', window: 'box', padding: 'replicate', norm: 'rootsift' },
    { size: 4, step: 3, mode: 'wta', window: 'triangle', padding: 'replicate', norm: 'l2', gaussianWindow: true },
    { size: 2, step: 2, mode: 'wta', window: 'box', norm: 'none', sigma: 0.8 },
    { size: 4, step: 2, mode: 'bilinear', window: 'triangle', norm: 'sift', contrastThreshold: 0.01 },
  ];
  for (const c of configs)
    it(`${JSON.stringify(c)}: MNIST digits`, async () => {
      await compare(denseSiftStages(c), digits);
    });

  it('RGB images of odd sizes (gray folded into the filters), random values', async () => {
    const x = tf.tensor4d(randArray(2 * 19 * 23 * 3, 4), [2, 19, 23, 3]);
    await compare(denseSiftStages({ size: 3, step: 2, mode: 'bilinear', window: 'triangle', sigma: 0.5 }), x);
    x.dispose();
  });

  it('multi-scale dense SIFT (vl_phow sizes, one frame grid): each scale fused, interleaved as the stage does', async () => {
    const x = tf.tensor4d(
      randArray(2 * 40 * 36, 9).map((v) => Math.abs(v)),
      [2, 40, 36, 1],
    );
    await compare([denseSift({ sizes: [2, 3, 4], step: 2 })], x);
    x.dispose();
  });

  it('leaves alone what it does not compute: cells of another size than the descriptor, a partial chain', () => {
    const st = denseSiftStages({ size: 4 });
    const other = [...st.slice(0, 2), denseSiftStages({ size: 2 })[2], st[3]];
    expect(fusedSift(other, 0, 4, digits)).toBeNull();
    expect(fusedSift(st, 0, 3, digits)).toBeNull();
    expect(fusedSift(st, 1, 4, digits)).toBeNull();
  });

  it('a map too small for one frame gets the descriptor stage error', async () => {
    const x = tf.zeros([1, 8, 8, 1]) as Maps;
    await expect(runStages(denseSiftStages({ size: 4 }), x)).rejects.toThrow(/holds no 13x13 frame/);
    x.dispose();
  });
});
