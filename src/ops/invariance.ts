/**
 * Two of the course's layers, as pure functions over tensors (bowcnn/layers wraps them as tfjs layers):
 *
 * Local contrast normalisation (Jarrett, Kavukcuoglu, Ranzato, LeCun 2009), on `[N,H,W,C]`:
 *   subtractive  v = x - sum_{c,p,q} w_pq x_c(i+p, j+q) / C         (w: a normalised Gaussian window)
 *   divisive     y = v / max(mean_ij sigma, sigma),  sigma(i,j) = sqrt(sum_{c,p,q} w_pq v_c(i+p, j+q)^2 / C)
 * with zeros beyond the image. It removes the local mean and divides by the local contrast, so a change of
 * brightness or contrast of the input barely moves the output.
 *
 * Rotation pooling: a convolution whose F filters are each applied at K rotations (filter f at angle
 * 2 pi m / K, resampled bilinearly about the kernel's centre), then max-pooled over the K responses. The
 * parameters are those of a plain convolution (kernel [k,k,C,F], bias [F]); the rotations are a fixed linear map
 * of the kernel, so gradients flow to the one kernel.
 */
import * as tf from '@tensorflow/tfjs';

/** A normalised Gaussian window `[size][size]`. */
export function gaussianWindow(size: number, sigma: number): number[][] {
  const r = (size - 1) / 2;
  const w = Array.from({ length: size }, (_, i) =>
    Array.from({ length: size }, (_, j) => Math.exp(-((i - r) ** 2 + (j - r) ** 2) / (2 * sigma * sigma))),
  );
  const s = w.flat().reduce((a, b) => a + b, 0);
  return w.map((row) => row.map((v) => v / s));
}

export function localContrastNorm(x: tf.Tensor4D, size = 9, sigma = 2): tf.Tensor4D {
  return tf.tidy(() => {
    const c = x.shape[3];
    const g = gaussianWindow(size, sigma);
    const f = tf.tensor4d(
      g.flatMap((row) => row.flatMap((v) => new Array(c).fill(v / c))),
      [size, size, c, 1],
    );
    const mean = tf.conv2d(x, f, 1, 'same'); // [N,H,W,1]
    const v = tf.sub(x, mean) as tf.Tensor4D;
    const sd = tf.sqrt(tf.conv2d(tf.square(v) as tf.Tensor4D, f, 1, 'same'));
    const m = tf.mean(sd, [1, 2], true);
    // explicit broadcasts: tfjs's gradient of a broadcasting maximum does not reduce to the input's shape
    const floor = tf.broadcastTo(tf.maximum(m, tf.fill(m.shape, 1e-4)), sd.shape);
    return tf.div(v, tf.maximum(sd, floor)) as tf.Tensor4D;
  });
}

/** The bilinear resampling of a k x k kernel rotated by `angle` (radians): `R[out][in]`, out = y*k + x. */
export function rotationMatrix(k: number, angle: number): number[][] {
  const R = Array.from({ length: k * k }, () => new Array(k * k).fill(0));
  const c = (k - 1) / 2,
    cos = Math.cos(angle),
    sin = Math.sin(angle);
  for (let y = 0; y < k; y++)
    for (let x = 0; x < k; x++) {
      // the kernel value at (x, y) of the rotated kernel is the original's at the point rotated back
      const dx = x - c,
        dy = y - c;
      const sx = cos * dx + sin * dy + c,
        sy = -sin * dx + cos * dy + c;
      const x0 = Math.floor(sx),
        y0 = Math.floor(sy);
      for (const [yy, wy] of [
        [y0, 1 - (sy - y0)],
        [y0 + 1, sy - y0],
      ])
        for (const [xx, wx] of [
          [x0, 1 - (sx - x0)],
          [x0 + 1, sx - x0],
        ])
          if (xx >= 0 && xx < k && yy >= 0 && yy < k && wx * wy > 1e-12) R[y * k + x][yy * k + xx] += wx * wy;
    }
  return R;
}

const stackedRotations = new Map<string, Float32Array>();

/** The K rotation matrices of a k x k kernel, one under the other: `[K * k*k, k*k]` (computed once per k and K). */
function rotations2d(k: number, rotations: number): Float32Array {
  const key = `${k}/${rotations}`;
  let m = stackedRotations.get(key);
  if (!m) {
    m = Float32Array.from(Array.from({ length: rotations }, (_, r) => rotationMatrix(k, (2 * Math.PI * r) / rotations)).flat(2));
    stackedRotations.set(key, m);
  }
  return m;
}

/** The K rotated copies of a kernel `[k,k,C,F]` as one kernel `[k,k,C,F*K]` (channel f*K + m: filter f at rotation m). */
export function rotatedKernels(kernel: tf.Tensor4D, rotations: number): tf.Tensor4D {
  return tf.tidy(() => {
    const [k, , cin, f] = kernel.shape;
    const flat = tf.reshape(kernel, [k * k, cin * f]);
    const R = tf.tensor2d(rotations2d(k, rotations), [rotations * k * k, k * k]);
    // [K * k*k, cin*f] -> [K, k*k, cin, f]
    const stacked = tf.reshape(tf.matMul(R, flat), [rotations, k * k, cin, f]);
    return tf.reshape(tf.transpose(stacked, [1, 2, 3, 0]), [k, k, cin, f * rotations]) as tf.Tensor4D;
  });
}

/** Rotation-pooled convolution ('same' padding, stride 1): `[N,H,W,C]` -> `[N,H,W,F]`. */
export function rotationPoolConv(x: tf.Tensor4D, kernel: tf.Tensor4D, bias: tf.Tensor1D | null, rotations: number): tf.Tensor4D {
  return tf.tidy(() => {
    const [n, h, w] = x.shape;
    const f = kernel.shape[3];
    const y = tf.conv2d(x, rotatedKernels(kernel, rotations), 1, 'same');
    const pooled = tf.max(tf.reshape(y, [n, h, w, f, rotations]), 4);
    return (bias ? tf.add(pooled, bias) : pooled) as tf.Tensor4D;
  });
}
