/**
 * The GPU check (bundled into one file by scripts/gpu-check.sh): on the webgpu backend, measure
 *   - the adapter;
 *   - LeNet-5 (modern) training and inference images/s, data kept on the device; and training images/s with
 *     batches from the host and the step recorded once and replayed (src/backend/webgpu-replay.ts);
 *   - dense SIFT images/s at 28x28 (bin 4, step 2) and 256x256 (bin 8, step 4);
 *   - k-means seconds per iteration at 1M x 128, K = 1024;
 *   - the training time alexnet-small needs to reach 93% on Fashion-MNIST (whole training set on the GPU).
 *   - per-dispatch overhead and readback latency; LeNet-5 and alexnet-small step times with tfjs-webgpu's
 *     own kernels ('stock') against bowcnn's replacements ('split', src/backend/webgpu-kernels.ts), with
 *     per-kernel GPU times where the adapter has timestamp queries.
 * Writes OUT/gpu-check.json. `--quick` shrinks every size (for a dry run on a software adapter).
 * Usage: node gpu-check.mjs OUT DATA_DIR [--quick] [--software]
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { backendInfo, useBackend } from '../src/backend/index.js';
import { releaseWebgpu } from '../src/backend/webgpu.js';
import { setWebgpuKernels } from '../src/backend/webgpu-kernels.js';
import { adam } from '../src/cnn/adam.js';
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
const log = (k: string, v: unknown) => {
  result[k] = v;
  save();
  console.log(k, JSON.stringify(v));
};

const skip = (process.env.GPU_SKIP ?? '').split(',').filter(Boolean);
async function step(name: string, f: () => Promise<unknown>): Promise<void> {
  if (skip.some((p) => name.startsWith(p))) {
    console.log(`${name}: skipped (GPU_SKIP)`);
    return;
  }
  const t = performance.now();
  try {
    log(name, await f());
  } catch (e) {
    log(name, { error: (e as Error).message });
  }
  console.log(`  (${name}: ${((performance.now() - t) / 1000).toFixed(1)} s)`);
}

// timestamp queries (per-kernel GPU times in tf.profile) need Dawn's allow_unsafe_apis; retried without on failure
const dawnFlags = (process.env.GPU_DAWN_FLAGS ?? 'enable-dawn-features=allow_unsafe_apis').split(',').filter(Boolean);
try {
  await useBackend('webgpu', { allowSoftware: software, dawnFlags });
} catch (e) {
  console.log(`with Dawn flags ${dawnFlags.join(',')}: ${(e as Error).message}; retrying without`);
  await useBackend('webgpu', { allowSoftware: software, dawnFlags: [] });
}
const timestamps = Boolean((tf.backend() as unknown as { supportTimestampQuery?: boolean }).supportTimestampQuery);
log('adapter', { device: backendInfo().device, timestampQuery: timestamps });
const train = readIdxPair(join(dataDir, 'train-images-idx3-ubyte'), join(dataDir, 'train-labels-idx1-ubyte.gz'));
const test = readIdxPair(join(dataDir, 't10k-images-idx3-ubyte.gz'), join(dataDir, 't10k-labels-idx1-ubyte.gz'));
log('data', { train: train.n, test: test.n });

await step('overhead', async () => {
  const a = tf.ones([4]);
  await a.data();
  let x = a.clone();
  const t = performance.now();
  for (let i = 0; i < 1000; i++) {
    const y = tf.add(x, 1);
    x.dispose();
    x = y;
  }
  const rec = performance.now();
  await x.data();
  x.dispose();
  const done = performance.now();
  const t2 = performance.now();
  for (let i = 0; i < 20; i++) {
    const y = tf.add(a, i);
    await y.data();
    y.dispose();
  }
  const read = (performance.now() - t2) / 20;
  a.dispose();
  return { usPerDispatchRecorded: +(rec - t).toFixed(2), usPerDispatchTotal: +(done - t).toFixed(2), readbackMs: +read.toFixed(3) };
});

type Prof = { wallMs: number; gpuMs: number | null; top: Record<string, number> };
async function profileStep(f: () => tf.Scalar): Promise<Prof> {
  const t = performance.now();
  const p = await tf.profile(async () => {
    const l = f();
    await l.data();
    l.dispose();
  });
  const wallMs = performance.now() - t;
  const agg: Record<string, number> = {};
  let total = 0;
  for (const k of p.kernels) {
    const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    agg[`${k.name}`] = (agg[k.name] ?? 0) + ms;
    total += ms;
  }
  const top = Object.fromEntries(
    Object.entries(agg)
      .sort((x, y) => y[1] - x[1])
      .slice(0, 10)
      .map(([k, v]) => [k, +v.toFixed(3)]),
  );
  return { wallMs: +wallMs.toFixed(1), gpuMs: timestamps ? +total.toFixed(2) : null, top: { kernels: p.kernels.length, ...top } };
}

/**
 * ms per training step (random data, no augmentation) with the given kernels; a profile of one step.
 * 'split': bowcnn's kernels and its Adam (the fused kernel); 'stock': tfjs's kernels and tf.train.adam.
 */
