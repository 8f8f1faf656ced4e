// CNNs on full MNIST and Fashion-MNIST: test accuracy, training and inference images/s, peak memory;
// time-to-93% for alexnet-small on Fashion-MNIST; a per-kernel profile of one LeNet-5 training step.
// BOWCNN_BENCH_SUBSET=n runs on a subset (a quick check of the bench itself).
// bownet: the bow-sift pipeline's accuracy, its CNN export's accuracy before fine-tuning (soft coding) and after.
// BOWCNN_BENCH_MODELS=lenet5,alexnet-small,bownet and BOWCNN_BENCH_DATASETS choose; BOWCNN_BENCH_MAX_SECONDS caps training;
// BOWCNN_BENCH_LENET_SEEDS=0,1,2 the seeds LeNet-5 runs at (mean and standard deviation reported).
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { adam } from '../src/cnn/adam.js';
import { softmaxCrossEntropy } from '../src/backend/fused-ops.js';
import { CnnClassifier } from '../src/cnn/classifier.js';
import { lenet5 } from '../src/cnn/lenet5.js';
import { execute } from '../src/passes/cnn.js';
import { predictSplit } from '../src/cnn/train.js';
import { accuracy } from '../src/eval/metrics.js';
import { argmax } from '../src/core/scores.js';
import { dataset } from '../src/data/registry.js';
import { subset } from '../src/data/split.js';
import { readRecipe, type BowNetRecipe, type CnnRecipe } from '../src/pipeline/recipes.js';
import { spawnSync } from 'node:child_process';
import { backendInfo, useBackend } from '../src/backend/index.js';
import { table, withPeakMemory } from './util.js';

/**
 * LeNet-5 with the same recipe in PyTorch (Debian's python3-torch, /usr/bin/python3): bench/peers/lenet5_torch.py.
 * Null (and a line saying why) where it is not installed.
 */
function torchLenet(
  dir: string,
  epochs: number,
  threads: number,
  n: number,
): { peer: string; epochs: number; accuracy: number; trainImgPerSec: number; inferImgPerSec: number } | null {
  const r = spawnSync(
    '/usr/bin/python3',
    [join(import.meta.dirname, 'peers', 'lenet5_torch.py'), dir, String(epochs), String(threads), String(n)],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) {
    console.log(`(no PyTorch peer: ${(r.stderr || String(r.error)).trim().split('\n').at(-1)})`);
    return null;
  }
  return JSON.parse(r.stdout.trim().split('\n').at(-1) as string);
}

async function profileLenetStep(): Promise<Record<string, number>> {
  const m = lenet5({});
  const opt = adam(1e-3); // as cnn/train trains (the fused kernel on wasm)
  const x = tf.randomUniform([128, 28, 28, 1]);
  const y = tf.oneHot(tf.randomUniform([128], 0, 10, 'int32'), 10);
  const step = () => {
    const l = opt.minimize(() => softmaxCrossEntropy(y, execute(m, x, { training: true })), true);
    l!.dataSync();
    l!.dispose();
  };
  for (let i = 0; i < 3; i++) step();
  const p = await tf.profile(step);
  const agg: Record<string, number> = {};
  for (const k of p.kernels) if (!k.name.endsWith('__op')) agg[k.name] = +((agg[k.name] ?? 0) + (k.kernelTimeMs as number)).toFixed(2);
  tf.dispose([x, y]);
  m.dispose();
  opt.dispose();
  return Object.fromEntries(
    Object.entries(agg)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 12),
  );
}

