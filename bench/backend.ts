// LeNet-5 (modern) training and inference images/s on wasm and cpu, and the time of bowcnn's wasm
// Conv2DBackpropFilter against the cpu backend's, at LeNet-5's shapes, batch 128.
import * as tf from '@tensorflow/tfjs';
import { useBackend, backendInfo } from '../src/backend/index.js';
import { conv2dFilterGrad } from '../src/backend/wasm-kernels.js';
import { lenet5 } from '../src/cnn/lenet5.js';
import { predictSplit, trainModel } from '../src/cnn/train.js';
import { dataset } from '../src/data/registry.js';
import { subset } from '../src/data/split.js';
import { table, timeIt } from './util.js';

export async function run(): Promise<Record<string, unknown>> {
  const ds = await dataset('mnist');
  const rows: Record<string, unknown>[] = [];
  for (const b of ['wasm', 'cpu'] as const) {
    await useBackend(b);
    const n = b === 'wasm' ? 10240 : 512; // the cpu backend is ~50x slower: a shorter run
    const train = subset(ds.train, n, 0);
    const m = lenet5({ seed: 0 });
    await trainModel(m, subset(ds.train, 256, 1), { epochs: 1, batchSize: 128, progress: false }); // warm-up
    const fit = await trainModel(m, train, { epochs: 1, batchSize: 128, progress: false });
    const test = subset(ds.test, b === 'wasm' ? 10000 : 1000, 0);
    const t = performance.now();
    await predictSplit(m, test, 500);
    const infer = test.n / ((performance.now() - t) / 1000);
    rows.push({
      backend: b,
      device: backendInfo().device,
      threads: backendInfo().threads,
      trainImages: n,
      trainImgPerSec: Math.round(fit.imagesPerSec),
      inferImgPerSec: Math.round(infer),
    });
    m.dispose();
  }
  table(rows);
  // the kernel alone
  const kernels: Record<string, unknown>[] = [];
  const shapes = [
    { layer: 'C1', x: [128, 28, 28, 1], f: [5, 5, 1, 6], pad: 'same' },
    { layer: 'C3', x: [128, 14, 14, 6], f: [5, 5, 6, 16], pad: 'valid' },
  ] as const;
  for (const s of shapes) {
    const row: Record<string, unknown> = { layer: s.layer, x: s.x.join('x'), filter: s.f.join('x') };
    for (const b of ['wasm', 'cpu'] as const) {
      await useBackend(b);
      const x = tf.randomUniform(s.x as unknown as [number, number, number, number]) as tf.Tensor4D;
      const info = tf.backend_util.computeConv2DInfo(
        s.x as unknown as [number, number, number, number],
        s.f as unknown as [number, number, number, number],
        1,
        1,
        s.pad,
      );
      const dy = tf.randomUniform(info.outShape) as tf.Tensor4D;
      const sec = await timeIt(
        () => {
          const g = conv2dFilterGrad(x, dy, s.f as unknown as [number, number, number, number], 1, s.pad);
          g.dataSync();
          g.dispose();
        },
        b === 'cpu' ? 3 : 20,
      );
      row[`${b}Ms`] = +(sec * 1000).toFixed(2);
      tf.dispose([x, dy]);
    }
    row.speedup = +((row.cpuMs as number) / (row.wasmMs as number)).toFixed(1);
    kernels.push(row);
  }
  table(kernels);
  return { lenet5: rows, conv2DBackpropFilter: kernels };
}
