// A training step recorded once and replayed on webgpu (Dawn; the software adapter in CI) computes what the
// same steps through tfjs compute: the same weights, moments, batch-norm statistics and losses, bit for bit,
// with dropout masks, a learning rate that changes at every step, and a batch that changes at every step. A
// step whose values change without being feeds is refused, with the reason.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { webgpuAdapter } from './adapter.js';
import { useBackend } from '../../src/backend/index.js';
import { softmaxCrossEntropy } from '../../src/backend/fused-ops.js';
import { recordStep } from '../../src/backend/webgpu-replay.js';
import { adam } from '../../src/cnn/adam.js';
import { trainModel } from '../../src/cnn/train.js';
import { vgg } from '../../src/cnn/vgg.js';
import { rng } from '../../src/core/random.js';
import { configure } from '../../src/core/settings.js';
import { dataset } from '../../src/data/registry.js';
import { execute } from '../../src/passes/cnn.js';
import { feed } from '../../src/passes/feeds.js';

const available = await webgpuAdapter('webgpu replay tests');

const B = 16;
const STEPS = 8;

/** A small CNN with every kind of state a step changes: conv, batch norm (moving statistics), dropout, dense. */
const small = () => vgg({ widths: [4, 8], convs: 1, fc: 16, dropout: 0.3, seed: 3 });

function batches(seed: number) {
  const r = rng(seed);
  return Array.from({ length: STEPS }, () => {
    const x = Float32Array.from({ length: B * 784 }, () => r());
    const y = new Int32Array(B);
    for (let i = 0; i < B; i++) y[i] = Math.floor(r() * 10);
    return { x, y };
  });
}

