/**
 * An AlexNet-style network sized for 28x28 and 32x32 inputs (the course's "AlexNet" ingredients at
 * MNIST scale): conv - batch norm - ReLU - max pool stages, then fully connected layers with ReLU and
 * dropout 0.5, and data augmentation done on the fly (see augment()).
 *
 *   conv1 w1 3x3 -> BN -> ReLU -> max pool 2      (28 -> 14)
 *   conv2 w2 3x3 -> BN -> ReLU -> max pool 2      (14 -> 7)
 *   conv3 w3 3x3 -> BN -> ReLU -> max pool 2      (7 -> 3)
 *   fc1 f1 -> ReLU -> dropout 0.5 -> fc2 f2 -> ReLU -> dropout 0.5 -> output classes
 *
 * Widths default to 32, 64, 128 and 256, 128: about 5.3 M multiply-adds per 28x28 image, sized so that
 * training on one CPU thread fits a lecture's time budget (the original AlexNet is 720 M).
 */
import * as tf from '@tensorflow/tfjs';
import type { Augment } from './train.js';

export interface AlexNetConfig {
  inputShape?: [number, number, number];
  classes?: number;
  widths?: number[]; // one conv block each (1 to 3)
  fc?: number[]; // hidden fully connected layers (ablation: drop one or both)
  batchNorm?: boolean; // false: conv + bias + ReLU, no batch normalisation
  dropout?: number;
  seed?: number;
}

export function alexnetSmall(cfg: AlexNetConfig = {}): tf.Sequential {
  const [h, w, c] = cfg.inputShape ?? [28, 28, 1];
  const widths = cfg.widths ?? [32, 64, 128];
  const fcs = cfg.fc ?? [256, 128];
  const drop = cfg.dropout ?? 0.5;
  const bn = cfg.batchNorm ?? true;
  // seeds from 1: tfjs-core's normal generators take a seed of 0 for none (Math.random), which left conv1's
  // initial weights unseeded
  let seed = (cfg.seed ?? 0) + 1;
  const he = () => tf.initializers.heNormal({ seed: seed++ });
  const m = tf.sequential({ name: 'alexnet-small' });
  const block = (filters: number, i: number, first = false) => {
    m.add(
      tf.layers.conv2d({
        ...(first ? { inputShape: [h, w, c] } : {}),
        filters,
        kernelSize: 3,
        padding: 'same',
        useBias: !bn,
        kernelInitializer: he(),
        name: `conv${i}`,
      }),
    );
    if (bn) m.add(tf.layers.batchNormalization({ momentum: 0.99, epsilon: 1e-3, name: `bn${i}` }));
    m.add(tf.layers.reLU({ name: `relu${i}` }));
    m.add(tf.layers.maxPooling2d({ poolSize: 2, strides: 2, name: `pool${i}` }));
  };
  widths.forEach((f, i) => block(f, i + 1, i === 0));
  m.add(tf.layers.flatten({ name: 'flatten' }));
  fcs.forEach((units, i) => {
    m.add(tf.layers.dense({ units, activation: 'relu', kernelInitializer: he(), name: `fc${i + 1}` }));
    m.add(tf.layers.dropout({ rate: drop, seed: seed++, name: `drop${i + 1}` })); // a new mask each step (passes/cnn.ts)
  });
  m.add(tf.layers.dense({ units: cfg.classes ?? 10, kernelInitializer: tf.initializers.glorotUniform({ seed: seed++ }), name: 'output' }));
  return m;
}

export interface AugmentConfig {
  pad?: number; // random crops of the original size from the image padded by `pad` (zeros)
  flip?: boolean; // random horizontal flips (not for digits)
  jitter?: number; // small affine jitter: rotation up to `jitter` radians and scale 1 +- jitter
  erase?: number; // random erasing: the chance that an image gets a rectangle of uniform noise
}

/**
 * Random erasing (Zhong, Zheng, Kang, Li, Yang, AAAI 2020), their defaults: with chance `p`, a rectangle of
 * 2% to 40% of the image's area and aspect ratio 0.3 to 1/0.3, placed at random, is filled with uniform noise
 * in [0, 1]. Returns `[B,H,W,1]` keep masks and the `[B,H,W,C]` noise to put where the mask is 0.
 */
export function erasingMasks(
  b: number,
  h: number,
  w: number,
  c: number,
  p: number,
  rand: () => number,
): { keep: Float32Array; noise: Float32Array } {
  const keep = new Float32Array(b * h * w).fill(1);
  const noise = new Float32Array(b * h * w * c);
  for (let i = 0; i < b; i++) {
    if (rand() >= p) continue;
    for (let attempt = 0; attempt < 10; attempt++) {
      const area = (0.02 + rand() * 0.38) * h * w;
      const ratio = Math.exp(Math.log(0.3) + rand() * (Math.log(1 / 0.3) - Math.log(0.3)));
      const eh = Math.round(Math.sqrt(area * ratio)),
        ew = Math.round(Math.sqrt(area / ratio));
      if (eh < 1 || ew < 1 || eh >= h || ew >= w) continue;
      const y0 = Math.floor(rand() * (h - eh + 1)),
        x0 = Math.floor(rand() * (w - ew + 1));
      for (let y = y0; y < y0 + eh; y++)
        for (let x = x0; x < x0 + ew; x++) {
          keep[(i * h + y) * w + x] = 0;
          for (let q = 0; q < c; q++) noise[((i * h + y) * w + x) * c + q] = rand();
        }
      break;
    }
  }
  return { keep, noise };
}

