// The BoW chain exported as a CNN gives the pipeline's predictions on the whole MNIST test set, survives
// save/load, and can be fine-tuned with switchable weight groups.
import { beforeAll, describe, expect, it } from 'vitest';
import { tf, useBackend } from '../../src/backend/index.js';
import { exportBowNet, setTrainable } from '../../src/cnn/bownet.js';
import { argmaxRows, inferenceBatch, predictSplit, trainModel } from '../../src/cnn/train.js';
import { dataset } from '../../src/data/registry.js';
import type { Dataset } from '../../src/core/data.js';
import type { Pipeline } from '../../src/pipeline/pipeline.js';
import { bowPipeline, readRecipe, type BowRecipe } from '../../src/pipeline/recipes.js';
import type { BowNetRecipe } from '../../src/config/recipes.js';
import { CnnClassifier } from '../../src/cnn/classifier.js';
import { saveAndLoad } from '../helpers.js';

let ds: Dataset;
let p: Pipeline;
beforeAll(async () => {
  await useBackend('wasm');
  ds = await dataset('mnist', { subset: 400, seed: 2 });
  p = bowPipeline(readRecipe('bow-sift') as BowRecipe)
    .set('coding.words', 24)
    .set('coding.sample', 4000);
  await p.fit(ds.train, { progress: false, data: { dataset: 'mnist', classes: ds.classes } });
});

