/**
 * Deskewing: each image sheared so that its main axis stands upright, the classic normalisation of
 * handwritten digits (LeCun et al. 1998's table lists it before several classifiers). From the image's
 * intensity moments, with (cx, cy) its centre of mass,
 *   mu11 = E[(x - cx)(y - cy)],  mu02 = E[(y - cy)^2],  alpha = mu11 / mu02,
 * the output pixel (x, y) reads the input at (x + alpha (y - oy) + cx - ox, y + cy - oy), bilinearly, where
 * (ox, oy) is the image centre: a shear along x by alpha about the centre of mass, which moves the centre of
 * mass to (ox, oy) (with centre false, it stays where it was: the shear is about its row). The sheared image
 * has mu11 = 0. An image without ink is left as it is; one whose ink has no vertical spread (mu02 at most 1e-6,
 * a single row) is only centred, not sheared.
 *
 * In CNN terms it is a spatial transformer (Jaderberg et al. 2015) whose localisation is fixed: the affine
 * grid is computed from the input's moments instead of learned, then sampled bilinearly. Colour images take
 * the moments of their channels' mean and shear every channel alike.
 */
import * as tf from '@tensorflow/tfjs';
import type { LayerCard } from '../core/card.js';
import { DeskewSchema } from '../config/stages.js';
import { check4d, defineStage, StageError, type Maps } from './stage.js';

export type { DeskewConfig } from '../config/stages.js';

/** The tf.image.transform rows `[N,8]` that deskew images `[N,H,W,C]` (see the header). */
export function deskewRows(x: Maps, centre: boolean): tf.Tensor2D {
  return tf.tidy(() => {
    const [n, h, w] = x.shape;
    const g = tf.mean(x, 3); // [N,H,W]
    const X = tf.reshape(tf.range(0, w, 1, 'float32'), [1, 1, w]),
      Y = tf.reshape(tf.range(0, h, 1, 'float32'), [1, h, 1]);
    const m = tf.sum(g, [1, 2]); // [N]
    const safe = tf.where(tf.greater(m, 0), m, tf.onesLike(m));
    const cx = tf.div(tf.sum(tf.mul(g, X), [1, 2]), safe),
      cy = tf.div(tf.sum(tf.mul(g, Y), [1, 2]), safe);
    const dx = tf.sub(X, tf.reshape(cx, [n, 1, 1])),
      dy = tf.sub(Y, tf.reshape(cy, [n, 1, 1]));
    const mu11 = tf.div(tf.sum(tf.mul(g, tf.mul(dx, dy)), [1, 2]), safe),
      mu02 = tf.div(tf.sum(tf.mul(g, tf.square(dy)), [1, 2]), safe);
    const ok = tf.greater(mu02, 1e-6);
    const alpha = tf.where(ok, tf.div(mu11, tf.where(ok, mu02, tf.onesLike(mu02))), tf.zerosLike(mu02));
    const ox = (w - 1) / 2,
      oy = (h - 1) / 2;
    // input x = x + alpha y + (cx - alpha oy - ox) with centring, else x + alpha (y - cy); input y = y + (cy - oy) or y
    const a2 = centre ? tf.sub(tf.sub(cx, tf.mul(alpha, oy)), ox) : tf.neg(tf.mul(alpha, cy));
    const b2 = centre ? tf.sub(cy, oy) : tf.zerosLike(cy);
    const one = tf.onesLike(alpha),
      zero = tf.zerosLike(alpha);
    const ink = tf.greater(m, 0);
    return tf.stack([one, alpha, tf.where(ink, a2, zero), zero, one, tf.where(ink, b2, zero), zero, zero], 1) as tf.Tensor2D;
  });
}

export const deskew = defineStage('deskew', DeskewSchema, (config, name) => ({
  apply(x: Maps): Maps {
    check4d(name, x);
    return tf.tidy(() => tf.image.transform(x, deskewRows(x, config.centre), 'bilinear', 'constant', 0) as Maps);
  },
  outShape: (s) => [...s],
  card(s): LayerCard {
    return {
      stage: name,
      classic: `deskewing by the image's moments (shear by mu11 / mu02${config.centre ? ', centre of mass to the centre' : ''})`,
      cnn: 'spatial transformer with a fixed localisation: affine grid from the moments, bilinear sampling',
      mapsIn: s[2] ?? 1,
      mapsOut: s[2] ?? 1,
      params: 0,
      origin: 'handcrafted',
      receptiveField: 1,
      outShape: [...s],
    };
  },
  toLayers() {
    throw new StageError(name, 'deskewing is not exported as layers (it resamples each image by its own moments)');
  },
}));
