// Dense SIFT images/s at one thread, VLFeat's form (bilinear orientations, triangle cells, flat window):
// 28x28 bin 4 step 2, 28x28 bin 2 step 1, 256x256 bin 8 step 4, at batch 1, 64 and 512, through the
// pipeline's execution (the one native pass where the addon is built, else the stages on wasm); peak memory;
// and VLFeat's vl_dsift on the same images when gcc and libvlfeat-dev are present, with the ratio.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../src/backend/index.js';
import { dataset } from '../src/data/registry.js';
import { batchTensor } from '../src/data/split.js';
import { nativeKernelsActive, setNativeThreads } from '../src/backend/native.js';
import { runStages } from '../src/passes/bow.js';
import { denseSiftStages } from '../src/stages/dsift.js';
import { table, withPeakMemory } from './util.js';

function vlfeatRate(images: Float32Array, n: number, h: number, w: number, bin: number, step: number): number | null {
  if (!existsSync('/usr/include/vl/dsift.h')) return null;
  const dir = mkdtempSync(join(tmpdir(), 'vlbench-'));
  execFileSync('gcc', [
    '-O2',
    '-o',
    join(dir, 'dsift'),
    join(import.meta.dirname, '..', 'fixtures', 'make', 'vlfeat_dsift.c'),
    '-lvl',
    '-lm',
  ]);
  const parts: Buffer[] = [Buffer.from(Int32Array.of(n).buffer)];
  for (let i = 0; i < n; i++) {
    parts.push(Buffer.from(Int32Array.of(h, w).buffer));
    parts.push(Buffer.from(images.buffer, images.byteOffset + i * h * w * 4, h * w * 4));
  }
  const out = execFileSync(join(dir, 'dsift'), [String(bin), String(step), 'time'], { input: Buffer.concat(parts) })
    .toString()
    .trim()
    .split(' ');
  return Number(out[0]) / Number(out[1]);
}

export async function run(): Promise<Record<string, unknown>> {
  await useBackend('wasm', { threads: 1 });
  setNativeThreads(1);
  const path = nativeKernelsActive() ? 'one native pass' : 'stages on wasm';
  const mnist = await dataset('mnist', { subset: 2048, seed: 0 });
  const rows: Record<string, unknown>[] = [];
  const configs = [
    { name: '28x28 bin 4 step 2', size: 28, bin: 4, step: 2, batches: [1, 64, 512] },
    { name: '28x28 bin 2 step 1', size: 28, bin: 2, step: 1, batches: [1, 64, 512] },
    { name: '256x256 bin 8 step 4', size: 256, bin: 8, step: 4, batches: [1, 64] },
  ];
  for (const c of configs) {
    const stages = denseSiftStages({ size: c.bin, step: c.step, mode: 'bilinear', window: 'triangle' });
    const total = c.size === 28 ? 2048 : 64;
    // 28x28: MNIST digits; 256x256: MNIST digits upsampled (bilinear), so the gradients are real
    const all =
      c.size === 28
        ? batchTensor(mnist.train, 0, total)
        : tf.tidy(() => tf.image.resizeBilinear(batchTensor(mnist.train, 0, total), [256, 256]));
    const allData = all.dataSync() as Float32Array;
    for (const b of c.batches) {
      // the batches cut beforehand: what is timed is dense SIFT and reading its descriptors back
      const batches: tf.Tensor4D[] = [];
      for (let i = 0; i + b <= total; i += b) batches.push(tf.slice(all, [i, 0, 0, 0], [b, c.size, c.size, 1]));
      const run1 = async (sample?: () => void) => {
        for (const x of batches) {
          const d = await runStages(stages, x);
          d.dataSync();
          sample?.();
          d.dispose();
        }
      };
      await run1(); // warm-up: XNNPACK operators are created on first use
      const {
        value: sec,
        peakRssMB,
        peakTfMB,
      } = await withPeakMemory(async (sample) => {
        const t = performance.now();
        await run1(sample);
        return (performance.now() - t) / 1000;
      });
      tf.dispose(batches);
      const n = Math.floor(total / b) * b;
      rows.push({
        config: c.name,
        path,
        batch: b,
        imgPerSec: Math.round(n / sec),
        peakRssMB: Math.round(peakRssMB),
        peakTensorMB: Math.round(peakTfMB),
      });
    }
    const vl = vlfeatRate(allData, total, c.size, c.size, c.bin, c.step);
    rows.push({ config: c.name, path: 'VLFeat 0.9 vl_dsift (C)', batch: 1, imgPerSec: vl === null ? 'n/a' : Math.round(vl) });
    if (vl !== null)
      for (const r of rows.filter((r) => r.config === c.name && typeof r.batch === 'number' && r.path === path))
        r.vsVLFeat = +(Number(r.imgPerSec) / vl).toFixed(2);
    all.dispose();
  }
  table(rows);
  return { rows };
}
