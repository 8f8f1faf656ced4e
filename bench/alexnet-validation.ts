// alexnet-small's recipe against variants on a held-out validation split (never the test set):
// Fashion-MNIST's training set split 50,000 / 10,000 (stratified, seed 7), validation accuracy with the
// recipe's test-time flips after every epoch. BOWCNN_BENCH_VARIANTS: a list of epochs[:widths], e.g.
// "28,44,28:24-48-96" (the default). Each variant is a full training run (12-20 minutes here).
import { useBackend } from '../src/backend/index.js';
import { CnnClassifier } from '../src/cnn/classifier.js';
import { dataset } from '../src/data/registry.js';
import { splitOff } from '../src/data/split.js';
import { readRecipe, type CnnRecipe } from '../src/pipeline/recipes.js';
import { table } from './util.js';

export async function run(): Promise<Record<string, unknown>> {
  await useBackend('wasm');
  const ds = await dataset('fashion-mnist');
  const { kept, held } = splitOff(ds.train, 10000, 7);
  const rows: Record<string, unknown>[] = [];
  for (const v of (process.env.BOWCNN_BENCH_VARIANTS ?? '28,44,28:24-48-96').split(',')) {
    const [e, w] = v.split(':');
    const r = readRecipe('alexnet-small') as CnnRecipe;
    r.train = { ...r.train, epochs: Number(e) };
    if (w) r.config = { ...r.config, widths: w.split('-').map(Number) };
    const clf = new CnnClassifier(r);
    const t0 = performance.now();
    const fit = await clf.fit(kept, {
      progress: true,
      validation: held,
      seed: 0,
      data: { dataset: ds.name, classes: ds.classes, flipSafe: ds.flipSafe },
    });
    const curve = (fit.epochs ?? []).map((x) => +(100 * (x.valAccuracy ?? 0)).toFixed(2));
    const row = {
      epochs: Number(e),
      widths: (r.config.widths as number[]).join('-'),
      trainImages: kept.n,
      valImages: held.n,
      finalVal: curve[curve.length - 1],
      bestVal: Math.max(...curve),
      seconds: Math.round((performance.now() - t0) / 1000),
      trainImgPerSec: Math.round(fit.trainImagesPerSec ?? 0),
      curve,
    };
    rows.push(row);
    console.log(JSON.stringify(row));
    clf.dispose();
  }
  table(rows.map(({ curve: _c, ...r }) => r));
  return { rows };
}
