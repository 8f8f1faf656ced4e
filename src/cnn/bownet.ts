/**
 * bownet: a fitted classic pipeline exported as a tfjs LayersModel, built from standard layers
 * (conv2d, depthwiseConv2d, zeroPadding2d, flatten, dense) plus small registered custom layers where no
 * standard layer does the job:
 *   BowStage         a parameter-free stage by name: orientation (WTA / bilinear), pooling, kernel map
 *   BowReplicatePad  padding by continuity              BowGatherConv    conv with stride AND dilation > 1
 *   BowSiftNorm      SIFT normalisation (+ contrast)    BowWinnerTakeAll one-hot of the argmax (hard coding)
 *   BowScaledSoftmax softmax(beta x) (soft coding)
 * The custom layers call the same functions as the stages, so the model computes what the pipeline does.
 * model.save() / tf.loadLayersModel() round-trip once this module is imported (it registers the classes).
 *
 * For fine-tuning, `coding: 'soft'` replaces winner-take-all by softmax(beta s) (differentiable), and the
 * weight groups are switchable: handcrafted (gradient, cells, descriptor), unsupervised (coding),
 * supervised (classifier).
 */
import * as tf from '@tensorflow/tfjs';
import { makeStage, type Pipeline } from '../pipeline/pipeline.js';
import type { Stage } from '../stages/stage.js';
import { cellFilter, cellWindow1d } from '../stages/cells.js';
import type { CodingStage } from '../stages/coding.js';
import type { ClassifierStage } from '../stages/classifier.js';
import { binWindowMean, frameGeometry, gatherWeights, normalize, type DescriptorNorm } from '../stages/descriptor.js';
import { filterBank, orientedKernels } from '../stages/gradient.js';
import { pad2d, type Padding } from '../stages/pad.js';

type Kw = Record<string, unknown>;
const first = (x: tf.Tensor | tf.Tensor[]): tf.Tensor4D => (Array.isArray(x) ? x[0] : x) as tf.Tensor4D;

/**
 * A parameter-free stage of the classic chain as a layer (orientation, pooling, kernel map): it rebuilds
 * the stage from its name and JSON config and applies it, so the model computes exactly what the stage does.
 */
class BowStage extends tf.layers.Layer {
  static className = 'BowStage';
  readonly stage: string; readonly stageConfig: Kw;
  private readonly impl: Stage;
  constructor(c: Kw & { stage: string; stageConfig: Kw }) {
    super(c as never); this.stage = c.stage; this.stageConfig = c.stageConfig; this.impl = makeStage(c.stage, c.stageConfig);
  }
  override computeOutputShape(s: tf.Shape): tf.Shape { return [s[0], ...this.impl.outShape([s[1] as number, s[2] as number, s[3] as number])]; }
  override call(x: tf.Tensor | tf.Tensor[]): tf.Tensor { return this.impl.apply(first(x)); }
  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), stage: this.stage, stageConfig: this.stageConfig as tf.serialization.ConfigDict };
  }
}

class BowReplicatePad extends tf.layers.Layer {
  static className = 'BowReplicatePad';
  readonly p: [number, number, number, number]; readonly mode: Padding;
  constructor(c: Kw & { p: [number, number, number, number]; mode?: Padding }) { super(c as never); this.p = c.p; this.mode = c.mode ?? 'replicate'; }
  override computeOutputShape(s: tf.Shape): tf.Shape { const [t, b, l, r] = this.p; return [s[0], (s[1] as number) + t + b, (s[2] as number) + l + r, s[3]]; }
  override call(x: tf.Tensor | tf.Tensor[]): tf.Tensor { const [t, b, l, r] = this.p; return pad2d(first(x), t, b, l, r, this.mode); }
  override getConfig(): tf.serialization.ConfigDict { return { ...super.getConfig(), p: this.p, mode: this.mode }; }
}

