/**
 * LayerCards read off a tfjs LayersModel: kernel, stride, maps, parameters, connections, receptive field.
 * "Connections" are LeCun's: per image, the multiply-adds of each output unit, bias included.
 */
import type * as tf from '@tensorflow/tfjs';
import { growField, type LayerCard, type Origin } from '../core/card.js';

function shapeOf(s: tf.Shape | tf.Shape[] | undefined): number[] {
  if (!s) return [];
  const a = (Array.isArray(s[0]) ? s[0] : s) as (number | null)[];
  return a.slice(1).map((v) => v ?? 0);
}

function pair(v: unknown): [number, number] {
  return Array.isArray(v) ? [Number(v[0]), Number(v[1])] : [Number(v), Number(v)];
}

/** How the classic chain's parameter-free layers (bowcnn/layers) read in a layer table. */
const BOW_LAYERS: Record<string, (cfg: Record<string, unknown>, maps: number) => string> = {
  BowScaledSoftmax: (c, m) => `softmax(${c.beta} x) over the ${m} maps (soft coding)`,
  BowWinnerTakeAll: (_c, m) => `winner-take-all over the ${m} maps`,
  BowSiftNorm: () => 'SIFT normalisation (L2, clip 0.2, L2)',
  BowReplicatePad: (c) => `replicate padding by ${c.p}`,
  BowLCN: () => 'local contrast normalisation',
  BowStage: (c) => `${c.stage} (parameter-free)`,
};

/**
 * `frozen`: the origin of a layer whose weights backpropagation does not train (a bownet's handcrafted filters, or
 * its unsupervised stages when those are frozen too), by layer name; a layer with weights that trains is 'supervised'.
 */
export function cardsFromModel(
  model: tf.LayersModel,
  classic: Record<string, string> = {},
  frozen: (layer: string) => Origin = () => 'handcrafted',
): LayerCard[] {
  const cards: LayerCard[] = [];
  let field = { r: 1, j: 1 };
  let prevOut = shapeOf(model.inputs[0].shape as tf.Shape);
  const imageSide = Math.max(prevOut[0] ?? 1, prevOut[1] ?? 1);
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    const cfg = layer.getConfig() as Record<string, unknown>;
    const inS = prevOut;
    const outS = shapeOf(layer.outputShape as tf.Shape);
    prevOut = outS;
    const params = layer.countParams();
    const mapsIn = inS[inS.length - 1] ?? 0;
    const mapsOut = outS[outS.length - 1] ?? 0;
    const outUnits = outS.reduce((a, b) => a * (b || 1), 1);
    const origin: Origin = params === 0 ? 'none' : layer.trainable ? 'supervised' : frozen(layer.name);
    const base = { stage: layer.name, classic: classic[layer.name] ?? '', mapsIn, mapsOut, params, origin, outShape: outS };
    if (cls === 'Conv2D') {
      const [kh, kw] = pair(cfg.kernelSize);
      const [s] = pair(cfg.strides);
      const [d] = pair(cfg.dilationRate);
      field = growField(field.r, field.j, kh, s, d);
      const act = String(cfg.activation ?? 'linear');
      cards.push({
        ...base,
        cnn: `conv ${kh}x${kw} ${mapsIn}->${mapsOut}${s > 1 ? ` /${s}` : ''} ${act}`,
        kernel: [kh, kw],
        stride: s,
        dilation: d,
        receptiveField: field.r,
        connections: outUnits * (kh * kw * mapsIn + (cfg.useBias === false ? 0 : 1)),
      });
    } else if (cls === 'BowRotationConv') {
      const k = Number(cfg.kernelSize),
        rot = Number(cfg.rotations);
      field = growField(field.r, field.j, k, 1);
      cards.push({
        ...base,
        cnn: `conv ${k}x${k} ${mapsIn}->${mapsOut}, max over ${rot} rotations of each filter`,
        kernel: [k, k],
        stride: 1,
        dilation: 1,
        receptiveField: field.r,
        connections: outUnits * (k * k * mapsIn + 1) * rot,
      });
    } else if (cls === 'MaxPooling2D' || cls === 'AveragePooling2D') {
      const [kh, kw] = pair(cfg.poolSize);
      const [s] = pair(cfg.strides ?? cfg.poolSize);
      field = growField(field.r, field.j, kh, s);
      cards.push({
        ...base,
        cnn: `${cls === 'MaxPooling2D' ? 'max' : 'average'} pool ${kh}x${kw} /${s}`,
        kernel: [kh, kw],
        stride: s,
        receptiveField: field.r,
        connections: outUnits * kh * kw,
      });
    } else if (cls === 'Dense') {
      field = { r: Math.max(field.r, imageSide), j: field.j }; // a fully connected layer sees the whole image
      const act = String(cfg.activation ?? 'linear');
      const fin = inS.reduce((a, b) => a * (b || 1), 1);
      cards.push({
        ...base,
        mapsIn: fin,
        cnn: `fully connected ${fin}->${mapsOut} ${act}`,
        receptiveField: field.r,
        connections: mapsOut * (fin + 1),
      });
    } else if (BOW_LAYERS[cls]) {
      // the classic chain's parameter-free layers (a bownet's): each is a step of the chain, listed
      if (cls === 'BowStage' && (cfg.stage === 'pooling' || cfg.stage === 'kernelmap'))
        field = { r: Math.max(field.r, imageSide), j: field.j };
      cards.push({ ...base, cnn: BOW_LAYERS[cls](cfg, mapsOut), receptiveField: field.r, connections: 0 });
    } else if ((cls === 'ReLU' || cls === 'Activation' || cls === 'LeakyReLU' || cls === 'ELU') && cards.length) {
      // a nonlinearity standing as its own layer (after batch norm) reads as part of the card before it
      const act = cls === 'Activation' ? String(cfg.activation) : cls === 'ReLU' ? 'relu' : cls === 'LeakyReLU' ? 'leaky relu' : 'elu';
      cards[cards.length - 1] = { ...cards[cards.length - 1], cnn: `${cards[cards.length - 1].cnn} + ${act}` };
    } else if (params > 0 || cls === 'Flatten' || cls === 'ZeroPadding2D') {
      const desc =
        cls === 'BatchNormalization'
          ? 'batch normalisation'
          : cls === 'Flatten'
            ? 'flatten'
            : cls === 'ZeroPadding2D'
              ? 'zero padding'
              : cls;
      if (cls === 'Flatten') field = { r: Math.max(field.r, imageSide), j: field.j };
      cards.push({ ...base, cnn: desc, receptiveField: field.r, connections: params > 0 ? outUnits * 2 : 0 });
    }
  }
  return cards;
}
