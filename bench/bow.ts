// The classic chain on full MNIST and Fashion-MNIST (60k train / 10k test): test accuracy, the time of
// each stage and the total, peak memory. Recipes: bow-sift and bow-sift-spm (BOWCNN_BENCH_RECIPES to
// choose, BOWCNN_BENCH_DATASETS likewise, BOWCNN_BENCH_SUBSET to run on a subset).
import { useBackend } from '../src/backend/index.js';
import { dataset } from '../src/data/registry.js';
import { accuracy } from '../src/eval/metrics.js';
import { argmax } from '../src/core/scores.js';
import { bowPipeline, readRecipe, type BowRecipe } from '../src/pipeline/recipes.js';
import type { CodingStage } from '../src/stages/coding.js';
import type { ClassifierStage } from '../src/stages/classifier.js';
import { table, withPeakMemory } from './util.js';

export async function run(): Promise<Record<string, unknown>> {
  await useBackend('wasm');
  const recipes = (process.env.BOWCNN_BENCH_RECIPES ?? 'bow-sift,bow-sift-spm').split(',');
  const datasets = (process.env.BOWCNN_BENCH_DATASETS ?? 'mnist,fashion-mnist').split(',');
  const subset = process.env.BOWCNN_BENCH_SUBSET ? Number(process.env.BOWCNN_BENCH_SUBSET) : undefined;
  const rows: Record<string, unknown>[] = [];
  for (const dsName of datasets) {
    const ds = await dataset(dsName, { subset });
    for (const r of recipes) {
      const p = bowPipeline(readRecipe(r) as BowRecipe);
      const { value, peakRssMB } = await withPeakMemory(async (sample) => {
        const t0 = performance.now();
        const fit = await p.fit(ds.train, { batchSize: 256 });
        sample();
        const t1 = performance.now();
        const acc = accuracy(argmax(await p.scoreSplit(ds.test), ds.classes.length), ds.test.labels);
        sample();
        return { fit, acc, testSeconds: (performance.now() - t1) / 1000, total: (performance.now() - t0) / 1000 };
      });
      const cod = p.get('coding') as CodingStage;
      const clf = p.get('classifier') as ClassifierStage;
      const row = {
        dataset: dsName,
        recipe: r,
        train: ds.train.n,
        test: ds.test.n,
        accuracy: +(value.acc * 100).toFixed(2),
        dictionarySec: +(value.fit.phases['coding fit']?.seconds ?? 0).toFixed(1),
        kmeansSecPerIter: +(cod.lastFit?.secondsPerIter ?? 0).toFixed(3),
        trainFeaturesSec: +value.fit.phases.features.seconds.toFixed(1),
        svmSec: +(value.fit.phases['classifier fit']?.seconds ?? 0).toFixed(1),
        svmEpochs: clf.lastFit?.epochs,
        testSec: +value.testSeconds.toFixed(1),
        totalSec: +value.total.toFixed(1),
        peakRssMB: Math.round(peakRssMB),
      };
      rows.push(row);
      console.log(JSON.stringify(row));
    }
  }
  table(rows);
  return { rows };
}