class BowGatherConv extends tf.layers.Layer {
  static className = 'BowGatherConv';
  readonly k: number; readonly filters: number; readonly stride: number; readonly dilation: number;
  private kernel: tf.LayerVariable | null = null;
  constructor(c: Kw & { k: number; filters: number; stride: number; dilation: number }) {
    super(c as never); this.k = c.k; this.filters = c.filters; this.stride = c.stride; this.dilation = c.dilation;
  }
  override build(s: tf.Shape | tf.Shape[]): void {
    const cin = (Array.isArray(s[0]) ? (s[0] as tf.Shape)[3] : (s as tf.Shape)[3]) as number;
    this.kernel = this.addWeight('kernel', [this.k, this.k, cin, this.filters], 'float32', tf.initializers.zeros());
    this.built = true;
  }
  override computeOutputShape(s: tf.Shape): tf.Shape {
    const g = frameGeometry(s[1] as number, s[2] as number, this.dilation, this.stride, this.k);
    return [s[0], g.framesY, g.framesX, this.filters];
  }
  override call(x: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const k = this.kernel!.read();
    return tf.engine().runKernel('Conv2D', { x: first(x), filter: k } as unknown as tf.NamedTensorMap, {
      strides: [this.stride, this.stride], pad: 'valid', dataFormat: 'NHWC', dilations: [this.dilation, this.dilation], dimRoundingMode: undefined,
    } as unknown as tf.NamedAttrMap) as tf.Tensor;
  }
  override getConfig(): tf.serialization.ConfigDict { return { ...super.getConfig(), k: this.k, filters: this.filters, stride: this.stride, dilation: this.dilation }; }
}

class BowSiftNorm extends tf.layers.Layer {
  static className = 'BowSiftNorm';
  readonly norm: DescriptorNorm; readonly contrastThreshold: number; readonly frameSize: number;
  constructor(c: Kw & { norm: DescriptorNorm; contrastThreshold?: number; frameSize?: number }) {
    super(c as never); this.norm = c.norm; this.contrastThreshold = c.contrastThreshold ?? 0; this.frameSize = c.frameSize ?? 13;
  }
  override computeOutputShape(s: tf.Shape): tf.Shape { return s; }
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
  override getConfig(): tf.serialization.ConfigDict { return { ...super.getConfig(), norm: this.norm, contrastThreshold: this.contrastThreshold, frameSize: this.frameSize }; }
}

class BowWinnerTakeAll extends tf.layers.Layer {
  static className = 'BowWinnerTakeAll';
  override computeOutputShape(s: tf.Shape): tf.Shape { return s; }
  override call(x: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => { const v = first(x); return tf.cast(tf.oneHot(tf.argMax(v, 3), v.shape[3]), 'float32'); });
  }
}

class BowScaledSoftmax extends tf.layers.Layer {
  static className = 'BowScaledSoftmax';
  readonly beta: number;
  constructor(c: Kw & { beta: number }) { super(c as never); this.beta = c.beta; }
  override computeOutputShape(s: tf.Shape): tf.Shape { return s; }
  override call(x: tf.Tensor | tf.Tensor[]): tf.Tensor { return tf.softmax(tf.mul(first(x), this.beta)); }
  override getConfig(): tf.serialization.ConfigDict { return { ...super.getConfig(), beta: this.beta }; }
}

for (const c of [BowStage, BowReplicatePad, BowGatherConv, BowSiftNorm, BowWinnerTakeAll, BowScaledSoftmax]) {
  tf.serialization.registerClass(c as unknown as tf.serialization.SerializableConstructor<tf.serialization.Serializable>);
}

export interface BowNetOptions {
  coding?: 'hard' | 'soft';      // 'soft' for fine-tuning (default: the pipeline's own mode)
  beta?: number;                 // softmax temperature for 'soft' (default: the stage's beta if it codes softly, else 50)
  trainable?: { handcrafted?: boolean; unsupervised?: boolean; supervised?: boolean };
}

export const BOWNET_GROUPS: Record<string, 'handcrafted' | 'unsupervised' | 'supervised'> = {
  gradient: 'handcrafted', cells: 'handcrafted', descriptor: 'handcrafted', coding: 'unsupervised', classifier: 'supervised',
};