async function stepTimes(make: () => tf.LayersModel, shape: number[], bs: number, kind: 'stock' | 'split', reps: number, profile = true) {
  setWebgpuKernels(kind);
  const m = make(),
    opt = kind === 'split' ? adam(1e-3) : tf.train.adam(1e-3);
  const x = tf.randomUniform([bs, ...shape], 0, 1, 'float32', 1),
    y = tf.oneHot(tf.randomUniform([bs], 0, 10, 'int32', 2) as tf.Tensor1D, 10);
  const f = () =>
    opt.minimize(
      () => tf.losses.softmaxCrossEntropy(y, m.apply(x, { training: true }) as tf.Tensor) as tf.Scalar,
      true,
      m.trainableWeights.map((w) => w.read() as tf.Variable),
    )!;
  for (let i = 0; i < 2; i++) {
    const l = f();
    await l.data();
    l.dispose();
  }
  const t = performance.now();
  for (let i = 0; i < reps; i++) {
    const l = f();
    if (i === reps - 1) await l.data();
    l.dispose();
  }
  const ms = (performance.now() - t) / reps;
  const prof = profile ? await profileStep(f) : null;
  tf.dispose([x, y]);
  m.dispose();
  opt.dispose();
  setWebgpuKernels('split');
  return { batch: bs, kernels: kind, msPerStep: +ms.toFixed(2), imagesPerSec: Math.round(bs / (ms / 1000)), profile: prof };
}

// tfjs-webgpu flags that change the per-step cost outside the kernels (submit batching, CPU forwarding of small ops)
await step('variants', async () => {
  const out: Record<string, unknown> = {};
  const variants: [string, Record<string, number | boolean>][] = [
    ['default', {}],
    ['submit1000', { WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE: 1000 }],
    ['noCpuForward', { WEBGPU_CPU_FORWARD: false }],
    ['both', { WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE: 1000, WEBGPU_CPU_FORWARD: false }],
  ];
  for (const [label, flags] of variants) {
    const saved = Object.fromEntries(Object.keys(flags).map((k) => [k, tf.env().get(k)]));
    for (const [k, v] of Object.entries(flags)) tf.env().set(k, v);
    const le = await stepTimes(() => lenet5({ seed: 0 }), [28, 28, 1], quick ? 32 : 2048, 'split', quick ? 2 : 10, false);
    const al = await stepTimes(
      () => alexnetSmall({ widths: [32, 64, 128], fc: [256, 128], seed: 0 }),
      [28, 28, 1],
      quick ? 16 : 512,
      'split',
      quick ? 1 : 5,
      false,
    );
    for (const [k, v] of Object.entries(saved)) tf.env().set(k, v as never);
    out[label] = { lenetMsPerStep: le.msPerStep, alexnetMsPerStep: al.msPerStep };
    console.log(label, JSON.stringify(out[label]));
  }
  return out;
});

const stepBatches = (process.env.GPU_STEP_BATCHES ?? (quick ? '32' : '128,2048')).split(',').map(Number);
let alexMsPerStep: number | null = null;
await step('lenet5_steps', async () => {
  const out = [];
  for (const kind of ['stock', 'split'] as const)
    for (const bs of stepBatches) out.push(await stepTimes(() => lenet5({ seed: 0 }), [28, 28, 1], bs, kind, quick ? 2 : 10));
  return out;
});
const alexBatch = Number(process.env.GPU_ALEX_BATCH ?? (quick ? 64 : 512));
const alexCfg = { widths: [32, 64, 128] as [number, number, number], fc: [256, 128], seed: 0 };
await step('alexnet_steps', async () => {
  const out = [];
  for (const kind of ['stock', 'split'] as const) {
    const r = await stepTimes(() => alexnetSmall(alexCfg), [28, 28, 1], alexBatch, kind, quick ? 2 : 6);
    if (kind === 'split') alexMsPerStep = r.msPerStep;
    out.push(r);
  }
  return out;
});

/**
 * LeNet-5 trained for 2 epochs (stopped after the first past GPU_LENET_SECONDS) at batch `bs`, the training set on
 * the device or batches from the host; the step is recorded once and replayed either way (src/backend/webgpu-replay.ts).
 */
