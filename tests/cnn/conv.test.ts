// bowcnn's Conv2D layer against tfjs-layers' conv2d: same outputs and weight gradients, no gradient
// with respect to the images in a first layer, and a save/load round trip.
import { afterAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/index.js';
import { conv2d } from '../../src/cnn/conv.js';
import { maxAbsDiff, onBackend, randArray } from '../helpers.js';

const X: [number, number, number, number] = [3, 9, 8, 2];

function model(ours: boolean, activation: 'linear' | 'relu', useBias: boolean, strides: number, padding: 'same' | 'valid'): tf.Sequential {
  const args = { inputShape: X.slice(1), filters: 5, kernelSize: 3, strides, padding, activation, useBias, name: 'c' };
  const m = tf.sequential({ layers: [ours ? conv2d(args) : tf.layers.conv2d(args), tf.layers.flatten(), tf.layers.dense({ units: 2, name: 'd' })] });
  m.setWeights(m.getWeights().map((w, i) => tf.tensor(randArray(w.size, 30 + i), w.shape)));
  return m;
}

/** training output, inference output, and the gradients of a loss with respect to every weight */
function run(m: tf.Sequential): number[][] {
  return tf.tidy(() => {
    const x = tf.tensor4d(randArray(X.reduce((a, b) => a * b, 1), 3), X);
    const vars = m.trainableWeights.map((w) => w.read() as tf.Variable);
    const { grads } = tf.variableGrads(() => tf.sum(tf.square(m.apply(x, { training: true }) as tf.Tensor)) as tf.Scalar, vars);
    return [m.apply(x, { training: true }) as tf.Tensor, m.predict(x) as tf.Tensor, ...vars.map((v) => grads[v.name])].map((t) => Array.from(t.dataSync()));
  });
}

describe('Conv2D (lazy input gradient) against tf.layers.conv2d', () => {
  afterAll(() => tf.disposeVariables());
  for (const backend of ['cpu', 'wasm'] as const) {
    for (const [activation, useBias, strides, padding] of [['linear', false, 1, 'same'], ['relu', true, 2, 'valid'], ['linear', true, 1, 'valid']] as const) {
      it(`${backend}: ${activation}, bias ${useBias}, stride ${strides}, ${padding}`, async () => {
        const [ours, ref] = await onBackend(backend, () => [run(model(true, activation, useBias, strides, padding)), run(model(false, activation, useBias, strides, padding))]);
        expect(ours.length).toBe(ref.length);
        for (let i = 0; i < ref.length; i++) expect(maxAbsDiff(ours[i], ref[i]) / Math.max(1, ...ref[i].map(Math.abs))).toBeLessThan(1e-5);
      });
    }
  }

  it('does not compute the gradient with respect to the images (tfjs-layers\' fused conv does)', async () => {
    const backprops = async (ours: boolean) => onBackend('wasm', async () => {
      const m = model(ours, 'linear', false, 1, 'same');
      const x = tf.tensor4d(randArray(X.reduce((a, b) => a * b, 1), 3), X);
      const vars = m.trainableWeights.map((w) => w.read() as tf.Variable);
      const p = await tf.profile(() => { const { value, grads } = tf.variableGrads(() => tf.sum(m.apply(x, { training: true }) as tf.Tensor) as tf.Scalar, vars); tf.dispose([value, ...Object.values(grads)]); });
      x.dispose();
      return p.kernels.filter((k) => k.name === 'Conv2DBackpropInput').length;
    });
    expect(await backprops(false)).toBe(1);
    expect(await backprops(true)).toBe(0);
  });

  it('with a bias and ReLU, trains through the fused bias + ReLU kernels on wasm (no Relu, no ReLU gradient)', async () => {
    const names = await onBackend('wasm', async () => {
      const m = model(true, 'relu', true, 1, 'same');
      const x = tf.tensor4d(randArray(X.reduce((a, b) => a * b, 1), 3), X);
      const vars = m.layers[0].trainableWeights.map((w) => w.read() as tf.Variable);
      const p = await tf.profile(() => { const { value, grads } = tf.variableGrads(() => tf.sum(m.apply(x, { training: true }) as tf.Tensor) as tf.Scalar, vars); tf.dispose([value, ...Object.values(grads)]); });
      x.dispose();
      return p.kernels.map((k) => k.name);
    });
    expect(names).toContain('BowcnnBiasRelu');
    expect(names).toContain('BowcnnBiasReluGrad');
    for (const k of ['Relu', 'BowcnnReluGrad']) expect(names).not.toContain(k);
  });

  it('round-trips through save / loadLayersModel as BowcnnConv2D', async () => {
    await onBackend('wasm', async () => {
      const m = model(true, 'relu', true, 1, 'same');
      let saved: tf.io.ModelArtifacts | undefined;
      await m.save(tf.io.withSaveHandler(async (a) => { saved = a; return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } }; }));
      expect(JSON.stringify(saved!.modelTopology)).toContain('"class_name":"BowcnnConv2D"');
      const back = await tf.loadLayersModel(tf.io.fromMemory(saved!));
      const x = tf.tensor4d(randArray(X.reduce((a, b) => a * b, 1), 4), X);
      expect(maxAbsDiff((back.predict(x) as tf.Tensor).dataSync(), (m.predict(x) as tf.Tensor).dataSync())).toBe(0);
    });
  });
});
