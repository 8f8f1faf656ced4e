/**
 * Runs a model made of tfjs-layers' own layers (LeNet-5, alexnet-small, a bownet) with bowcnn's faster
 * implementations of some of them. The model itself never changes (its layers, weights, cards, saved
 * form: plain tfjs); only the execution differs, as a graph compiler's passes would:
 *
 *   Conv2D (training)         the plain conv op, then bias + ReLU in one op (`biasRelu`). tfjs-layers runs
 *                             every conv through tfjs-core's fused conv, whose gradient also computes the
 *                             images' gradient for a first layer, which nobody reads.
 *   Conv2D + MaxPooling2D     a conv with bias and ReLU followed by a 2x2, stride-2 max pool (LeNet-5's
 *                             C1 + S2 and C3 + S4) becomes one `convReluPool` where the native kernels are
 *                             in use: the `[N,OH,OW,C]` activations are never written.
 *   Dense with ReLU           a product and one `biasRelu`, both ways (with the native kernels).
 *   BatchNormalization        the hand-derived gradient of backend/batchnorm.ts (two per-channel passes each
 *                             way), the layer's own weights and moving-average rule.
 *   Dropout (training)        a new mask at every step, reproducible: tfjs-layers' Dropout with a seed
 *                             draws the same mask at every call (a fixed pruning, not dropout). Here the
 *                             mask of a call comes from a generator seeded by (the layer's seed, the
 *                             training step, the call's index within the step), so a resumed run draws
 *                             the same masks as an uninterrupted one.
 *
 * Anything else runs the layer's own `apply`; a model that is not Sequential runs `model.apply`. With the
 * `fuse` setting off (BOWCNN_FUSE=0) nothing is fused (for comparison: `npm run bench -- native`).
 */
import * as tf from '@tensorflow/tfjs';
import { mixSeed } from '../core/random.js';
import { feed } from './feeds.js';
import { settings } from '../core/settings.js';
import { biasRelu, convReluPool } from '../backend/fused-ops.js';
import { hasNativeKernel } from '../backend/kernel-util.js';
import { nativeKernelsActive } from '../backend/native.js';
import { batchNormInfer, batchNormTrain } from '../backend/batchnorm.js';

type Cfg = Record<string, unknown>;
type Var = tf.LayerVariable;
type ConvLayer = tf.layers.Layer & {
  kernel: Var;
  bias: Var | null;
  activation: { apply(x: tf.Tensor): tf.Tensor; getClassName(): string };
};
type BnLayer = tf.layers.Layer & { gamma: Var | null; beta: Var | null; movingMean: Var; movingVariance: Var };

const is2 = (v: unknown, n: number) => (Array.isArray(v) ? v.length === 2 && v[0] === n && v[1] === n : v === n);

export interface ExecOptions {
  training: boolean;
  /** the training step (dropout masks are drawn per step); default: a count of this model's training calls */
  step?: number;
}

/** Whether conv (a Conv2D layer) and pool (the next layer) are a conv + bias + ReLU, 2x2/2 max pool pair. */
export function fusablePair(conv: tf.layers.Layer, pool: tf.layers.Layer | undefined): boolean {
  if (pool?.getClassName() !== 'MaxPooling2D' || conv.getClassName() !== 'Conv2D') return false;
  const c = conv.getConfig() as Cfg,
    p = pool.getConfig() as Cfg;
  return (
    c.activation === 'relu' &&
    c.useBias !== false &&
    is2(c.strides, 1) &&
    is2(c.dilationRate, 1) &&
    c.dataFormat === 'channelsLast' &&
    !c.activityRegularizer &&
    (c.padding === 'same' || c.padding === 'valid') &&
    is2(p.poolSize, 2) &&
    is2(p.strides ?? p.poolSize, 2) &&
    p.padding === 'valid' &&
    p.dataFormat === 'channelsLast'
  );
}

/** Whether a layer is a Dense layer with bias and ReLU (its bias and ReLU become one `biasRelu`, both ways). */
export function fusableDense(l: tf.layers.Layer): boolean {
  const c = l.getConfig() as Cfg;
  return l.getClassName() === 'Dense' && c.activation === 'relu' && c.useBias !== false && !c.activityRegularizer;
}

/** Whether execute fuses conv + ReLU + pool pairs and dense layers for this model on the active backend. */
export function canFuse(model: tf.LayersModel): boolean {
  if (
    !settings().fuse ||
    !(model instanceof tf.Sequential) ||
    !nativeKernelsActive() ||
    tf.getKernel('BowcnnConvReluPool', tf.getBackend()) === undefined
  )
    return false;
  const ls = model.layers;
  return ls.some((l, i) => fusablePair(l, ls[i + 1]));
}

/** Training calls made per model without a step (each model its own count: no state shared between models). */
const trainingCalls = new WeakMap<tf.LayersModel, number>();

/** A Conv2D layer in training: the plain conv op (its gradient is lazy), then bias and activation. */
function convTrain(l: ConvLayer, x: tf.Tensor4D): tf.Tensor {
  const c = l.getConfig() as Cfg;
  const strides = (Array.isArray(c.strides) ? c.strides : [c.strides, c.strides]) as [number, number];
  const dil = (Array.isArray(c.dilationRate) ? c.dilationRate : [c.dilationRate, c.dilationRate]) as [number, number];
  let y: tf.Tensor = tf.conv2d(x, l.kernel.read() as tf.Tensor4D, strides, c.padding as 'valid' | 'same', 'NHWC', dil);
  if (l.bias && c.activation === 'relu') return biasRelu(y, l.bias.read());
  if (l.bias) y = tf.add(y, l.bias.read());
  return l.activation.apply(y);
}

