/**
 * The CNN training loop: Adam or SGD with momentum, a learning-rate schedule (none, cosine, one-cycle),
 * decoupled weight decay, label smoothing, a seeded shuffle, early stopping on a validation split,
 * a progress bar, and a checkpoint after each epoch from which a killed run resumes.
 *
 * Every batch runs inside tf.tidy / optimizer.minimize; `tf.memory().numTensors` is the same after
 * each epoch (tests check it).
 */
import { identity } from '../core/identity.js';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { EpochRecord } from '../core/classifier.js';
import { ConfigError, FitError } from '../core/errors.js';
import { checkpoint } from '../core/interrupt.js';
import { assertFinite, floats, sha256 } from '../core/persist.js';
import { rng, shuffle } from '../core/random.js';
import { softmaxCrossEntropy } from '../backend/fused-ops.js';
import { fingerprint, gatherBatch, gatherPixels } from '../data/split.js';
import type { Split } from '../core/data.js';
import { argmax } from '../core/scores.js';
import { execute } from '../passes/cnn.js';
import { feed } from '../passes/feeds.js';
import { settings } from '../core/settings.js';
import { StepRecorder, type ReplayedStep } from '../backend/webgpu-replay.js';
import { ensureDir, writeFileAtomic } from '../core/atomic.js';
import { Progress } from '../util/progress.js';
import { adam } from './adam.js';

export type { EpochRecord };

/** Why a fit ended before its planned epochs: early stopping, a target accuracy reached, or a time budget. */
export type StopReason = 'patience' | 'target-accuracy' | 'max-seconds';

/**
 * Augmentation of a training batch `[B,H,W,C]`, drawing from the loop's generator. An augmentation that can also
 * run on the batch's pixels before they become a tensor (`pixels`, in place, drawing the same numbers in the same
 * order, so that it gives the same images) runs there on the CPU path: no kernel calls.
 */
export type Augment = ((x: tf.Tensor4D, rand: () => number) => tf.Tensor4D) & {
  pixels?: (data: Float32Array, b: number, h: number, w: number, c: number, rand: () => number) => void;
};

export interface TrainOptions {
  epochs?: number;
  /** at least this many steps: on a small training set, each epoch passes over the images as often as that takes */
  minSteps?: number;
  batchSize?: number;
  lr?: number;
  optimizer?: 'adam' | 'sgd';
  momentum?: number;
  schedule?: 'none' | 'cosine' | 'onecycle';
  weightDecay?: number; // decoupled (AdamW / SGDW), on kernels only
  labelSmoothing?: number;
  seed?: number;
  validation?: Split;
  evalFlip?: boolean; // validation accuracy with test-time flips (see PredictOptions)
  patience?: number; // early stopping on validation accuracy; 0 = off
  checkpointDir?: string; // a checkpoint per epoch; a rerun resumes from it
  augment?: Augment;
  label?: string;
  progress?: boolean;
  maxSeconds?: number; // stop after the epoch that passes this
  targetAccuracy?: number; // stop once validation (or train) accuracy reaches it
  onEpoch?: (r: EpochRecord) => void;
  /** Keep the whole training set on the device (one tensor) and gather each batch there (for GPUs). */
  deviceData?: boolean;
  /** the identity of the weights training starts from, when they are not a new model's (fine-tuning): part of the checkpoint key */
  startKey?: string;
}

export interface TrainReport {
  epochs: EpochRecord[];
  seconds: number;
  imagesPerSec: number;
  resumedFromEpoch: number | null;
  stoppedEarly: boolean;
  /** why training ended before its last epoch (null: it ran them all) */
  stopReason: StopReason | null;
  /** the epochs the options asked for */
  epochsPlanned: number;
  bestEpoch: number;
  /** epochs trained in this call (0: the checkpoint had them all) */
  epochsRun: number;
  /** on webgpu: the steps replayed (backend/webgpu-replay.ts), and why none were where they could not be */
  replay?: { steps: number; refused: string | null };
}

function lrAt(o: Required<Pick<TrainOptions, 'lr' | 'schedule'>>, step: number, total: number): number {
  const t = Math.min(1, step / Math.max(1, total));
  if (o.schedule === 'cosine') return o.lr * 0.5 * (1 + Math.cos(Math.PI * t));
  if (o.schedule === 'onecycle') {
    const warm = 0.3;
    if (t < warm) return o.lr * (0.04 + 0.96 * (t / warm));
    return o.lr * (0.5 * (1 + Math.cos((Math.PI * (t - warm)) / (1 - warm)))) + o.lr * 1e-4;
  }
  return o.lr;
}

