/**
 * Shifts: virtual training examples (Schölkopf, Burges & Vapnik 1996; DeCoste & Schölkopf 2002). At test time
 * the stage is the identity. When a pipeline fits its classifier, it also runs the training images through each
 * of the stage's `copies` views, in place of the stage: each view moves every image by `pixels` in one of
 * `directions` directions (4: right, left, down, up; 8: the diagonals too), the copies of an image taking the
 * directions in an order drawn for that image (seeded by its own pixels, so the same image gets the same shifts in
 * any batch or order; up to `directions` copies, no two alike); the pixels that come in are zero. The stage moves
 * images by pixels, so it must see maps with the input's grid (first, or after deskewing or the gradients), which
 * the pipeline checks when it fits. The classifier is fitted on the images and their shifted copies, labels
 * repeated, so a linear classifier over handcrafted features learns some of the invariance to small translations that the
 * features only partly have; the dictionary and every other unsupervised fit see the images once. Placed after
 * deskewing, the shifts move the normalised images (deskewing centres the ink, which would undo a shift made
 * before it).
 *
 * In CNN terms it is data augmentation by random translations, drawn once rather than at each epoch; there is
 * no layer at test time.
 */
import * as tf from '@tensorflow/tfjs';
import type { LayerCard } from '../core/card.js';
import { z } from '../config/schema.js';
import { mixSeed, rng, shuffle } from '../core/random.js';
import { poseBatch } from '../ops/transform.js';
import { check4d, defineStage, type Maps, type Stage, type ViewStage } from './stage.js';

const ShiftsSchema = z.strictObject({
  copies: z.number().int().min(0).default(2), // shifted copies of each training image (0: none)
  pixels: z.number().int().min(1).default(1), // how far each copy is moved
  directions: z.literal([4, 8]).default(8), // 4: right, left, down, up; 8: and the diagonals
});
export type ShiftsConfig = z.input<typeof ShiftsSchema>;

/** The offsets [dx, dy] a copy is drawn from, in order: right, left, down, up, then the diagonals. */
export function shiftOffsets(pixels: number, directions: 4 | 8): [number, number][] {
  const p = pixels;
  const four: [number, number][] = [
    [p, 0],
    [-p, 0],
    [0, p],
    [0, -p],
  ];
  return directions === 4 ? four : [...four, [p, p], [-p, p], [p, -p], [-p, -p]];
}

/**
 * Which of `count` offsets copy `copy` of an image takes: the image's own order of the offsets (a Fisher-Yates
 * shuffle seeded by a 32-bit FNV-1a hash of its values read as bytes, round(255 v)), entry copy mod count. So the
 * first `count` copies of an image are all different, and the same image gets the same order anywhere.
 */
export function drawOffset(image: ArrayLike<number>, copy: number, count: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < image.length; i++) h = Math.imul(h ^ (Math.round(image[i] * 255) & 0xff), 0x01000193);
  const order = shuffle(
    Array.from({ length: count }, (_, k) => k),
    rng(mixSeed(h >>> 0, count)),
  );
  return order[copy % count];
}

/**
 * Copy `copy` of each image of x `[N,H,W,C]`: each moved by its own drawn offset (drawOffset) of `offsets`
 * ([dx, dy]: right and down when positive), zero filled: out[y][x] = in[y - dy][x - dx] where that is inside the
 * image, else 0 (the robustness sweeps' poseBatch, at whole pixels, which it reads exactly).
 */
export function shiftCopy(x: Maps, offsets: readonly [number, number][], copy: number): Maps {
  const [n, h, w, c] = x.shape;
  const v = x.dataSync();
  const per = h * w * c;
  const poses = Array.from({ length: n }, (_, i) => {
    const [dx, dy] = offsets[drawOffset(v.subarray(i * per, (i + 1) * per), copy, offsets.length)];
    return { dx, dy, scale: 1, rotate: 0 };
  });
  return poseBatch(x, poses) as Maps;
}

export const shifts = defineStage<typeof ShiftsSchema, ViewStage>('shifts', ShiftsSchema, (config, name) => {
  const card = (s: readonly number[], what: string): LayerCard => ({
    stage: name,
    classic: what,
    cnn: 'data augmentation by translations, at training only: no layer at test time',
    mapsIn: s[2] ?? 1,
    mapsOut: s[2] ?? 1,
    params: 0,
    origin: 'none',
    receptiveField: 1,
    outShape: [...s],
    connections: 0,
  });
  const offsets = shiftOffsets(config.pixels, config.directions);
  return {
    apply(x: Maps): Maps {
      check4d(name, x);
      return tf.clone(x);
    },
    // the identity whatever its config: what comes after it is the same for any copies
    applyConfig: () => ({}),
    outShape: (s) => [...s],
    card: (s) =>
      card(
        s,
        config.copies
          ? `virtual examples: ${config.copies} copies of each training image, each shifted ${config.pixels} px in one of ${config.directions} directions (${config.copies + 1}x the classifier's training rows; the identity at test time)`
          : 'virtual examples: none (copies 0); the identity',
      ),
    toLayers: () => [],
    trainingViews(): Stage[] {
      return Array.from({ length: config.copies }, (_, copy) => {
        const view: Stage = {
          kind: 'shifts',
          name,
          // the view's identity in the feature cache: what it draws from and which copy it is
          config: Object.freeze({ pixels: config.pixels, directions: config.directions, copy }),
          clone: () => view, // a view holds nothing fitted
          apply(x: Maps): Maps {
            check4d(name, x);
            return shiftCopy(x, offsets, copy);
          },
          outShape: (s: readonly number[]) => [...s],
          card: (s: readonly number[]) => card(s, `copy ${copy + 1} of the training images, each shifted by its own draw`),
        };
        return view;
      });
    },
  };
});
