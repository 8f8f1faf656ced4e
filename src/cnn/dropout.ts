/**
 * `Dropout`: dropout whose mask is new at every training step and still reproducible (className
 * 'BowcnnDropout'; config { rate, seed }).
 *
 * tfjs-layers' Dropout layer with a `seed` draws its mask from a generator seeded afresh on every call:
 * the same mask at every step (checked: three calls, three identical masks), so a seeded dropout layer
 * prunes a fixed half of the units instead of dropping a random half each step. Without a seed it draws
 * from Math.random, and the same seed no longer gives the same weights. Here each call's mask comes from
 * a generator seeded by (the layer's seed, the training step, the call's index within the step):
 * `setDropoutStep(step)` (cnn/train calls it before each step, with the step's index over the whole run,
 * so a resumed run draws the same masks as an uninterrupted one); without it the index keeps counting.
 */
import * as tf from '@tensorflow/tfjs';

let draws = 0;

/** Sets the training step dropout masks are drawn for (the first draw of step s is the same in any run). */
export function setDropoutStep(step: number): void { draws = step * 1024; }

/** 32-bit mix of two integers (a murmur-style finaliser): the generator seed of one draw. */
function mix(a: number, b: number): number {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ b;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return ((h ^ (h >>> 16)) >>> 0) || 1;
}

export interface DropoutArgs { rate: number; seed?: number; name?: string; trainable?: boolean }

export class Dropout extends tf.layers.Layer {
  static className = 'BowcnnDropout';
  readonly rate: number;
  readonly seed: number;

  constructor(args: DropoutArgs) {
    super(args);
    if (!(args.rate >= 0 && args.rate < 1)) throw new Error(`dropout rate must be in [0, 1): got ${args.rate}`);
    this.rate = args.rate;
    this.seed = args.seed ?? 0;
    this.supportsMasking = true;
  }

  override computeOutputShape(s: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] { return s; }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: { training?: boolean }): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    if (!kwargs?.training || this.rate === 0) return x;
    return tf.dropout(x, this.rate, undefined, mix(this.seed, draws++));
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), rate: this.rate, seed: this.seed };
  }
}
tf.serialization.registerClass(Dropout);

/** A Dropout layer (same arguments as tf.layers.dropout's rate, seed, name). */
export function dropout(args: DropoutArgs): Dropout {
  return new Dropout(args);
}
