// NetVLAD: does training the soft-assignment VLAD end to end raise held-out accuracy over its k-means start?
// (npm run bench -- netvlad). On MNIST, for each training-set size and seed: a stratified, seeded subset of the
// training images, 2,000 of them held out as the validation split (no test image is scored). The recipe
// vlad-sift-soft (dense SIFT, bin 4, step 2; PCA to 16; VLAD on 8 k-means centres with the soft assignment
// softmax(-alpha |x - c|^2), alpha 10; linear SVM at the recipe's C, not searched) is fitted on the rest and
// exported as a CNN (the SIFT filters frozen). The seed draws the subset, the split and the training's order; PCA
// and k-means keep their default seeds. Three models are scored on the validation split:
//  - start: the exported net as fitted (k-means centres, the SVM as its last layer);
//  - head only: the last layer alone trained by backpropagation (cross-entropy), the control: what a new loss on
//    the classifier alone gives;
//  - end to end: PCA, the assignment's 1x1 convolution, the centres and the last layer trained: the netvlad recipe.
// Both trainings take the netvlad recipe's settings and the same seed.
// BOWCNN_BENCH_SIZES (default 1000,3000,10000,20000) and BOWCNN_BENCH_SEEDS (default 3) choose.
import { useBackend } from '../src/backend/index.js';
import { exportBowNet } from '../src/cnn/bownet.js';
import { accuracyOf, trainModel } from '../src/cnn/train.js';
import type { BowNetRecipe } from '../src/config/recipes.js';
import { dataset } from '../src/data/registry.js';
import { splitOff } from '../src/data/split.js';
import { meanSd } from '../src/eval/metrics.js';
import { bowPipeline, readRecipe } from '../src/pipeline/recipes.js';
import { table } from './util.js';

const HELD = 2000;

const pct = (x: number) => +(100 * x).toFixed(2);

export async function run(): Promise<Record<string, unknown>> {
  await useBackend('wasm');
  const sizes = (process.env.BOWCNN_BENCH_SIZES ?? '1000,3000,10000,20000').split(',').map(Number);
  const seeds = Number(process.env.BOWCNN_BENCH_SEEDS ?? 3);
  const recipe = readRecipe('netvlad') as BowNetRecipe;
  const start = readRecipe(recipe.from);
  const { augment, ...train } = recipe.train;
  if (augment) throw new Error(`bench netvlad: recipe '${recipe.name}' augments its images; this bench trains without augmentation`);
  const points: Record<string, unknown>[] = [];
  for (const n of sizes) {
    for (let seed = 0; seed < seeds; seed++) {
      const ds = await dataset('mnist', { subset: n + HELD, testSubset: 10, seed });
      const { kept, held } = splitOff(ds.train, HELD, seed);
      const p = bowPipeline(start);
      await p.fit(kept, { progress: false, data: { dataset: 'mnist', classes: ds.classes } });
      const point: Record<string, unknown> = { trainSize: kept.n, seed };
      for (const [variant, unsupervised] of [
        ['head only', false],
        ['end to end', true],
      ] as const) {
        const net = exportBowNet(p, { trainable: { handcrafted: false, unsupervised, supervised: true } });
        if (point.start === undefined) point.start = pct(await accuracyOf(net, held));
        const curve: number[] = [];
        const t0 = performance.now();
        await trainModel(net, kept, {
          ...train,
          seed,
          progress: false,
          validation: held,
          onEpoch: (r) => void curve.push(pct(r.valAccuracy ?? 0)),
        });
        point[variant] = curve[curve.length - 1];
        point[`${variant} curve`] = curve;
        point[`${variant} seconds`] = +((performance.now() - t0) / 1000).toFixed(1);
        net.dispose();
      }
      p.dispose();
      console.log(JSON.stringify(point));
      points.push(point);
    }
  }
  const rows = sizes.map((n) => {
    const at = points.filter((q) => q.trainSize === n);
    const col = (k: string) => at.map((q) => q[k] as number);
    const gain = at.map((q) => (q['end to end'] as number) - (q.start as number));
    const f = (v: number[]) => {
      const { mean, sd } = meanSd(v);
      return `${mean.toFixed(2)} ± ${sd.toFixed(2)}`;
    };
    return {
      'training images': n,
      seeds: at.length,
      'start (k-means) %': f(col('start')),
      'head only %': f(col('head only')),
      'end to end (NetVLAD) %': f(col('end to end')),
      'end to end - start, points': f(gain),
      'per seed': gain.map((g) => g.toFixed(2)).join(' '),
    };
  });
  table(rows);
  return { validationImages: HELD, recipe: recipe.name, from: start.name, train: recipe.train, rows, points };
}