describe.skipIf(!available)('a training step recorded and replayed on webgpu', () => {
  it('gives the weights, moments, statistics and losses of the same steps through tfjs, bit for bit', async () => {
    await useBackend('webgpu', { allowSoftware: true });
    const data = batches(5);
    const lrAt = (s: number) => 1e-3 * (1 + 0.2 * s);
    const stepOf = (model: tf.LayersModel, opt: ReturnType<typeof adam>, at: () => number) => () => {
      const s = at();
      (opt as unknown as { learningRate: number }).learningRate = lrAt(s);
      return opt.minimize(
        () => {
          const x = feed('x', tf.tensor4d(data[s].x, [B, 28, 28, 1]));
          const y = feed('y', tf.tensor1d(data[s].y, 'int32'));
          return softmaxCrossEntropy(tf.oneHot(y, 10), execute(model, x, { training: true, step: s }) as tf.Tensor2D, 0.05);
        },
        true,
        model.trainableWeights.map((w) => w.read() as tf.Variable),
      ) as tf.Scalar;
    };
    // the reference: every step through tfjs
    const ref = small();
    const refOpt = adam(1e-3);
    const refLoss: number[] = [];
    for (let s = 0; s < STEPS; s++) {
      const l = stepOf(ref, refOpt, () => s)();
      refLoss.push((await l.data())[0]);
      l.dispose();
    }
    // the same: two steps through tfjs, two recorded, the rest replayed
    const m = small();
    const opt = adam(1e-3);
    let s = 0;
    for (; s < 2; s++) stepOf(m, opt, () => s)().dispose();
    const rec = await recordStep(stepOf(m, opt, () => s++));
    expect(rec.why).toBeUndefined();
    const replay = rec.replay!;
    expect(replay.feedNames.sort()).toEqual(['adam', 'dropout:0', 'dropout:1', 'x', 'y']); // two dropouts in the fc head
    const losses: number[] = [];
    for (; s < STEPS; s++) {
      (opt as unknown as { learningRate: number }).learningRate = lrAt(s);
      replay.run(s, { x: data[s].x, y: data[s].y });
      losses.push((await replay.read())[0]);
    }
    expect(losses).toEqual(refLoss.slice(4));
    expect(opt.iterations).toBe(refOpt.iterations);
    // every weight (batch norm's moving statistics included) and Adam's moments and beta powers
    const values = async (ws: tf.Tensor[]) => Promise.all(ws.map((w) => w.data()));
    const [a, b] = [await values(ref.weights.map((w) => w.read())), await values(m.weights.map((w) => w.read()))];
    expect(a.length).toBeGreaterThan(8);
    for (let i = 0; i < a.length; i++) expect(Array.from(b[i])).toEqual(Array.from(a[i]));
    type Betas = { accBeta1: tf.Variable; accBeta2: tf.Variable };
    for (const k of ['accBeta1', 'accBeta2'] as const)
      expect(await (opt as unknown as Betas)[k].data()).toEqual(await (refOpt as unknown as Betas)[k].data());
    const [oa, ob] = [await refOpt.getWeights(), await opt.getWeights()];
    expect(ob.length).toBe(oa.length);
    for (let i = 0; i < oa.length; i++) expect(Array.from(await ob[i].tensor.data())).toEqual(Array.from(await oa[i].tensor.data()));
    replay.dispose();
    tf.dispose([ref, m].flatMap((x) => x.weights.map((w) => w.read())));
    refOpt.dispose();
    opt.dispose();
  });

  it('refuses a step whose values change without being feeds, saying so', async () => {
    await useBackend('webgpu', { allowSoftware: true });
    const m = small();
    const opt = adam(1e-3);
    const data = batches(7);
    let s = 0;
    const step = () => {
      const k = s++ % STEPS;
      return opt.minimize(
        () => {
          // the batch is not marked as a feed: its upload changes from step to step
          const x = tf.tensor4d(data[k].x, [B, 28, 28, 1]);
          return softmaxCrossEntropy(
            tf.oneHot(tf.tensor1d(data[k].y, 'int32'), 10),
            execute(m, x, { training: true, step: k }) as tf.Tensor2D,
            0,
          );
        },
        true,
        m.trainableWeights.map((w) => w.read() as tf.Variable),
      ) as tf.Scalar;
    };
    step().dispose();
    const rec = await recordStep(step);
    expect(rec.replay).toBeNull();
    expect(rec.why).toMatch(/a queue write of \d+ bytes whose value changes from step to step and is not a feed/);
    opt.dispose();
  });

  it('is not ready while a tensor shares a variable it writes, nor once a tensor it reads (made before it, not a variable) is freed', async () => {
    await useBackend('webgpu', { allowSoftware: true });
    const w = tf.tidy(() => tf.variable(tf.ones([4, 3])));
    const c = tf.tensor2d([1, 2, 3, 4, 5, 6, 7, 8], [2, 4]); // read by every step, made before them
    const opt = adam(1e-2);
    let s = 0;
    const step = () =>
      opt.minimize(
        () => {
          const k = s++;
          const x = feed('x', tf.tensor2d([k, 1, 0, 2, 1, k, 3, 0], [2, 4]));
          return tf.sum(tf.square(tf.matMul(tf.add(x, c), w)));
        },
        true,
        [w],
      ) as tf.Scalar;
    await c.data();
    step().dispose();
    const rec = await recordStep(step);
    expect(rec.why).toBeUndefined();
    const replay = rec.replay!;
    expect(replay.ready()).toBe(true);
    const before = await w.data();
    replay.run(s, { x: Float32Array.of(s, 1, 0, 2, 1, s, 3, 0) });
    expect(Array.from(await w.data())).not.toEqual(Array.from(before)); // the replay updated the variable in place
    // a tensor sharing the variable's data (a clone): a replayed step would change it too
    const snapshot = tf.clone(w);
    expect(replay.ready()).toBe(false);
    snapshot.dispose();
    expect(replay.ready()).toBe(true);
    c.dispose();
    expect(replay.ready()).toBe(false);
    replay.dispose();
    w.dispose();
    opt.dispose();
  });

  it('trainModel replays its steps (batches from the host, or gathered on the device) to the losses and weights of training through tfjs', async () => {
    await useBackend('webgpu', { allowSoftware: true });
    const ds = await dataset('mnist', { subset: 360, testSubset: 50, seed: 0 });
    const train = async (replay: boolean, deviceData: boolean) => {
      configure({ webgpuReplay: replay });
      const m = small();
      const r = await trainModel(m, ds.train, {
        epochs: 2,
        batchSize: B,
        lr: 3e-3,
        schedule: 'onecycle',
        seed: 1,
        progress: false,
        weightDecay: 1e-2,
        deviceData,
        validation: ds.test,
      });
      const w = await Promise.all(m.weights.map((x) => x.read().data()));
      m.dispose();
      return { r, w };
    };
    try {
      for (const deviceData of [false, true]) {
        const through = await train(false, deviceData);
        const replayed = await train(true, deviceData);
        expect(through.r.replay).toBeUndefined();
        // 22 full batches and one of 8 an epoch (the sums read after steps 20 and 23): through tfjs go the first two
        // steps of the run, the first of the second epoch and each epoch's last; two are recorded
        expect(replayed.r.replay).toEqual({ steps: 44 - 2 - 2 - 1, refused: null });
        expect(replayed.r.epochs.map((e) => e.loss)).toEqual(through.r.epochs.map((e) => e.loss));
        expect(replayed.r.epochs.map((e) => e.valAccuracy)).toEqual(through.r.epochs.map((e) => e.valAccuracy));
        for (let i = 0; i < through.w.length; i++) expect(Array.from(replayed.w[i])).toEqual(Array.from(through.w[i]));
      }
    } finally {
      configure();
    }
  });
});
