// The host's cost of a training step on the webgpu backend (npm run bench -- webgpu-host): the JavaScript
// main-thread time to record one step (from the call to the optimizer's minimize until it returns, the GPU's
// work not awaited) for LeNet-5 and alexnet-small at batch 128, and per step the compute dispatches, the
// buffers created, the bind groups created and the queue submissions, counted by wrapping the GPUDevice that
// tfjs-webgpu holds. Runs on whatever adapter Dawn finds (the software one on a machine without a GPU): the host
// time is the JavaScript's, whatever the GPU. Each step waits for the previous one's loss, so that the recording
// of one step is timed alone. BOWCNN_BENCH_STEPS (default 10, after 3 warm-up steps) chooses.
import * as tf from '@tensorflow/tfjs';
import { backendInfo, useBackend } from '../src/backend/index.js';
import { softmaxCrossEntropy } from '../src/backend/fused-ops.js';
import { adam } from '../src/cnn/adam.js';
import { alexnetSmall } from '../src/cnn/alexnet.js';
import { lenet5 } from '../src/cnn/lenet5.js';
import { execute } from '../src/passes/cnn.js';
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

async function measure(name: string, model: tf.LayersModel, c: Counts, steps: number) {
  const opt = adam(1e-3);
  const b = 128;
  const [h, w, ch] = model.inputs[0].shape.slice(1) as number[];
  const x = tf.randomUniform([b, h, w, ch]) as tf.Tensor4D;
  const y = tf.oneHot(tf.randomUniform([b], 0, 10, 'int32') as tf.Tensor1D, 10);
  const vars = model.trainableWeights.map((v) => v.read() as tf.Variable);
  const host: number[] = [];
  const js: number[] = [];
  const per: Counts[] = [];
  for (let s = 0; s < steps + 3; s++) {
    const before = { ...c };
    const t0 = performance.now();
    const loss = opt.minimize(() => softmaxCrossEntropy(y, execute(model, x, { training: true, step: s }) as tf.Tensor2D, 0), true, vars);
    const t1 = performance.now();
    await (loss as tf.Scalar).data();
    loss?.dispose();
    if (s >= 3) {
      host.push(t1 - t0);
      js.push(t1 - t0 - (c.inQueue - before.inQueue));
      per.push({
        dispatches: c.dispatches - before.dispatches,
        buffers: c.buffers - before.buffers,
        bindGroups: c.bindGroups - before.bindGroups,
        submits: c.submits - before.submits,
        inQueue: c.inQueue - before.inQueue,
      });
    }
  }
  tf.dispose([x, y]);
  opt.dispose();
  host.sort((a, z) => a - z);
  js.sort((a, z) => a - z);
  const mean = (k: keyof Counts) => per.reduce((a, p) => a + p[k], 0) / per.length;
  return {
    model: name,
    'JS ms (median)': +js[Math.floor(js.length / 2)].toFixed(2),
    'JS ms (min)': +js[0].toFixed(2),
    'step call ms (median, queue included)': +host[Math.floor(host.length / 2)].toFixed(2),
    dispatches: mean('dispatches'),
    'buffers created': mean('buffers'),
    'bind groups': mean('bindGroups'),
    submits: mean('submits'),
  };
}

export async function run(): Promise<Record<string, unknown>> {
  await useBackend('webgpu');
  const steps = Number(process.env.BOWCNN_BENCH_STEPS ?? 10);
  const c: Counts = { dispatches: 0, buffers: 0, bindGroups: 0, submits: 0, inQueue: 0 };
  instrument((tf.backend() as unknown as { device: Record<string, (...a: unknown[]) => unknown> }).device, c);
  const rows = [
    await measure('LeNet-5 (modern), batch 128', lenet5({ inputShape: [28, 28, 1] }), c, steps),
    await measure('alexnet-small, batch 128', alexnetSmall({ inputShape: [28, 28, 1] }), c, steps),
  ];
  table(rows);
  return { backend: backendInfo(), steps, rows, goals: { lenet5HostMs: 3, alexnetHostMs: 6 } };
}