type Opt = tf.Optimizer & { learningRate: number };

function makeOptimizer(o: TrainOptions): Opt {
  const lr = o.lr ?? 1e-3;
  return (o.optimizer === 'sgd' ? tf.train.momentum(lr, o.momentum ?? 0.9, true) : adam(lr)) as unknown as Opt;
}

// ---------- checkpoints: JSON manifest + one binary blob, both written to a temp file then renamed ----------

interface Manifest {
  version: 2;
  key: string;
  epoch: number;
  history: EpochRecord[];
  tensors: { name: string; shape: number[]; group: 'model' | 'opt' }[];
  best: number;
  bestEpoch: number;
  bad: number;
  sha256: string;
}

async function saveCheckpoint(
  dir: string,
  m: Omit<Manifest, 'tensors' | 'version' | 'sha256'>,
  model: tf.LayersModel,
  opt: tf.Optimizer,
): Promise<void> {
  ensureDir(dir);
  const named: { name: string; tensor: tf.Tensor; group: 'model' | 'opt' }[] = [
    ...model.weights.map((w) => ({ name: w.originalName, tensor: w.read(), group: 'model' as const })),
    ...(await opt.getWeights()).map((w) => ({ name: w.name, tensor: w.tensor, group: 'opt' as const })),
  ];
  const parts = await Promise.all(named.map((n) => n.tensor.data() as Promise<Float32Array>));
  const total = parts.reduce((a, p) => a + p.length, 0);
  const blob = new Float32Array(total);
  let off = 0;
  for (const p of parts) {
    blob.set(p, off);
    off += p.length;
  }
  assertFinite(
    named.map((n, i) => ({ name: n.name, data: parts[i] })),
    join(dir, 'weights.bin'),
  );
  const bytes = new Uint8Array(blob.buffer);
  const manifest: Manifest = {
    version: 2,
    ...m,
    tensors: named.map((n) => ({ name: n.name, shape: n.tensor.shape, group: n.group })),
    sha256: sha256(bytes),
  };
  // blob first, manifest last: a manifest on disk always describes a complete blob
  writeFileAtomic(join(dir, 'weights.bin'), bytes);
  writeFileAtomic(join(dir, 'checkpoint.json'), JSON.stringify(manifest));
  // getWeights() hands out the optimizer's own variables, plus a fresh scalar for the iteration count
  for (const n of named) if (n.group === 'opt' && n.name === 'iter') n.tensor.dispose();
}

/** Says why a checkpoint is not resumed from, on stderr: training then starts over (never from bad weights). */
function ignoring(file: string, why: string): null {
  process.stderr.write(`bowcnn: ignoring the checkpoint ${file}: ${why}; training starts over\n`);
  return null;
}

async function loadCheckpoint(dir: string, key: string, model: tf.LayersModel, opt: tf.Optimizer): Promise<Manifest | null> {
  const mf = join(dir, 'checkpoint.json');
  const wf = join(dir, 'weights.bin');
  if (!existsSync(mf)) return null;
  let m: Manifest;
  try {
    m = JSON.parse(readFileSync(mf, 'utf8')) as Manifest;
  } catch {
    return ignoring(mf, 'not valid JSON');
  }
  if (m.version !== 2) return ignoring(mf, `format version ${m.version}, this bowcnn writes version 2`);
  if (m.key !== key) return ignoring(mf, 'it is of another run (other data, recipe or training options, e.g. --epochs)');
  if (!existsSync(wf)) return ignoring(wf, 'missing');
  const buf = readFileSync(wf);
  if (sha256(buf) !== m.sha256) return ignoring(wf, 'checksum mismatch (the file was changed or damaged)');
  let all: Float32Array;
  try {
    all = floats(buf, wf);
  } catch {
    return ignoring(wf, `${buf.byteLength} bytes, not a whole number of values`);
  }
  const need = m.tensors.reduce((a, t) => a + t.shape.reduce((x, y) => x * y, 1), 0);
  if (all.length !== need) return ignoring(wf, `${all.length} values for ${need}`);
  let off = 0;
  const modelW: tf.Tensor[] = [];
  const optW: { name: string; tensor: tf.Tensor }[] = [];
  for (const t of m.tensors) {
    const size = t.shape.reduce((x, y) => x * y, 1);
    const tensor = tf.tensor(all.subarray(off, off + size), t.shape);
    off += size;
    if (t.group === 'model') modelW.push(tensor);
    else optW.push({ name: t.name, tensor });
  }
  model.setWeights(modelW);
  modelW.forEach((w) => w.dispose());
  await opt.setWeights(optW); // copies into new variables
  optW.forEach((w) => w.tensor.dispose());
  return m;
}

