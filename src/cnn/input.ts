/**
 * A CNN's input: the `[H, W, C]` its model takes. A recipe may declare it (`input: { size, channels }`);
 * otherwise it is the training images' own. Images of another size are framed to it the way `predict`
 * frames a photograph (data/input-rule.ts, framePhoto): scaled by area averaging until the short side
 * fits, centred, and cropped, so the aspect ratio is kept and nothing is stretched. Colour becomes grey by
 * ITU-R BT.601 luma; grey becomes colour by repeating it into three channels.
 *
 * CIFAR-10 files, folders of photographs and the test split all pass through the same framing before
 * training and scoring, so a model sees the same kind of input whatever the images came from. Augmentation
 * (random crops of the padded image, flips) runs on the framed images, in cnn/train.
 */
import * as tf from '@tensorflow/tfjs';
import { makeSplit, type Split } from '../core/data.js';
import { framePhoto, luma } from '../data/input-rule.js';

/** `[H, W, C]` of one image. */
export type InShape = [number, number, number];

/** What a recipe declares: a side (square) or `[H, W]`, 1 (grey) or 3 (colour) channels; each absent: the images' own. */
export interface InputSpec {
  size?: number | [number, number];
  channels?: 1 | 3;
}

/** The model's `[H, W, C]` for images of `[h, w, c]`: the recipe's declared input where it has one. */
export function inputShape(spec: InputSpec | undefined, image: readonly number[]): InShape {
  const [h, w, c] = image;
  if (!spec) return [h, w, c];
  const [sh, sw] = spec.size === undefined ? [h, w] : typeof spec.size === 'number' ? [spec.size, spec.size] : spec.size;
  return [sh, sw, spec.channels ?? c];
}

/** One image's channels `[h*w*c]` -> `[h*w*to]`: BT.601 luma for colour to grey, repetition for grey to colour. */
function convertChannels(g: Float32Array, c: number, to: number): Float32Array {
  if (c === to) return g;
  if (to === 1) {
    if (c < 3) throw new RangeError(`images of ${c} channels cannot be made grey (1 or 3 expected)`);
    return luma(g, c);
  }
  if (c !== 1) throw new RangeError(`images of ${c} channels cannot be made ${to}-channel (1 or 3 expected)`);
  const out = new Float32Array(g.length * to);
  for (let i = 0; i < g.length; i++) out.fill(g[i], i * to, (i + 1) * to);
  return out;
}

/** One image `[h, w, c]` in any value range, framed to `shape` (values kept in that range). */
function frameImage(g: Float32Array, h: number, w: number, c: number, shape: InShape): Float32Array {
  const [th, tw, tc] = shape;
  const framed = h === th && w === tw ? g : framePhoto(g, w, h, c, tw, th);
  return convertChannels(framed, c, tc);
}

/** A split framed to `shape`; the same split when it already has that shape (no copy). */
export function framedSplit(s: Split, shape: InShape): Split {
  const [th, tw, tc] = shape;
  if (s.height === th && s.width === tw && s.channels === tc) return s;
  const per = s.height * s.width * s.channels;
  const outPer = th * tw * tc;
  const pixels = new Uint8Array(s.n * outPer);
  const g = new Float32Array(per);
  for (let i = 0; i < s.n; i++) {
    for (let k = 0; k < per; k++) g[k] = s.pixels[i * per + k];
    const f = frameImage(g, s.height, s.width, s.channels, shape);
    for (let k = 0; k < outPer; k++) pixels[i * outPer + k] = Math.min(255, Math.max(0, Math.round(f[k])));
  }
  return makeSplit(pixels, s.labels, th, tw, tc);
}

/** A batch `[B, h, w, c]` framed to `[B, ...shape]`; the same tensor when it already has that shape. */
export function framedBatch(x: tf.Tensor4D, shape: InShape): tf.Tensor4D {
  const [b, h, w, c] = x.shape;
  const [th, tw, tc] = shape;
  if (h === th && w === tw && c === tc) return x;
  const v = x.dataSync() as Float32Array;
  const per = h * w * c;
  const out = new Float32Array(b * th * tw * tc);
  for (let i = 0; i < b; i++) out.set(frameImage(v.subarray(i * per, (i + 1) * per), h, w, c, shape), i * th * tw * tc);
  return tf.tensor4d(out, [b, th, tw, tc]);
}