/**
 * On-the-fly augmentation of a `[B,H,W,C]` batch, one crop box per image through CropAndResize (a box
 * with x1 > x2 is a horizontal flip; boxes on whole pixels make the crop exact), then optional affine
 * jitter through tf.image.transform. Seeded by the training loop's generator.
 */
export function augment(cfg: AugmentConfig = {}): Augment {
  const pad = cfg.pad ?? 2,
    flip = cfg.flip ?? false,
    jitter = cfg.jitter ?? 0,
    erase = cfg.erase ?? 0;
  const fn: Augment = (x, rand) =>
    tf.tidy(() => {
      const [b, h, w] = x.shape;
      const p =
        pad > 0
          ? tf.pad(x, [
              [0, 0],
              [pad, pad],
              [pad, pad],
              [0, 0],
            ])
          : x;
      const H = h + 2 * pad,
        W = w + 2 * pad;
      const boxes = new Float32Array(b * 4);
      for (let i = 0; i < b; i++) {
        const oy = Math.floor(rand() * (2 * pad + 1)),
          ox = Math.floor(rand() * (2 * pad + 1));
        const y1 = oy / (H - 1),
          y2 = (oy + h - 1) / (H - 1);
        let x1 = ox / (W - 1),
          x2 = (ox + w - 1) / (W - 1);
        if (flip && rand() < 0.5) [x1, x2] = [x2, x1];
        boxes.set([y1, x1, y2, x2], i * 4);
      }
      let out = tf.image.cropAndResize(
        p as tf.Tensor4D,
        tf.tensor2d(boxes, [b, 4]),
        tf.range(0, b, 1, 'int32') as tf.Tensor1D,
        [h, w],
        'bilinear',
      );
      if (jitter > 0) {
        const t = new Float32Array(b * 8);
        for (let i = 0; i < b; i++) {
          const a = (rand() * 2 - 1) * jitter,
            s = 1 + (rand() * 2 - 1) * jitter;
          const c = Math.cos(a) / s,
            si = Math.sin(a) / s,
            cx = (w - 1) / 2,
            cy = (h - 1) / 2;
          // output (x, y) samples input (c x - si y + tx, si x + c y + ty), rotating about the centre
          t.set([c, -si, cx - c * cx + si * cy, si, c, cy - si * cx - c * cy, 0, 0], i * 8);
        }
        out = tf.image.transform(out, tf.tensor2d(t, [b, 8]), 'bilinear', 'constant', 0);
      }
      if (erase > 0) {
        const c = x.shape[3];
        const { keep, noise } = erasingMasks(b, h, w, c, erase, rand);
        const k = tf.tensor4d(keep, [b, h, w, 1]);
        out = tf.add(tf.mul(out, k), tf.mul(tf.tensor4d(noise, [b, h, w, c]), tf.sub(1, k)));
      }
      return out;
    });
  // the same crops, flips and erasing on the batch's pixels, drawing the same numbers in the same order (an
  // integer-offset crop of the zero-padded image and a mirror are exact copies: cropAndResize on whole pixels
  // gives the same); affine jitter has no pixel form
  if (jitter === 0)
    fn.pixels = (data, b, h, w, c, rand) => {
      const img = new Float32Array(h * w * c);
      for (let i = 0; i < b; i++) {
        const oy = Math.floor(rand() * (2 * pad + 1)),
          ox = Math.floor(rand() * (2 * pad + 1));
        const mirror = flip && rand() < 0.5;
        const at = data.subarray(i * h * w * c, (i + 1) * h * w * c);
        img.set(at);
        for (let y = 0; y < h; y++) {
          const sy = y + oy - pad;
          for (let x = 0; x < w; x++) {
            const sx = (mirror ? w - 1 - x : x) + ox - pad;
            const inside = sy >= 0 && sy < h && sx >= 0 && sx < w;
            for (let q = 0; q < c; q++) at[(y * w + x) * c + q] = inside ? img[(sy * w + sx) * c + q] : 0;
          }
        }
      }
      if (erase > 0) {
        const { keep, noise } = erasingMasks(b, h, w, c, erase, rand);
        for (let p = 0; p < b * h * w; p++) if (keep[p] === 0) for (let q = 0; q < c; q++) data[p * c + q] = noise[p * c + q];
      }
    };
  // part of the training run's identity (checkpoint key): the options, not the closure
  fn.toString = () => `augment(${JSON.stringify({ pad, flip, jitter, ...(erase ? { erase } : {}) })})`;
  return fn;
}
