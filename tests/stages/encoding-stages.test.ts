// The encoding stages: PCA against its definition (eigenvectors of the covariance, a plain projection), the
// Fisher stage against VLFeat's Fisher vectors (whole image and per pyramid region), its exported layer against
// the stage, and a pipeline with both fitted, saved, loaded and exported.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { tf, useBackend } from '../../src/backend/index.js';
import { exportBowNet } from '../../src/cnn/bownet.js';
import { dataset } from '../../src/data/registry.js';
import { batchTensor } from '../../src/data/split.js';
import { fisherEncode } from '../../src/encode/fisher.js';
import { vladEncode } from '../../src/encode/vlad.js';
import { bossanovaEncode } from '../../src/encode/bossanova.js';
import { load } from '../../src/models/load.js';
import { Pipeline } from '../../src/pipeline/pipeline.js';
import { fisher } from '../../src/stages/fisher.js';
import { pca, symmetricEigen } from '../../src/stages/pca.js';
import { StageError } from '../../src/stages/stage.js';
import { vlad } from '../../src/stages/vlad.js';
import { bossanova } from '../../src/stages/bossanova.js';
import { FIX, randArray } from '../helpers.js';

const F = JSON.parse(readFileSync(join(FIX, 'vlfeat', 'encodings.json'), 'utf8'));
const D = F.dimension as number,
  K = F.components as number;
const test = Float32Array.from(Buffer.from(F.testDescriptors, 'base64'), (q) => q / 512);
const gmm = {
  means: Float32Array.from(F.means),
  variances: Float32Array.from(F.variances),
  priors: Float32Array.from(F.priors),
  components: K,
  dimension: D,
};
const side = Math.sqrt(F.perImage); // vl_dsift's frames of a 28x28 digit at bin 4, step 2: 8 x 8, row-major by y

function cosine(a: ArrayLike<number>, b: ArrayLike<number>) {
  let d = 0,
    x = 0,
    y = 0;
  for (let i = 0; i < a.length; i++) {
    d += a[i] * b[i];
    x += a[i] ** 2;
    y += b[i] ** 2;
  }
  return d / Math.sqrt(x * y);
}

async function* once(x: tf.Tensor4D) {
  yield x;
}

beforeAll(async () => {
  await useBackend('wasm');
});

describe('pca', () => {
  it('refuses more dimensions than come in, in its shape and its card (a config error, before any fit)', () => {
    const s = pca({ dims: 256 });
    expect(() => s.outShape([10, 10, 128])).toThrow(/stage 'pca': dims 256 > the 128 channels coming in/);
    expect(() => s.card([10, 10, 128])).toThrow(StageError);
    expect(s.outShape([10, 10, 256])).toEqual([10, 10, 256]); // as many as come in: allowed
    expect(pca({ dims: 64 }).outShape([10, 10, 128])).toEqual([10, 10, 64]);
  });

  it('symmetricEigen: A V = V Λ, V orthonormal, eigenvalues descending', () => {
    const n = 12;
    const r = randArray(n * n, 5);
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) for (let k = 0; k < n; k++) a[i * n + j] += r[i * n + k] * r[j * n + k];
    const { values, vectors } = symmetricEigen(a, n);
    for (let i = 1; i < n; i++) expect(values[i]).toBeLessThanOrEqual(values[i - 1] + 1e-12);
    for (let c = 0; c < n; c++)
      for (let i = 0; i < n; i++) {
        let av = 0;
        for (let k = 0; k < n; k++) av += a[i * n + k] * vectors[k * n + c];
        expect(av).toBeCloseTo(values[c] * vectors[i * n + c], 8);
      }
    for (let c = 0; c < n; c++)
      for (let e = 0; e < n; e++) {
        let dot = 0;
        for (let k = 0; k < n; k++) dot += vectors[k * n + c] * vectors[k * n + e];
        expect(dot).toBeCloseTo(c === e ? 1 : 0, 8);
      }
  });

  it('projects onto the leading directions: uncorrelated outputs with variances the eigenvalues, as a plain (x - mean) W', async () => {
    const n = 4000,
      d = 10;
    // correlated data: a random linear map of independent coordinates with falling scales
    const z = randArray(n * d, 9),
      m = randArray(d * d, 11);
    const x = new Float32Array(n * d);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < d; j++) for (let k = 0; k < d; k++) x[i * d + j] += z[i * d + k] * (k + 1) * m[k * d + j];
    const s = pca({ dims: 4, sample: n });
    const maps = tf.tensor4d(x, [1, 1, n, d]);
    await s.fit!(once(maps.clone() as tf.Tensor4D));
    const y = (await s.apply(maps).data()) as Float32Array;
    const { kernel, bias } = s.projection()!;
    const w = kernel.dataSync(),
      b = bias.dataSync();
    for (let i = 0; i < n; i += 397)
      for (let c = 0; c < 4; c++) {
        let v = b[c];
        for (let j = 0; j < d; j++) v += x[i * d + j] * w[j * 4 + c];
        expect(y[i * 4 + c]).toBeCloseTo(v, 4);
      }
    // the projections' covariance is diagonal, its diagonal the kept eigenvalues
    for (let p = 0; p < 4; p++)
      for (let q = 0; q < 4; q++) {
        let c = 0;
        for (let i = 0; i < n; i++) c += y[i * 4 + p] * y[i * 4 + q];
        c /= n - 1;
        expect(c / s.explained!.values[0]).toBeCloseTo(p === q ? s.explained!.values[p] / s.explained!.values[0] : 0, 3);
      }
    tf.dispose(maps);
    s.dispose?.();
  });
});

