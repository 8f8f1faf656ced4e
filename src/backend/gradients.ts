/**
 * Gradients that tfjs-core computes wastefully, registered over its own (backend-independent).
 *
 * ReLU: tfjs-core's dx = dy * cast(step(x)) is three kernels and two intermediate tensors; where the
 * backend has bowcnn's 'BowcnnReluGrad' (wasm: one SIMD pass, dx = x > 0 ? dy : 0) it is one. Elsewhere
 * the same ops as tfjs-core. (A NaN in x gives 0 there, NaN in tfjs-core's.)
 *
 * bowcnn's fused bias + ReLU ('BowcnnBiasRelu', see fused-kernels.ts): both gradients come from one
 * 'BowcnnBiasReluGrad' pass, run when the node's gradient is taken (dx and dbias together; tfjs-core
 * would otherwise call one lazy function per input and compute the pass twice).
 *
 * Sum and Mean without a tensor of ones.
 *
 * tfjs-core 4.22 differentiates y = sum(x, axes) as dx = reshape(dy) * ones(x.shape), and Mean the same
 * way divided by the count. The ones are built as a JavaScript array of x's full size on every call: for
 * batch normalisation's statistics that is the whole activation (alexnet-small, batch 512, first layer:
 * 12.8M floats) filled on the CPU and uploaded to the GPU each step (7 s of a 30 s H100 run's CPU profile).
 * Here dx = broadcastTo(reshape(dy), x.shape), and for Mean dy is divided by the count before it is
 * broadcast: the same values, made on the backend, with no array on the CPU. Backend-independent.
 */
import * as tf from '@tensorflow/tfjs';

import { hasNativeKernel } from './kernel-util.js';

function expandedShape(x: tf.Tensor, axis: number | number[]): { shape: number[]; count: number } {
  const axes = tf.util.parseAxisParam(axis, x.shape);
  const shape = x.shape.slice();
  let count = 1;
  for (const a of axes) {
    count *= x.shape[a];
    shape[a] = 1;
  }
  return { shape, count };
}

let registered = false;
/** Registers bowcnn's gradients (Sum, Mean, Relu, BowcnnBiasRelu) over tfjs-core's, once. */
export function registerGradients(): void {
  if (registered) return;
  registered = true;
  tf.registerGradient({
    kernelName: 'Sum',
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved;
      const { shape } = expandedShape(x, (attrs as { axis: number | number[] }).axis);
      return { x: () => tf.broadcastTo(tf.reshape(dy as tf.Tensor, shape), x.shape) };
    },
  });
  tf.registerGradient({
    kernelName: 'Mean',
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved;
      const { shape, count } = expandedShape(x, (attrs as { axis: number | number[] }).axis);
      return { x: () => tf.broadcastTo(tf.reshape(tf.div(dy as tf.Tensor, count), shape), x.shape) };
    },
  });
  tf.registerGradient({
    kernelName: 'Relu',
    inputsToSave: ['x'],
    gradFunc: (dy, saved) => {
      const [x] = saved;
      return {
        x: () =>
          hasNativeKernel('BowcnnReluGrad', x)
            ? (tf.engine().runKernel('BowcnnReluGrad', { dy: dy as tf.Tensor, x }, {}) as tf.Tensor)
            : tf.mul(dy as tf.Tensor, tf.cast(tf.step(x), 'float32')),
      };
    },
  });
  tf.registerGradient({
    kernelName: 'BowcnnBiasRelu',
    outputsToSave: [true],
    gradFunc: (dy, saved) => {
      const [y] = saved;
      const [dx, db] = tf.engine().runKernel('BowcnnBiasReluGrad', { dy: dy as tf.Tensor, y }, {}) as tf.Tensor[];
      return { x: () => dx, bias: () => db };
    },
  });
  // bowcnn's fused convolution + bias + ReLU + 2x2 max pool (native.ts): the filter's and the bias's
  // gradients, and the input's when the forward said it would be wanted, in one kernel call; an input
  // gradient nobody announced is computed when asked for (a second call)
  tf.registerGradient({
    kernelName: 'BowcnnConvReluPool',
    inputsToSave: ['x', 'filter'],
    outputsToSave: [false, true],
    gradFunc: (dys, saved, attrs) => {
      const [x, filter, code] = saved;
      const dp = (Array.isArray(dys) ? dys[0] : dys) as tf.Tensor;
      const { pad, needDx } = attrs as { pad: unknown; needDx: boolean };
      const run = (wantDx: boolean) =>
        tf.engine().runKernel('BowcnnConvReluPoolGrad', { x, filter, dp, code }, { pad, needDx: wantDx } as never) as tf.Tensor[];
      const [dw, db, dx] = run(needDx);
      return { x: () => dx ?? run(true)[2], filter: () => dw, bias: () => db };
    },
  });
}
