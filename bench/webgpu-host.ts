// The host's cost of a training step on the webgpu backend (npm run bench -- webgpu-host): the JavaScript
// main-thread time of one step for LeNet-5 and alexnet-small at batch 128, two ways: through tfjs (from the call
// to the optimizer's minimize until it returns, the GPU's work not awaited), and recorded once and replayed
// (backend/webgpu-replay.ts: the batch and the optimizer's numbers written, the dispatches encoded and
// submitted). Per step also the compute dispatches, the buffers created, the bind groups created and the queue
// submissions, counted by wrapping the GPUDevice that tfjs-webgpu holds. Runs on whatever adapter Dawn finds
// (the software one on a machine without a GPU): the time inside queue.submit and queue.writeBuffer, where a
// software adapter does the GPU's work, is taken out. Each step waits for the previous one's loss, so that each
// is timed alone. BOWCNN_BENCH_STEPS (default 10, after 3 warm-up steps) chooses.
import * as tf from '@tensorflow/tfjs';
import { backendInfo, useBackend } from '../src/backend/index.js';
import { softmaxCrossEntropy } from '../src/backend/fused-ops.js';
import { adam } from '../src/cnn/adam.js';
import { alexnetSmall } from '../src/cnn/alexnet.js';
import { lenet5 } from '../src/cnn/lenet5.js';
import { recordStep } from '../src/backend/webgpu-replay.js';
import { rng } from '../src/core/random.js';
import { execute } from '../src/passes/cnn.js';
import { feed } from '../src/passes/feeds.js';
import { table } from './util.js';

interface Counts {
  dispatches: number;
  buffers: number;
  bindGroups: number;
  submits: number;
  /** ms spent inside queue.submit and queue.writeBuffer: on a software adapter the GPU's work runs there */
  inQueue: number;
}

/** Wraps the device's calls that a step makes, counting them into `c`. */
function instrument(device: Record<string, (...a: unknown[]) => unknown>, c: Counts): void {
  const wrap = (obj: Record<string, (...a: unknown[]) => unknown>, name: string, after: (r: unknown) => void) => {
    const f = obj[name].bind(obj);
    obj[name] = (...a: unknown[]) => {
      const r = f(...a);
      after(r);
      return r;
    };
  };
  wrap(device, 'createBuffer', () => c.buffers++);
  wrap(device, 'createBindGroup', () => c.bindGroups++);
  const queue = device.queue as unknown as Record<string, (...a: unknown[]) => unknown>;
  for (const name of ['submit', 'writeBuffer']) {
    const f = queue[name].bind(queue);
    queue[name] = (...a: unknown[]) => {
      const t = performance.now();
      const r = f(...a);
      c.inQueue += performance.now() - t;
      if (name === 'submit') c.submits++;
      return r;
    };
  }
  wrap(device, 'createCommandEncoder', (enc) => {
    const e = enc as Record<string, (...a: unknown[]) => unknown>;
    wrap(e, 'beginComputePass', (pass) => {
      wrap(pass as Record<string, (...a: unknown[]) => unknown>, 'dispatchWorkgroups', () => c.dispatches++);
    });
  });
}

interface Timing {
  js: number[];
  host: number[];
  per: Counts[];
}

function summary(t: Timing) {
  const med = (a: number[]) => [...a].sort((p, q) => p - q)[Math.floor(a.length / 2)];
  const mean = (k: keyof Counts) => t.per.reduce((a, p) => a + p[k], 0) / t.per.length;
  return {
    'JS ms (median)': +med(t.js).toFixed(2),
    'JS ms (min)': +Math.min(...t.js).toFixed(2),
    'step call ms (median, queue included)': +med(t.host).toFixed(2),
    dispatches: mean('dispatches'),
    'buffers created': mean('buffers'),
    'bind groups': mean('bindGroups'),
    submits: mean('submits'),
  };
}

/**
 * Times `call` `steps` times after 3 warm-up calls, the GPU's work awaited (`wait`) after each, so that each is
 * timed alone; the counts are the device calls in between.
 */
async function timed(c: Counts, steps: number, call: () => void, wait: () => Promise<void>): Promise<Timing> {
  const t: Timing = { js: [], host: [], per: [] };
  for (let k = 0; k < steps + 3; k++) {
    const before = { ...c };
    const t0 = performance.now();
    call();
    const t1 = performance.now();
    await wait();
    if (k < 3) continue;
    t.host.push(t1 - t0);
    t.js.push(t1 - t0 - (c.inQueue - before.inQueue));
    t.per.push({
      dispatches: c.dispatches - before.dispatches,
      buffers: c.buffers - before.buffers,
      bindGroups: c.bindGroups - before.bindGroups,
      submits: c.submits - before.submits,
      inQueue: c.inQueue - before.inQueue,
    });
  }
  return t;
}

/** A training step through tfjs, then the same step recorded and replayed (backend/webgpu-replay.ts). */
async function measure(name: string, model: tf.LayersModel, c: Counts, steps: number) {
  const opt = adam(1e-3);
  const b = 128;
  const [h, w, ch] = model.inputs[0].shape.slice(1) as number[];
  const r = rng(1);
  const xs = Float32Array.from({ length: b * h * w * ch }, () => r());
  const ys = new Float32Array(b * 10);
  for (let i = 0; i < b; i++) ys[i * 10 + Math.floor(r() * 10)] = 1;
  const vars = model.trainableWeights.map((v) => v.read() as tf.Variable);
  let s = 0;
  const step = () =>
    opt.minimize(
      () => {
        const x = feed('x', tf.tensor4d(xs, [b, h, w, ch]));
        const y = feed('y', tf.tensor2d(ys, [b, 10]));
        return softmaxCrossEntropy(y, execute(model, x, { training: true, step: s++ }) as tf.Tensor2D, 0);
      },
      true,
      vars,
    ) as tf.Scalar;
  let loss: tf.Scalar | null = null;
  const tfjs = await timed(
    c,
    steps,
    () => {
      loss = step();
    },
    async () => {
      await loss!.data();
      loss!.dispose();
    },
  );
  const rec = await recordStep(step);
  const rows: Record<string, unknown>[] = [{ model: name, step: 'through tfjs', ...summary(tfjs) }];
  if (!rec.replay) {
    rows.push({ model: name, step: `replay: ${rec.why}` });
  } else {
    const replay = rec.replay;
    const rep = await timed(
      c,
      steps,
      () => replay.run(s++, { x: xs, y: ys }),
      async () => {
        await replay.read();
      },
    );
    rows.push({ model: name, step: 'recorded once, replayed', ...summary(rep), 'replay buffers MB': +(replay.bytes / 1e6).toFixed(1) });
    replay.dispose();
  }
  opt.dispose();
  return rows;
}

export async function run(): Promise<Record<string, unknown>> {
  await useBackend('webgpu');
  const steps = Number(process.env.BOWCNN_BENCH_STEPS ?? 10);
  const c: Counts = { dispatches: 0, buffers: 0, bindGroups: 0, submits: 0, inQueue: 0 };
  instrument((tf.backend() as unknown as { device: Record<string, (...a: unknown[]) => unknown> }).device, c);
  const rows = [
    ...(await measure('LeNet-5 (modern), batch 128', lenet5({ inputShape: [28, 28, 1] }), c, steps)),
    ...(await measure('alexnet-small, batch 128', alexnetSmall({ inputShape: [28, 28, 1] }), c, steps)),
  ];
  table(rows);
  return { backend: backendInfo(), steps, rows, goals: { lenet5HostMs: 3, alexnetHostMs: 6 } };
}
