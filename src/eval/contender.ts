/**
 * One interface over a BoW Pipeline and a CNN, for compare / robustness / ablation: fit, scores, cards,
 * and the representation after each stage or layer (for the "how much does each layer move" curves).
 */
import * as tf from '@tensorflow/tfjs';
import { CnnClassifier } from '../cnn/classifier.js';
import type { Dataset, Split } from '../data/types.js';
import type { LayerCard } from '../pipeline/card.js';
import { Pipeline } from '../pipeline/pipeline.js';
import { bowPipeline, pipelineFromModule, readRecipe, type BowRecipe, type CnnRecipe, type BowNetRecipe } from '../pipeline/recipes.js';

export interface FitOpts { seed?: number; cacheDir?: string; progress?: boolean; checkpointDir?: string; maxSeconds?: number }

export interface Contender {
  readonly name: string;
  readonly kind: 'bow' | 'cnn';
  fit(train: Split, opts: FitOpts): Promise<void>;
  scores(split: Split, opts?: FitOpts): Promise<Float32Array>;
  cards(): LayerCard[];
  /** `[N,...]` representations after each stage/layer, in order, for a batch. The caller disposes them. */
  representations(x: tf.Tensor4D): { name: string; value: tf.Tensor }[];
  save(dir: string): Promise<void>;
  pipeline?: Pipeline;
  cnn?: CnnClassifier;
}

export function bowContender(p: Pipeline): Contender {
  return {
    name: p.name, kind: 'bow', pipeline: p,
    async fit(train, o) { await p.fit(train, { cacheDir: o.cacheDir, progress: o.progress, seed: o.seed }); },
    scores: async (split, o) => p.scores(split, { cacheDir: o?.cacheDir, progress: o?.progress }),
    cards: () => p.cards(),
    representations(x) {
      const out: { name: string; value: tf.Tensor }[] = [];
      let m: tf.Tensor4D = x;
      for (const s of p.stages) {
        const next = s.apply(m);
        if (m !== x) { /* keep: each representation is returned */ }
        out.push({ name: s.name, value: next });
        m = next;
      }
      return out;
    },
    save: (dir) => p.save(dir),
  };
}

export function cnnContender(c: CnnClassifier): Contender {
  return {
    name: c.name, kind: 'cnn', cnn: c,
    async fit(train, o) { await c.fit(train, { seed: o.seed, checkpointDir: o.checkpointDir, progress: o.progress, maxSeconds: o.maxSeconds, cacheDir: o.cacheDir }); },
    scores: (split) => c.scores(split),
    cards: () => c.cards(),
    representations(x) {
      const m = c.model;
      if (!m) throw new Error(`${c.name}: not fitted`);
      const keep = m.layers.filter((l) => /Conv2D|Dense|Pooling|BowStage|BowWinnerTakeAll|BowScaledSoftmax|BowSiftNorm|BowGatherConv|DepthwiseConv2D/.test(l.getClassName()));
      const probe = tf.model({ inputs: m.inputs, outputs: keep.map((l) => l.output as tf.SymbolicTensor) });
      const ys = probe.apply(x, { training: false }) as tf.Tensor | tf.Tensor[];   // one pass (predict() slices into batches of 32)
      const arr = Array.isArray(ys) ? ys : [ys];
      return keep.map((l, i) => ({ name: l.name, value: arr[i] }));
    },
    save: (dir) => c.save(dir),
  };
}

/** A contender from a recipe name, a .json recipe path, or a .js/.ts module exporting a Pipeline. */
export async function contender(nameOrPath: string, ds: Dataset, sets: Record<string, unknown> = {}): Promise<Contender> {
  if (/\.(m?js|ts)$/.test(nameOrPath)) {
    let p = await pipelineFromModule(nameOrPath);
    for (const [k, v] of Object.entries(sets)) if (p.stages.some((s) => s.name === k.split('.')[0])) p = p.set(k, v);
    return bowContender(p);
  }
  const r = readRecipe(nameOrPath);
  if (r.kind === 'bow') {
    let p = bowPipeline(r as BowRecipe);
    for (const [k, v] of Object.entries(sets)) if (p.stages.some((s) => s.name === k.split('.')[0])) p = p.set(k, v);
    return bowContender(p);
  }
  const rec = JSON.parse(JSON.stringify(r)) as CnnRecipe | BowNetRecipe;
  for (const [k, v] of Object.entries(sets)) {
    const [head, ...rest] = k.split('.');
    const target = head === 'train' ? rec.train : head === 'config' && rec.kind === 'cnn' ? rec.config : null;
    if (target && rest.length === 1) target[rest[0]] = v;
  }
  return cnnContender(new CnnClassifier(rec, ds));
}

/** Total parameters and multiply-adds per image (the cards' connections), when the cards give them. */
export function size(cards: LayerCard[]): { params: number; flops: number | null } {
  const params = cards.reduce((a, c) => a + (c.params ?? 0), 0);
  const known = cards.every((c) => c.connections !== undefined || c.params === 0);
  const flops = known ? 2 * cards.reduce((a, c) => a + (c.connections ?? 0), 0) : null;
  return { params, flops };
}
