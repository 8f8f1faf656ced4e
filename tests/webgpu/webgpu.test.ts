// The webgpu backend (Dawn): conv forward and gradients against cpu, a BoW feature batch against wasm,
// and three LeNet-5 training steps. On a machine where Dawn finds no adapter, the group says so and skips.
import { describe, expect, it } from 'vitest';
import { tf, useBackend, backendInfo } from '../../src/backend/index.js';
import { lenet5 } from '../../src/cnn/lenet5.js';
import { coding } from '../../src/stages/coding.js';
import { applyStages, denseSiftStages } from '../../src/stages/dsift.js';
import { pooling } from '../../src/stages/pooling.js';
import { maxAbsDiff, randArray } from '../helpers.js';

let available = true, why = '';
try {
  await useBackend('webgpu', { allowSoftware: true });
  await useBackend('wasm');
} catch (e) { available = false; why = (e as Error).message; }
if (!available) console.warn(`webgpu tests skipped: ${why}`);

async function on<T>(name: 'cpu' | 'wasm' | 'webgpu', f: () => Promise<T>): Promise<T> {
  await useBackend(name, { allowSoftware: true });
  return f();
}

describe.skipIf(!available)('webgpu backend', () => {
  it('names its adapter', async () => {
    await useBackend('webgpu', { allowSoftware: true });
    expect(backendInfo().name).toBe('webgpu');
    expect(backendInfo().device).toMatch(/WebGPU on /);
  });

  it('conv2d forward and both gradients match the cpu backend', async () => {
    const x = randArray(2 * 12 * 10 * 3, 1), w = randArray(3 * 3 * 3 * 5, 2);
    const run = async () => {
      const xt = tf.tensor4d(x, [2, 12, 10, 3]), wt = tf.tensor4d(w, [3, 3, 3, 5]);
      const f = (a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.square(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, [2, 1], 'same')));
      const [gx, gw] = tf.grads(f)([xt, wt]);
      const y = tf.conv2d(xt, wt, [2, 1], 'same');
      const out = [...(await y.data()), ...(await gx.data()), ...(await gw.data())];
      tf.dispose([xt, wt, gx, gw, y]);
      return out;
    };
    const cpu = await on('cpu', run), gpu = await on('webgpu', run);
    const scale = Math.max(...cpu.map(Math.abs));
    expect(maxAbsDiff(gpu, cpu) / scale).toBeLessThan(1e-4);
  });

  it('a BoW feature batch (dense SIFT, hard coding, pyramid pooling) matches wasm', async () => {
    const img = randArray(3 * 28 * 28, 3).map((v) => (v + 1) / 2);
    const cents = randArray(32 * 128, 4).map(Math.abs);
    const run = async () => {
      const cod = coding({ words: 32, mode: 'soft', beta: 2 });
      cod.setCentres(tf.tensor2d(cents, [32, 128]));
      const stages = [...denseSiftStages({ size: 4, step: 2, mode: 'bilinear', window: 'triangle' }), cod, pooling({ op: 'sum', pyramid: [1, 2] })];
      const y = applyStages(stages, tf.tensor4d(img, [3, 28, 28, 1]));
      const v = Array.from(await y.data());
      y.dispose();
      return v;
    };
    const wasm = await on('wasm', run), gpu = await on('webgpu', run);
    expect(gpu.length).toBe(3 * 32 * 5);
    expect(maxAbsDiff(gpu, wasm) / Math.max(...wasm.map(Math.abs))).toBeLessThan(1e-3);
  });

  it('three LeNet-5 training steps: the loss falls, and the first loss matches wasm', async () => {
    const x = randArray(32 * 28 * 28, 5).map((v) => (v + 1) / 2);
    const y = Array.from({ length: 32 }, (_, i) => i % 10);
    const run = async () => {
      const m = lenet5({ seed: 4 });
      const opt = tf.train.adam(3e-3);
      const xt = tf.tensor4d(x, [32, 28, 28, 1]), yt = tf.oneHot(tf.tensor1d(y, 'int32'), 10);
      const losses: number[] = [];
      for (let s = 0; s < 3; s++) {
        const l = opt.minimize(() => tf.losses.softmaxCrossEntropy(yt, m.apply(xt, { training: true }) as tf.Tensor) as tf.Scalar, true, m.trainableWeights.map((w) => w.read() as tf.Variable));
        losses.push((await l!.data())[0]);
        l!.dispose();
      }
      tf.dispose([xt, yt]); m.dispose(); opt.dispose();
      return losses;
    };
    const wasm = await on('wasm', run), gpu = await on('webgpu', run);
    expect(gpu[2]).toBeLessThan(gpu[0]);
    expect(Math.abs(gpu[0] - wasm[0])).toBeLessThan(1e-3);
  });
});
