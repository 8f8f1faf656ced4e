/**
 * A stage kind written outside the library, in one place: its schema, apply, card, its own layer class for
 * the export, and a fused contribution (a rows form that the sparse feature path runs instead of dense
 * maps). It must survive with, set, without, save, load and export like a built-in kind; the export is
 * checked against the pipeline's own numbers, and again after the model's JSON is read back.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from '../../src/config/schema.js';
import { useBackend } from '../../src/backend/index.js';
import { batchTensor } from '../../src/data/split.js';
import type { Dataset } from '../../src/core/data.js';
import { csrToDense, type Csr } from '../../src/core/sparse.js';
import { exportBowNet } from '../../src/cnn/bownet.js';
import { load } from '../../src/models/load.js';
import { type Pipeline, pipeline } from '../../src/pipeline/pipeline.js';
import { bowPipeline, readRecipe } from '../../src/pipeline/recipes.js';
import { makeStage, stageKinds } from '../../src/pipeline/registry.js';
import { classifier } from '../../src/stages/classifier.js';
import { defineStage, type Maps, type RowMap } from '../../src/stages/stage.js';
import { dataset } from '../../src/data/registry.js';
import { saveAndLoad } from '../helpers.js';

/** sign(x) |x|^alpha, element-wise (keeps 0 at 0, so it has a sparse-rows form). */
const signedPower = (x: tf.Tensor, alpha: number) => tf.tidy(() => tf.mul(tf.sign(x), tf.pow(tf.abs(x), alpha)));

/** The kind's own layer: what the export builds; tfjs finds it by className when a model is read back. */
class TestSignedPower extends tf.layers.Layer {
  static className = 'TestSignedPower';
  readonly alpha: number;
  constructor(c: { alpha: number; name?: string }) {
    super(c);
    this.alpha = c.alpha;
  }
  override call(x: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return signedPower(Array.isArray(x) ? x[0] : x, this.alpha);
  }
  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), alpha: this.alpha };
  }
}

let rowsCalls = 0;
const card = (name: string, what: string, s: readonly number[]) => ({
  stage: name,
  classic: what,
  cnn: 'element-wise map',
  mapsIn: s[2] ?? 1,
  mapsOut: s[2] ?? 1,
  params: 0,
  origin: 'handcrafted' as const,
  receptiveField: 1,
  outShape: [...s],
});

const SpowSchema = z.strictObject({ alpha: z.number().positive().max(1).default(0.5) });
const spow = defineStage<typeof SpowSchema, RowMap>(
  'test-spow',
  SpowSchema,
  (config, name) => ({
    apply: (x: Maps) => signedPower(x, config.alpha) as Maps,
    applyRows: (x: Csr): Csr => {
      rowsCalls++;
      const values = x.values.map((v) => Math.sign(v) * Math.abs(v) ** config.alpha);
      return { ...x, values };
    },
    outShape: (s) => [...s],
    card: (s) => card(name, `signed power ${config.alpha}`, s),
    toLayers: () => [{ className: TestSignedPower.className, config: { alpha: config.alpha, name } }],
  }),
  { layers: [TestSignedPower] },
);

/** A parameter-free kind with no layer of its own: the export runs it inside BowStage by kind and config. */
const gain = defineStage(
  'test-gain',
  z.strictObject({ k: z.number().default(2) }),
  (config, name) => ({
    apply: (x: Maps) => tf.mul(x, config.k) as Maps,
    outShape: (s) => [...s],
    card: (s) => card(name, `gain ${config.k}`, s),
    toLayers: () => [{ className: 'BowStage', config: { stage: 'test-gain', stageConfig: { ...config }, name } }],
  }),
  { parameterFree: true },
);

let ds: Dataset;
const quiet = { progress: false, batchSize: 128 } as const;

beforeAll(async () => {
  await useBackend('wasm');
  ds = await dataset('mnist', { subset: 300, testSubset: 40, seed: 4 });
});

function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0,
    top = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    top = Math.max(top, Math.abs(a[i]));
  }
  return d / Math.max(top, 1e-12);
}

