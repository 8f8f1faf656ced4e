/**
 * Flatten: `[N,H,W,C]` maps to one feature vector per image, `[N,1,1,H*W*C]` (row-major: y, then x, then
 * channel), the input of the kernel map and the classifier. It is what a CNN's Flatten layer is; a HOG
 * descriptor is the flattened normalised blocks.
 */
import * as tf from '@tensorflow/tfjs';
import type { LayerCard } from '../core/card.js';
import { FlattenSchema } from '../config/stages.js';
import { check4d, defineStage, type Maps } from './stage.js';

export const flatten = defineStage('flatten', FlattenSchema, (_config, name) => ({
  apply(x: Maps): Maps {
    check4d(name, x);
    const [n, h, w, c] = x.shape;
    return tf.reshape(x, [n, 1, 1, h * w * c]) as Maps;
  },
  outShape: (s) => [1, 1, s[0] * s[1] * (s[2] ?? 1)],
  card(s): LayerCard {
    const d = s[0] * s[1] * (s[2] ?? 1);
    return {
      stage: name,
      classic: 'the descriptor as one vector',
      cnn: `flatten ${s[0]}x${s[1]}x${s[2] ?? 1} -> ${d}`,
      mapsIn: s[2] ?? 1,
      mapsOut: d,
      params: 0,
      origin: 'none',
      receptiveField: 1,
      outShape: [1, 1, d],
      connections: 0,
    };
  },
  toLayers: (s) => [{ className: 'Reshape', config: { targetShape: [1, 1, s[0] * s[1] * (s[2] ?? 1)], name } }],
}));
