/**
 * A small VGG-style CNN with batch normalisation (Simonyan and Zisserman 2015's blocks of 3x3 convolutions,
 * Ioffe and Szegedy 2015's batch norm), the course's "modern" CNN at MNIST scale:
 *
 *   block b (one per width w_b): k x (conv w_b 3x3 same, no bias -> BN -> ReLU), then max pool 2
 *                                (28 -> 14 -> 7 -> 3 for three blocks)
 *   head 'gap': global average pooling -> dropout -> output classes
 *   head 'fc':  flatten -> dropout -> fc -> ReLU -> dropout -> output classes
 *
 * Sequential and built from tfjs-layers' own layers, so that bowcnn's execution pass runs its convolutions
 * and batch norms with the native kernels and the saved model is plain tfjs.
 */
import * as tf from '@tensorflow/tfjs';

export interface VggConfig {
  inputShape?: [number, number, number];
  classes?: number;
  /** one block per width */
  widths?: number[];
  /** convolutions per block */
  convs?: number;
  head?: 'gap' | 'fc';
  /** the fully connected layer's units (head 'fc') */
  fc?: number;
  dropout?: number;
  seed?: number;
}

export function vgg(cfg: VggConfig = {}): tf.Sequential {
  const [h, w, c] = cfg.inputShape ?? [28, 28, 1];
  const widths = cfg.widths ?? [32, 64, 128];
  const convs = cfg.convs ?? 2;
  const drop = cfg.dropout ?? 0.3;
  // seeds from 1: tfjs-core's normal generators read a seed of 0 as none
  let seed = (cfg.seed ?? 0) + 1;
  const he = () => tf.initializers.heNormal({ seed: seed++ });
  const m = tf.sequential({ name: 'vgg' });
  widths.forEach((f, b) => {
    for (let k = 0; k < convs; k++) {
      const name = `conv${b + 1}_${k + 1}`;
      m.add(
        tf.layers.conv2d({
          ...(b === 0 && k === 0 ? { inputShape: [h, w, c] } : {}),
          filters: f,
          kernelSize: 3,
          padding: 'same',
          useBias: false,
          kernelInitializer: he(),
          name,
        }),
      );
      m.add(tf.layers.batchNormalization({ momentum: 0.9, epsilon: 1e-3, name: `bn${b + 1}_${k + 1}` }));
      m.add(tf.layers.reLU({ name: `relu${b + 1}_${k + 1}` }));
    }
    m.add(tf.layers.maxPooling2d({ poolSize: 2, strides: 2, name: `pool${b + 1}` }));
  });
  if ((cfg.head ?? 'fc') === 'gap') {
    m.add(tf.layers.globalAveragePooling2d({ name: 'gap' }));
    if (drop > 0) m.add(tf.layers.dropout({ rate: drop, seed: seed++, name: 'drop' }));
  } else {
    m.add(tf.layers.flatten({ name: 'flatten' }));
    if (drop > 0) m.add(tf.layers.dropout({ rate: drop, seed: seed++, name: 'drop1' }));
    m.add(tf.layers.dense({ units: cfg.fc ?? 128, activation: 'relu', kernelInitializer: he(), name: 'fc' }));
    if (drop > 0) m.add(tf.layers.dropout({ rate: drop, seed: seed++, name: 'drop2' }));
  }
  m.add(tf.layers.dense({ units: cfg.classes ?? 10, kernelInitializer: tf.initializers.glorotUniform({ seed: seed++ }), name: 'output' }));
  return m;
}
