/**
 * The encodings' normalisations, with gradients that stay finite where the encodings meet zeros (browser-safe).
 *
 * A VLAD, Fisher or BossaNova component is exactly 0 wherever a region gives a word no weight (a hard assignment,
 * or a soft one that underflows). Written as plain ops, the gradient there is 0 · ∞ = NaN twice: d√u/du = 1/(2√u)
 * at u = 0 in both the signed square root and the L2 norm. These give the same values as the plain ops, and
 * gradients:
 *   signedSqrt(v) = sign(v) √|v|:         dy / (2 √max(|v|, SQRT_FLOOR)): the derivative, capped near 0 (where
 *                                          it is infinite);
 *   l2Normalize(v) = v / max(|v|₂, 1e-12): (dy - y Σ dy·y) / |v|₂ where |v|₂ ≥ 1e-12, else dy / 1e-12: the
 *                                          derivative of what is computed, on both sides of the floor.
 */
import * as tf from '@tensorflow/tfjs';

/** |v| under which signedSqrt's derivative is taken at this value: at most 1 / (2 √1e-6) = 500. */
export const SQRT_FLOOR = 1e-6;
/** The L2 norm's floor: a vector shorter than this is divided by it. */
export const NORM_FLOOR = 1e-12;

/** sign(v) √|v|, element by element. */
export function signedSqrt(v: tf.Tensor): tf.Tensor {
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, save] = args as [tf.Tensor, tf.GradSaveFunc];
    save([x]);
    return {
      value: tf.mul(tf.sign(x), tf.sqrt(tf.abs(x))),
      gradFunc: (dy: tf.Tensor, [saved]: tf.Tensor[]) => tf.div(dy, tf.mul(2, tf.sqrt(tf.maximum(tf.abs(saved), SQRT_FLOOR)))),
    };
  });
  return f(v) as tf.Tensor;
}

/** v divided by its L2 norm over the last axis (by NORM_FLOOR where the norm is smaller). */
export function l2Normalize(v: tf.Tensor): tf.Tensor {
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, save] = args as [tf.Tensor, tf.GradSaveFunc];
    const norm = tf.sqrt(tf.sum(tf.square(x), -1, true));
    const denom = tf.maximum(norm, NORM_FLOOR);
    const y = tf.div(x, denom);
    save([y, norm, denom]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, [ys, n, d]: tf.Tensor[]) => {
        const along = tf.mul(ys, tf.sum(tf.mul(dy, ys), -1, true));
        // above the floor the norm depends on v; below it the divisor is a constant
        const above = tf.cast(tf.greaterEqual(n, NORM_FLOOR), 'float32');
        return tf.div(tf.sub(dy, tf.mul(above, along)), d);
      },
    };
  });
  return f(v) as tf.Tensor;
}