describe('bownet', () => {
  it("gives the pipeline's predictions on all 10,000 MNIST test images: 100% argmax agreement, scores within 1e-4", async () => {
    expect(ds.test.n).toBe(10000);
    const a = await p.scoreSplit(ds.test, { progress: false });
    const m = exportBowNet(p);
    const b = await predictSplit(m, ds.test, 500);
    const pa = argmaxRows(a, 10),
      pb = argmaxRows(b, 10);
    let agree = 0,
      worst = 0;
    for (let i = 0; i < ds.test.n; i++) if (pa[i] === pb[i]) agree++;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
    expect(agree).toBe(10000);
    expect(worst).toBeLessThan(1e-4);
    m.dispose();
  });

  it('round-trips through model.save() / tf.loadLayersModel()', async () => {
    const m = exportBowNet(p);
    const back = await saveAndLoad(m);
    const x = tf.tidy(() => tf.randomUniform([8, 28, 28, 1], 0, 1, 'float32', 3));
    const ya = m.predict(x) as tf.Tensor,
      yb = back.predict(x) as tf.Tensor;
    expect(Array.from(yb.dataSync())).toEqual(Array.from(ya.dataSync()));
    expect(back.layers.map((l) => l.getClassName())).toContain('BowGatherConv');
    tf.dispose([x, ya, yb]);
    m.dispose();
    back.dispose();
  });

  it('fine-tunes end to end: soft coding, groups switchable, the training loss falls', async () => {
    const m = exportBowNet(p, { coding: 'soft', beta: 5, trainable: { handcrafted: false, unsupervised: true, supervised: true } });
    const names = () => m.trainableWeights.map((w) => w.originalName.split('/')[0]).sort();
    expect(names()).toEqual(['classifier', 'classifier', 'coding', 'coding']);
    setTrainable(m, 'handcrafted', true);
    expect(new Set(names())).toEqual(new Set(['gradient', 'cells', 'descriptor', 'coding', 'classifier']));
    setTrainable(m, 'handcrafted', false);
    const r = await trainModel(m, ds.train, { epochs: 3, batchSize: 50, lr: 3e-3, progress: false });
    expect(r.epochs[2].loss).toBeLessThan(r.epochs[0].loss);
    m.dispose();
  });

  it('evaluates a soft-coded export in batches sized to its largest layer output, with the same scores as one image at a time', async () => {
    const m = exportBowNet(p, { coding: 'soft', beta: 50 });
    // the batch keeps the largest layer output (with its input and a temporary) within the budget
    const largest = Math.max(...m.layers.map((l) => (l.outputShape as number[]).slice(1).reduce((a, b) => a * b, 1)));
    const budget = 1; // MB
    expect(inferenceBatch(m, 500, budget)).toBe(Math.max(1, Math.floor(2 ** 20 / (largest * 4 * 3))));
    expect(inferenceBatch(m, 500, 0.5 * budget)).toBeLessThan(inferenceBatch(m, 500, budget));
    const test = { ...ds.test, n: 37, pixels: ds.test.pixels.subarray(0, 37 * 784), labels: ds.test.labels.subarray(0, 37) };
    const batched = await predictSplit(m, test, 8); // 5 batches, stitched
    for (let i = 0; i < test.n; i += 9) {
      const x = tf.tensor4d(
        Float32Array.from(test.pixels.subarray(i * 784, (i + 1) * 784), (v) => v / 255),
        [1, 28, 28, 1],
      );
      const one = (await (m.predict(x) as tf.Tensor).data()) as Float32Array;
      x.dispose();
      for (let k = 0; k < 10; k++) expect(batched[i * 10 + k]).toBeCloseTo(one[k], 4);
    }
    m.dispose();
  });

  it("its layer table: a layer with weights is 'supervised' where backpropagation trains it, else its stage's origin", () => {
    const recipe = readRecipe('bownet') as BowNetRecipe;
    const stageOrigin = new Map(p.cards().map((k) => [k.stage, k.origin]));
    const configs = [
      { handcrafted: false, unsupervised: true, supervised: true },
      { handcrafted: false, unsupervised: false, supervised: true },
    ];
    for (const trainable of configs) {
      const c = new CnnClassifier({ ...recipe, trainable });
      c.model = exportBowNet(p, { coding: 'soft', trainable });
      for (const source of [p, null]) {
        c.source = source; // null: a loaded model, its recipe alone
        const cards = c.cards();
        let frozen = 0;
        for (const layer of c.model.layers) {
          const card = cards.find((k) => k.stage === layer.name)!;
          if (layer.countParams() === 0) expect(card.origin).toBe('none');
          else if (layer.trainable) expect(card.origin).toBe('supervised');
          else {
            frozen++;
            const frozenOrigins: string[] = (['handcrafted', 'unsupervised', 'supervised'] as const).filter((o) => !trainable[o]);
            if (source) {
              expect(stageOrigin.get(layer.name)).toBeDefined();
              expect(card.origin).toBe(stageOrigin.get(layer.name));
            } else if (frozenOrigins.length === 1) expect(card.origin).toBe(frozenOrigins[0]);
            else expect(frozenOrigins).toContain(card.origin); // without the pipeline: one of the frozen origins
          }
        }
        expect(frozen).toBeGreaterThan(0);
      }
      c.model.dispose();
    }
  });

  it('scores a split as the model was before fine-tuning: a fresh export of its pipeline, not the trained weights', async () => {
    const recipe = readRecipe('bownet') as BowNetRecipe;
    const c = new CnnClassifier(recipe);
    c.source = p;
    // the reference: the export, by hand, scored before any training
    const start = exportBowNet(p, { coding: recipe.coding, beta: recipe.beta, trainable: recipe.trainable });
    const want = await predictSplit(start, ds.test, 500);
    start.dispose();
    c.model = exportBowNet(p, { coding: recipe.coding, beta: recipe.beta, trainable: recipe.trainable });
    await trainModel(c.model, ds.train, { epochs: 1, batchSize: 50, lr: 3e-3, progress: false });
    const got = (await c.scoreSplitBeforeFineTune(ds.test))!;
    expect(got).toHaveLength(want.length);
    let maxDiff = 0;
    for (let i = 0; i < want.length; i++) maxDiff = Math.max(maxDiff, Math.abs(got[i] - want[i]));
    expect(maxDiff).toBeLessThan(1e-5);
    // the trained model scores differently: what was scored is the start
    const trained = await c.scoreSplit(ds.test);
    let moved = 0;
    for (let i = 0; i < want.length; i++) moved = Math.max(moved, Math.abs(trained[i] - want[i]));
    expect(moved).toBeGreaterThan(1e-3);
    // a bownet without its pipeline (loaded from disk) and a plain CNN have no start to score
    c.source = null;
    expect(await c.scoreSplitBeforeFineTune(ds.test)).toBeNull();
    const cnn = new CnnClassifier(readRecipe('lenet5') as never);
    expect(await cnn.scoreSplitBeforeFineTune(ds.test)).toBeNull();
    c.model.dispose();
  });
});