/** A key for "the same run": model topology + options + data; a checkpoint from another run is ignored. */
export function runKey(model: tf.LayersModel, train: Split, o: TrainOptions): string {
  // stop criteria (maxSeconds, targetAccuracy) are not part of the run's identity: a rerun may extend them
  const { onEpoch: _a, augment, validation, progress: _p, label: _l, checkpointDir: _c, maxSeconds: _m, targetAccuracy: _t, ...rest } = o;
  return identity(
    {
      topology: model.toJSON(undefined, false),
      options: { ...rest, augment: augment ? augment.toString() : null, n: train.n, v: validation?.n ?? 0 },
      data: fingerprint({ name: 'train', splits: [train] }), // the images and labels themselves
    },
    16,
  );
}

export interface PredictOptions {
  /**
   * Test-time flips: the scores are the mean of the logits for each image and for its horizontal mirror
   * (AlexNet averaged its predictions over crops and their reflections). Only for datasets whose classes
   * survive a mirror (not digits).
   */
  flip?: boolean;
  /**
   * Test-time shifts of this many pixels: the mean of the logits also runs over the image moved left, right,
   * up and down (zeros shifted in), 5 views of each image (10 with flips): the test-time side of training
   * on random crops. 0: none.
   */
  shifts?: number;
}

/**
 * `[B,H,W,C]` moved by (dy, dx) pixels: out[y][x] = x[y - dy][x - dx], zeros where that falls outside (call
 * inside tf.tidy).
 */
export function shiftImages(x: tf.Tensor4D, dy: number, dx: number): tf.Tensor4D {
  if (dy === 0 && dx === 0) return x;
  const [b, h, w, c] = x.shape;
  const py = Math.abs(dy),
    px = Math.abs(dx);
  const padded = tf.pad(x, [
    [0, 0],
    [py, py],
    [px, px],
    [0, 0],
  ]);
  return tf.slice(padded, [0, py - dy, px - dx, 0], [b, h, w, c]);
}

/** The test-time views' offsets (dy, dx): the image itself, then `shifts` pixels down, up, right and left. */
export function shiftViews(shifts = 0): [number, number][] {
  const s = Math.floor(shifts);
  return s > 0
    ? [
        [0, 0],
        [s, 0],
        [-s, 0],
        [0, s],
        [0, -s],
      ]
    : [[0, 0]];
}

/**
 * Logits of a batch `[B,H,W,C]` -> `[B,classes]`, the mean over the test-time views of `opts` (flips and
 * shifts; call inside tf.tidy). The whole batch in one pass (`apply` in inference mode): tfjs-layers'
 * predict() slices its input into batches of 32 and concatenates the outputs, which took a third of
 * LeNet-5's inference time on wasm.
 */
export function predictLogits(model: tf.LayersModel, x: tf.Tensor4D, opts: PredictOptions = {}): tf.Tensor {
  const run = (t: tf.Tensor) => execute(model, t, { training: false });
  const [, h, w] = x.shape;
  const s = opts.shifts ?? 0;
  if (s >= Math.min(h, w))
    throw new ConfigError(
      `predict.shifts ${s}: the ${h}x${w} images the model takes would move out of view (at most ${Math.min(h, w) - 1})`,
    );
  const views = shiftViews(s);
  // one view at a time, each in its own scope that keeps only the running sum: a batch is sized for one pass
  // (inferenceBatch), and ten views' activations held at once would be ten times that
  let sum: tf.Tensor | null = null;
  for (const [dy, dx] of views) {
    const prev: tf.Tensor | null = sum;
    sum = tf.tidy(() => {
      const v = shiftImages(x, dy, dx);
      const one = opts.flip ? tf.add(run(v), run(tf.reverse(v, 2))) : run(v);
      return prev ? tf.add(prev, one) : one;
    });
    prev?.dispose();
  }
  const n = views.length * (opts.flip ? 2 : 1);
  return n === 1 ? (sum as tf.Tensor) : tf.mul(sum as tf.Tensor, 1 / n);
}