export async function run(): Promise<Record<string, unknown>> {
  await useBackend('wasm');
  const models = (process.env.BOWCNN_BENCH_MODELS ?? 'lenet5,alexnet-small,bownet').split(',');
  const datasets = (process.env.BOWCNN_BENCH_DATASETS ?? 'mnist,fashion-mnist').split(',');
  const maxSeconds = process.env.BOWCNN_BENCH_MAX_SECONDS ? Number(process.env.BOWCNN_BENCH_MAX_SECONDS) : 1800;
  const profile = await profileLenetStep();
  console.log('LeNet-5 training step (batch 128), kernel ms:', profile);
  const rows: Record<string, unknown>[] = [];
  for (const dsName of datasets) {
    const full = await dataset(dsName);
    // BOWCNN_BENCH_SUBSET=n: a stratified n-image training subset and n/5 test images (a quick check, not a figure)
    const n = Number(process.env.BOWCNN_BENCH_SUBSET ?? 0);
    const ds = n > 0 ? { ...full, train: subset(full.train, n, 0), test: subset(full.test, Math.ceil(n / 5), 1) } : full;
    // LeNet-5 at several seeds (BOWCNN_BENCH_LENET_SEEDS, default 0,1,2): one run's accuracy moves by
    // +-0.3 points with the seed on Fashion-MNIST, as much as the gap to the reference figure
    const lenetSeeds = (process.env.BOWCNN_BENCH_LENET_SEEDS ?? '0,1,2').split(',').map(Number);
    for (const [name, seed] of models.flatMap((m) => (m === 'lenet5' ? lenetSeeds : [0]).map((sd) => [m, sd] as const))) {
      const clf = new CnnClassifier(readRecipe(name) as CnnRecipe | BowNetRecipe);
      const curve: { epoch: number; seconds: number; testAccuracy: number }[] = [];
      let trainSeconds = 0;
      // alexnet-small and bownet: test accuracy after every epoch (evaluation time not counted): the curve,
      // the time to 93%, and for bownet the accuracy before fine-tuning
      const track = name === 'alexnet-small' || name === 'bownet';
      let measured: Awaited<ReturnType<typeof withPeakMemory<Awaited<ReturnType<CnnClassifier['fit']>>>>>;
      try {
        measured = await withPeakMemory(async (sample) => {
          const fit = await clf.fit(ds.train, {
            maxSeconds,
            progress: true,
            validation: track ? ds.test : undefined,
            seed,
            data: { dataset: ds.name, classes: ds.classes, flipSafe: ds.flipSafe },
          });
          sample();
          return fit;
        });
      } catch (e) {
        // one model failing (a diverged run) is a result too; the others' rows are kept
        const row = { dataset: dsName, model: name, seed, error: (e as Error).message };
        rows.push(row);
        console.log(JSON.stringify(row));
        clf.dispose();
        continue;
      }
      const { value, peakRssMB, peakTfMB } = measured;
      trainSeconds = value.seconds;
      let spent = 0,
        reached: number | null = null;
      const epochs = value.epochs ?? [];
      for (const e of epochs) {
        spent += e.seconds;
        if (e.valAccuracy !== null)
          curve.push({ epoch: e.epoch + 1, seconds: +spent.toFixed(0), testAccuracy: +(100 * e.valAccuracy).toFixed(2) });
        if (reached === null && (e.valAccuracy ?? 0) >= 0.93) reached = spent;
      }
      const t = performance.now();
      const scores = await predictSplit(clf.model!, ds.test);
      const inferPerSec = ds.test.n / ((performance.now() - t) / 1000);
      let acc = accuracy(argmax(scores, ds.classes.length), ds.test.labels);
      // a recipe with test-time flips: its accuracy is with them (as in the curve); without them beside it
      const flips = clf.predictOptions.flip ? { accuracyNoFlip: +(100 * acc).toFixed(2) } : {};
      if (clf.predictOptions.flip) acc = accuracy(argmax(await clf.scoreSplit(ds.test), ds.classes.length), ds.test.labels);
      let bow: Record<string, number> = {};
      const start = await clf.scoreSplitBeforeFineTune(ds.test);
      if (clf.source && start) {
        // the fitted pipeline itself (hard coding) and the exported CNN before fine-tuning (soft coding)
        const pipelineAcc = accuracy(argmax(await clf.source.scoreSplit(ds.test), ds.classes.length), ds.test.labels);
        const startAcc = accuracy(argmax(start, ds.classes.length), ds.test.labels);
        bow = { pipelineAccuracy: +(100 * pipelineAcc).toFixed(2), beforeFineTune: +(100 * startAcc).toFixed(2) };
      }
      const row = {
        dataset: dsName,
        model: name,
        seed,
        ...bow,
        epochs: epochs.length,
        accuracy: +(100 * acc).toFixed(2),
        ...flips,
        trainImgPerSec: Math.round(value.trainImagesPerSec ?? 0),
        inferImgPerSec: Math.round(inferPerSec),
        trainSec: +trainSeconds.toFixed(0),
        secondsTo93: track ? (reached === null ? 'not reached' : Math.round(reached)) : undefined,
        peakRssMB: Math.round(peakRssMB),
        peakTensorMB: Math.round(peakTfMB),
      };
      rows.push(row);
      console.log(JSON.stringify(row));
      if (curve.length) console.log(JSON.stringify({ curve }));
      clf.dispose();
      // the peer, right after, on the same files, recipe, epochs and thread count: the ratio of this pair
      if (name === 'lenet5' && process.env.BOWCNN_BENCH_PEERS !== '0') {
        const peer = torchLenet(ds.source, epochs.length, backendInfo().threads, n);
        if (peer) {
          const prow = {
            dataset: dsName,
            model: `lenet5 in ${peer.peer}`,
            seed,
            epochs: peer.epochs,
            accuracy: peer.accuracy,
            trainImgPerSec: peer.trainImgPerSec,
            inferImgPerSec: peer.inferImgPerSec,
            trainRatio: +(row.trainImgPerSec / peer.trainImgPerSec).toFixed(2),
          };
          rows.push(prow);
          console.log(JSON.stringify(prow));
        }
      }
    }
  }
  table(rows);
  // mean and standard deviation over seeds, where a model ran at more than one
  const summary: Record<string, unknown>[] = [];
  for (const dsName of datasets)
    for (const name of models) {
      const accs = rows
        .filter((r) => r.dataset === dsName && r.model === name && typeof r.accuracy === 'number')
        .map((r) => r.accuracy as number);
      if (accs.length < 2) continue;
      const mean = accs.reduce((a, b) => a + b, 0) / accs.length;
      const sd = Math.sqrt(accs.reduce((a, b) => a + (b - mean) ** 2, 0) / (accs.length - 1));
      summary.push({
        dataset: dsName,
        model: name,
        seeds: accs.length,
        accuracyMean: +mean.toFixed(2),
        accuracySd: +sd.toFixed(2),
        min: Math.min(...accs),
        max: Math.max(...accs),
      });
    }
  if (summary.length) table(summary);
  return { profile, rows, summary };
}
