// bowcnn's BatchNorm (hand-derived gradient, per-channel passes on wasm) against tfjs-layers'
// batchNormalization and against plain loops.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf, useBackend } from '../../src/backend/index.js';
import { channelAffine, channelMoments, channelSums } from '../../src/backend/channel-kernels.js';
import { setSimdKernelsEnabled, simdKernels } from '../../src/backend/simd/index.js';
import { BatchNorm } from '../../src/cnn/batchnorm.js';
import { maxAbsDiff, onBackend, randArray } from '../helpers.js';

const SHAPE: [number, number, number, number] = [6, 5, 7, 4];
const N = SHAPE.reduce((a, b) => a * b, 1), C = SHAPE[3];

/** Output, gradients (x, gamma, beta) and moving statistics of one training call, plus an inference call. */
function step(layer: tf.layers.Layer): number[][] {
  return tf.tidy(() => {
    const x = tf.tensor4d(randArray(N, 1).map((v, i) => 3 * v + (i % C)), SHAPE);   // channel means 0..3
    const w = tf.tensor4d(randArray(N, 2), SHAPE);
    layer.apply(x);   // builds
    layer.setWeights([tf.tensor1d(randArray(C, 3).map((v) => 1 + v / 2)), tf.tensor1d(randArray(C, 4)),
      tf.tensor1d(randArray(C, 5)), tf.tensor1d(randArray(C, 6).map((v) => 1 + v / 2))]);
    const [gamma, beta] = layer.trainableWeights.map((v) => v.read() as tf.Variable);
    const f = (xx: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
      void g; void b;
      return tf.sum(tf.mul(layer.apply(xx, { training: true }) as tf.Tensor, w));
    };
    const { value, grads } = tf.variableGrads(() => f(x, gamma, beta) as tf.Scalar, [gamma, beta]);
    const dx = tf.grad((xx: tf.Tensor) => f(xx, gamma, beta))(x);
    const y = layer.apply(x, { training: true }) as tf.Tensor;
    const infer = layer.apply(x, { training: false }) as tf.Tensor;
    const moving = layer.getWeights().slice(2);
    return [[value.dataSync()[0]], Array.from(y.dataSync()), Array.from(dx.dataSync()),
      Array.from(grads[gamma.name].dataSync()), Array.from(grads[beta.name].dataSync()),
      ...moving.map((m) => Array.from(m.dataSync())), Array.from(infer.dataSync())];
  });
}

const NAMES = ['loss', 'y', 'dx', 'dgamma', 'dbeta', 'moving mean', 'moving variance', 'inference y'];

describe('BatchNorm against tf.layers.batchNormalization', () => {
  for (const backend of ['cpu', 'wasm'] as const) {
    it(`${backend}: same output, gradients, moving statistics and inference`, async () => {
      const ours = await onBackend(backend, () => step(new BatchNorm({ momentum: 0.9 })));
      const ref = await onBackend(backend, () => step(tf.layers.batchNormalization({ momentum: 0.9 })));
      for (let i = 0; i < ref.length; i++) {
        const scale = Math.max(1, ...ref[i].map(Math.abs));
        expect(maxAbsDiff(ours[i], ref[i]) / scale, NAMES[i]).toBeLessThan(2e-5);
      }
      expect(ref[2].some((v) => Math.abs(v) > 1e-3)).toBe(true);
    });
  }
});

