// Every model and stage of the project, as a function that runs forward and backward once on a small
// batch and returns a scalar loss and its gradients' values. Add new models and stages here: the
// kernel-coverage test checks that all the kernels they use exist on wasm and agree with cpu.
import { tf } from '../../src/backend/index.js';
import { lenet5 } from '../../src/cnn/lenet5.js';
import { alexnetSmall, augment } from '../../src/cnn/alexnet.js';
import { applyStages, denseSiftStages } from '../../src/stages/dsift.js';
import { randArray } from '../helpers.js';

export interface Workload {
  name: string;
  run: () => number[];
}

function modelStep(make: () => tf.LayersModel, shape: [number, number, number, number]): () => number[] {
  return () => {
    const m = make();
    const x = tf.tensor4d(
      randArray(
        shape.reduce((a, b) => a * b),
        3,
      ).map((v) => (v + 1) / 2),
      shape,
    );
    const y = tf.oneHot(tf.tensor1d([0, 1, 2, 3].slice(0, shape[0]), 'int32'), (m.outputs[0].shape[1] ?? 10) as number);
    const { value, grads } = tf.variableGrads(
      () => tf.losses.softmaxCrossEntropy(y, m.apply(x, { training: true }) as tf.Tensor) as tf.Scalar,
    );
    const out = [
      value.dataSync()[0],
      ...Object.keys(grads)
        .sort()
        .map((k) => tf.sum(tf.abs(grads[k])).dataSync()[0]),
    ];
    tf.dispose([x, y, value, ...Object.values(grads)]);
    m.dispose();
    return out;
  };
}

/** A chain of stages, forward, and the gradient of a weighted sum of its output w.r.t. the input image. */
function stagesStep(make: () => import('../../src/stages/stage.js').Stage[], shape: [number, number, number, number]): () => number[] {
  return () => {
    const stages = make();
    const x = tf.tensor4d(
      randArray(
        shape.reduce((a, b) => a * b),
        5,
      ).map((v) => (v + 1) / 2),
      shape,
    );
    const y = applyStages(stages, x);
    const w = tf.tensor(randArray(y.size, 8), y.shape);
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(applyStages(stages, t as tf.Tensor4D), w)))(x);
    const out = [tf.sum(tf.abs(y)).dataSync()[0], tf.sum(tf.abs(g)).dataSync()[0]];
    tf.dispose([x, y, w, g]);
    return out;
  };
}

export const WORKLOADS: Workload[] = [
  { name: 'dense SIFT, wta, box', run: stagesStep(() => denseSiftStages({ size: 4, step: 2, mode: 'wta' }), [2, 28, 28, 1]) },
  {
    name: 'dense SIFT, bilinear, triangle, gaussian window, RGB, smoothed',
    run: stagesStep(
      () => denseSiftStages({ size: 3, step: 2, mode: 'bilinear', window: 'triangle', gaussianWindow: true, sigma: 0.8 }),
      [2, 24, 20, 3],
    ),
  },
  { name: 'lenet5 modern', run: modelStep(() => lenet5({ variant: 'modern', seed: 1 }), [4, 28, 28, 1]) },
  { name: 'lenet5 classic', run: modelStep(() => lenet5({ variant: 'classic', seed: 1 }), [4, 28, 28, 1]) },
  // batch norm (Tile, leading-axis Sum/Mean), dropout, max pooling at three sizes; plus the augmentation ops
  { name: 'alexnet-small', run: modelStep(() => alexnetSmall({ seed: 1, dropout: 0 }), [4, 28, 28, 1]) },
  {
    name: 'augmentation (crop, flip, affine jitter)',
    run: () => {
      // batch 1: the cpu backend's CropAndResize and Transform mishandle batches > 1 (tests/cnn/augment.test.ts
      // checks the batched wasm path against a plain loop instead)
      const x = tf.tensor4d(randArray(28 * 28, 3), [1, 28, 28, 1]);
      let s = 1;
      const rand = () => {
        s = (s * 16807) % 2147483647;
        return s / 2147483647;
      };
      const y = augment({ pad: 2, flip: true, jitter: 0.1 })(x, rand);
      const out = [tf.sum(tf.abs(y)).dataSync()[0]];
      tf.dispose([x, y]);
      return out;
    },
  },
];