describe('fisher (a stage, and its layer)', () => {
  it("gives VLFeat's improved Fisher vector of each image, and per pyramid region the vector of the region's descriptors", async () => {
    const s = fisher({ components: K, improved: true, pyramid: [1, 2] });
    s.setGmm(gmm);
    const maps = tf.tensor4d(test, [2, side, side, D]);
    const out = (await s.apply(maps).data()) as Float32Array;
    const R = 5,
      L = 2 * K * D;
    expect(out.length).toBe(2 * R * L);
    for (let i = 0; i < 2; i++) {
      const mine = out.subarray(i * R * L, (i + 1) * R * L);
      // the whole image's region, against vl_fisher_encode (improved), scaled by 1/√R
      const whole = Float32Array.from(mine.subarray(0, L), (v) => v * Math.sqrt(R));
      expect(cosine(whole, F.fisherImproved[i])).toBeGreaterThanOrEqual(0.99999);
      // a quadrant's, against the reference function on that quadrant's descriptors
      const rows = [];
      for (let y = 4; y < 8; y++)
        for (let x = 0; x < 4; x++) rows.push(...test.subarray((i * 64 + y * 8 + x) * D, (i * 64 + y * 8 + x + 1) * D));
      const want = await fisherEncode(Float32Array.from(rows), gmm, { improved: true });
      const quad = Float32Array.from(mine.subarray(3 * L, 4 * L), (v) => v * Math.sqrt(R)); // level 2: row 1, column 0
      expect(cosine(quad, want)).toBeGreaterThanOrEqual(0.99999);
    }
    tf.dispose(maps);
    s.dispose?.();
  });

  it('a pipeline with PCA and Fisher vectors fits, saves, loads and exports: the BowFisher layer gives the stage output', async () => {
    const ds = await dataset('mnist', { subset: 300, testSubset: 40, seed: 3 });
    const p = Pipeline.fromJSON({
      name: 'fv',
      stages: [
        { kind: 'gradient' },
        { kind: 'orientation' },
        { kind: 'cells', config: { size: 4 } },
        { kind: 'descriptor', config: { cellSize: 4, step: 2 } },
        { kind: 'pca', config: { dims: 16, sample: 8000 } },
        { kind: 'fisher', config: { components: 8, sample: 8000 } },
        { kind: 'classifier', config: { C: 1 } },
      ],
    });
    await p.fit(ds.train, { progress: false, data: { dataset: 'mnist', classes: ds.classes } });
    const x = batchTensor(ds.test, 0, 40);
    const feats = await p.run(x, 0, 6);
    expect(feats.shape).toEqual([40, 1, 1, 2 * 8 * 16]);
    // the bownet's BowFisher layer on the PCA'd descriptors gives the stage's output
    const net = exportBowNet(p);
    const layer = net.layers.find((l) => l.getClassName() === 'BowFisher')!;
    expect(layer.name).toBe('fisher');
    const reduced = await p.run(x, 0, 5);
    const viaLayer = layer.apply(reduced) as tf.Tensor;
    const a = (await feats.data()) as Float32Array,
      b = (await viaLayer.data()) as Float32Array;
    let maxDiff = 0;
    for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
    expect(maxDiff).toBeLessThan(1e-5);
    // and the whole exported chain up to it (its SIFT as layers, not the fused pass): float32 differences in the
    // descriptors move the posteriors a little, so to 5e-4 of the largest value
    const upto = tf.model({ inputs: net.inputs, outputs: layer.output as tf.SymbolicTensor });
    const viaLayers = (await (upto.predict(x) as tf.Tensor).data()) as Float32Array;
    let chain = 0,
      top = 0;
    for (let i = 0; i < a.length; i++) {
      chain = Math.max(chain, Math.abs(a[i] - viaLayers[i]));
      top = Math.max(top, Math.abs(a[i]));
    }
    expect(chain).toBeLessThan(5e-4 * top);
    // the whole pipeline: its accuracy is a classifier's, and the saved copy scores the same
    const acc = Array.from(await p.predict(x)).filter((v, i) => v === ds.test.labels[i]).length / 40;
    expect(acc).toBeGreaterThan(0.5);
    const dir = join(mkdtempSync(join(tmpdir(), 'bowcnn-fv-')), 'm');
    await p.save(dir);
    const back = await load(dir);
    expect(Array.from(await back.scoreSplit(ds.test))).toEqual(Array.from(await p.scoreSplit(ds.test)));
    tf.dispose([x, feats, reduced, viaLayer]);
    net.dispose();
    back.dispose();
    p.dispose();
  }, 120_000);
});