for (const simd of [true, false]) describe(`per-channel passes on wasm against plain loops (${simd ? 'SIMD kernels' : 'JavaScript loops'})`, () => {
  beforeAll(async () => { await useBackend('wasm'); setSimdKernelsEnabled(simd); });
  afterAll(() => setSimdKernelsEnabled(true));
  // C = 4: every pass in SIMD; C = 6: affine in SIMD with an overlapping block, the sums in JavaScript
  for (const shape of [SHAPE, [3, 5, 7, 6]]) it(`moments, sums and affine, C = ${shape[3]}`, () => {
    const N = shape.reduce((p, q) => p * q, 1), C = shape[3];
    const x = randArray(N, 7).map((v, i) => v + (i % C)), y = randArray(N, 8), a = randArray(C, 9), b = randArray(C, 10), a2 = randArray(C, 11);
    const mean = new Float64Array(C), sq = new Float64Array(C), s = new Float64Array(C), d = new Float64Array(C);
    for (let i = 0; i < N; i++) { const c = i % C; mean[c] += x[i] / (N / C); s[c] += y[i]; d[c] += y[i] * x[i]; }
    for (let i = 0; i < N; i++) { const c = i % C; sq[c] += (x[i] - mean[c]) ** 2 / (N / C); }
    const r = tf.tidy(() => {
      const xt = tf.tensor4d(x, shape as typeof SHAPE), yt = tf.tensor4d(y, shape as typeof SHAPE);
      const m = channelMoments(xt), su = channelSums(xt, yt);
      const one = channelAffine(xt, tf.tensor1d(a), tf.tensor1d(b));
      const two = channelAffine(xt, tf.tensor1d(a), tf.tensor1d(b), yt, tf.tensor1d(a2));
      return [m.mean, m.variance, su.sum, su.dot, one, two].map((t) => Array.from(t.dataSync()));
    });
    expect(maxAbsDiff(r[0], mean)).toBeLessThan(1e-5);
    expect(maxAbsDiff(r[1], sq)).toBeLessThan(1e-4);
    expect(maxAbsDiff(r[2], s)).toBeLessThan(1e-4);
    expect(maxAbsDiff(r[3], d)).toBeLessThan(1e-4);
    expect(maxAbsDiff(r[4], Array.from(x, (v, i) => a[i % C] * v + b[i % C]))).toBeLessThan(1e-5);
    expect(maxAbsDiff(r[5], Array.from(x, (v, i) => a[i % C] * v + b[i % C] + a2[i % C] * y[i]))).toBeLessThan(1e-5);
    expect(tf.getKernel('BowcnnChannelMoments', 'wasm')).toBeDefined();
    expect(simdKernels(tf.backend()) !== null).toBe(simd);
  });

  it('affine stays right when its output makes the wasm heap grow', () => {
    const heap = (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.length;
    const n = Math.ceil(heap / 4 / 2 / 16) * 16;   // x takes about half the heap now: out cannot fit beside it
    const xv = new Float32Array(n).map((_, i) => (i % 97) - 48);
    const got = tf.tidy(() => {
      const x = tf.tensor2d(xv, [n / 16, 16]);
      const y = channelAffine(x, tf.fill([16], 2) as tf.Tensor1D, tf.fill([16], 1) as tf.Tensor1D);
      return Array.from(y.dataSync().subarray(n - 200));
    });
    expect(got).toEqual(Array.from(xv.subarray(n - 200), (v) => 2 * v + 1));
    expect((tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.length).toBeGreaterThan(heap);
  });
});

describe('BatchNorm as a layer', () => {
  beforeAll(async () => { await useBackend('wasm'); });
  afterAll(() => tf.disposeVariables());

  it('round-trips through save/load and leaks no tensors in a training step', async () => {
    const m = tf.sequential({ layers: [tf.layers.conv2d({ inputShape: [8, 8, 1], filters: 3, kernelSize: 3 }), new BatchNorm({ name: 'bn' }), tf.layers.flatten(), tf.layers.dense({ units: 2 })] });
    m.compile({ optimizer: tf.train.sgd(0.1), loss: 'meanSquaredError' });
    const x = tf.tensor4d(randArray(4 * 64, 12), [4, 8, 8, 1]), t = tf.tensor2d(randArray(8, 13), [4, 2]);
    await m.trainOnBatch(x, t);
    const before = tf.memory().numTensors;
    await m.trainOnBatch(x, t);
    expect(tf.memory().numTensors).toBe(before);
    let saved: tf.io.ModelArtifacts | undefined;
    await m.save(tf.io.withSaveHandler(async (a) => { saved = a; return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } }; }));
    const back = await tf.loadLayersModel(tf.io.fromMemory(saved!));
    expect(back.getLayer('bn').getClassName()).toBe('BowcnnBatchNorm');
    const p1 = m.predict(x) as tf.Tensor, p2 = back.predict(x) as tf.Tensor;
    expect(maxAbsDiff(p1.dataSync(), p2.dataSync())).toBeLessThan(1e-6);
    tf.dispose([x, t, p1, p2]);
  });
});
