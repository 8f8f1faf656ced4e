/**
 * Batch normalisation over all axes but the last (`[N,H,W,C]` or `[N,C]`), with a hand-derived gradient.
 *
 * Training, per channel c over the M = N*H*W values of the batch:
 *   mean = sum x / M,  var = sum x^2 / M - mean^2 (biased),  inv = 1 / sqrt(var + eps)
 *   y = gamma * inv * (x - mean) + beta          = a * x + b,  a = gamma * inv,  b = beta - a * mean
 * and with xhat = (x - mean) * inv, S = sum dy, P = sum dy * xhat = inv * (sum dy * x - mean * S):
 *   dbeta = S,  dgamma = P,  dx = a * (dy - S / M - xhat * P / M) = a * dy + B * x + K,
 *   B = -a * inv * P / M,  K = -a * S / M - B * mean
 * so the forward and the backward are each two passes over the activations (src/backend/channel-kernels.ts),
 * where tfjs-layers' BatchNormalization differentiates through moments() and FusedBatchNorm's gradient.
 *
 * The execution pass (passes/cnn.ts) runs tfjs-layers' own BatchNormalization layers through these
 * functions, with their weights and their moving-average rule; the saved model is tfjs-layers'.
 */
import * as tf from '@tensorflow/tfjs';

import { channelAffine, channelMoments, channelSums } from './channel-kernels.js';

/** Per-channel a = gamma / sqrt(var + eps) and b = beta - a * mean (y = a * x + b), and 1 / sqrt(var + eps). */
function scaleShift(gamma: tf.Tensor1D, beta: tf.Tensor1D, mean: tf.Tensor1D, variance: tf.Tensor1D, eps: number) {
  return tf.tidy(() => {
    const inv = tf.rsqrt(tf.add(variance, eps)) as tf.Tensor1D;
    const a = tf.mul(gamma, inv) as tf.Tensor1D;
    return { inv, a, b: tf.sub(beta, tf.mul(a, mean)) as tf.Tensor1D };
  });
}

export interface BatchNormTrainResult {
  y: tf.Tensor;
  mean: tf.Tensor1D;
  variance: tf.Tensor1D;
}

/**
 * Training-mode batch norm of x with scale gamma `[C]` and offset beta `[C]`; also returns the batch
 * moments, which are kept out of any tidy: the caller disposes them.
 */
export function batchNormTrain(x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps: number): BatchNormTrainResult {
  let moments!: { mean: tf.Tensor1D; variance: tf.Tensor1D };
  const op = tf.customGrad(((xIn: tf.Tensor, g: tf.Tensor1D, b: tf.Tensor1D, save: tf.GradSaveFunc) => {
    const { mean, variance } = channelMoments(xIn);
    // customGrad disposes what its forward made besides the value: keep the moments for the caller
    moments = { mean: tf.keep(tf.clone(mean)), variance: tf.keep(tf.clone(variance)) };
    const { inv, a, b: shift } = scaleShift(g, b, mean, variance, eps);
    const y = channelAffine(xIn, a, shift);
    save([xIn, mean, inv, a]);
    tf.dispose(shift);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, m, iv, sc] = saved as [tf.Tensor, tf.Tensor1D, tf.Tensor1D, tf.Tensor1D];
        const M = xs.size / xs.shape[xs.shape.length - 1];
        const { sum: S, dot } = channelSums(xs, dy);
        const [P, B, K] = tf.tidy(() => {
          const p = tf.mul(iv, tf.sub(dot, tf.mul(m, S))) as tf.Tensor1D;
          const bb = tf.mul(tf.mul(sc, iv), tf.mul(p, -1 / M)) as tf.Tensor1D;
          const k = tf.sub(tf.mul(sc, tf.mul(S, -1 / M)), tf.mul(bb, m)) as tf.Tensor1D;
          return [p, bb, k];
        });
        const dx = channelAffine(dy, sc, K, xs, B);
        tf.dispose([B, K, dot]);
        return [dx, P, S];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (x: tf.Tensor, g: tf.Tensor1D, b: tf.Tensor1D) => tf.Tensor;
  const y = op(x, gamma, beta);
  return { y, mean: moments.mean, variance: moments.variance };
}

/** Inference-mode batch norm with given (moving) statistics, through the same per-channel affine pass. */
export function batchNormInfer(
  x: tf.Tensor,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  mean: tf.Tensor1D,
  variance: tf.Tensor1D,
  eps: number,
): tf.Tensor {
  return tf.tidy(() => {
    const { a, b } = scaleShift(gamma, beta, mean, variance, eps);
    return channelAffine(x, a, b);
  });
}
