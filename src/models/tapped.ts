/**
 * A saved classifier run layer by layer, for the teaching page: one forward pass gives the scores and the
 * output of every layer, grouped by the stage (BoW) or layer (CNN) each belongs to. Browser-safe: it needs
 * `@tensorflow/tfjs` and `bowcnn/layers` only, and reads the page's manifest (written in Node by
 * `models/page.ts`) over `fetch` or from memory.
 *
 * A BoW pipeline reaches the page as its bownet (the same pipeline exported as the CNN it is: scores equal
 * to the pipeline's), so both chains run through the same code: tfjs-layers' forward pass.
 */
import * as tf from '@tensorflow/tfjs';
import type { LayerCard } from '../core/card.js';
import '../layers.js';

/** One stage of a chain as the page shows it: its card and the model layers that compute it, in order. */
export interface PageStage {
  stage: string;
  kind: string; // the stage's kind (BoW: 'gradient', 'coding', ...) or the layer's class (CNN: 'Conv2D', ...)
  layers: string[];
  card: LayerCard;
  config?: Record<string, unknown>; // a BoW stage's config (the pyramid of its pooling, the words of its coding)
}

/** One classifier of the page: a tfjs LayersModel beside the cards of its stages. */
export interface PageChain {
  name: string; // 'bow-sift', 'lenet5'
  kind: 'bow' | 'cnn';
  about: string; // one line: what it is
  model: string; // model.json, relative to the manifest
  classes: string[];
  inShape: [number, number, number]; // [H,W,C]
  stages: PageStage[];
}

export interface PageManifest {
  format: 'bowcnn-page';
  version: 1;
  dataset: string;
  chains: PageChain[];
  samples?: string; // samples.json, relative to the manifest: test images to pick from
}

/** Test images the page offers: `pixels` is base64 of N*H*W bytes (0-255, row-major). */
export interface PageSamples {
  dataset: string;
  shape: [number, number, number];
  labels: number[];
  pixels: string;
}

export interface ChainOutput {
  scores: tf.Tensor2D; // [N,classes]
  layers: Record<string, tf.Tensor>; // every layer's output, by layer name
}

export class TappedModel {
  private readonly probe: tf.LayersModel;
  constructor(
    readonly chain: PageChain,
    readonly model: tf.LayersModel,
  ) {
    for (const s of chain.stages)
      for (const l of s.layers)
        if (!model.layers.some((m) => m.name === l))
          throw new Error(`${chain.name}: the manifest names layer '${l}', which the model lacks`);
    this.probe = tf.model({ inputs: model.inputs, outputs: model.layers.map((l) => l.output as tf.SymbolicTensor) });
  }

  /** Loads a chain of the manifest at `manifestUrl` (its model.json is relative to it). */
  static async load(chain: PageChain, manifestUrl: string | URL): Promise<TappedModel> {
    const model = await tf.loadLayersModel(new URL(chain.model, manifestUrl).href);
    return new TappedModel(chain, model);
  }

  /** Scores and every layer's output for a batch `[N,H,W,C]` in [0,1]; the caller disposes them. */
  run(x: tf.Tensor4D): ChainOutput {
    const ys = this.probe.apply(x, { training: false }) as tf.Tensor | tf.Tensor[];
    const arr = Array.isArray(ys) ? ys : [ys];
    const layers = Object.fromEntries(this.model.layers.map((l, i) => [l.name, arr[i]]));
    return { scores: arr[arr.length - 1] as tf.Tensor2D, layers };
  }

  /** The scores alone `[N,classes]` (the model's own forward pass). */
  scores(x: tf.Tensor4D): tf.Tensor2D {
    return this.model.predict(x) as tf.Tensor2D;
  }

  /** Each stage's representation: the output of its last layer. */
  representations(out: ChainOutput): Record<string, tf.Tensor> {
    return Object.fromEntries(this.chain.stages.map((s) => [s.stage, out.layers[s.layers[s.layers.length - 1]]]));
  }

  dispose(): void {
    this.model.dispose();
  }
}

/** Decodes the page's sample images to floats in [0,1], `[N*H*W]`, with the bytes of a base64 string. */
export function decodeSamples(s: PageSamples): { x: Float32Array; n: number } {
  const bin = atob(s.pixels);
  const x = new Float32Array(bin.length);
  for (let i = 0; i < bin.length; i++) x[i] = bin.charCodeAt(i) / 255;
  const [h, w, c] = s.shape;
  return { x, n: x.length / (h * w * c) };
}
