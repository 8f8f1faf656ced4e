/**
 * Padding of `[N,H,W,C]` maps: replicate ("pad by continuity", VLFeat's VL_PAD_BY_CONTINUITY), zero, and
 * reflect (mirrored without repeating the edge: OpenCV's BORDER_REFLECT_101, `dcb|abcd|cba`).
 */
import * as tf from '@tensorflow/tfjs';

export type Padding = 'replicate' | 'zero' | 'reflect';

/** Pads H by (top, bottom) and W by (left, right), repeating the edge rows/columns or with zeros. */
export function pad2d(x: tf.Tensor4D, top: number, bottom: number, left: number, right: number, mode: Padding): tf.Tensor4D {
  if (top === 0 && bottom === 0 && left === 0 && right === 0) return x.clone();
  if (mode === 'zero')
    return tf.pad(x, [
      [0, 0],
      [top, bottom],
      [left, right],
      [0, 0],
    ]);
  if (mode === 'reflect')
    return tf.mirrorPad(
      x,
      [
        [0, 0],
        [top, bottom],
        [left, right],
        [0, 0],
      ],
      'reflect',
    );
  // one pixel of 'symmetric' mirror padding repeats the edge: that is replicate, in one fast kernel
  if (Math.max(top, bottom, left, right) === 1)
    return tf.mirrorPad(
      x,
      [
        [0, 0],
        [top, bottom],
        [left, right],
        [0, 0],
      ],
      'symmetric',
    );
  return tf.tidy(() => {
    const [n, h, w, c] = x.shape;
    let y: tf.Tensor4D = x;
    if (top || bottom) {
      const parts: tf.Tensor4D[] = [];
      if (top) parts.push(tf.tile(tf.slice(y, [0, 0, 0, 0], [n, 1, w, c]), [1, top, 1, 1]));
      parts.push(y);
      if (bottom) parts.push(tf.tile(tf.slice(y, [0, h - 1, 0, 0], [n, 1, w, c]), [1, bottom, 1, 1]));
      y = tf.concat(parts, 1);
    }
    if (left || right) {
      const hh = y.shape[1];
      const parts: tf.Tensor4D[] = [];
      if (left) parts.push(tf.tile(tf.slice(y, [0, 0, 0, 0], [n, hh, 1, c]), [1, 1, left, 1]));
      parts.push(y);
      if (right) parts.push(tf.tile(tf.slice(y, [0, 0, w - 1, 0], [n, hh, 1, c]), [1, 1, right, 1]));
      y = tf.concat(parts, 2);
    }
    return y;
  });
}