/** A BatchNormalization layer over the last axis, training (moving statistics updated) or inference. */
function batchNorm(l: BnLayer, x: tf.Tensor, training: boolean): tf.Tensor {
  const c = l.getConfig() as Cfg;
  const C = x.shape[x.rank - 1];
  const gamma = (l.gamma?.read() ?? tf.ones([C])) as tf.Tensor1D;
  const beta = (l.beta?.read() ?? tf.zeros([C])) as tf.Tensor1D;
  const eps = Number(c.epsilon);
  if (!training) return batchNormInfer(x, gamma, beta, l.movingMean.read() as tf.Tensor1D, l.movingVariance.read() as tf.Tensor1D, eps);
  const { y, mean, variance } = batchNormTrain(x, gamma, beta, eps);
  // tfjs-layers' rule: moving <- moving - (moving - batch) * (1 - momentum), with the biased variance
  const m = 1 - Number(c.momentum);
  for (const [v, batch] of [
    [l.movingMean, mean],
    [l.movingVariance, variance],
  ] as const) {
    tf.tidy(() => {
      const old = v.read();
      v.write(tf.sub(old, tf.mul(tf.sub(old, batch), m)));
    });
  }
  tf.dispose([mean, variance]);
  return y;
}

const lastAxis = (l: tf.layers.Layer) => {
  const a = (l.getConfig() as Cfg).axis;
  return a === -1 || a === 3 || (Array.isArray(a) && a.length === 1 && (a[0] === -1 || a[0] === 3));
};

/**
 * model.apply(x, { training }) with bowcnn's implementations of the layers above (call inside tf.tidy or
 * a gradient function, like model.apply).
 */
export function execute(model: tf.LayersModel, x: tf.Tensor, opts: ExecOptions): tf.Tensor {
  const { training } = opts;
  if (!(model instanceof tf.Sequential)) return model.apply(x, { training }) as tf.Tensor;
  let step = opts.step;
  if (training && step === undefined) {
    step = trainingCalls.get(model) ?? 0;
    trainingCalls.set(model, step + 1);
  }
  const fuse = canFuse(model) && hasNativeKernel('BowcnnConvReluPool', x);
  const ls = model.layers;
  let y = x;
  let draws = 0;
  // whether y depends on a trainable weight (then its gradient is wanted; the images' is not)
  let upstreamWeights = false;
  for (let i = 0; i < ls.length; i++) {
    const l = ls[i];
    const cls = l.getClassName();
    if (fuse && fusablePair(l, ls[i + 1])) {
      const c = l as ConvLayer;
      y = convReluPool(
        y as tf.Tensor4D,
        c.kernel.read() as tf.Tensor4D,
        c.bias!.read() as tf.Tensor1D,
        (l.getConfig() as Cfg).padding as 'same' | 'valid',
        upstreamWeights,
      );
      i++;
    } else if (fuse && y.rank === 2 && fusableDense(l)) {
      const d = l as ConvLayer;
      y = biasRelu(tf.matMul(y, d.kernel.read()), d.bias!.read());
    } else if (training && cls === 'Conv2D' && (l.getConfig() as Cfg).dataFormat === 'channelsLast') {
      y = convTrain(l as ConvLayer, y as tf.Tensor4D);
    } else if (cls === 'BatchNormalization' && lastAxis(l)) {
      y = batchNorm(l as BnLayer, y, training);
    } else if (cls === 'Dropout') {
      const c = l.getConfig() as Cfg;
      const rate = Number(c.rate);
      if (training && rate > 0) y = dropout(y, rate, Number(c.seed ?? 0), step ?? 0, draws++);
    } else {
      y = l.apply(y, { training }) as tf.Tensor;
    }
    if (l.trainableWeights.length > 0) upstreamWeights = true;
  }
  return y;
}

/**
 * tf.dropout: x · floor(u + keep) / keep, u uniform in [0, 1) drawn with the seed. The multiplier is made on the
 * host, in float32 as tfjs's cpu kernels make it, and is a feed: a step replayed on the GPU writes its own step's
 * (tfjs-webgpu would compute a small one on the host anyway, from values the step never sees as a feed).
 */
function dropout(x: tf.Tensor, rate: number, seed: number, step: number, draw: number): tf.Tensor {
  const keep = Math.fround(1 - rate);
  const multiplier = (s: number): Float32Array => {
    const t = tf.randomUniform(x.shape, 0, 1, 'float32', mixSeed(seed, s * 1024 + draw));
    const u = t.dataSync() as Float32Array;
    t.dispose();
    const m = new Float32Array(u.length);
    for (let i = 0; i < u.length; i++) m[i] = Math.floor(Math.fround(u[i] + keep)) / keep;
    return m;
  };
  return tf.mul(x, feed(`dropout:${draw}`, tf.tensor(multiplier(step), x.shape, 'float32'), multiplier));
}
