// The execution pass (passes/cnn.ts) over models made of tfjs-layers' own layers, against model.apply
// (tfjs-layers' own implementation) and against plain properties:
//  - which layer pairs it fuses;
//  - Conv2D in training: the same outputs and weight gradients, no gradient with respect to the images in
//    a first layer, bias + ReLU as bowcnn's fused kernels on wasm;
//  - BatchNormalization: the same output, gradients, moving statistics and inference (cpu and wasm);
//  - Dropout: a new mask at every step and call (tfjs-layers' seeded Dropout repeats one: shown), the same
//    masks for the same steps, inverted scaling, nothing in inference;
//  - with the native kernels, LeNet-5's logits bit for bit and its loss gradients (the fused kernels
//    themselves are tested against cpu in tests/backend/conv-relu-pool.test.ts);
//  - alexnet-small's initial weights and first steps the same for the same seed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf, useBackend } from '../../src/backend/index.js';
import { nativeAddon } from '../../src/backend/native.js';
import { adam } from '../../src/cnn/adam.js';
import { alexnetSmall } from '../../src/cnn/alexnet.js';
import { lenet5 } from '../../src/cnn/lenet5.js';
import { canFuse, execute, fusableDense, fusablePair } from '../../src/passes/cnn.js';
import { maxAbsDiff, onBackend, randArray } from '../helpers.js';

const built = nativeAddon() !== null;
const X: [number, number, number, number] = [3, 9, 8, 2];
const size = (s: number[]) => s.reduce((a, b) => a * b, 1);

beforeAll(async () => {
  await useBackend('wasm');
});
afterAll(() => tf.disposeVariables());