/** The fitted pipeline as a LayersModel whose outputs are the classifier's scores `[N,classes]`. */
export function exportBowNet(p: Pipeline, opts: BowNetOptions = {}): tf.Sequential {
  if (!p.inShape) throw new Error('bownet: the pipeline is not fitted (no input shape)');
  const [h, w, c] = p.inShape;
  const m = tf.sequential({ name: `bownet-${p.name}` });
  const groups = { handcrafted: false, unsupervised: false, supervised: false, ...(opts.trainable ?? {}) };
  let inputDone = false;
  const input = () => (inputDone ? {} : ((inputDone = true), { inputShape: [h, w, c] }));
  let channels = c;
  for (const s of p.stages) {
    const cfg = s.config as Kw;
    if (s.name === 'gradient') {
      const sigma = Number(cfg.sigma ?? 0);
      const n = orientedKernels(sigma)[0].length, r = (n - 1) / 2;
      m.add(new BowReplicatePad({ ...input(), p: [r, r, r, r], mode: 'replicate', name: 'gradient_pad' }));
      const conv = tf.layers.conv2d({ filters: 8, kernelSize: n, padding: 'valid', useBias: false, name: 'gradient', trainable: groups.handcrafted });
      m.add(conv);
      conv.setWeights([filterBank(sigma, channels)]);
      channels = 8;
    } else if (s.name === 'orientation') {
      m.add(new BowStage({ ...input(), stage: 'orientation', stageConfig: { ...cfg }, name: 'orientation' }));
    } else if (s.name === 'cells') {
      const size = Number(cfg.size), win = cfg.window as 'box' | 'triangle';
      const { w: wv, before, after } = cellWindow1d(size, win);
      m.add(new BowReplicatePad({ ...input(), p: [before, after, before, after], mode: (cfg.padding ?? 'zero') as Padding, name: 'cells_pad' }));
      const dw = tf.layers.depthwiseConv2d({ kernelSize: wv.length, depthMultiplier: 1, padding: 'valid', useBias: false, name: 'cells', trainable: groups.handcrafted });
      m.add(dw);
      dw.setWeights([cellFilter(size, win, channels)]);
    } else if (s.name === 'descriptor') {
      const cs = Number(cfg.cellSize), step = Number(cfg.step), bins = Number(cfg.bins ?? 4);
      const g = new BowGatherConv({ ...input(), k: bins, filters: bins * bins * channels, stride: step, dilation: cs, name: 'descriptor', trainable: groups.handcrafted });
      m.add(g);
      const bw = cfg.window === 'gaussian' ? (b: number) => binWindowMean(cs, bins, b, Number(cfg.windowSize ?? 2)) : () => 1;
      g.setWeights([gatherWeights(bins, channels, bw)]);
      m.add(new BowSiftNorm({ norm: cfg.norm as DescriptorNorm, contrastThreshold: Number(cfg.contrastThreshold ?? 0), frameSize: (bins - 1) * cs + 1, name: 'sift_norm' }));
      channels = bins * bins * channels;
    } else if (s.name === 'coding') {
      const cw = (s as CodingStage).convWeights();
      if (!cw) throw new Error('bownet: the coding stage is not fitted');
      const mode = opts.coding ?? (cfg.mode as string);
      if (mode === 'triangle') throw new Error('bownet: triangle coding is not exported (it needs ||x - c_k||, not a conv output)');
      const words = cw.bias.shape[0];
      const conv = tf.layers.conv2d({ ...input(), filters: words, kernelSize: 1, useBias: true, name: 'coding', trainable: groups.unsupervised });
      m.add(conv);
      conv.setWeights([cw.kernel, cw.bias]);
      tf.dispose([cw.kernel, cw.bias]);
      if (mode === 'hard') m.add(new BowWinnerTakeAll({ name: 'coding_wta' }));
      // a hard-coding pipeline made soft: beta 50 keeps its accuracy (MNIST, 3k images: hard 96.1%, beta 5
      // 31.8%, 20 96.1%, 50 96.4%, 200 96.1%) and still has gradients
      else m.add(new BowScaledSoftmax({ beta: opts.beta ?? (cfg.mode === 'soft' ? Number(cfg.beta ?? 10) : 50), name: 'coding_soft' }));
      channels = words;
    } else if (s.name === 'pooling') {
      m.add(new BowStage({ ...input(), stage: 'pooling', stageConfig: { ...cfg }, name: 'pooling' }));
    } else if (s.name === 'kernelmap') {
      m.add(new BowStage({ ...input(), stage: 'kernelmap', stageConfig: { ...cfg }, name: 'kernelmap' }));
    } else if (s.name === 'classifier') {
      const wb = (s as ClassifierStage).weights();
      if (!wb) throw new Error('bownet: only a fitted linear classifier exports as a fully connected layer');
      m.add(tf.layers.flatten({ name: 'flatten' }));
      const fc = tf.layers.dense({ units: wb.b.shape[0], name: 'classifier', trainable: groups.supervised });
      m.add(fc);
      fc.setWeights([wb.W, wb.b]);
      tf.dispose([wb.W, wb.b]);
    } else if (s.name === 'dsift') {
      throw new Error("bownet: export the single-scale stages (gradient, orientation, cells, descriptor), not the composite 'dsift'");
    }
  }
  return m;
}

/** Switches a weight group on or off for training. */
export function setTrainable(model: tf.LayersModel, group: 'handcrafted' | 'unsupervised' | 'supervised', on: boolean): void {
  for (const l of model.layers) if (BOWNET_GROUPS[l.name] === group) l.trainable = on;
}
