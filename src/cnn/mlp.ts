/**
 * A multilayer perceptron on raw pixels: the image flattened, hidden fully connected layers, the output. The
 * course's starting point: every pixel is an input, so the first layer's weights grow with the image's area
 * and a shift of the image changes most inputs (the `mlp-scalability` and `mlp-stability` experiments).
 */
import * as tf from '@tensorflow/tfjs';

export interface MLPConfig {
  hidden?: number[];
  activation?: 'relu' | 'tanh' | 'sigmoid';
  inputShape?: [number, number, number];
  classes?: number;
  seed?: number;
  /** x -> (x - mean) / std first; null for none */
  normalize?: { mean: number; std: number } | null;
}

export function mlp(cfg: MLPConfig = {}): tf.Sequential {
  const [h, w, c] = cfg.inputShape ?? [28, 28, 1];
  let seed = cfg.seed ?? 0;
  const init = () => tf.initializers.glorotUniform({ seed: seed++ });
  const m = tf.sequential({ name: 'mlp' });
  const norm = cfg.normalize ?? null;
  if (norm) m.add(tf.layers.rescaling({ inputShape: [h, w, c], scale: 1 / norm.std, offset: -norm.mean / norm.std, name: 'normalize' }));
  m.add(tf.layers.flatten({ ...(norm ? {} : { inputShape: [h, w, c] }), name: 'flatten' }));
  (cfg.hidden ?? [300, 100]).forEach((units, i) =>
    m.add(tf.layers.dense({ units, activation: cfg.activation ?? 'relu', kernelInitializer: init(), name: `H${i + 1}` })),
  );
  m.add(tf.layers.dense({ units: cfg.classes ?? 10, kernelInitializer: init(), name: 'OUTPUT' }));
  return m;
}