describe('fusablePair and fusableDense', () => {
  const conv = (o: Partial<Parameters<typeof tf.layers.conv2d>[0]> = {}) =>
    tf.layers.conv2d({ filters: 4, kernelSize: 3, activation: 'relu', ...o });
  const pool = (o: Partial<Parameters<typeof tf.layers.maxPooling2d>[0]> = {}) => tf.layers.maxPooling2d({ poolSize: 2, strides: 2, ...o });

  it("takes LeNet-5 modern's C1 + S2 and C3 + S4, and nothing of the classic variant", () => {
    const m = lenet5({}),
      l = m.layers;
    expect(l.map((x, i) => fusablePair(x, l[i + 1]))).toEqual(l.map((x) => x.name === 'C1' || x.name === 'C3'));
    const lc = lenet5({ variant: 'classic' }).layers;
    expect(lc.some((x, i) => fusablePair(x, lc[i + 1]))).toBe(false); // tanh and average pooling
  });

  it("takes LeNet-5's C5 and F6 (Dense, bias, ReLU), not the linear output layer", () => {
    expect(
      lenet5({})
        .layers.filter(fusableDense)
        .map((x) => x.name),
    ).toEqual(['C5', 'F6']);
    expect(fusableDense(tf.layers.dense({ units: 3, activation: 'relu', useBias: false }))).toBe(false);
  });

  it('refuses other activations, no bias, strides, dilations, other pools', () => {
    expect(fusablePair(conv(), pool())).toBe(true);
    expect(fusablePair(conv({ padding: 'same' }), pool())).toBe(true);
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

describe('Conv2D in training', () => {
  function model(activation: 'linear' | 'relu', useBias: boolean, strides: number, padding: 'same' | 'valid'): tf.Sequential {
    const m = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: X.slice(1), filters: 5, kernelSize: 3, strides, padding, activation, useBias, name: 'c' }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 2, name: 'd' }),
      ],
    });
    m.setWeights(m.getWeights().map((w, i) => tf.tensor(randArray(w.size, 30 + i), w.shape)));
    return m;
  }
  /** training output, inference output, and the gradients of a loss with respect to every weight */
  function run(m: tf.Sequential, ours: boolean): number[][] {
    return tf.tidy(() => {
      const x = tf.tensor4d(randArray(size(X), 3), X);
      const f = (training: boolean) => (ours ? execute(m, x, { training, step: 0 }) : (m.apply(x, { training }) as tf.Tensor));
      const vars = m.trainableWeights.map((w) => w.read() as tf.Variable);
      const { grads } = tf.variableGrads(() => tf.sum(tf.square(f(true))) as tf.Scalar, vars);
      return [f(true), f(false), ...vars.map((v) => grads[v.name])].map((t) => Array.from(t.dataSync()));
    });
  }
  for (const backend of ['cpu', 'wasm'] as const) {
    for (const [activation, useBias, strides, padding] of [
      ['linear', false, 1, 'same'],
      ['relu', true, 2, 'valid'],
      ['linear', true, 1, 'valid'],
    ] as const) {
      it(`${backend}: ${activation}, bias ${useBias}, stride ${strides}, ${padding}: the outputs and gradients of model.apply`, async () => {
        const [ours, ref] = await onBackend(backend, () => {
          const m = model(activation, useBias, strides, padding);
          const r = [run(m, true), run(m, false)];
          m.dispose();
          return r;
        });
        expect(ours.length).toBe(ref.length);
        for (let i = 0; i < ref.length; i++) expect(maxAbsDiff(ours[i], ref[i]) / Math.max(1, ...ref[i].map(Math.abs))).toBeLessThan(1e-5);
      });
    }
  }

  const profiled = (ours: boolean, activation: 'linear' | 'relu', useBias: boolean) =>
    onBackend('wasm', async () => {
      const m = model(activation, useBias, 1, 'same');
      const x = tf.tensor4d(randArray(size(X), 3), X);
      const vars = m.trainableWeights.map((w) => w.read() as tf.Variable);
      const p = await tf.profile(() => {
        const { value, grads } = tf.variableGrads(
          () => tf.sum(ours ? execute(m, x, { training: true, step: 0 }) : (m.apply(x, { training: true }) as tf.Tensor)) as tf.Scalar,
          vars,
        );
        tf.dispose([value, ...Object.values(grads)]);
      });
      x.dispose();
      m.dispose();
      return p.kernels.map((k) => k.name);
    });

  it("computes no gradient with respect to the images (tfjs-layers' fused conv does)", async () => {
    expect((await profiled(false, 'linear', false)).filter((k) => k === 'Conv2DBackpropInput')).toHaveLength(1);
    expect((await profiled(true, 'linear', false)).filter((k) => k === 'Conv2DBackpropInput')).toHaveLength(0);
  });

  it('with a bias and ReLU, trains through the fused bias + ReLU kernels on wasm (no Relu, no ReLU gradient)', async () => {
    const names = await profiled(true, 'relu', true);
    expect(names).toContain('BowcnnBiasRelu');
    expect(names).toContain('BowcnnBiasReluGrad');
    for (const k of ['Relu', 'BowcnnReluGrad']) expect(names).not.toContain(k);
  });
});

