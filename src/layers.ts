/**
 * `bowcnn/layers`: the few layers tfjs lacks that a bownet (a fitted BoW pipeline exported as a CNN)
 * is built from. Importing this module registers them with tfjs's serialisation, so that
 * `tf.loadLayersModel` reads a saved bownet; it needs nothing but `@tensorflow/tfjs` (no file system,
 * no native addon, no backend setup), in Node or a browser.
 *
 *   BowStage          a parameter-free stage by kind and JSON config: orientation binning (WTA /
 *                     bilinear), BoW pooling (with a pyramid), the chi2 / Hellinger map, HOG's block
 *                     normalisation, and any kind defined with { parameterFree: true }
 *   BowReplicatePad   padding by continuity or reflection      BowGatherConv    conv with stride AND dilation > 1
 *   BowSiftNorm       SIFT normalisation (+ contrast)         BowWinnerTakeAll one-hot of the argmax (hard coding)
 *   BowScaledSoftmax  softmax(beta x) (soft coding)
 *   BowLCN            local contrast normalisation           BowRotationConv  conv max-pooled over K filter rotations
 *   BowFisher         Fisher vectors over a pyramid (the GMM as weights)
 *   BowVlad           VLAD over a pyramid (the centres as weights; soft assignment: NetVLAD's layer)
 *   BowBossaNova      BossaNova over a pyramid (the words and their distance spreads as weights)
 *
 * Each calls the same functions as the stage it stands for, so the model computes what the pipeline does.
 */
import * as tf from '@tensorflow/tfjs';
import { localContrastNorm, rotationPoolConv } from './ops/invariance.js';
// the classic chain's parameter-free kinds, which BowStage runs: importing them registers them (defineStage's
// `parameterFree`), so that a saved bownet loads with this module alone
import './stages/blocknorm.js';
import './stages/kernelmap.js';
import './stages/orientation.js';
import './stages/pooling.js';
import { fisherMaps, fisherWeights } from './ops/fisher.js';
import { vladMaps } from './ops/vlad.js';
import { bossanovaMaps } from './ops/bossanova.js';
import { frameGeometry, gatherConv, normalize, type DescriptorNorm } from './stages/descriptor.js';
import { pad2d, type Padding } from './stages/pad.js';
import { parameterFreeKinds, parameterFreeStage, type Stage } from './stages/stage.js';

type Kw = Record<string, unknown>;
const first = (x: tf.Tensor | tf.Tensor[]): tf.Tensor4D => (Array.isArray(x) ? x[0] : x) as tf.Tensor4D;
/** The channel count of a layer's (first) input shape `[N,H,W,C]`. */
const channelsOf = (s: tf.Shape | tf.Shape[]): number => (Array.isArray(s[0]) ? (s[0] as tf.Shape)[3] : (s as tf.Shape)[3]) as number;

export class BowStage extends tf.layers.Layer {
  static className = 'BowStage';
  readonly stage: string;
  readonly stageConfig: Kw;
  private readonly impl: Stage;
  constructor(c: Kw & { stage: string; stageConfig: Kw }) {
    super(c as never);
    const impl = parameterFreeStage(c.stage, c.stageConfig);
    if (!impl)
      throw new Error(
        `BowStage: unknown parameter-free stage kind '${c.stage}' (known: ${parameterFreeKinds().join(', ')}; a kind of your own: import its file, defined with defineStage(kind, schema, build, { parameterFree: true }), first)`,
      );
    this.stage = c.stage;
    this.stageConfig = c.stageConfig;
    this.impl = impl;
  }
  override computeOutputShape(s: tf.Shape): tf.Shape {
    return [s[0], ...this.impl.outShape([s[1] as number, s[2] as number, s[3] as number])];
  }
  override call(x: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return this.impl.apply(first(x));
  }
  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), stage: this.stage, stageConfig: this.stageConfig as tf.serialization.ConfigDict };
  }
}

