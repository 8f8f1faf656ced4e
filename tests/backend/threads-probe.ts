// Run by wasm-threads.test.ts in a child process: starts wasm with BOWCNN_WASM_THREADS, runs a conv
// layer forward and backward, a matrix product big enough for XNNPACK to split and bowcnn's SIMD
// kernels (per-channel moments, a one-channel filter gradient), prints JSON, and
// must then exit by itself (the pool's workers may not keep Node alive).
import { tf, useBackend } from '../../src/backend/index.js';
import { channelMoments } from '../../src/backend/channel-kernels.js';
import { randArray } from '../helpers.js';

const info = await useBackend('wasm');
const x = tf.tensor4d(randArray(8 * 28 * 28 * 4, 1), [8, 28, 28, 4]);
const w = tf.variable(tf.tensor4d(randArray(5 * 5 * 4 * 16, 2), [5, 5, 4, 16]));
const a = tf.tensor2d(randArray(256 * 300, 3), [256, 300]);
const { value, grads } = tf.variableGrads(
  () =>
    tf
      .relu(tf.conv2d(x, w as tf.Tensor4D, 1, 'same'))
      .square()
      .mean() as tf.Scalar,
  [w],
);
const mm = tf.matMul(a, a, false, true);
// bowcnn's SIMD kernels, over the shared memory (threads > 1) or the unshared one (1)
const x1 = tf.tensor4d(randArray(8 * 28 * 28, 4), [8, 28, 28, 1]);
const w1 = tf.variable(tf.tensor4d(randArray(3 * 3 * 16, 5), [3, 3, 1, 16]));
const g1 = tf.variableGrads(
  () =>
    tf
      .conv2d(x1, w1 as tf.Tensor4D, 1, 'same')
      .square()
      .mean() as tf.Scalar,
  [w1],
).grads[w1.name];
const m = channelMoments(x);
const simd = [...m.mean.dataSync(), ...m.variance.dataSync(), ...g1.dataSync()];
const out = {
  threads: info.threads,
  notes: info.notes.join('; '),
  loss: value.dataSync()[0],
  grad: Array.from(grads[w.name].dataSync()),
  mm: Array.from(mm.dataSync().slice(0, 2000)),
  simd,
};
process.stdout.write(JSON.stringify(out));
