// One process of `npm run bench -- threads` / `-- simd` / `-- fused`: medians in ms, printed as one JSON line.
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../src/backend/index.js';
import { channelAffine, channelMoments, channelSums } from '../src/backend/channel-kernels.js';
import { conv2dFilterGrad } from '../src/backend/wasm-kernels.js';
import { adam } from '../src/cnn/adam.js';
import { softmaxCrossEntropy } from '../src/backend/fused-ops.js';
import { alexnetSmall } from '../src/cnn/alexnet.js';
import { lenet5 } from '../src/cnn/lenet5.js';
import { execute } from '../src/passes/cnn.js';
import { timeIt } from './util.js';

const info = await useBackend('wasm');
const out: Record<string, number> = { threads: info.threads };
const B = 128;
for (const [name, make, reps] of [
  ['lenet5 step', () => lenet5({ seed: 0 }), 30],
  ['alexnet-small step', () => alexnetSmall({ widths: [16, 32, 64], seed: 0 }), 8],
] as const) {
  const m = make(),
    opt = adam(1e-3); // as cnn/train uses it (fused on wasm)
  const x = tf.randomUniform([B, 28, 28, 1]),
    y = tf.oneHot(tf.randomUniform([B], 0, 10, 'int32') as tf.Tensor1D, 10);
  const step = () => {
    const l = opt.minimize(() => softmaxCrossEntropy(y, execute(m, x, { training: true })), true)!;
    l.dataSync();
    l.dispose();
  };
  out[`${name} ms`] = +(1000 * (await timeIt(step, reps, 3))).toFixed(1);
  tf.dispose([x, y]);
  m.dispose();
  opt.dispose();
}
// BOWCNN_BENCH_STEPS_ONLY=1: the two training steps only (the fused suite changes nothing else)
if (process.env.BOWCNN_BENCH_STEPS_ONLY === '1') {
  console.log(JSON.stringify(out));
  process.exit(0);
}
const time = async (f: () => tf.Tensor | tf.Tensor[]) =>
  +(
    1000 *
    (await timeIt(
      () => {
        const t = f();
        const ts = Array.isArray(t) ? t : [t];
        ts[0].dataSync();
        tf.dispose(ts);
      },
      20,
      2,
    ))
  ).toFixed(2);
const shapes = [
  { layer: 'alexnet conv1', x: [B, 28, 28, 1], f: [3, 3, 1, 16], pad: 'same' },
  { layer: 'LeNet C1', x: [B, 28, 28, 1], f: [5, 5, 1, 6], pad: 'same' },
  { layer: 'LeNet C3', x: [B, 14, 14, 6], f: [5, 5, 6, 16], pad: 'valid' },
  { layer: 'alexnet conv2', x: [B, 14, 14, 16], f: [3, 3, 16, 32], pad: 'same' },
] as const;
for (const s of shapes) {
  const xs = s.x as unknown as [number, number, number, number],
    fs = s.f as unknown as [number, number, number, number];
  const x = tf.randomUniform(xs) as tf.Tensor4D,
    w = tf.randomUniform(fs) as tf.Tensor4D;
  const dy = tf.randomUniform(tf.backend_util.computeConv2DInfo(xs, fs, 1, 1, s.pad).outShape) as tf.Tensor4D;
  out[`${s.layer} conv ms`] = await time(() => tf.conv2d(x, w, 1, s.pad));
  out[`${s.layer} input grad ms`] = await time(() => tf.conv2dTranspose(dy, w, xs, 1, s.pad));
  out[`${s.layer} filter grad ms`] = await time(() => conv2dFilterGrad(x, dy, fs, 1, s.pad));
  tf.dispose([x, w, dy]);
}
// alexnet-small's first batch-norm layer and pooling gradient: [128,28,28,16]
{
  const x = tf.randomNormal([B, 28, 28, 16]),
    g = tf.randomNormal([B, 28, 28, 16]);
  const a = tf.randomNormal([16]) as tf.Tensor1D,
    b = tf.randomNormal([16]) as tf.Tensor1D;
  out['BN moments [128,28,28,16] ms'] = await time(() => {
    const m = channelMoments(x);
    return [m.mean, m.variance];
  });
  out['BN sums ms'] = await time(() => {
    const s = channelSums(x, g);
    return [s.sum, s.dot];
  });
  out['BN affine ms'] = await time(() => channelAffine(x, a, b));
  const y = tf.maxPool(x as tf.Tensor4D, 2, 2, 'valid'),
    dy = tf.randomNormal(y.shape);
  out['MaxPoolGrad 2x2 [128,28,28,16] ms'] = await time(
    () => tf.engine().runKernel('MaxPoolGrad', { dy, input: x, output: y }, { filterSize: 2, strides: 2, pad: 'valid' }) as tf.Tensor,
  );
  tf.dispose([x, g, a, b, y, dy]);
}
console.log(JSON.stringify(out));
