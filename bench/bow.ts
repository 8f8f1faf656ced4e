// The classic chain on full MNIST and Fashion-MNIST (60k train / 10k test): test accuracy, the time of each
// phase and the total, peak memory; and, for bow-sift-spm, the same settings through VLFeat + scikit-learn
// (bench/peers: VLFeat's vl_dsift in C, then MiniBatchKMeans, pairwise_distances_argmin, AdditiveChi2Sampler,
// LinearSVC on sparse rows) in the same run where gcc, libvlfeat-dev and python3-sklearn are installed, one
// after the other, with the ratio of their end-to-end times. Recipes: bow-sift and bow-sift-spm
// (BOWCNN_BENCH_RECIPES to choose, BOWCNN_BENCH_DATASETS likewise, BOWCNN_BENCH_SUBSET to run on a subset,
// BOWCNN_BENCH_PEER=0 to leave the peer out).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useBackend } from '../src/backend/index.js';
import type { Split } from '../src/core/data.js';
import { argmax } from '../src/core/scores.js';
import { dataset } from '../src/data/registry.js';
import { accuracy } from '../src/eval/metrics.js';
import { bowPipeline, readRecipe, type BowRecipe } from '../src/pipeline/recipes.js';
import type { ClassifierStage } from '../src/stages/classifier.js';
import type { CodingStage } from '../src/stages/coding.js';
import { table, withPeakMemory } from './util.js';

const PYTHON = '/usr/bin/python3';

/** Why the peer cannot run here ('' when it can). */
function peerMissing(): string {
  if (process.env.BOWCNN_BENCH_PEER === '0') return 'BOWCNN_BENCH_PEER=0';
  if (!existsSync('/usr/include/vl/dsift.h')) return 'no libvlfeat-dev';
  try {
    execFileSync(PYTHON, ['-c', 'import sklearn, scipy'], { stdio: 'ignore' });
  } catch {
    return 'no python3-sklearn';
  }
  return '';
}

/** A split's images as the peer reads them: int32 n, h, w, then float32 pixels in [0, 1]; labels as int32. */
function writeSplit(dir: string, name: string, s: Split): { images: string; labels: string } {
  if (s.channels !== 1) throw new Error('the peer reads gray images');
  const px = new Float32Array(s.pixels.length);
  for (let i = 0; i < px.length; i++) px[i] = s.pixels[i] / 255;
  const images = join(dir, `${name}.f32`),
    labels = join(dir, `${name}.i32`);
  writeFileSync(images, Buffer.concat([Buffer.from(Int32Array.of(s.n, s.height, s.width).buffer), Buffer.from(px.buffer)]));
  writeFileSync(labels, Buffer.from(s.labels.buffer, s.labels.byteOffset, s.labels.byteLength));
  return { images, labels };
}

/** bow-sift-spm's settings through VLFeat + scikit-learn: the peer's JSON line. */
function runPeer(r: BowRecipe, train: Split, test: Split): Record<string, number> {
  const cfg = (kind: string) => (r.stages.find((s) => s.kind === kind)?.config ?? {}) as Record<string, number>;
  const dir = mkdtempSync(join(tmpdir(), 'bowcnn-peer-'));
  try {
    const bin = join(dir, 'dsift_idx');
    execFileSync('gcc', ['-O2', '-o', bin, join(import.meta.dirname, 'peers', 'dsift_idx.c'), '-lvl', '-lm']);
    const tr = writeSplit(dir, 'train', train),
      te = writeSplit(dir, 'test', test);
    const c = cfg('coding'),
      d = cfg('descriptor'),
      k = cfg('classifier');
    const out = execFileSync(
      PYTHON,
      [
        join(import.meta.dirname, 'peers', 'bow_sklearn.py'),
        bin,
        tr.images,
        te.images,
        tr.labels,
        te.labels,
        String(d.cellSize ?? 4),
        String(d.step ?? 2),
        String(c.words ?? 256),
        String(c.sample ?? 100_000),
        String(k.C ?? 1),
        String(k.eps ?? 0.1),
        '2',
      ],
      { maxBuffer: 1 << 20, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    return JSON.parse(out.toString().trim().split('\n').at(-1) ?? '{}');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function run(): Promise<Record<string, unknown>> {
  await useBackend('wasm');
  const recipes = (process.env.BOWCNN_BENCH_RECIPES ?? 'bow-sift,bow-sift-spm').split(',');
  const datasets = (process.env.BOWCNN_BENCH_DATASETS ?? 'mnist,fashion-mnist').split(',');
  const subset = process.env.BOWCNN_BENCH_SUBSET ? Number(process.env.BOWCNN_BENCH_SUBSET) : undefined;
  const missing = peerMissing();
  const rows: Record<string, unknown>[] = [];
  for (const dsName of datasets) {
    const ds = await dataset(dsName, { subset });
    for (const r of recipes) {
      const recipe = readRecipe(r) as BowRecipe;
      const p = bowPipeline(recipe);
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
      const row: Record<string, unknown> = {
        dataset: dsName,
        recipe: r,
        train: ds.train.n,
        test: ds.test.n,
        accuracy: +(value.acc * 100).toFixed(2),
        dictionarySec: +(value.fit.phases['coding fit']?.seconds ?? 0).toFixed(1),
        kmeansSecPerIter: +(cod.lastFit?.secondsPerIter ?? 0).toFixed(3),
        trainFeaturesSec: +value.fit.phases.features.seconds.toFixed(1),
        svmSec: +(value.fit.phases['classifier fit']?.seconds ?? 0).toFixed(1),
        svmPasses: clf.lastFit?.epochs,
        testSec: +value.testSeconds.toFixed(1),
        totalSec: +value.total.toFixed(1),
        peakRssMB: Math.round(peakRssMB),
      };
      p.dispose();
      rows.push(row);
      console.log(JSON.stringify(row));
      if (r !== 'bow-sift-spm') continue;
      if (missing) {
        rows.push({ dataset: dsName, recipe: 'VLFeat + scikit-learn', accuracy: `not run (${missing})` });
        continue;
      }
      const peer = runPeer(recipe, ds.train, ds.test);
      const prow = {
        dataset: dsName,
        recipe: 'VLFeat + scikit-learn',
        train: ds.train.n,
        test: ds.test.n,
        accuracy: peer.accuracy,
        dictionarySec: peer.kmeans,
        featuresSecTrainAndTest: +(peer.extract + peer.encode + peer.pool + peer.chi2).toFixed(1),
        svmSec: peer.svm,
        totalSec: peer.total,
        peakRssMB: peer.peakRssMB,
        phases: `extract ${peer.extract}, k-means ${peer.kmeans}, encode ${peer.encode}, pool ${peer.pool}, chi2 ${peer.chi2}, svm ${peer.svm} s`,
      };
      rows.push(prow);
      row.vsPeer = +(peer.total / value.total).toFixed(2); // > 1: bowcnn is faster end to end
      console.log(JSON.stringify(prow));
    }
  }
  table(rows);
  return { rows };
}