describe('vlad (a stage, and its layer: NetVLAD when soft and trained)', () => {
  it("gives VLFeat's VLAD (hard assignment, intra-normalised, square root) of each image, and per region the reference's", async () => {
    const s = vlad({ words: K, pyramid: [1, 2], normalizeComponents: true, squareRoot: true });
    const centres = tf.tensor2d(gmm.means, [K, D]);
    s.setCentres(centres);
    const maps = tf.tensor4d(test, [2, side, side, D]);
    const out = (await s.apply(maps).data()) as Float32Array;
    const R = 5,
      L = K * D;
    for (let i = 0; i < 2; i++) {
      const mine = out.subarray(i * R * L, (i + 1) * R * L);
      const whole = Float32Array.from(mine.subarray(0, L), (v) => v * Math.sqrt(R));
      expect(cosine(whole, F.vladSqrtComponents[i])).toBeGreaterThanOrEqual(0.99999);
      const rows = [];
      for (let y = 0; y < 4; y++)
        for (let x = 4; x < 8; x++) rows.push(...test.subarray((i * 64 + y * 8 + x) * D, (i * 64 + y * 8 + x + 1) * D));
      const want = await vladEncode(Float32Array.from(rows), gmm.means, { normalizeComponents: true, squareRoot: true, dimension: D });
      const quad = Float32Array.from(mine.subarray(2 * L, 3 * L), (v) => v * Math.sqrt(R)); // level 2: row 0, column 1
      expect(cosine(quad, want)).toBeGreaterThanOrEqual(0.99999);
    }
    // the BowVlad layer gives the stage's output, soft assignment included
    for (const assign of ['hard', 'soft'] as const) {
      const t = vlad({ words: K, assign, alpha: 20 });
      t.setCentres(centres);
      const spec = t.toLayers!([side, side, D])[0];
      const { BowVlad } = await import('../../src/layers.js');
      const layer = new BowVlad(spec.config as never);
      layer.apply(tf.input({ shape: [side, side, D] }));
      layer.setWeights(spec.weights!);
      const a = (await t.apply(maps).data()) as Float32Array;
      const b = (await (layer.apply(maps) as tf.Tensor).data()) as Float32Array;
      let md = 0;
      for (let j = 0; j < a.length; j++) md = Math.max(md, Math.abs(a[j] - b[j]));
      expect(md).toBeLessThan(1e-5);
      t.dispose?.();
    }
    tf.dispose([maps, centres]);
    s.dispose?.();
  });

  it('NetVLAD: the soft-assignment VLAD exported as a CNN trains end to end: its assignment and centres move and the training loss falls, validation accuracy within noise of its k-means start', async () => {
    const ds = await dataset('mnist', { subset: 1500, testSubset: 10, seed: 4 });
    const { kept, held } = (await import('../../src/data/split.js')).splitOff(ds.train, 500, 1);
    const p = Pipeline.fromJSON({
      name: 'netvlad',
      stages: [
        { kind: 'gradient' },
        { kind: 'orientation' },
        { kind: 'cells', config: { size: 4 } },
        { kind: 'descriptor', config: { cellSize: 4, step: 2 } },
        { kind: 'pca', config: { dims: 16, sample: 20000 } },
        { kind: 'vlad', config: { words: 8, assign: 'soft', alpha: 10, sample: 20000 } },
        { kind: 'classifier', config: { C: 1 } },
      ],
    });
    await p.fit(kept, { progress: false, data: { dataset: 'mnist', classes: ds.classes } });
    const { trainModel, accuracyOf, predictSplit } = await import('../../src/cnn/train.js');
    const net = exportBowNet(p, { trainable: { handcrafted: false, unsupervised: true, supervised: true } });
    // mean softmax cross-entropy of the net's scores on a split, in plain loops
    const crossEntropy = async (s: typeof kept) => {
      const z = await predictSplit(net, s);
      const k = ds.classes.length;
      let sum = 0;
      for (let i = 0; i < s.n; i++) {
        let m = -Infinity;
        for (let c = 0; c < k; c++) m = Math.max(m, z[i * k + c]);
        let e = 0;
        for (let c = 0; c < k; c++) e += Math.exp(z[i * k + c] - m);
        sum += m + Math.log(e) - z[i * k + s.labels[i]];
      }
      return sum / s.n;
    };
    const vladWeights = () =>
      net.layers.filter((l) => l.getClassName() === 'BowVlad').flatMap((l) => l.getWeights().map((w) => w.dataSync().slice()));
    const w0 = vladWeights();
    expect(w0.length).toBeGreaterThan(0);
    const [loss0, acc0] = [await crossEntropy(kept), await accuracyOf(net, held)];
    await trainModel(net, kept, { epochs: 3, batchSize: 64, lr: 1e-3, schedule: 'cosine', progress: false });
    const [loss1, acc1] = [await crossEntropy(kept), await accuracyOf(net, held)];
    let moved = 0;
    vladWeights().forEach((w, i) => w.forEach((v, j) => (moved = Math.max(moved, Math.abs(v - w0[i][j])))));
    expect(moved).toBeGreaterThan(1e-3);
    expect(loss1).toBeLessThan(0.95 * loss0);
    // 500 validation images: a standard error of about 1 point. Fine-tuning on these 1,000 images has not raised
    // validation accuracy reliably (docs/stages.md), so the test asks only that it does not lose it.
    expect(acc1).toBeGreaterThan(acc0 - 0.02);
    net.dispose();
    p.dispose();
  }, 300_000);
});