export class BowReplicatePad extends tf.layers.Layer {
  static className = 'BowReplicatePad';
  readonly p: [number, number, number, number];
  readonly mode: Padding;
  constructor(c: Kw & { p: [number, number, number, number]; mode?: Padding }) {
    super(c as never);
    this.p = c.p;
    this.mode = c.mode ?? 'replicate';
  }
  override computeOutputShape(s: tf.Shape): tf.Shape {
    const [t, b, l, r] = this.p;
    return [s[0], (s[1] as number) + t + b, (s[2] as number) + l + r, s[3]];
  }
  override call(x: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const [t, b, l, r] = this.p;
    return pad2d(first(x), t, b, l, r, this.mode);
  }
  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), p: this.p, mode: this.mode };
  }
}

export class BowGatherConv extends tf.layers.Layer {
  static className = 'BowGatherConv';
  readonly k: number;
  readonly filters: number;
  readonly stride: number;
  readonly dilation: number;
  private kernel: tf.LayerVariable | null = null;
  constructor(c: Kw & { k: number; filters: number; stride: number; dilation: number }) {
    super(c as never);
    this.k = c.k;
    this.filters = c.filters;
    this.stride = c.stride;
    this.dilation = c.dilation;
  }
  override build(s: tf.Shape | tf.Shape[]): void {
    const cin = channelsOf(s);
    this.kernel = this.addWeight('kernel', [this.k, this.k, cin, this.filters], 'float32', tf.initializers.zeros());
    this.built = true;
  }
  override computeOutputShape(s: tf.Shape): tf.Shape {
    const g = frameGeometry(s[1] as number, s[2] as number, this.dilation, this.stride, this.k);
    return [s[0], g.framesY, g.framesX, this.filters];
  }
  override call(x: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return gatherConv(first(x), this.kernel!.read() as tf.Tensor4D, this.stride, this.dilation);
  }
  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), k: this.k, filters: this.filters, stride: this.stride, dilation: this.dilation };
  }
}

export class BowSiftNorm extends tf.layers.Layer {
  static className = 'BowSiftNorm';
  readonly norm: DescriptorNorm;
  readonly contrastThreshold: number;
  readonly frameSize: number;
  constructor(c: Kw & { norm: DescriptorNorm; contrastThreshold?: number; frameSize?: number }) {
    super(c as never);
    this.norm = c.norm;
    this.contrastThreshold = c.contrastThreshold ?? 0;
    this.frameSize = c.frameSize ?? 13;
  }
  override computeOutputShape(s: tf.Shape): tf.Shape {
    return s;
  }
  override call(x: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const raw = first(x);
      let out: tf.Tensor = normalize(raw, this.norm);
      if (this.contrastThreshold > 0) {
        const mass = tf.div(tf.sum(raw, 3, true), this.frameSize * this.frameSize);
        out = tf.mul(out, tf.cast(tf.greaterEqual(mass, this.contrastThreshold), 'float32'));
      }
      return out;
    });
  }
  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), norm: this.norm, contrastThreshold: this.contrastThreshold, frameSize: this.frameSize };
  }
}

export class BowWinnerTakeAll extends tf.layers.Layer {
  static className = 'BowWinnerTakeAll';
  override computeOutputShape(s: tf.Shape): tf.Shape {
    return s;
  }
  override call(x: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const v = first(x);
      return tf.cast(tf.oneHot(tf.argMax(v, 3), v.shape[3]), 'float32');
    });
  }
}

export class BowScaledSoftmax extends tf.layers.Layer {
  static className = 'BowScaledSoftmax';
  readonly beta: number;
  constructor(c: Kw & { beta: number }) {
    super(c as never);
    this.beta = c.beta;
  }
  override computeOutputShape(s: tf.Shape): tf.Shape {
    return s;
  }
  override call(x: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.softmax(tf.mul(first(x), this.beta));
  }
  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), beta: this.beta };
  }
}

export class BowLCN extends tf.layers.Layer {
  static className = 'BowLCN';
  readonly size: number;
  readonly sigma: number;
  constructor(c: Kw & { size?: number; sigma?: number }) {
    super(c as never);
    this.size = c.size ?? 9;
    this.sigma = c.sigma ?? 2;
  }
  override call(x: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return localContrastNorm(first(x), this.size, this.sigma);
  }
  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), size: this.size, sigma: this.sigma };
  }
}