/**
 * Images per inference batch for a model: at most `max`, and few enough that the largest layer output of a
 * batch stays within `budgetMB` (a soft-coded bownet's `[N,H,W,M]` codes take megabytes per image).
 */
export function inferenceBatch(model: tf.LayersModel, max = 500, budgetMB = 192): number {
  let per = 1;
  for (const l of model.layers) {
    const shapes = (Array.isArray(l.outputShape[0]) ? l.outputShape : [l.outputShape]) as (number | null)[][];
    for (const sh of shapes)
      per = Math.max(
        per,
        sh.slice(1).reduce((a: number, b) => a * (b ?? 1), 1),
      );
  }
  // the largest output, its input and a temporary of the same size, in float32
  return Math.max(1, Math.min(max, Math.floor((budgetMB * 2 ** 20) / (per * 4 * 3))));
}

/**
 * Logits `[N,classes]` of a split, batched (asynchronous reads: the webgpu backend has no fast sync read); the
 * batch is sized to the model (inferenceBatch), and Ctrl-C stops between batches.
 */
export async function predictSplit(model: tf.LayersModel, s: Split, maxBatch = 500, opts: PredictOptions = {}): Promise<Float32Array> {
  const batchSize = inferenceBatch(model, maxBatch);
  const classes = (model.outputs[0].shape[1] ?? 0) as number;
  const out = new Float32Array(s.n * classes);
  for (let i = 0; i < s.n; i += batchSize) {
    await checkpoint();
    const idx = Array.from({ length: Math.min(batchSize, s.n - i) }, (_, k) => i + k);
    const { x } = gatherBatch(s, idx);
    try {
      const y = tf.tidy(() => predictLogits(model, x, opts));
      out.set((await y.data()) as Float32Array, i * classes);
      y.dispose();
    } finally {
      x.dispose();
    }
  }
  return out;
}

/** Row-wise argmax of `[N,classes]` scores (the one in eval/metrics). */
export const argmaxRows = (scores: Float32Array, classes: number): Int32Array => argmax(scores, classes);

export async function accuracyOf(model: tf.LayersModel, s: Split, opts: PredictOptions = {}): Promise<number> {
  const classes = (model.outputs[0].shape[1] ?? 0) as number;
  const pred = argmaxRows(await predictSplit(model, s, 500, opts), classes);
  let ok = 0;
  for (let i = 0; i < s.n; i++) if (pred[i] === s.labels[i]) ok++;
  return ok / Math.max(1, s.n);
}