describe('BatchNormalization', () => {
  const SHAPE: [number, number, number, number] = [6, 5, 7, 4];
  const N = size(SHAPE),
    C = SHAPE[3];
  /** loss, output, gradients (x, gamma, beta), moving statistics after the step, and an inference call */
  function step(ours: boolean): number[][] {
    const m = tf.sequential({ layers: [tf.layers.batchNormalization({ inputShape: SHAPE.slice(1), momentum: 0.9, name: 'bn' })] });
    m.setWeights([
      tf.tensor1d(randArray(C, 3).map((v) => 1 + v / 2)),
      tf.tensor1d(randArray(C, 4)),
      tf.tensor1d(randArray(C, 5)),
      tf.tensor1d(randArray(C, 6).map((v) => 1 + v / 2)),
    ]);
    const out = tf.tidy(() => {
      const x = tf.tensor4d(
        randArray(N, 1).map((v, i) => 3 * v + (i % C)),
        SHAPE,
      ); // channel means 0..3
      const w = tf.tensor4d(randArray(N, 2), SHAPE);
      const f = (xx: tf.Tensor, training = true) =>
        ours ? execute(m, xx, { training, step: 0 }) : (m.apply(xx, { training }) as tf.Tensor);
      const [gamma, beta] = m.trainableWeights.map((v) => v.read() as tf.Variable);
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(f(x), w)) as tf.Scalar, [gamma, beta]);
      const dx = tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(f(xx), w)))(x);
      const moving = m
        .getWeights()
        .slice(2)
        .map((t) => Array.from(t.dataSync()));
      return [
        [value.dataSync()[0]],
        Array.from(f(x).dataSync()),
        Array.from(dx.dataSync()),
        Array.from(grads[gamma.name].dataSync()),
        Array.from(grads[beta.name].dataSync()),
        ...moving,
        Array.from(f(x, false).dataSync()),
      ];
    });
    m.dispose();
    return out;
  }
  const NAMES = ['loss', 'y', 'dx', 'dgamma', 'dbeta', 'moving mean', 'moving variance', 'inference y'];
  for (const backend of ['cpu', 'wasm'] as const) {
    it(`${backend}: the output, gradients, moving statistics and inference of tfjs-layers' own`, async () => {
      const ours = await onBackend(backend, () => step(true));
      const ref = await onBackend(backend, () => step(false));
      for (let i = 0; i < ref.length; i++)
        expect(maxAbsDiff(ours[i], ref[i]) / Math.max(1, ...ref[i].map(Math.abs)), NAMES[i]).toBeLessThan(2e-5);
      expect(ref[2].some((v) => Math.abs(v) > 1e-3)).toBe(true);
    });
  }

  it('leaves no tensors behind in a training step', () => {
    const m = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [8, 8, 1], filters: 3, kernelSize: 3 }),
        tf.layers.batchNormalization({ name: 'bn' }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 2 }),
      ],
    });
    const opt = tf.train.sgd(0.1);
    const x = tf.tensor4d(randArray(4 * 64, 12), [4, 8, 8, 1]),
      t = tf.tensor2d(randArray(8, 13), [4, 2]);
    const stepOnce = (s: number) =>
      tf.dispose(
        opt.minimize(() => tf.losses.meanSquaredError(t, execute(m, x, { training: true, step: s })) as tf.Scalar, true) ?? undefined,
      );
    stepOnce(0);
    const before = tf.memory().numTensors;
    stepOnce(1);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, t]);
    m.dispose();
  });
});

describe('Dropout', () => {
  const x = tf.ones([4, 256]);
  const model = (rate: number, seed: number) =>
    tf.sequential({ layers: [tf.layers.dropout({ inputShape: [256], rate, seed, name: 'd' })] });
  const mask = (m: tf.LayersModel, t: tf.Tensor, step?: number) => Array.from(execute(m, t, { training: true, step }).dataSync());

  it("tfjs-layers' seeded dropout repeats its mask (why the pass draws its own)", () => {
    const l = tf.layers.dropout({ rate: 0.5, seed: 3 });
    const once = () => Array.from((l.apply(x, { training: true }) as tf.Tensor).dataSync());
    expect(once()).toEqual(once());
  });

  it('draws a new mask at every step, the same one again for the same step, another for another seed', () => {
    const m = model(0.5, 3);
    const a = mask(m, x, 7),
      b = mask(m, x, 8);
    expect(b).not.toEqual(a);
    expect(mask(m, x, 7)).toEqual(a);
    expect(mask(model(0.5, 4), x, 7)).not.toEqual(a);
    const c = mask(m, x),
      d = mask(m, x); // without a step: the model's own count of training calls
    expect(d).not.toEqual(c);
  });

  it('keeps units with probability 1 - rate and scales them by 1 / (1 - rate); inference passes x through', () => {
    const m = model(0.25, 1);
    const v = mask(m, tf.ones([40, 256]), 0);
    expect(new Set(v.map((t) => +t.toFixed(5)))).toEqual(new Set([0, +(1 / 0.75).toFixed(5)]));
    const kept = v.filter((t) => t > 0).length / v.length;
    expect(Math.abs(kept - 0.75)).toBeLessThan(0.02); // 10,240 draws: 5 standard deviations is 0.021
    expect(Array.from(execute(m, x, { training: false }).dataSync())).toEqual(Array.from(x.dataSync()));
  });
});

