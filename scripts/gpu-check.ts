/**
 * The GPU check (bundled into one file by scripts/gpu-check.sh): on the webgpu backend, measure
 *   - the adapter;
 *   - LeNet-5 (modern) training and inference images/s, data kept on the device;
 *   - dense SIFT images/s at 28x28 (bin 4, step 2) and 256x256 (bin 8, step 4);
 *   - k-means seconds per iteration at 1M x 128, K = 1024;
 *   - the training time alexnet-small needs to reach 93% on Fashion-MNIST (whole training set on the GPU).
 * Writes OUT/gpu-check.json. `--quick` shrinks every size (for a dry run on a software adapter).
 * Usage: node gpu-check.mjs OUT DATA_DIR [--quick] [--software]
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { backendInfo, useBackend } from '../src/backend/index.js';
import { releaseWebgpu } from '../src/backend/webgpu.js';
import { alexnetSmall, augment } from '../src/cnn/alexnet.js';
import { lenet5 } from '../src/cnn/lenet5.js';
import { accuracyOf, predictSplit, trainModel } from '../src/cnn/train.js';
import { readIdxPair } from '../src/data/idx.js';
import { subset } from '../src/data/split.js';
import { kmeans } from '../src/learn/kmeans.js';
import { applyStages, denseSiftStages } from '../src/stages/dsift.js';

const [outDir = 'gpu-out', dataDir = 'data'] = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const quick = process.argv.includes('--quick');
const software = process.argv.includes('--software') || quick;
const result: Record<string, unknown> = { quick, started: new Date().toISOString() };
mkdirSync(outDir, { recursive: true });
const save = () => {
  const f = join(outDir, 'gpu-check.json');
  writeFileSync(`${f}.tmp`, JSON.stringify(result, null, 2));
  renameSync(`${f}.tmp`, f);
};
const log = (k: string, v: unknown) => { result[k] = v; save(); console.log(k, JSON.stringify(v)); };

const skip = (process.env.GPU_SKIP ?? '').split(',').filter(Boolean);
async function step(name: string, f: () => Promise<unknown>): Promise<void> {
  if (skip.some((p) => name.startsWith(p))) { console.log(`${name}: skipped (GPU_SKIP)`); return; }
  const t = performance.now();
  try { log(name, await f()); } catch (e) { log(name, { error: (e as Error).message }); }
  console.log(`  (${name}: ${((performance.now() - t) / 1000).toFixed(1)} s)`);
}

await useBackend('webgpu', { allowSoftware: software });
log('adapter', backendInfo().device);
const train = readIdxPair(join(dataDir, 'train-images-idx3-ubyte'), join(dataDir, 'train-labels-idx1-ubyte.gz'));
const test = readIdxPair(join(dataDir, 't10k-images-idx3-ubyte.gz'), join(dataDir, 't10k-labels-idx1-ubyte.gz'));
log('data', { train: train.n, test: test.n });

// batch sizes to try (per-kernel dispatch cost dominates small batches on WebGPU): GPU_LENET_BATCHES=128,1024
const lenetBatches = (process.env.GPU_LENET_BATCHES ?? '128').split(',').map(Number);
for (const bs of lenetBatches) await step(`lenet5_batch${bs}`, async () => {
  const tr = quick ? subset(train, 2048, 0) : train;
  const m = lenet5({ seed: 0 });
  const r = await trainModel(m, tr, { epochs: quick ? 1 : 2, batchSize: bs, lr: 1e-3 * Math.sqrt(bs / 128), deviceData: true, progress: false });
  const te = quick ? subset(test, 1000, 0) : test;
  await predictSplit(m, te, 1000);                      // warm-up
  const t = performance.now();
  await predictSplit(m, te, 1000);
  const infer = te.n / ((performance.now() - t) / 1000);
  const acc = await accuracyOf(m, te);
  m.dispose();
  return { trainImagesPerSec: Math.round(r.epochs.at(-1)!.imagesPerSec), firstEpochImagesPerSec: Math.round(r.epochs[0].imagesPerSec), inferImagesPerSec: Math.round(infer), testAccuracy: acc, epochs: r.epochs.length };
});

await step('dsift', async () => {
  const out: Record<string, number> = {};
  for (const [size, bin, step, batch, reps] of [[28, 4, 2, 512, quick ? 2 : 20], [256, 8, 4, quick ? 2 : 32, quick ? 1 : 10]]) {
    const stages = denseSiftStages({ size: bin, step });
    const x = tf.randomUniform([batch, size, size, 1], 0, 1, 'float32', 1) as tf.Tensor4D;
    const once = async () => { const y = applyStages(stages, x); await y.data(); y.dispose(); };
    await once();
    const t = performance.now();
    for (let i = 0; i < reps; i++) await once();
    out[`${size}x${size}_bin${bin}_step${step}_imagesPerSec`] = Math.round((batch * reps) / ((performance.now() - t) / 1000));
    x.dispose();
  }
  return out;
});

await step('kmeans', async () => {
  const n = quick ? 20_000 : 1_000_000, d = 128, k = quick ? 64 : 1024;
  const data = new Float32Array(n * d);
  let s = 7;
  for (let i = 0; i < data.length; i++) { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; data[i] = (s >>> 8) / 16777216; }
  const r = await kmeans(data, n, d, { k, maxIter: 3, tol: 0, init: 'random', seed: 1, chunk: 65536 });
  return { n, d, k, secondsPerIter: r.secondsPerIter, iterations: r.iterations };
});

await step('alexnet', async () => {
  const tr = quick ? subset(train, 2048, 0) : train;
  const te = quick ? subset(test, 1000, 0) : test;
  const m = alexnetSmall({ widths: [32, 64, 128], fc: [256, 128], seed: 0 });
  const curve: { epoch: number; seconds: number; testAccuracy: number }[] = [];
  let spent = 0, reached: number | null = null;
  const r = await trainModel(m, tr, {
    epochs: quick ? 1 : 30, batchSize: Number(process.env.GPU_ALEX_BATCH ?? 256), lr: Number(process.env.GPU_ALEX_LR ?? 3e-3), schedule: 'onecycle', labelSmoothing: 0.05, deviceData: true, progress: false,
    augment: augment({ pad: 2, flip: true }), validation: te, targetAccuracy: 0.93, maxSeconds: quick ? 60 : Number(process.env.GPU_ALEX_SECONDS ?? 240),
    onEpoch: (e) => { spent += e.seconds; curve.push({ epoch: e.epoch + 1, seconds: +spent.toFixed(2), testAccuracy: e.valAccuracy ?? 0 }); if (reached === null && (e.valAccuracy ?? 0) >= 0.93) reached = spent; },
  });
  m.dispose();
  return { secondsTo93: reached, trainImagesPerSec: Math.round(r.imagesPerSec), batch: Number(process.env.GPU_ALEX_BATCH ?? 256), curve };
});

result.finished = new Date().toISOString();
save();
releaseWebgpu();
console.log('gpu-check: done');
