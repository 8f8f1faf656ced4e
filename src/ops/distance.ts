/** Cosine distances between representations (robustness, the teaching page): browser-safe. */
import * as tf from '@tensorflow/tfjs';

/** Per image, the cosine distance 1 - a.b / (|a| |b|) between `[N, ...]` representations: `[N]`. */
export function cosineDistances(a: tf.Tensor, b: tf.Tensor): tf.Tensor1D {
  return tf.tidy(() => {
    const n = a.shape[0];
    const fa = tf.reshape(a, [n, -1]),
      fb = tf.reshape(b, [n, -1]);
    const dot = tf.sum(tf.mul(fa, fb), 1);
    const na = tf.sqrt(tf.sum(tf.square(fa), 1)),
      nb = tf.sqrt(tf.sum(tf.square(fb), 1));
    return tf.sub(1, tf.div(dot, tf.add(tf.mul(na, nb), 1e-12))) as tf.Tensor1D;
  });
}

/** The mean over images of the cosine distance between `[N, ...]` representations, read asynchronously. */
export async function meanCosineDistance(a: tf.Tensor, b: tf.Tensor): Promise<number> {
  const d = tf.tidy(() => tf.mean(cosineDistances(a, b)));
  const v = (await d.data())[0];
  d.dispose();
  return v;
}
