/**
 * HOG's block normalisation: each block's values `[N,BY,BX,D]` (the channel axis: its cells' histograms)
 * normalised together, so that a block's description does not depend on its contrast.
 *
 *   'l2hys'   Dalal and Triggs' and OpenCV's: v <- v / (|v| + D eps), clipped at `threshold`, then
 *             v <- v / (|v| + 1e-3)
 *   'l2'      v / (|v| + D eps)
 *   'l1sqrt'  sqrt(v / (|v|_1 + D eps))
 *
 * eps defaults to OpenCV's 0.1 for 0-255 intensities, scaled to images in [0, 1]: with it the stage gives
 * OpenCV's numbers for the same image. As a CNN layer it is a normalisation over the channel axis, like
 * local response normalisation across all of a block's maps; it has no parameters.
 */
import * as tf from '@tensorflow/tfjs';
import type { LayerCard } from '../core/card.js';
import { BlockNormSchema } from '../config/stages.js';
import { check4d, defineStage, type Maps } from './stage.js';

export type { BlockNormConfig } from '../config/stages.js';
export type BlockNormKind = 'l2hys' | 'l2' | 'l1sqrt';

/** The stage's computation on `[N,BY,BX,D]` (also what the exported layer calls). */
export function normalizeBlocks(x: Maps, norm: BlockNormKind, threshold: number, epsilon: number): Maps {
  return tf.tidy(() => {
    const d = x.shape[3];
    if (norm === 'l1sqrt') return tf.sqrt(tf.div(x, tf.add(tf.sum(tf.abs(x), 3, true), d * epsilon))) as Maps;
    const first = tf.div(x, tf.add(tf.sqrt(tf.sum(tf.square(x), 3, true)), d * epsilon));
    if (norm === 'l2') return first as Maps;
    const clipped = tf.minimum(first, threshold);
    return tf.div(clipped, tf.add(tf.sqrt(tf.sum(tf.square(clipped), 3, true)), 1e-3)) as Maps;
  });
}

export const blocknorm = defineStage(
  'blocknorm',
  BlockNormSchema,
  (config, name) => ({
    apply(x: Maps): Maps {
      check4d(name, x);
      return normalizeBlocks(x, config.norm, config.threshold, config.epsilon);
    },
    outShape: (s) => [s[0], s[1], s[2]],
    card(s): LayerCard {
      const d = s[2] ?? 36;
      return {
        stage: name,
        classic: `HOG block normalisation (${config.norm === 'l2hys' ? `L2-Hys, clipped at ${config.threshold}` : config.norm})`,
        cnn: `normalisation across the ${d} maps of each position (no parameters)`,
        mapsIn: d,
        mapsOut: d,
        params: 0,
        origin: 'handcrafted',
        receptiveField: 1,
        outShape: [s[0], s[1], d],
        connections: s[0] * s[1] * d,
      };
    },
    toLayers: () => [{ className: 'BowStage', config: { stage: 'blocknorm', stageConfig: { ...config }, name } }],
  }),
  { parameterFree: true },
);