async function lenetRun(bs: number, deviceData: boolean) {
  const tr = quick ? subset(train, 2048, 0) : train;
  const te = quick ? subset(test, 1000, 0) : test;
  const m = lenet5({ seed: 0 });
  const r = await trainModel(m, tr, {
    epochs: quick ? 1 : 2,
    batchSize: bs,
    lr: 1e-3 * Math.sqrt(bs / 128),
    deviceData,
    progress: false,
    maxSeconds: Number(process.env.GPU_LENET_SECONDS ?? 15),
  });
  await predictSplit(m, te, 1000); // warm-up
  const t = performance.now();
  await predictSplit(m, te, 1000);
  const infer = te.n / ((performance.now() - t) / 1000);
  const acc = await accuracyOf(m, te);
  m.dispose();
  return {
    trainImagesPerSec: Math.round(r.epochs.at(-1)!.imagesPerSec),
    firstEpochImagesPerSec: Math.round(r.epochs[0].imagesPerSec),
    inferImagesPerSec: Math.round(infer),
    testAccuracy: acc,
    epochs: r.epochs.length,
    replay: r.replay ?? null,
  };
}

// the training set on the device
const lenetBatches = (process.env.GPU_LENET_BATCHES ?? (quick ? '128' : '128,512,2048,8192')).split(',').map(Number);
for (const bs of lenetBatches) await step(`lenet5_batch${bs}`, () => lenetRun(bs, true));
// the training loop as a user runs it: batches from the host
const replayBatches = (process.env.GPU_REPLAY_BATCHES ?? (quick ? '128' : '128,512,1024')).split(',').map(Number);
for (const bs of replayBatches) await step(`lenet5_replay_batch${bs}`, () => lenetRun(bs, false));

await step('dsift', async () => {
  const out: Record<string, number> = {};
  for (const [size, bin, step, batch, reps] of [
    [28, 4, 2, 512, quick ? 2 : 20],
    [256, 8, 4, quick ? 2 : 32, quick ? 1 : 10],
  ]) {
    const stages = denseSiftStages({ size: bin, step });
    const x = tf.randomUniform([batch, size, size, 1], 0, 1, 'float32', 1) as tf.Tensor4D;
    const once = async () => {
      const y = applyStages(stages, x);
      await y.data();
      y.dispose();
    };
    await once();
    const t = performance.now();
    for (let i = 0; i < reps; i++) await once();
    out[`${size}x${size}_bin${bin}_step${step}_imagesPerSec`] = Math.round((batch * reps) / ((performance.now() - t) / 1000));
    x.dispose();
  }
  return out;
});

await step('kmeans', async () => {
  const n = quick ? 20_000 : 1_000_000,
    d = 128,
    k = quick ? 64 : 1024;
  const data = new Float32Array(n * d);
  let s = 7;
  for (let i = 0; i < data.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = (s >>> 8) / 16777216;
  }
  const r = await kmeans(data, n, d, { k, maxIter: 3, tol: 0, init: 'random', seed: 1, chunk: 65536 });
  return { n, d, k, secondsPerIter: r.secondsPerIter, iterations: r.iterations };
});

await step('alexnet', async () => {
  const tr = quick ? subset(train, 512, 0) : train;
  const te = quick ? subset(test, 1000, 0) : test;
  const m = alexnetSmall(alexCfg);
  const curve: { epoch: number; seconds: number; testAccuracy: number }[] = [];
  let spent = 0,
    reached: number | null = null;
  // the one-cycle schedule needs its length up front: as many epochs as the measured step time allows
  // in GPU_ALEX_SECONDS (augmentation adds ~20%)
  const budget = Number(process.env.GPU_ALEX_SECONDS ?? 150);
  const perEpoch = alexMsPerStep ? (alexMsPerStep * Math.ceil(tr.n / alexBatch) * 1.2) / 1000 : budget / 10;
  const epochs = quick ? 1 : Number(process.env.GPU_ALEX_EPOCHS ?? Math.max(2, Math.min(40, Math.floor(budget / perEpoch))));
  const r = await trainModel(m, tr, {
    epochs,
    batchSize: alexBatch,
    lr: Number(process.env.GPU_ALEX_LR ?? 4e-3),
    schedule: 'onecycle',
    labelSmoothing: 0.05,
    deviceData: true,
    progress: false,
    augment: augment({ pad: 2, flip: true }),
    validation: te,
    maxSeconds: quick ? 60 : budget * 1.5,
    onEpoch: (e) => {
      spent += e.seconds;
      curve.push({ epoch: e.epoch + 1, seconds: +spent.toFixed(2), testAccuracy: e.valAccuracy ?? 0 });
      if (reached === null && (e.valAccuracy ?? 0) >= 0.93) reached = spent;
    },
  });
  m.dispose();
  return {
    secondsTo93: reached,
    finalTestAccuracy: curve.at(-1)?.testAccuracy ?? null,
    trainSeconds: +spent.toFixed(1),
    trainImagesPerSec: Math.round(r.imagesPerSec),
    batch: alexBatch,
    epochsPlanned: epochs,
    widths: alexCfg.widths,
    curve,
  };
});

result.finished = new Date().toISOString();
save();
releaseWebgpu();
console.log('gpu-check: done');
