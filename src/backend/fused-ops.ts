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