export class BowRotationConv extends tf.layers.Layer {
  static className = 'BowRotationConv';
  readonly filters: number;
  readonly kernelSize: number;
  readonly rotations: number;
  readonly activation: 'relu' | 'linear';
  readonly seed: number;
  private kernel: tf.LayerVariable | null = null;
  private bias: tf.LayerVariable | null = null;
  constructor(c: Kw & { filters: number; kernelSize: number; rotations: number; activation?: 'relu' | 'linear'; seed?: number }) {
    super(c as never);
    this.filters = c.filters;
    this.kernelSize = c.kernelSize;
    this.rotations = c.rotations;
    this.activation = c.activation ?? 'linear';
    this.seed = c.seed ?? 0;
  }
  override build(s: tf.Shape | tf.Shape[]): void {
    const cin = channelsOf(s);
    const k = this.kernelSize;
    this.kernel = this.addWeight('kernel', [k, k, cin, this.filters], 'float32', tf.initializers.glorotUniform({ seed: this.seed }));
    this.bias = this.addWeight('bias', [this.filters], 'float32', tf.initializers.zeros());
    this.built = true;
  }
  override computeOutputShape(s: tf.Shape): tf.Shape {
    return [s[0], s[1], s[2], this.filters];
  }
  override call(x: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const y = rotationPoolConv(first(x), this.kernel!.read() as tf.Tensor4D, this.bias!.read() as tf.Tensor1D, this.rotations);
      return this.activation === 'relu' ? tf.relu(y) : y;
    });
  }
  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      filters: this.filters,
      kernelSize: this.kernelSize,
      rotations: this.rotations,
      activation: this.activation,
      seed: this.seed,
    };
  }
}

/**
 * Fisher vector encoding and pooling (stages/fisher.ts), as one layer with the GMM as its weights: the 1x1 conv
 * over [x, x²] and the softmax give the posteriors, sum pooling of q, qx and qx² per pyramid region the closed-form
 * gradients. Its output `[N,1,1,R·2KD]` is the stage's.
 */
export class BowFisher extends tf.layers.Layer {
  static className = 'BowFisher';
  readonly components: number;
  readonly dimension: number;
  readonly pyramid: number[];
  readonly improved: boolean;
  private means: tf.LayerVariable | null = null;
  private variances: tf.LayerVariable | null = null;
  private priors: tf.LayerVariable | null = null;
  constructor(c: Kw & { components: number; dimension: number; pyramid?: number[]; improved?: boolean }) {
    super(c as never);
    this.components = c.components;
    this.dimension = c.dimension;
    this.pyramid = c.pyramid ?? [1];
    this.improved = c.improved ?? true;
  }
  override build(): void {
    const [k, d] = [this.components, this.dimension];
    this.means = this.addWeight('means', [k, d], 'float32', tf.initializers.zeros());
    this.variances = this.addWeight('variances', [k, d], 'float32', tf.initializers.ones());
    this.priors = this.addWeight('priors', [k], 'float32', tf.initializers.constant({ value: 1 / k }));
    this.built = true;
  }
  override computeOutputShape(s: tf.Shape): tf.Shape {
    const regions = this.pyramid.reduce((a, l) => a + l * l, 0);
    return [s[0], 1, 1, regions * 2 * this.components * this.dimension];
  }
  override call(x: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const w = fisherWeights(this.means!.read() as tf.Tensor2D, this.variances!.read() as tf.Tensor2D, this.priors!.read() as tf.Tensor1D);
      return fisherMaps(first(x), w, this.pyramid, this.improved);
    });
  }
  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), components: this.components, dimension: this.dimension, pyramid: this.pyramid, improved: this.improved };
  }
}

/**
 * VLAD over a pyramid (stages/vlad.ts), as one layer with the centres (and, for soft assignment, the 1x1
 * convolution before its softmax) as weights. With soft assignment and trainable weights it is NetVLAD's layer.
 */