describe('a stage kind of the user own, defined in one place', () => {
  it('is registered by its definition: recipes and load know it by kind, and its config is validated', () => {
    expect(stageKinds()).toEqual(expect.arrayContaining(['test-spow', 'test-gain']));
    expect(makeStage('test-spow', { alpha: 0.25 }).config.alpha).toBe(0.25);
    expect(() => makeStage('test-spow', { alpah: 0.25 })).toThrow(/unknown key 'alpah' \(did you mean 'alpha'\?\)/);
    expect(() => makeStage('test-spwo')).toThrow(/unknown stage kind 'test-spwo' \(did you mean 'test-spow'\?\)/);
  });

  it('survives with, set, without, save, load and export, and runs its rows form in the fused feature path', async () => {
    const base = bowPipeline(readRecipe('bow-sift-spm')).set('coding.words', 16).set('coding.sample', 3000);
    const head = base.without('classifier').stages.map((s) => s.clone());
    const made = pipeline([...head, spow({ alpha: 0.5 }), gain({ k: 3 }), classifier({ C: 1 })], 'own');
    // set validates through the kind's schema; without drops it; with swaps it
    const p = made.set('test-spow.alpha', 0.3);
    expect(p.get('test-spow').config.alpha).toBe(0.3);
    expect(() => made.set('test-spow.alpha', 2)).toThrow(/'alpha': 2 is too big \(at most 1\)/);
    expect(made.without('test-gain').stages.map((s) => s.kind)).not.toContain('test-gain');
    expect(made.with('test-gain', gain({ k: 5 })).get('test-gain').config.k).toBe(5);
    await p.fit(ds.train, { ...quiet, data: { dataset: 'mnist', classes: ds.classes } });

    // the fused path: features as sparse rows go through applyRows, and equal the dense transform
    rowsCalls = 0;
    const part = { ...ds.test, n: 20, labels: ds.test.labels.subarray(0, 20) };
    const { rows } = await p.features(part, quiet);
    expect(rowsCalls).toBeGreaterThan(0);
    const x = batchTensor(ds.test, 0, 20);
    const dense = await p.transform(x);
    expect(maxRelDiff(dense.dataSync(), csrToDense(rows))).toBeLessThan(1e-5);

    // save and load: the kind is rebuilt from its name and config
    const dir = join(mkdtempSync(join(tmpdir(), 'bowcnn-own-')), 'model');
    await p.save(dir);
    const back = (await load(dir)) as Pipeline;
    expect(back.get('test-spow').config.alpha).toBe(0.3);
    const s1 = await p.scores(x),
      s2 = await back.scores(x);
    expect(Array.from(s2.dataSync())).toEqual(Array.from(s1.dataSync()));

    // export: its own layer class and the parameter-free BowStage stand in the model, which scores as the pipeline does
    const net = exportBowNet(p);
    const classes = net.layers.map((l) => l.getClassName());
    expect(classes).toContain('TestSignedPower');
    expect(net.layers.find((l) => l.name === 'test-gain')?.getClassName()).toBe('BowStage');
    const viaNet = net.predict(x) as tf.Tensor;
    expect(maxRelDiff(s1.dataSync(), viaNet.dataSync())).toBeLessThan(1e-4);
    // the stage's own output from its layer, given the same input, within 1e-5
    const before = await p.run(x, 0, head.length);
    const mine = await p.run(x, 0, head.length + 1);
    const layer = net.layers.find((l) => l.getClassName() === 'TestSignedPower')!;
    const viaLayer = layer.apply(before) as tf.Tensor;
    expect(maxRelDiff(mine.dataSync(), viaLayer.dataSync())).toBeLessThan(1e-5);
    // and after the model's JSON is read back, by class name through tfjs's registry
    const reread = await saveAndLoad(net);
    const viaReread = reread.predict(x) as tf.Tensor;
    expect(maxRelDiff(viaNet.dataSync(), viaReread.dataSync())).toBeLessThan(1e-6);
    tf.dispose([x, dense, s1, s2, viaNet, before, mine, viaLayer, viaReread]);
    net.dispose();
    reread.dispose();
    p.dispose();
    back.dispose();
  });
});
