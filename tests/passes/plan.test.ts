// The execution plan: what compilePlan makes of a pipeline's stages (from what they offer, not their names),
// and the one walker's maps and rows modes against the stages applied one by one (the reference).
import { beforeAll, describe, expect, it } from 'vitest';
import { tf, useBackend } from '../../src/backend/index.js';
import { nativeKernelsActive } from '../../src/backend/native.js';
import { csrToDense } from '../../src/core/sparse.js';
import { dataset } from '../../src/data/registry.js';
import { batchTensor } from '../../src/data/split.js';
import { compilePlan, runRows, runStages } from '../../src/passes/bow.js';
import { Pipeline } from '../../src/pipeline/pipeline.js';
import { bowPipeline, readRecipe } from '../../src/pipeline/recipes.js';
import type { Maps, Stage } from '../../src/stages/stage.js';

beforeAll(async () => {
  await useBackend('wasm');
});

function oneByOne(stages: readonly Stage[], x: Maps): Float32Array {
  let m = x;
  for (const s of stages) {
    const next = s.apply(m);
    if (m !== x) m.dispose();
    m = next;
  }
  const out = m.dataSync() as Float32Array;
  m.dispose();
  return out;
}

function worst(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let w = 0;
  for (let i = 0; i < a.length; i++) w = Math.max(w, Math.abs(a[i] - b[i]));
  return w;
}

describe('execution plan', () => {
  it('compiles a BoW chain into fused SIFT (where the native pass runs), encode-and-pool and plain steps', async () => {
    const p = bowPipeline(readRecipe('bow-sift-spm'));
    const x = tf.zeros([1, 28, 28, 1]) as Maps;
    const plan = compilePlan(p.stages, x);
    const kinds = plan.map((s) => `${s.kind}@${s.at}`);
    const sift = nativeKernelsActive() ? ['sift@0'] : ['stage@0', 'stage@1', 'stage@2', 'stage@3'];
    expect(kinds).toEqual([...sift, 'code-pool@4', 'stage@6', 'stage@7']);
    // every stage is in exactly one step, in order
    expect(plan.reduce((a, s) => a + s.length, 0)).toBe(p.stages.length);
    const union = Pipeline.fromJSON({
      name: 'u',
      stages: [
        {
          kind: 'union',
          config: {
            branches: [
              { name: 'a', stages: [{ kind: 'flatten' }] },
              { name: 'b', stages: [{ kind: 'flatten' }] },
            ],
          },
        },
        { kind: 'classifier' },
      ],
    });
    expect(compilePlan(union.stages, x).map((s) => s.kind)).toEqual(['union', 'stage']);
    x.dispose();
  });

  it('maps and rows from the one walker equal the stages applied one by one (hard coding, pyramid, kernel map)', async () => {
    const ds = await dataset('mnist', { subset: 300, testSubset: 30, seed: 7 });
    const p = bowPipeline(readRecipe('bow-sift-spm')).set('coding.words', 16).set('coding.sample', 3000);
    await p.fit(ds.train, { progress: false });
    const feat = p.stages.slice(0, -1);
    const x = batchTensor(ds.test, 0, 30);
    const ref = oneByOne(feat, x);
    const maps = await runStages(feat, x);
    expect(worst(maps.dataSync(), ref)).toBeLessThan(1e-5);
    const rows = await runRows(feat, x);
    expect(worst(csrToDense(rows), ref)).toBeLessThan(1e-5);
    tf.dispose([x, maps]);
    p.dispose();
  });
});
