/**
 * Ops over bowcnn's fused kernels (fused-kernels.ts), with tfjs-core's ops where the active backend
 * lacks them (cpu, webgpu): the same values either way.
 */
import * as tf from '@tensorflow/tfjs';

import { hasNativeKernel } from './kernel-util.js';

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
