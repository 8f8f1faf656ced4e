// The course's experiments: the counting functions against hand-computed values, and every experiment end to
// end on a tiny subset (its files written, its figures consistent with what it reports).
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../src/backend/index.js';
import type { Split } from '../../src/core/data.js';
import type { ExperimentResult } from '../../src/experiments/experiment.js';
import { paperLeNet5 } from '../../src/experiments/lenet5-counts.js';
import { headOf, headProbs } from '../../src/experiments/dropout-test-time.js';
import { tf } from '../../src/backend/index.js';
import { alexnetSmall } from '../../src/cnn/alexnet.js';
import { changedByShift } from '../../src/experiments/mlp-stability.js';
import { EXPERIMENTS, experiment, runExperiment } from '../../src/experiments/registry.js';
import { esc } from '../../src/report/svg.js';

let dir: string;
beforeAll(async () => {
  await useBackend('wasm', { progress: false });
  dir = mkdtempSync(join(tmpdir(), 'bowcnn-exp-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// the fixed protocol and no minimum of steps: these tests check each experiment's mechanics, not its settings' choice
const quick = { protocol: 'fixed' as const, sets: { 'train.minSteps': 0 } };
const tiny = { subset: 300, testSubset: 200, ...quick };

async function run(name: string, o: Record<string, unknown> = tiny): Promise<ExperimentResult> {
  const out = join(dir, name);
  const { result, files } = await runExperiment(experiment(name), { ...quick, ...o, out });
  for (const f of [files.json, files.md, files.html]) expect(existsSync(f)).toBe(true);
  const back = JSON.parse(readFileSync(files.json, 'utf8')) as ExperimentResult;
  expect(back.experiment).toBe(name);
  expect(['agrees', 'disagrees', 'partly', 'inconclusive']).toContain(back.verdict);
  const html = readFileSync(files.html, 'utf8');
  expect(html).toContain(esc(result.claim.slice(0, 40)));
  if (result.plots.length) expect(html).toContain('<svg');
  return result;
}

describe('counting', () => {
  it("the paper's LeNet-5, by formula, gives the paper's stated 60,000 weights and 340,908 connections", () => {
    const p = paperLeNet5();
    expect(p.reduce((a, l) => a + l.params, 0)).toBe(60_000);
    expect(p.reduce((a, l) => a + l.connections, 0)).toBe(340_908);
    expect(p.find((l) => l.layer === 'C3')?.params).toBe(1516); // LeCun et al. 1998, section II.B
  });

  it('counts the pixels a shift changes, as a hand count says', () => {
    // 1 image, 3x4: row 0 = 0 9 9 0, row 1 = 5 5 5 5, row 2 = 0 0 0 7
    const pixels = Uint8Array.from([0, 9, 9, 0, 5, 5, 5, 5, 0, 0, 0, 7]);
    const s: Split = { pixels, labels: Int32Array.of(0), n: 1, height: 3, width: 4, channels: 1 };
    // shifted right by 1: row 0 = 0 0 9 9 (2 changed), row 1 = 0 5 5 5 (1), row 2 = 0 0 0 0 (1)
    expect(changedByShift(s, 1)).toEqual([4]);
    // by 2: row 0 = 0 0 0 9 (3 changed: x=1,2,3), row 1 = 0 0 5 5 (2), row 2 = 0 0 0 0 (1)
    expect(changedByShift(s, 2)).toEqual([6]);
    expect(changedByShift(s, 0)).toEqual([0]);
  });
});

describe('every experiment on a tiny subset', () => {
  it('lists them all under unique names, and an unknown name suggests the nearest', () => {
    const names = EXPERIMENTS.map((e) => e.name);
    expect(new Set(names).size).toBe(names.length);
    expect(() => experiment('mlp-stabilty')).toThrow(/did you mean 'mlp-stability'/);
  });

  it("lenet5-counts: bowcnn's classic LeNet-5 per layer, by hand", async () => {
    const r = await run('lenet5-counts', {});
    const ours = r.figures.ours as { layer: string; params: number; connections: number }[];
    const get = (l: string) => ours.find((o) => o.layer === l);
    expect(get('C1')).toEqual({ layer: 'C1', params: 6 * 26, connections: 28 * 28 * 6 * 26 });
    expect(get('C3')?.params).toBe(16 * (6 * 25 + 1)); // all 6 maps, not the sparse table
    expect(get('C5')?.params).toBe(120 * 401);
    expect(r.figures.oursTotal).toBe(156 + 2416 + 48120 + 10164 + 850);
    expect(r.verdict).toBe('disagrees');
  });

  it('mlp-scalability: the MLP grows with the area as its formula says, the BoW chain not at all', async () => {
    const r = await run('mlp-scalability', {});
    const sides = r.figures.sides as number[];
    const p = r.figures.parameters as Record<string, number[]>;
    sides.forEach((s, i) => expect(p.mlp[i]).toBe(s * s * 300 + 300 + 300 * 100 + 100 + 100 * 10 + 10));
    expect(new Set(p['bow-sift']).size).toBe(1);
    // gradient 3x3x1x8, cells 4x4x8, descriptor 4x4x8x128 (identity), the dictionary as a 1x1 conv with bias, the SVM
    expect(p['bow-sift'][0]).toBe(72 + 128 + 16 * 8 * 128 + (128 * 256 + 256) + 257 * 10);
  });

  it('mlp-stability runs end to end', async () => {
    const r = await run('mlp-stability');
    const rob = r.figures.robustness as Record<string, Record<string, { amount: number; accuracy: number }[]>>;
    expect(Object.keys(rob).sort()).toEqual(['bow-sift', 'lenet5', 'mlp']);
    // shift 0 is the unmoved test set: its accuracy is the classifier's accuracy on those images
    const acc = r.figures.accuracy as Record<string, number>;
    for (const n of Object.keys(rob)) expect(rob[n]['translate-x'].find((p) => p.amount === 0)?.accuracy).toBeCloseTo(acc[n], 10);
  }, 120_000);

  it('nonlinearity runs end to end: a loss curve per activation', async () => {
    const r = await run('nonlinearity');
    const loss = r.figures.loss as Record<string, number[]>;
    expect(Object.keys(loss).sort()).toEqual(['lenet5-relu', 'lenet5-sigmoid', 'lenet5-tanh']);
    for (const l of Object.values(loss)) expect(l.length).toBe(6);
  }, 120_000);

  it('alexnet-ablation runs end to end: fewer layers, fewer parameters', async () => {
    const r = await run('alexnet-ablation');
    const f = r.figures as Record<string, { params: number }>;
    expect(f['alexnet-no7'].params).toBeLessThan(f['alexnet-full'].params);
    expect(f['alexnet-no67'].params).toBeLessThan(f['alexnet-no7'].params);
    // removing conv3 shrinks the flattened input of the output layer, so compare with the hand count
    // conv (no bias) + batch norm (gamma, beta and the two moving statistics) per block, then the output layer
    expect(f['alexnet-no3467'].params).toBe(9 * 16 + 4 * 16 + 9 * 16 * 32 + 4 * 32 + 7 * 7 * 32 * 10 + 10); // the recipe's widths 16, 32
  }, 180_000);
});

describe('dropout at test time', () => {
  it("the weight-scaled head is the model's own forward pass, and averaged masks approach it", () => {
    const m = alexnetSmall({ widths: [8, 8], fc: [32, 16], dropout: 0.5, seed: 3 });
    const h = headOf(m);
    const x = tf.randomUniform([6, 28, 28, 1], 0, 1, 'float32', 5) as tf.Tensor4D;
    const f = h.body.predict(x) as tf.Tensor2D;
    const ours = headProbs(h, f, 0, 0);
    const ref = tf.softmax(m.predict(x) as tf.Tensor2D);
    const a = ours.dataSync(),
      b = ref.dataSync();
    for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - b[i])).toBeLessThan(1e-5);
    // one mask gives another answer than no mask; many masks average to probabilities that sum to 1
    const one = headProbs(h, f, 1, 0).dataSync();
    expect(Math.max(...Array.from(one, (v, i) => Math.abs(v - a[i])))).toBeGreaterThan(1e-3);
    const many = headProbs(h, f, 32, 0);
    const rows = tf.sum(many, 1).dataSync();
    for (const r of rows) expect(r).toBeCloseTo(1, 5);
    tf.dispose([x, f, ours, ref, many]);
    m.dispose();
  });

  it('dropout-test-time and batchnorm run end to end', async () => {
    const d = await run('dropout-test-time');
    expect((d.figures.averaging as unknown[]).length).toBe(4);
    const b = await run('batchnorm', { subset: 200, testSubset: 100 });
    expect((b.figures.accuracyWithBn as number[]).length).toBe(3);
    expect((b.figures.lossWithout as number[]).length).toBe(5);
  }, 240_000);
});

describe('tap-layers and augmentation', () => {
  it('tap-layers: an SVM per layer of both chains; on the classifier output it re-learns the classifier', async () => {
    const r = await run('tap-layers');
    const f = r.figures as Record<string, { layer: string; dims: number; accuracy: number }[]>;
    expect(f.lenet5.map((x) => x.layer)).toEqual(['C1', 'S2', 'C3', 'S4', 'C5', 'F6', 'OUTPUT']);
    expect(f['bow-sift'].map((x) => x.layer)).toEqual([
      'gradient',
      'orientation',
      'cells',
      'descriptor',
      'coding',
      'pooling',
      'classifier',
    ]);
    // dimensions by hand: C1 is 28x28x6 (same padding), the pooled histogram 256 bins, the outputs 10 scores
    expect(f.lenet5[0].dims).toBe(28 * 28 * 6);
    expect(f['bow-sift'][5].dims).toBe(256);
    expect(f.lenet5[6].dims).toBe(10);
  }, 180_000);

  it('augmentation: four settings, each with all four robustness sweeps', async () => {
    const r = await run('augmentation');
    const rob = r.figures.robustness as Record<string, Record<string, unknown[]>>;
    expect(Object.keys(rob).sort()).toEqual(['lenet5-crops', 'lenet5-flips', 'lenet5-jitter', 'lenet5-none']);
    for (const v of Object.values(rob)) expect(Object.keys(v).sort()).toEqual(['rotate', 'scale', 'translate-x', 'translate-y']);
  }, 180_000);
});

describe('lcn and rotation-pooling', () => {
  it('lcn: both sweeps for both networks; at a = 1 and b = 0 the sweep is the plain test set', async () => {
    const r = await run('lcn');
    const c = r.figures.curves as Record<string, { contrast: number[]; brightness: number[] }>;
    for (const n of ['lenet5-plain', 'lenet5-lcn']) {
      expect(c[n].contrast.length).toBe(5);
      // single-view accuracy: the recipe has no test-time flips, so predict() on the unchanged images is the accuracy
      expect(c[n].contrast[4]).toBeCloseTo((r.figures.accuracy as Record<string, number>)[n], 10);
      expect(c[n].brightness[2]).toBeCloseTo(c[n].contrast[4], 10);
    }
  }, 180_000);

  it('rotation-pooling: the same parameters, a rotation sweep each', async () => {
    const r = await run('rotation-pooling', { subset: 200, testSubset: 100 });
    const p = r.figures.params as Record<string, number>;
    expect(p['lenet5-rot8']).toBe(p['lenet5-plain']);
    const rob = r.figures.robustness as Record<string, Record<string, unknown[]>>;
    expect(rob['lenet5-rot8'].rotate.length).toBe(7);
  }, 240_000);
});

describe('padding-stride', () => {
  it('more-data: a learning curve per classifier at every size and both seeds, under the protocol asked for', async () => {
    const { sizesUpTo } = await import('../../src/experiments/more-data.js');
    expect(sizesUpTo(10000, 10)).toEqual([100, 300, 1000, 3000, 10000]);
    expect(sizesUpTo(2500, 10)).toEqual([100, 300, 1000, 2500]);
    const r = await run('more-data', { subset: 400, testSubset: 100, protocol: 'validation' });
    const curves = (r.figures as { curves: { name: string; trainSize: number; seed: number }[] }).curves;
    expect(curves.map((c) => `${c.name} ${c.trainSize} ${c.seed}`).sort()).toEqual(
      ['bow-sift', 'lenet5'].flatMap((n) => [100, 300, 400].flatMap((s) => [0, 1].map((k) => `${n} ${s} ${k}`))).sort(),
    );
    expect(r.notes[0]).toMatch(/^The protocol: validation/);
  }, 300_000);

  it('encodings: five encodings, each 2,048 values an image, scored by the same classifier', async () => {
    const { encodingPipelines } = await import('../../src/experiments/encodings.js');
    const cs = encodingPipelines();
    // 2,048 values an image for each, from the stages' own output shapes on a 28x28 digit
    for (const c of cs)
      expect(
        c
          .cards([28, 28, 1])
          .at(-2)
          ?.outShape?.reduce((a, b) => a * b, 1),
      ).toBe(2048);
    cs.forEach((c) => c.dispose());
    const r = await run('encodings', {
      subset: 600,
      testSubset: 100,
      sets: { 'coding.sample': 8000, 'pca.sample': 8000, 'vlad.sample': 8000, 'fisher.sample': 8000, 'bossanova.sample': 8000 },
    });
    expect(Object.keys(r.figures.accuracy as object)).toEqual(['bow-hard', 'bow-soft', 'vlad', 'fisher', 'bossanova']);
  }, 600_000);

  it('map sizes by hand: valid 5x5 convs shrink by 4, same ones keep the size, stride 2 halves', async () => {
    const r = await run('padding-stride');
    const maps = (n: string) => (r.figures[n] as { maps: string[] }).maps;
    expect(maps('lenet5-lenet')).toEqual(['C1 28x28x6', 'S2 14x14x6', 'C3 10x10x16', 'S4 5x5x16']);
    expect(maps('lenet5-valid')).toEqual(['C1 24x24x6', 'S2 12x12x6', 'C3 8x8x16', 'S4 4x4x16']);
    expect(maps('lenet5-same')).toEqual(['C1 28x28x6', 'S2 14x14x6', 'C3 14x14x16', 'S4 7x7x16']);
    expect(maps('lenet5-stride')).toEqual(['C1 14x14x6', 'C3 5x5x16']);
  }, 120_000);
});
