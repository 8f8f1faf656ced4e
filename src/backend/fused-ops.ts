/**
 * Ops over bowcnn's fused kernels (fused-kernels.ts), with tfjs-core's ops where the active backend
 * lacks them (cpu, webgpu): the same values either way.
 */
import * as tf from '@tensorflow/tfjs';

import { hasNativeKernel } from './kernel-util.js';
import { nativeKernelsActive } from './native.js';

/** max(x + bias, 0), x `[..., C]`, bias `[C]`; differentiable (one pass each way on wasm). */
export function biasRelu(x: tf.Tensor, bias: tf.Tensor): tf.Tensor {
  if (hasNativeKernel('BowcnnBiasRelu', x) && bias.dtype === 'float32') {
    return tf.engine().runKernel('BowcnnBiasRelu', { x, bias }, {}) as tf.Tensor;
  }
  return tf.tidy(() => tf.relu(tf.add(x, bias)));
}

/**
 * The mean softmax cross-entropy of logits `[B,K]` against labels `[B,K]` (one-hot or soft, any dtype),
 * with label smoothing: tf.losses.softmaxCrossEntropy(labels, logits, undefined, labelSmoothing), as one
 * kernel forward and one product backward where the backend has bowcnn's kernel.
 */
export function softmaxCrossEntropy(labels: tf.Tensor, logits: tf.Tensor, labelSmoothing = 0): tf.Scalar {
  if (!hasNativeKernel('BowcnnSoftmaxXent', logits) || logits.rank !== 2 || !tf.util.arraysEqual(labels.shape, logits.shape)) {
    // (tf.losses checks the shapes and says what is wrong)
    return tf.losses.softmaxCrossEntropy(labels, logits, undefined, labelSmoothing) as tf.Scalar;
  }
  const f = tf.customGrad(((z: tf.Tensor, save: tf.GradSaveFunc) => {
    const [loss, grad] = tf.engine().runKernel('BowcnnSoftmaxXent', { logits: z, labels }, { labelSmoothing }) as tf.Tensor[];
    save([grad]);
    return { value: loss, gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.mul(dy, saved[0]) };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(logits) as tf.Scalar;
}

/**
 * maxPool 2x2/2 ('valid') of relu(conv2d(x, filter, stride 1, pad) + bias), x `[N,H,W,Ci]`, filter
 * `[KH,KW,Ci,Co]`, bias `[Co]`: LeNet-5's C1 + S2 and C3 + S4. With the native kernels, one pass forward
 * and one call backward, and the `[N,OH,OW,Co]` activations are never written (the pooled output and
 * an int32 code of each window's max are); elsewhere tfjs-core's ops. `needDx`: whether x will want its
 * gradient (a first layer's images do not); a gradient not announced is still computed when asked for.
 */
export function convReluPool(
  x: tf.Tensor4D,
  filter: tf.Tensor4D,
  bias: tf.Tensor1D,
  pad: 'same' | 'valid' | number,
  needDx = true,
): tf.Tensor4D {
  if (hasNativeKernel('BowcnnConvReluPool', x) && nativeKernelsActive() && filter.dtype === 'float32' && bias.dtype === 'float32') {
    const [p, code] = tf.engine().runKernel('BowcnnConvReluPool', { x, filter, bias }, { pad, needDx } as never) as tf.Tensor[];
    code.dispose(); // the gradient keeps its own reference when one is being recorded
    return p as tf.Tensor4D;
  }
  return tf.tidy(() => tf.maxPool(biasRelu(tf.conv2d(x, filter, 1, pad), bias) as tf.Tensor4D, 2, 2, 'valid'));
}

/**
 * For each row of x `[..., D]`: the index (int32) of the largest x . kernel[:,m] + bias[m] over the M columns of
 * kernel `[D,M]`, and that largest score. With kernel = 2c^T and bias = -||c||^2 it is the nearest of the
 * centres c (BoW hard coding, k-means' assignment): one native pass that never writes the `[rows, M]` scores
 * where the native kernels are in use, else a product, ArgMax and Max. Ties go to the first column.
 */
export function nearestWords(x: tf.Tensor, kernel: tf.Tensor2D, bias: tf.Tensor1D): { idx: tf.Tensor; best: tf.Tensor } {
  if (hasNativeKernel('BowcnnNearest', x) && nativeKernelsActive()) {
    const [idx, best] = tf.engine().runKernel('BowcnnNearest', { x, kernel, bias }, {}) as tf.Tensor[];
    return { idx, best };
  }
  return tf.tidy(() => {
    const D = x.shape[x.rank - 1];
    const rows = x.shape.slice(0, -1);
    const s = tf.add(tf.matMul(tf.reshape(x, [-1, D]), kernel), bias);
    return { idx: tf.reshape(tf.argMax(s, 1), rows), best: tf.reshape(tf.max(s, 1), rows) };
  });
}
