/**
 * The encodings' normalisations (VLAD, Fisher vectors, BossaNova), with gradients that stay finite where the
 * encodings meet zeros (browser-safe).
 *
 * A component is exactly 0 wherever a region gives a word no weight (a hard assignment, or a soft one that
 * underflows). Written as plain ops, the gradient there is 0 · ∞ = NaN twice: d√u/du = 1/(2√u) at u = 0 in both the
 * signed square root and the L2 norm. These give the same values as the plain ops, and gradients:
 *   signedSqrt(v) = sign(v) √|v|:          dy / (2 √max(|v|, SQRT_FLOOR)): the derivative where |v| ≥ SQRT_FLOOR,
 *                                           capped below it (at 0 it is infinite);
 *   l2Normalize(v) = v / max(|v|₂, 1e-12):  (dy - y Σ dy·y) / |v|₂ where |v|₂ ≥ 1e-12, else dy / 1e-12: the
 *                                           derivative of what is computed, on both sides of the floor.
 * The pooling stage's power normalisation (stages/pooling.ts) has a signed square root of its own, whose gradient
 * is smoothed everywhere (1/(2√(|x| + 1e-4))): the bownet's fine-tuning was measured with that one, NetVLAD's with
 * this one.
 */
import * as tf from '@tensorflow/tfjs';

/** |v| under which signedSqrt's derivative is taken at this value: at most 1 / (2 √1e-6) = 500. */
export const SQRT_FLOOR = 1e-6;
/** The L2 norm's floor: a vector shorter than this is divided by it. */
export const NORM_FLOOR = 1e-12;

type Unary = (x: tf.Tensor) => tf.Tensor;
type GradFn = Parameters<typeof tf.customGrad>[0];

/** sign(v) √|v|, element by element. */
export const signedSqrt: Unary = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
  save([x]);
  return {
    value: tf.mul(tf.sign(x), tf.sqrt(tf.abs(x))),
    gradFunc: (dy: tf.Tensor, [v]: tf.Tensor[]) => tf.div(dy, tf.mul(2, tf.sqrt(tf.maximum(tf.abs(v), SQRT_FLOOR)))),
  };
}) as unknown as GradFn) as unknown as Unary;

/** v divided by its L2 norm over the last axis (by NORM_FLOOR where the norm is smaller). */
export const l2Normalize: Unary = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
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
}) as unknown as GradFn) as unknown as Unary;