describe('alexnet-small seeding', () => {
  const weights = (m: tf.LayersModel) => m.getWeights().map((w) => Array.from(w.dataSync()));
  const run = (seed: number) => {
    const m = alexnetSmall({ widths: [4, 8, 8], fc: [16, 8], seed });
    const opt = adam(1e-3);
    const x = tf.randomUniform([8, 28, 28, 1], 0, 1, 'float32', 1),
      y = tf.oneHot(tf.tensor1d([0, 1, 2, 3, 4, 5, 6, 7], 'int32'), 10);
    const w0 = weights(m);
    for (let s = 0; s < 3; s++)
      tf.dispose(
        opt.minimize(() => tf.losses.softmaxCrossEntropy(y, execute(m, x, { training: true, step: s })) as tf.Scalar, true) ?? undefined,
      );
    const w = weights(m);
    tf.dispose([x, y]);
    m.dispose();
    opt.dispose();
    return { w0, w };
  };

  it('gives the same initial weights (conv1 included) and the same weights after dropout steps for the same seed', () => {
    const a = run(0),
      b = run(0),
      c = run(1);
    expect(b.w0).toEqual(a.w0);
    expect(b.w).toEqual(a.w);
    expect(c.w0[0]).not.toEqual(a.w0[0]);
  });
});

describe('execute on LeNet-5', () => {
  const x = () =>
    tf.tensor4d(
      randArray(9 * 28 * 28, 11).map((v) => (v + 1) / 2),
      [9, 28, 28, 1],
    );
  const labels = () => tf.oneHot(tf.tensor1d([0, 1, 2, 3, 4, 5, 6, 7, 8], 'int32'), 10);

  it('fuses nothing on the cpu backend, and gives the logits of model.apply', async () => {
    await onBackend('cpu', () => {
      const m = lenet5({ seed: 3 });
      expect(canFuse(m)).toBe(false);
      const [a, b] = tf.tidy(() => {
        const t = x();
        return [m.apply(t, { training: false }) as tf.Tensor, execute(m, t, { training: false })].map((y) => y.dataSync());
      });
      expect(maxAbsDiff(b, a)).toBeLessThan(1e-5);
      m.dispose();
    });
  });

  describe.skipIf(!built)('with the native kernels (wasm)', () => {
    it('gives the logits of model.apply bit for bit, and calls the fused kernel once per pair', () => {
      const m = lenet5({ seed: 4 });
      expect(canFuse(m)).toBe(true);
      const addon = nativeAddon()!,
        fwd = addon.convReluPool;
      let calls = 0;
      addon.convReluPool = (...a) => {
        calls++;
        return fwd(...a);
      };
      try {
        for (const training of [false, true]) {
          const [a, b] = tf.tidy(() => {
            const t = x();
            return [m.apply(t, { training }) as tf.Tensor, execute(m, t, { training, step: 0 })].map((y) => y.dataSync());
          });
          expect(Array.from(b)).toEqual(Array.from(a));
        }
      } finally {
        addon.convReluPool = fwd;
      }
      expect(calls).toBe(4);
      m.dispose();
    });

    it('gives the loss gradients of model.apply for every weight, and leaves no tensors behind', () => {
      const m = lenet5({ seed: 5 });
      const vars = m.trainableWeights.map((w) => w.read() as tf.Variable);
      const t = x(),
        y = labels();
      const before = tf.memory().numTensors;
      const grads = (ours: boolean) =>
        tf.tidy(() => {
          const { value, grads: g } = tf.variableGrads(
            () =>
              tf.losses.softmaxCrossEntropy(
                y,
                ours ? execute(m, t, { training: true, step: 0 }) : (m.apply(t, { training: true }) as tf.Tensor),
              ) as tf.Scalar,
            vars,
          );
          return [value.dataSync()[0], vars.map((v) => g[v.name].dataSync() as Float32Array)] as const;
        });
      const [la, ga] = grads(false),
        [lb, gb] = grads(true);
      expect(tf.memory().numTensors).toBe(before);
      expect(lb).toBe(la);
      vars.forEach((v, i) => {
        const scale = Math.max(1e-3, ...Array.from(ga[i], Math.abs));
        expect(maxAbsDiff(gb[i], ga[i]) / scale, v.name).toBeLessThan(1e-5);
      });
      expect(ga.every((g) => g.some((v) => v !== 0))).toBe(true); // every weight gets a gradient
      tf.dispose([t, y]);
      m.dispose();
    });
  });
});