export class BowVlad extends tf.layers.Layer {
  static className = 'BowVlad';
  readonly words: number;
  readonly dimension: number;
  readonly pyramid: number[];
  readonly assign: 'hard' | 'soft';
  readonly flags: { normalizeComponents: boolean; squareRoot: boolean; normalizeMass: boolean };
  private centres: tf.LayerVariable | null = null;
  private kernel: tf.LayerVariable | null = null;
  private bias: tf.LayerVariable | null = null;
  constructor(
    c: Kw & {
      words: number;
      dimension: number;
      pyramid?: number[];
      assign?: 'hard' | 'soft';
      normalizeComponents?: boolean;
      squareRoot?: boolean;
      normalizeMass?: boolean;
    },
  ) {
    super(c as never);
    this.words = c.words;
    this.dimension = c.dimension;
    this.pyramid = c.pyramid ?? [1];
    this.assign = c.assign ?? 'hard';
    this.flags = {
      normalizeComponents: c.normalizeComponents ?? true,
      squareRoot: c.squareRoot ?? true,
      normalizeMass: c.normalizeMass ?? false,
    };
  }
  override build(): void {
    const [k, d] = [this.words, this.dimension];
    this.centres = this.addWeight('centres', [k, d], 'float32', tf.initializers.zeros());
    if (this.assign === 'soft') {
      this.kernel = this.addWeight('kernel', [d, k], 'float32', tf.initializers.zeros());
      this.bias = this.addWeight('bias', [k], 'float32', tf.initializers.zeros());
    }
    this.built = true;
  }
  override computeOutputShape(s: tf.Shape): tf.Shape {
    const regions = this.pyramid.reduce((a, l) => a + l * l, 0);
    return [s[0], 1, 1, regions * this.words * this.dimension];
  }
  override call(x: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const soft = this.kernel && this.bias ? { kernel: this.kernel.read() as tf.Tensor2D, bias: this.bias.read() as tf.Tensor1D } : null;
      return vladMaps(first(x), this.centres!.read() as tf.Tensor2D, soft, this.pyramid, this.flags);
    });
  }
  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      words: this.words,
      dimension: this.dimension,
      pyramid: this.pyramid,
      assign: this.assign,
      ...this.flags,
    };
  }
}

/** BossaNova over a pyramid (stages/bossanova.ts), as one layer with the words and their spreads as weights. */
export class BowBossaNova extends tf.layers.Layer {
  static className = 'BowBossaNova';
  readonly settings: {
    words: number;
    dimension: number;
    bins: number;
    lambdaMin: number;
    lambdaMax: number;
    knn: number;
    gamma: number;
    pyramid: number[];
  };
  private centres: tf.LayerVariable | null = null;
  private sigmas: tf.LayerVariable | null = null;
  constructor(
    c: Kw & {
      words: number;
      dimension: number;
      bins: number;
      lambdaMin: number;
      lambdaMax: number;
      knn: number;
      gamma: number;
      pyramid?: number[];
    },
  ) {
    super(c as never);
    const { words, dimension, bins, lambdaMin, lambdaMax, knn, gamma } = c;
    this.settings = { words, dimension, bins, lambdaMin, lambdaMax, knn, gamma, pyramid: c.pyramid ?? [1] };
  }
  override build(): void {
    this.centres = this.addWeight('centres', [this.settings.words, this.settings.dimension], 'float32', tf.initializers.zeros());
    this.sigmas = this.addWeight('sigmas', [this.settings.words], 'float32', tf.initializers.ones());
    this.built = true;
  }
  override computeOutputShape(s: tf.Shape): tf.Shape {
    const regions = this.settings.pyramid.reduce((a, l) => a + l * l, 0);
    return [s[0], 1, 1, regions * this.settings.words * (this.settings.bins + 1)];
  }
  override call(x: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => bossanovaMaps(first(x), this.centres!.read() as tf.Tensor2D, this.sigmas!.read() as tf.Tensor1D, this.settings));
  }
  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), ...this.settings };
  }
}

export const BOW_LAYERS = [
  BowStage,
  BowReplicatePad,
  BowGatherConv,
  BowSiftNorm,
  BowWinnerTakeAll,
  BowScaledSoftmax,
  BowLCN,
  BowRotationConv,
  BowFisher,
  BowVlad,
  BowBossaNova,
];
for (const c of BOW_LAYERS)
  tf.serialization.registerClass(c as unknown as tf.serialization.SerializableConstructor<tf.serialization.Serializable>);
