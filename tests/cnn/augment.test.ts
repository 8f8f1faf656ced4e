// On-the-fly augmentation against a plain loop: each image of a batch is the exact crop (and mirror) of
// the zero-padded image at the offsets drawn from the same seeded generator.
import { beforeAll, describe, expect, it } from 'vitest';
import { tf, useBackend } from '../../src/backend/index.js';
import { augment } from '../../src/cnn/alexnet.js';
import { rng } from '../../src/core/random.js';
import { randArray } from '../helpers.js';

beforeAll(async () => {
  await useBackend('wasm');
});

describe('augment (random crops with padding, horizontal flips)', () => {
  it('gives, for every image of a batch, the crop and flip a plain loop computes', () => {
    const B = 6,
      H = 9,
      W = 7,
      C = 2,
      pad = 2;
    const v = randArray(B * H * W * C, 17);
    const x = tf.tensor4d(v, [B, H, W, C]);
    const y = augment({ pad, flip: true })(x, rng(5)).dataSync();
    const r = rng(5); // the same draws, in the same order: oy, ox, flip?
    const px = (b: number, yy: number, xx: number, c: number) =>
      yy < 0 || yy >= H || xx < 0 || xx >= W ? 0 : v[((b * H + yy) * W + xx) * C + c];
    let flips = 0;
    for (let b = 0; b < B; b++) {
      const oy = Math.floor(r() * (2 * pad + 1)),
        ox = Math.floor(r() * (2 * pad + 1));
      const flip = r() < 0.5;
      if (flip) flips++;
      for (let i = 0; i < H; i++)
        for (let j = 0; j < W; j++)
          for (let c = 0; c < C; c++) {
            const jj = flip ? W - 1 - j : j;
            expect(y[((b * H + i) * W + j) * C + c]).toBeCloseTo(px(b, oy + i - pad, ox + jj - pad, c), 4);
          }
    }
    expect(flips).toBeGreaterThan(0);
    expect(flips).toBeLessThan(B);
    x.dispose();
  });

  it("the pixel form (the CPU path's, before upload) gives the tensor form's images and draws the same numbers, erasing included", () => {
    const B = 16,
      H = 12,
      W = 10,
      C = 3;
    const v = randArray(B * H * W * C, 23).map((a) => (a + 1) / 2);
    const a = augment({ pad: 3, flip: true, erase: 0.7 });
    const r1 = rng(9),
      r2 = rng(9);
    const x = tf.tensor4d(v, [B, H, W, C]);
    const viaTensor = a(x, r1).dataSync();
    const viaPixels = Float32Array.from(v);
    a.pixels!(viaPixels, B, H, W, C, r2);
    for (let i = 0; i < v.length; i++) expect(viaPixels[i]).toBeCloseTo(viaTensor[i], 5);
    expect(r1()).toBe(r2()); // the same count of draws
    // against the same crops and flips without erasing (its draws come after them): some images have a
    // rectangle of noise, not all
    const plain = Float32Array.from(v);
    augment({ pad: 3, flip: true }).pixels!(plain, B, H, W, C, rng(9));
    let erased = 0;
    for (let b = 0; b < B; b++)
      if (viaPixels.subarray(b * H * W * C, (b + 1) * H * W * C).some((p, i) => p !== plain[b * H * W * C + i])) erased++;
    expect(erased).toBeGreaterThan(0);
    expect(erased).toBeLessThan(B);
    expect(augment({ jitter: 0.1 }).pixels).toBeUndefined();
    x.dispose();
  });

  it('affine jitter keeps the image content near the centre (rotation about the centre)', () => {
    const x = tf.tidy(
      () =>
        tf.pad(tf.ones([3, 8, 8, 1]), [
          [0, 0],
          [10, 10],
          [10, 10],
          [0, 0],
        ]) as tf.Tensor4D,
    ); // a centred square
    const y = augment({ pad: 0, jitter: 0.1 })(x, rng(1));
    const v = y.dataSync();
    for (let b = 0; b < 3; b++) expect(v[(b * 28 + 14) * 28 + 14]).toBeCloseTo(1, 3); // the centre stays inside the square
    const mass = tf.tidy(() => tf.sum(y, [1, 2, 3]).dataSync());
    for (let b = 0; b < 3; b++) {
      expect(mass[b]).toBeGreaterThan(64 * 0.75);
      expect(mass[b]).toBeLessThan(64 * 1.3);
    }
    tf.dispose([x, y]);
  });
});
