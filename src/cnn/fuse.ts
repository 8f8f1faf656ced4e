/**
 * Runs a sequential model's layers one by one, fusing what the backend can fuse: a convolution with bias
 * and ReLU followed by a 2x2, stride-2 max pool (LeNet-5's C1 + S2 and C3 + S4) becomes one
 * `convReluPool` call (backend/fused-ops.ts) where the native kernels are in use. The model itself is
 * unchanged (its layers, weights, cards, saved form); only the execution differs, as a graph compiler's
 * fusion pass would: the values are those of the layers run one after the other (the forward pass
 * bit for bit; the bias gradient sums in another order).
 *
 * Why: on the wasm backend with native kernels, C1's `[128,28,28,6]` activations were written by the
 * convolution, read and written by bias + ReLU, read by the pool, and in the backward pass written by the
 * pool's gradient, read and written by ReLU's, read by the filter gradient: ~4 ms of a ~13 ms LeNet-5
 * step went to passes over them and their kernel calls. Fused, only the pooled output and a code of
 * each window's max are written, and the backward pass puts the gradient straight onto the filter
 * gradient's grids. A Dense layer with bias and ReLU becomes a product and one `biasRelu` (tfjs-layers
 * runs MatMul, Add and Relu, and backward ReLU's gradient and a Sum for the bias: one pass each way here).
 *
 * Anything else (a functional model, other backends, layers that do not match) runs `model.apply`;
 * so does everything with BOWCNN_FUSE=0 (for comparison: `npm run bench -- native`).
 */
import * as tf from '@tensorflow/tfjs';

import { biasRelu, convReluPool } from '../backend/fused-ops.js';
import { hasNativeKernel } from '../backend/kernel-util.js';
import { nativeKernelsActive } from '../backend/native.js';

type Cfg = Record<string, unknown>;
type WeightedLayer = tf.layers.Layer & { kernel: tf.LayerVariable; bias: tf.LayerVariable | null };

const is2 = (v: unknown, n: number) => Array.isArray(v) ? v.length === 2 && v[0] === n && v[1] === n : v === n;

/** Whether conv (a Conv2D layer) and pool (the next layer) are a conv + bias + ReLU, 2x2/2 max pool pair. */
export function fusablePair(conv: tf.layers.Layer, pool: tf.layers.Layer | undefined): boolean {
  if (!pool || pool.getClassName() !== 'MaxPooling2D') return false;
  const cls = conv.getClassName();
  if (cls !== 'BowcnnConv2D' && cls !== 'Conv2D') return false;
  const c = conv.getConfig() as Cfg, p = pool.getConfig() as Cfg;
  return c.activation === 'relu' && c.useBias !== false && is2(c.strides, 1) && is2(c.dilationRate, 1) &&
    c.dataFormat === 'channelsLast' && !c.activityRegularizer && (c.padding === 'same' || c.padding === 'valid') &&
    is2(p.poolSize, 2) && is2(p.strides ?? p.poolSize, 2) && p.padding === 'valid' && p.dataFormat === 'channelsLast';
}

/** Whether a layer is a Dense layer with bias and ReLU (its bias and ReLU become one `biasRelu`, both ways). */
export function fusableDense(l: tf.layers.Layer): boolean {
  const c = l.getConfig() as Cfg;
  return l.getClassName() === 'Dense' && c.activation === 'relu' && c.useBias !== false && !c.activityRegularizer;
}

/** Whether applyFused would fuse anything for this model on the active backend. */
export function canFuse(model: tf.LayersModel): boolean {
  if (process.env.BOWCNN_FUSE === '0' || !(model instanceof tf.Sequential) || !nativeKernelsActive() || tf.getKernel('BowcnnConvReluPool', tf.getBackend()) === undefined) return false;
  const ls = model.layers;
  return ls.some((l, i) => fusablePair(l, ls[i + 1]));
}

/**
 * model.apply(x, { training }) for a sequential model, with conv + ReLU + pool pairs fused where the
 * backend can (call inside tf.tidy or a gradient function, like model.apply).
 */
export function applyFused(model: tf.LayersModel, x: tf.Tensor, training: boolean): tf.Tensor {
  if (!canFuse(model) || !hasNativeKernel('BowcnnConvReluPool', x)) return model.apply(x, { training }) as tf.Tensor;
  const ls = model.layers;
  let y = x;
  // whether y depends on a trainable weight (then its gradient is wanted; the images' is not)
  let upstreamWeights = false;
  for (let i = 0; i < ls.length; i++) {
    const l = ls[i];
    if (fusablePair(l, ls[i + 1])) {
      const c = l as WeightedLayer;
      y = convReluPool(y as tf.Tensor4D, c.kernel.read() as tf.Tensor4D, c.bias!.read() as tf.Tensor1D,
        (l.getConfig() as Cfg).padding as 'same' | 'valid', upstreamWeights);
      i++;
    } else if (y.rank === 2 && fusableDense(l)) {
      const d = l as WeightedLayer;
      y = biasRelu(tf.matMul(y, d.kernel.read()), d.bias!.read());
    } else {
      y = l.apply(y, { training }) as tf.Tensor;
    }
    if (l.trainableWeights.length > 0) upstreamWeights = true;
  }
  return y;
}