export async function trainModel(model: tf.LayersModel, train: Split, opts: TrainOptions = {}): Promise<TrainReport> {
  const o = {
    epochs: 5,
    batchSize: 128,
    lr: 1e-3,
    schedule: 'none' as const,
    seed: 0,
    weightDecay: 0,
    labelSmoothing: 0,
    patience: 0,
    ...opts,
  };
  const classes = (model.outputs[0].shape[1] ?? 0) as number;
  if (!(Number.isInteger(o.batchSize) && o.batchSize >= 1)) throw new FitError(`batch size ${o.batchSize}: it must be a whole number >= 1`);
  if (train.n === 0) throw new FitError('the training split is empty');
  const opt = makeOptimizer(o);
  const key = runKey(model, train, opts);
  const history: EpochRecord[] = [];
  let start = 0,
    best = -1,
    bestEpoch = -1,
    bad = 0;
  let resumedFromEpoch: number | null = null;
  if (o.checkpointDir) {
    const m = await loadCheckpoint(o.checkpointDir, key, model, opt);
    if (m) {
      start = m.epoch + 1;
      resumedFromEpoch = m.epoch;
      history.push(...m.history);
      best = m.best;
      bestEpoch = m.bestEpoch;
      bad = m.bad;
    }
  }
  // on a small training set an epoch passes over the images several times (`passes`, each in a new order), so
  // that the epochs make at least minSteps steps: as many epochs (and validation points) as asked, each long enough
  const once = Math.ceil(train.n / o.batchSize);
  const passes = o.minSteps && once * o.epochs < o.minSteps ? Math.ceil(o.minSteps / (once * o.epochs)) : 1;
  const perEpoch = passes * train.n;
  const stepsPerEpoch = Math.ceil(perEpoch / o.batchSize);
  const totalSteps = stepsPerEpoch * o.epochs;
  const kernels = model.trainableWeights.filter((w) => /kernel/.test(w.originalName));
  const t0 = performance.now();
  let stopReason: StopReason | null = null;
  // the whole split as one device tensor, when asked: batches are then gathered on the device
  const onDevice = o.deviceData
    ? tf.tidy(() => ({
        x: tf.div(tf.tensor4d(train.pixels, [train.n, train.height, train.width, train.channels], 'int32'), 255) as tf.Tensor4D,
        y: tf.tensor1d(train.labels, 'int32'),
      }))
    : null;
  // the epoch's loss and hit sums, on the device
  const acc = tf.tidy(() => ({ loss: tf.variable(tf.scalar(0), false), hits: tf.variable(tf.scalar(0), false) }));
  // on webgpu, a training step recorded once and replayed (backend/webgpu-replay.ts)
  // (not where augmentation runs on the device: its random draws would be recorded once and repeated)
  let recorder =
    tf.getBackend() === 'webgpu' && settings().webgpuReplay && !(o.augment && (onDevice || !o.augment.pixels)) ? new StepRecorder() : null;
  let replay: ReplayedStep | null = null;
  let replayed = 0;
  let replayRefused: string | null = null;
  try {
    for (let epoch = start; epoch < o.epochs; epoch++) {
      const rand = rng(o.seed * 1000003 + epoch);
      const order: number[] = [];
      for (let q = 0; q < passes; q++)
        order.push(
          ...shuffle(
            Array.from({ length: train.n }, (_, i) => i),
            rand,
          ),
        );
      const bar = new Progress(
        `${o.label ?? model.name} epoch ${epoch + 1}/${o.epochs}${passes > 1 ? ` (${passes} passes)` : ''}`,
        perEpoch,
        {
          unit: 'img',
          silent: o.progress === false ? true : undefined,
        },
      );
      const te = performance.now();
      let lossSum = 0,
        correct = 0,
        seen = 0;
      // loss and hit counts accumulate on the device (the epoch's sums) and are read every `readEvery` steps: a
      // read per step would stall a GPU pipeline (and webgpu has no fast synchronous read)
      tf.tidy(() => {
        acc.loss.assign(tf.scalar(0));
        acc.hits.assign(tf.scalar(0));
      });
      let pendingImgs = 0;
      const readEvery = 20;
      const flush = async () => {
        const [l, h] = await Promise.all([acc.loss.data(), acc.hits.data()]);
        lossSum = l[0];
        correct = h[0];
        if (!Number.isFinite(l[0]))
          throw new FitError(
            `training diverged in epoch ${epoch + 1}: the loss is ${l[0]}; lower the learning rate (--lr, or --set train.lr=...)`,
          );
        bar.set({ loss: lossSum / Math.max(1, seen), acc: correct / Math.max(1, seen) }).tick(pendingImgs);
        pendingImgs = 0;
      };
      for (let s = 0; s < stepsPerEpoch; s++) {
        const idx = order.slice(s * o.batchSize, (s + 1) * o.batchSize);
        const lr = lrAt(o, epoch * stepsPerEpoch + s, totalSteps);
        opt.learningRate = lr;
        const step = epoch * stepsPerEpoch + s; // dropout masks by step: a resumed run draws the same ones
        // the batch as host arrays (augmented as pixels where the augmentation can), or gathered on the device
        let host: { data: Float32Array; y: Int32Array } | null = null;
        if (!onDevice) {
          host = gatherPixels(train, idx);
          o.augment?.pixels?.(host.data, idx.length, train.height, train.width, train.channels, rand);
        }
        const full = idx.length === o.batchSize;
        if (replay && full && replay.ready()) {
          replay.run(step, host ? { x: host.data, y: host.y } : { idx: Int32Array.from(idx) });
          replayed++;
        } else {
          const oneStep = (): tf.Tensor =>
            tf.tidy(() => {
              let raw: tf.Tensor4D, labels: tf.Tensor1D;
              if (onDevice) {
                const it = feed('idx', tf.tensor1d(idx, 'int32'));
                raw = tf.gather(onDevice.x, it);
                labels = tf.gather(onDevice.y, it) as tf.Tensor1D;
              } else {
                // feeds: a step replayed on the GPU writes its own batch into them
                raw = feed('x', tf.tensor4d(host!.data, [idx.length, train.height, train.width, train.channels]));
                labels = feed('y', tf.tensor1d(host!.y, 'int32'));
              }
              const x = o.augment && (onDevice || !o.augment.pixels) ? o.augment(raw, rand) : raw;
              let hits: tf.Scalar | null = null;
              const loss = opt.minimize(
                () => {
                  const logits = execute(model, x, { training: true, step }) as tf.Tensor2D;
                  hits = tf.keep(tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), labels), 'float32')) as tf.Scalar);
                  const oh = tf.oneHot(labels, classes);
                  return softmaxCrossEntropy(oh, logits, o.labelSmoothing);
                },
                true,
                model.trainableWeights.map((w) => w.read() as tf.Variable),
              ) as tf.Scalar; // this model's trainable weights only
              if (o.weightDecay > 0) {
                const decay = (k: number) => Float32Array.of(1 - lrAt(o, k, totalSteps) * o.weightDecay);
                const f = feed('decay', tf.scalar(decay(step)[0]), decay);
                for (const k of kernels) k.write(tf.mul(k.read(), f));
              }
              acc.loss.assign(tf.add(acc.loss, tf.mul(loss, idx.length)));
              acc.hits.assign(tf.add(acc.hits, hits as unknown as tf.Scalar));
              (hits as unknown as tf.Scalar).dispose(); // kept through minimize's scope
              return loss;
            });
          // on webgpu, two consecutive steps of one epoch recorded, then the step replayed: after the run's first two
          // steps, and not an epoch's first (its loss sums start anew)
          const record = recorder && full && s >= 1 && step >= start * stepsPerEpoch + 2;
          if (!record) recorder?.forget();
          (record ? recorder!.run(oneStep) : oneStep()).dispose();
          if (recorder?.result) {
            replay = recorder.result.replay;
            if (!replay) {
              replayRefused = recorder.result.why ?? null;
              if (settings().debug) process.stderr.write(`bowcnn: webgpu: training through tfjs at every step: ${replayRefused}\n`);
            }
            recorder = null;
          }
        }
        seen += idx.length;
        pendingImgs += idx.length;
        if ((s + 1) % readEvery === 0 || s === stepsPerEpoch - 1) await flush();
        await checkpoint(); // Ctrl-C stops between steps; the last epoch's checkpoint stays whole
      }
      bar.end();
      const seconds = (performance.now() - te) / 1000;
      const valAccuracy = o.validation ? await accuracyOf(model, o.validation, { flip: o.evalFlip }) : null;
      const rec: EpochRecord = {
        epoch,
        loss: lossSum / seen,
        trainAccuracy: correct / seen,
        valAccuracy,
        lr: opt.learningRate,
        seconds,
        imagesPerSec: perEpoch / seconds,
      };
      history.push(rec);
      o.onEpoch?.(rec);
      const score = valAccuracy ?? rec.trainAccuracy;
      if (score > best) {
        best = score;
        bestEpoch = epoch;
        bad = 0;
      } else bad++;
      if (o.checkpointDir) await saveCheckpoint(o.checkpointDir, { key, epoch, history, best, bestEpoch, bad }, model, opt);
      if (epoch === o.epochs - 1) break;
      if (o.patience > 0 && bad >= o.patience) {
        stopReason = 'patience';
        break;
      }
      if (o.targetAccuracy !== undefined && score >= o.targetAccuracy) {
        stopReason = 'target-accuracy';
        break;
      }
      if (o.maxSeconds !== undefined && (performance.now() - t0) / 1000 >= o.maxSeconds) {
        stopReason = 'max-seconds';
        break;
      }
    }
  } finally {
    replay?.dispose();
    tf.dispose([acc.loss, acc.hits]);
    opt.dispose();
    if (onDevice) tf.dispose([onDevice.x, onDevice.y]);
  }
  const seconds = history.reduce((a, r) => a + r.seconds, 0);
  const imgs = history.reduce((a, r) => a + r.imagesPerSec * r.seconds, 0);
  return {
    epochs: history,
    seconds,
    imagesPerSec: imgs / Math.max(1e-9, seconds),
    resumedFromEpoch,
    stoppedEarly: stopReason !== null,
    stopReason,
    epochsPlanned: o.epochs,
    bestEpoch,
    epochsRun: history.length - start,
    ...(replayed > 0 || replayRefused ? { replay: { steps: replayed, refused: replayRefused } } : {}),
  };
}