describe('bossanova (a stage, and its layer)', () => {
  it('refuses an empty range of distances where its config is whole (its shape and card), not while it is being set', () => {
    const s = bossanova({ lambdaMin: 3, lambdaMax: 1 }); // one --set at a time may pass through this
    expect(() => s.outShape([8, 8, 16])).toThrow(/lambdaMin 3 must be below lambdaMax 1/);
    expect(() => s.card([8, 8, 16])).toThrow(StageError);
    expect(() => bossanova({ lambdaMin: 1, lambdaMax: 1 }).outShape([8, 8, 16])).toThrow(StageError);
    // set whole: 256 words x (2 bins + the BoW term), the defaults
    expect(s.clone({ lambdaMax: 5 }).outShape([8, 8, 16])).toEqual([1, 1, 256 * 3]);
  });

  it('gives, per image and per pyramid region, the plain-loop reference; its layer gives the stage output', async () => {
    const o = { bins: 3, lambdaMin: 0.4, lambdaMax: 2, knn: 4, gamma: 1 };
    const s = bossanova({ words: K, pyramid: [1, 2], ...o });
    // the words: VLFeat's GMM means; their spreads: made-up, different per word
    const sig = Float32Array.from({ length: K }, (_, k) => 0.4 + 0.01 * k);
    const centres = tf.tensor2d(gmm.means, [K, D]),
      sigmas = tf.tensor1d(sig);
    s.setWords(centres, sigmas);
    const maps = tf.tensor4d(test, [2, side, side, D]);
    const out = (await s.apply(maps).data()) as Float32Array;
    const R = 5,
      L = K * (o.bins + 1);
    for (let i = 0; i < 2; i++) {
      const mine = out.subarray(i * R * L, (i + 1) * R * L);
      const whole = Float32Array.from(mine.subarray(0, L), (v) => v * Math.sqrt(R));
      const want = bossanovaEncode(test.subarray(i * 64 * D, (i + 1) * 64 * D), gmm.means, sig, D, o);
      // distances fall in the bins (the comparison is not of zeros)
      expect(want.subarray(0, K * o.bins).filter((v) => v > 0).length).toBeGreaterThan(K / 2);
      for (let t = 0; t < L; t++) expect(whole[t]).toBeCloseTo(want[t], 4);
      const rows = [];
      for (let y = 4; y < 8; y++)
        for (let x = 4; x < 8; x++) rows.push(...test.subarray((i * 64 + y * 8 + x) * D, (i * 64 + y * 8 + x + 1) * D));
      const quad = bossanovaEncode(Float32Array.from(rows), gmm.means, sig, D, o);
      for (let t = 0; t < L; t++) expect(mine[4 * L + t] * Math.sqrt(R)).toBeCloseTo(quad[t], 4);
    }
    const spec = s.toLayers!([side, side, D])[0];
    const { BowBossaNova } = await import('../../src/layers.js');
    const layer = new BowBossaNova(spec.config as never);
    layer.apply(tf.input({ shape: [side, side, D] }));
    layer.setWeights(spec.weights!);
    const b = (await (layer.apply(maps) as tf.Tensor).data()) as Float32Array;
    let md = 0;
    for (let j = 0; j < out.length; j++) md = Math.max(md, Math.abs(out[j] - b[j]));
    expect(md).toBeLessThan(1e-5);
    tf.dispose([maps, centres, sigmas]);
    s.dispose?.();
  });
});
