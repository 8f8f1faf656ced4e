// compare from code, through the Classifier contract: a pipeline made with with() beside a recipe name,
// its parts and models on disk; and a CNN classifier refitted ten times frees its old models.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { tf, useBackend } from '../../src/backend/index.js';
import { CnnClassifier } from '../../src/cnn/classifier.js';
import { dataset } from '../../src/data/registry.js';
import type { Dataset } from '../../src/core/data.js';
import { compare } from '../../src/eval/compare.js';
import { load } from '../../src/models/load.js';
import { bowPipeline, readRecipe } from '../../src/pipeline/recipes.js';
import { coding } from '../../src/stages/coding.js';

let ds: Dataset;
beforeAll(async () => {
  await useBackend('wasm');
  ds = await dataset('mnist', { subset: 500, testSubset: 200, seed: 3 });
});

describe('compare', () => {
  it("takes a Pipeline object (the README's bow.with('coding', ...)) beside a recipe name", async () => {
    const bow = bowPipeline(readRecipe('bow-sift')).set('coding.sample', 4000);
    const soft = bow.with('coding', coding({ words: 32, mode: 'soft', beta: 10, sample: 4000 }));
    const out = join(mkdtempSync(join(tmpdir(), 'bowcnn-cmp-')), 'run');
    // the fixed protocol fits the objects given; under the validation protocol the refit is of the chosen settings
    const r = await compare([soft, 'lenet5'], ds, {
      out,
      sets: { 'train.epochs': 1, 'train.minSteps': 0 },
      progress: false,
      protocol: 'fixed',
    });
    expect(r.contenders.map((c) => c.name)).toEqual(['bow-sift', 'lenet5']);
    const cod = (r.contenders[0].config.stages as { kind: string; config: { mode: string; words: number } }[]).find(
      (s) => s.kind === 'coding',
    )!;
    expect([cod.config.mode, cod.config.words]).toEqual(['soft', 32]);
    expect(r.contenders[0].accuracy).toBeGreaterThan(0.5);
    expect(r.pairs).toHaveLength(1);
    expect(r.contenders[0].protocol).toBeNull();
    // the pipeline given is fitted in place, and its saved copy loads back with the same scores
    expect(soft.data?.dataset).toBe('mnist');
    const back = await load(join(out, 'models', 'bow-sift'));
    const a = await soft.scoreSplit(ds.test),
      b = await back.scoreSplit(ds.test);
    expect(Array.from(b)).toEqual(Array.from(a));
    back.dispose();
    soft.dispose();
  });

  it('a CNN classifier refitted 10 times keeps tf.memory().numTensors flat', async () => {
    const c = new CnnClassifier(readRecipe('lenet5') as never).set('train.epochs', 1).set('train.minSteps', 0);
    const opts = { progress: false, data: { dataset: 'mnist', classes: ds.classes } };
    await c.fit(ds.train, opts);
    const n = tf.memory().numTensors;
    for (let i = 0; i < 10; i++) await c.fit(ds.train, opts);
    expect(tf.memory().numTensors).toBe(n);
    c.dispose();
    expect(tf.memory().numTensors).toBeLessThan(n);
  });
});
