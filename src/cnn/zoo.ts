/**
 * The CNN architectures a `cnn` recipe can name, each with how it is built from its config, how its
 * layers read in the course's terms, and what the course's ablation removes from it.
 */
import type * as tf from '@tensorflow/tfjs';
import type { AlexNetSettings, LeNet5Settings, MLPSettings, ModelName, VggSettings } from '../config/recipes.js';
import { AlexNetConfigSchema, LeNet5ConfigSchema, MLPConfigSchema, VggConfigSchema } from '../config/recipes.js';
import { parseConfig } from '../config/schema.js';
import type { Split } from '../core/data.js';
import { alexnetSmall } from './alexnet.js';
import { lenet5 } from './lenet5.js';
import { mlp } from './mlp.js';
import { vgg } from './vgg.js';

export interface BuildContext {
  inShape: [number, number, number];
  classes: number;
  seed: number;
  /** the training split (LeNet-5's input normalisation uses its pixel statistics); absent for cards only */
  train?: Split;
}

export interface ModelEntry {
  build(config: Record<string, unknown>, ctx: BuildContext): tf.Sequential;
  /** the classic name of each layer (LeCun's C1, S2, ...), for the cards */
  classic: Record<string, string>;
  ablations(config: Record<string, unknown>): { change: string; config: Record<string, unknown> }[];
}

/** Mean and standard deviation of a split's pixels, on the model's [0, 1] scale. */
export function pixelStats(s: Split): { mean: number; std: number } {
  let sum = 0,
    sq = 0;
  const p = s.pixels;
  for (let i = 0; i < p.length; i++) {
    const v = p[i];
    sum += v;
    sq += v * v;
  }
  const n = Math.max(1, p.length),
    mean = sum / n / 255;
  return { mean, std: Math.sqrt(Math.max(1e-12, sq / n / 65025 - mean * mean)) };
}

/** A model's `normalize` setting as numbers: true means the training set's own pixel mean and std. */
function inputNorm(n: boolean | { mean: number; std: number }, ctx: BuildContext): { mean: number; std: number } | false {
  if (n === true) return ctx.train ? pixelStats(ctx.train) : { mean: 0.5, std: 0.5 };
  return n;
}

export const ZOO: Record<ModelName, ModelEntry> = {
  lenet5: {
    build(raw, ctx) {
      const c = parseConfig(LeNet5ConfigSchema, raw, "config of model 'lenet5'") as LeNet5Settings;
      return lenet5({ ...c, normalize: inputNorm(c.normalize, ctx), inputShape: ctx.inShape, classes: ctx.classes, seed: ctx.seed });
    },
    classic: {
      C1: 'convolution, 6 feature maps',
      S2: 'subsampling',
      C3: 'convolution, 16 feature maps',
      S4: 'subsampling',
      C5: 'convolution, 120 maps of 1x1',
      F6: 'fully connected, 84 units',
      OUTPUT: 'output, one unit per class',
    },
    ablations: () => [],
  },
  'alexnet-small': {
    build(raw, ctx) {
      const c = parseConfig(AlexNetConfigSchema, raw, "config of model 'alexnet-small'") as AlexNetSettings;
      return alexnetSmall({ ...c, inputShape: ctx.inShape, classes: ctx.classes, seed: ctx.seed });
    },
    classic: {
      conv1: 'conv + BN + ReLU',
      conv2: 'conv + BN + ReLU',
      conv3: 'conv + BN + ReLU',
      fc1: 'fully connected + dropout',
      fc2: 'fully connected + dropout',
      output: 'output',
    },
    // the course's AlexNet ablation: remove the top fully connected layer, then both
    ablations(raw) {
      const fc = (parseConfig(AlexNetConfigSchema, raw, "config of model 'alexnet-small'") as AlexNetSettings).fc;
      const out: { change: string; config: Record<string, unknown> }[] = [];
      if (fc.length >= 1) out.push({ change: 'drop the top fully connected layer', config: { ...raw, fc: fc.slice(0, -1) } });
      if (fc.length >= 2) out.push({ change: 'drop both fully connected layers', config: { ...raw, fc: [] } });
      return out;
    },
  },
  mlp: {
    build(raw, ctx) {
      const c = parseConfig(MLPConfigSchema, raw, "config of model 'mlp'") as MLPSettings;
      return mlp({ ...c, normalize: inputNorm(c.normalize, ctx) || null, inputShape: ctx.inShape, classes: ctx.classes, seed: ctx.seed });
    },
    classic: { H1: 'fully connected on every pixel', H2: 'fully connected', OUTPUT: 'output' },
    ablations: () => [],
  },
  vgg: {
    build(raw, ctx) {
      const c = parseConfig(VggConfigSchema, raw, "config of model 'vgg'") as VggSettings;
      return vgg({ ...c, inputShape: ctx.inShape, classes: ctx.classes, seed: ctx.seed });
    },
    classic: { output: 'output' },
    // the course's question of depth: one convolution per block instead of two
    ablations(raw) {
      const c = parseConfig(VggConfigSchema, raw, "config of model 'vgg'") as VggSettings;
      return c.convs > 1 ? [{ change: 'one convolution per block', config: { ...raw, convs: 1 } }] : [];
    },
  },
};
