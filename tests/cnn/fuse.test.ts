// The fusion pass (cnn/fuse): which layer pairs it fuses, and that running LeNet-5 through it gives
// model.apply's values: the same logits bit for bit (forward, training and inference), and the same
// loss gradients for every weight (the bias gradients sum in another order). The fused kernels
// themselves are tested against cpu in tests/backend/conv-relu-pool.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf, useBackend } from '../../src/backend/index.js';
import { nativeAddon } from '../../src/backend/native.js';
import { applyFused, canFuse, fusableDense, fusablePair } from '../../src/cnn/fuse.js';
import { lenet5 } from '../../src/cnn/lenet5.js';
import { conv2d } from '../../src/cnn/conv.js';
import { maxAbsDiff, randArray } from '../helpers.js';

const built = nativeAddon() !== null;

describe('fusablePair', () => {
  const conv = (o: Partial<Parameters<typeof conv2d>[0]> = {}) => conv2d({ filters: 4, kernelSize: 3, activation: 'relu', ...o });
  const pool = (o: Partial<Parameters<typeof tf.layers.maxPooling2d>[0]> = {}) => tf.layers.maxPooling2d({ poolSize: 2, strides: 2, ...o });

  it("takes LeNet-5 modern's C1 + S2 and C3 + S4, and nothing of the classic variant", () => {
    const m = lenet5({}), l = m.layers;
    expect(l.map((x, i) => fusablePair(x, l[i + 1]))).toEqual(l.map((x) => x.name === 'C1' || x.name === 'C3'));
    const c = lenet5({ variant: 'classic' }), lc = c.layers;
    expect(lc.some((x, i) => fusablePair(x, lc[i + 1]))).toBe(false);   // tanh and average pooling
  });

  it("takes LeNet-5's C5 and F6 (Dense, bias, ReLU) for bias + ReLU in one op, not the linear output layer", () => {
    const l = lenet5({}).layers;
    expect(l.filter(fusableDense).map((x) => x.name)).toEqual(['C5', 'F6']);
    expect(fusableDense(tf.layers.dense({ units: 3, activation: 'relu', useBias: false }))).toBe(false);
  });

  it('refuses other activations, no bias, strides, dilations, other pools', () => {
    expect(fusablePair(conv(), pool())).toBe(true);
    expect(fusablePair(conv({ padding: 'same' }), pool())).toBe(true);
    expect(fusablePair(tf.layers.conv2d({ filters: 4, kernelSize: 3, activation: 'relu' }), pool())).toBe(true);   // tfjs-layers' own
    expect(fusablePair(conv({ activation: 'tanh' }), pool())).toBe(false);
    expect(fusablePair(conv({ useBias: false }), pool())).toBe(false);
    expect(fusablePair(conv({ strides: 2 }), pool())).toBe(false);
    expect(fusablePair(conv({ dilationRate: 2 }), pool())).toBe(false);
    expect(fusablePair(conv(), pool({ poolSize: 3, strides: 2 }))).toBe(false);
    expect(fusablePair(conv(), pool({ strides: 1 }))).toBe(false);
    expect(fusablePair(conv(), pool({ padding: 'same' }))).toBe(false);
    expect(fusablePair(conv(), tf.layers.averagePooling2d({ poolSize: 2 }))).toBe(false);
    expect(fusablePair(conv(), undefined)).toBe(false);
  });
});

describe('applyFused', () => {
  const x = () => tf.tensor4d(randArray(9 * 28 * 28, 11).map((v) => (v + 1) / 2), [9, 28, 28, 1]);
  const labels = () => tf.oneHot(tf.tensor1d([0, 1, 2, 3, 4, 5, 6, 7, 8], 'int32'), 10);
  afterAll(async () => { await useBackend('wasm'); });

  it('is model.apply where nothing can be fused (the cpu backend)', async () => {
    await useBackend('cpu');
    const m = lenet5({ seed: 3 });
    expect(canFuse(m)).toBe(false);
    const [a, b] = tf.tidy(() => { const t = x(); return [m.apply(t, { training: false }) as tf.Tensor, applyFused(m, t, false)].map((y) => y.dataSync()); });
    expect(Array.from(b)).toEqual(Array.from(a));
    m.dispose();
  });

  describe.skipIf(!built)('with the native kernels (wasm)', () => {
    beforeAll(async () => { await useBackend('wasm'); });

    it('gives the logits of model.apply bit for bit, and calls the fused kernel once per pair', () => {
      const m = lenet5({ seed: 4 });
      expect(canFuse(m)).toBe(true);
      const addon = nativeAddon()!, fwd = addon.convReluPool;
      let calls = 0;
      addon.convReluPool = (...a) => { calls++; return fwd(...a); };
      try {
        for (const training of [false, true]) {
          const [a, b] = tf.tidy(() => { const t = x(); return [m.apply(t, { training }) as tf.Tensor, applyFused(m, t, training)].map((y) => y.dataSync()); });
          expect(Array.from(b)).toEqual(Array.from(a));
        }
      } finally { addon.convReluPool = fwd; }
      expect(calls).toBe(4);
      m.dispose();
    });

    it('gives the loss gradients of model.apply for every weight, and leaves no tensors behind', () => {
      const m = lenet5({ seed: 5 });
      const vars = m.trainableWeights.map((w) => w.read() as tf.Variable);
      const t = x(), y = labels();
      const before = tf.memory().numTensors;
      const grads = (fused: boolean) => tf.tidy(() => {
        const { value, grads: g } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(y, fused ? applyFused(m, t, true) : m.apply(t, { training: true }) as tf.Tensor) as tf.Scalar, vars);
        return [value.dataSync()[0], vars.map((v) => g[v.name].dataSync() as Float32Array)] as const;
      });
      const [la, ga] = grads(false), [lb, gb] = grads(true);
      expect(tf.memory().numTensors).toBe(before);
      expect(lb).toBe(la);
      vars.forEach((v, i) => {
        const scale = Math.max(1e-3, ...Array.from(ga[i], Math.abs));
        expect(maxAbsDiff(gb[i], ga[i]) / scale, v.name).toBeLessThan(1e-5);
      });
      expect(ga.every((g) => g.some((v) => v !== 0))).toBe(true);   // every weight gets a gradient
      tf.dispose([t, y]);
      m.dispose();
    });
  });
});
