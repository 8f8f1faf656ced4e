// The webgpu backend (Dawn): conv forward and gradients against cpu, a BoW feature batch against wasm,
// three LeNet-5 training steps, and a whole comparison (both halves, robustness, ablation, the report). On a machine where Dawn finds no adapter, the group says so and skips.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { webgpuAdapter } from './adapter.js';
import { describe, expect, it } from 'vitest';
import { tf, useBackend, backendInfo } from '../../src/backend/index.js';
import { columnSumGroups, filterGradSplits } from '../../src/backend/webgpu-kernels.js';
import { biasRelu } from '../../src/backend/fused-ops.js';
import { Adam, adam } from '../../src/cnn/adam.js';
import { lenet5 } from '../../src/cnn/lenet5.js';
import { coding } from '../../src/stages/coding.js';
import { applyStages, denseSiftStages } from '../../src/stages/dsift.js';
import { pooling } from '../../src/stages/pooling.js';
import { maxAbsDiff, randArray } from '../helpers.js';

const available = await webgpuAdapter('webgpu tests');

async function on<T>(name: 'cpu' | 'wasm' | 'webgpu', f: () => Promise<T>): Promise<T> {
  await useBackend(name, { allowSoftware: true });
  return f();
}

describe.skipIf(!available)('webgpu backend', () => {
  it('names its adapter', async () => {
    await useBackend('webgpu', { allowSoftware: true });
    expect(backendInfo().name).toBe('webgpu');
    expect(backendInfo().device).toMatch(/WebGPU on /);
  });

  it('conv2d forward and both gradients match the cpu backend', async () => {
    const x = randArray(2 * 12 * 10 * 3, 1),
      w = randArray(3 * 3 * 3 * 5, 2);
    const run = async () => {
      const xt = tf.tensor4d(x, [2, 12, 10, 3]),
        wt = tf.tensor4d(w, [3, 3, 3, 5]);
      const f = (a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.square(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, [2, 1], 'same')));
      const [gx, gw] = tf.grads(f)([xt, wt]);
      const y = tf.conv2d(xt, wt, [2, 1], 'same');
      const out = [...(await y.data()), ...(await gx.data()), ...(await gw.data())];
      tf.dispose([xt, wt, gx, gw, y]);
      return out;
    };
    const cpu = await on('cpu', run),
      gpu = await on('webgpu', run);
    const scale = Math.max(...cpu.map(Math.abs));
    expect(maxAbsDiff(gpu, cpu) / scale).toBeLessThan(1e-4);
  });

  it('the batch-split filter gradient matches a plain loop, split or not, and frees its partial sums', async () => {
    // [N,H,W,Ci], [KH,KW,Ci,Co], stride, pad: N = 1 runs unsplit; N = 40 with a small filter splits the batch
    const cases: [number[], number[], number, 'same' | 'valid'][] = [
      [[1, 9, 7, 2], [3, 3, 2, 4], 1, 'same'],
      [[40, 12, 10, 1], [5, 5, 1, 3], 2, 'valid'],
      [[7, 11, 11, 3], [2, 3, 3, 2], 3, 'same'],
    ];
    await useBackend('webgpu', { allowSoftware: true });
    for (const [[n, h, w, ci], fs, s, pad] of cases) {
      const info = tf.backend_util.computeConv2DInfo([n, h, w, ci], fs as [number, number, number, number], s, 1, pad);
      const dyShape = [n, info.outHeight, info.outWidth, fs[3]];
      const x = randArray(n * h * w * ci, n),
        dy = randArray(
          dyShape.reduce((a, b) => a * b, 1),
          n + 1,
        );
      const ids = () => (tf.engine().backend as unknown as { numDataIds(): number }).numDataIds();
      const before = ids();
      const dw = tf.tidy(
        () =>
          tf
            .engine()
            .runKernel(
              'Conv2DBackpropFilter',
              { x: tf.tensor4d(x, [n, h, w, ci]), dy: tf.tensor(dy, dyShape) },
              { strides: s, pad, dataFormat: 'NHWC', filterShape: fs },
            ) as tf.Tensor,
      );
      const got = await dw.data();
      dw.dispose();
      expect(ids()).toBe(before);
      // plain loop: dW[kh,kw,c,o] = sum_{b,oy,ox} x[b, oy*s+kh-top, ox*s+kw-left, c] * dy[b,oy,ox,o]
      const [KH, KW, , CO] = fs,
        [, OH, OW] = dyShape,
        ref = new Float64Array(KH * KW * ci * CO);
      for (let b = 0; b < n; b++)
        for (let oy = 0; oy < OH; oy++)
          for (let ox = 0; ox < OW; ox++)
            for (let kh = 0; kh < KH; kh++)
              for (let kw = 0; kw < KW; kw++) {
                const iy = oy * s + kh - info.padInfo.top,
                  ix = ox * s + kw - info.padInfo.left;
                if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                for (let c = 0; c < ci; c++)
                  for (let o = 0; o < CO; o++)
                    ref[((kh * KW + kw) * ci + c) * CO + o] += x[((b * h + iy) * w + ix) * ci + c] * dy[((b * OH + oy) * OW + ox) * CO + o];
              }
      expect(maxAbsDiff(Array.from(got), Array.from(ref))).toBeLessThan(1e-3);
    }
    expect(filterGradSplits(1, 72).splits).toBe(1);
    const sp = filterGradSplits(40, 75);
    expect(sp.splits).toBeGreaterThan(1);
    expect(sp.splits * sp.perSplit).toBeGreaterThanOrEqual(40);
    expect((sp.splits - 1) * sp.perSplit).toBeLessThan(40);
  });

  it('Sum and Mean over leading axes (the batch-norm and bias reductions) match plain loops', async () => {
    await useBackend('webgpu', { allowSoftware: true });
    const ids = () => (tf.engine().backend as unknown as { numDataIds(): number }).numDataIds();
    // [N,H,W,C] reduced over [0,1,2] (R = 3000 rows: the two-pass path), over [0] and over [1,2] (stock paths)
    const shape = [30, 10, 10, 6],
      v = randArray(30 * 10 * 10 * 6, 9);
    const ref = (axes: number[]) => {
      const keep = [0, 1, 2, 3].filter((a) => !axes.includes(a)),
        out = new Map<string, number>();
      for (let i = 0; i < v.length; i++) {
        const c = [Math.floor(i / 600), Math.floor(i / 60) % 10, Math.floor(i / 6) % 10, i % 6];
        const key = keep.map((a) => c[a]).join(',');
        out.set(key, (out.get(key) ?? 0) + v[i]);
      }
      return [...out.values()];
    };
    for (const [axes, keepDims] of [
      [[0, 1, 2], false],
      [[0, 1, 2], true],
      [[0], false],
      [[1, 2], false],
    ] as [number[], boolean][]) {
      const before = ids();
      const [s, m] = tf.tidy(() => {
        const x = tf.tensor4d(v, shape as [number, number, number, number]);
        return [tf.sum(x, axes, keepDims), tf.mean(x, axes, keepDims)];
      });
      const r = ref(axes),
        count = axes.reduce((a, ax) => a * shape[ax], 1);
      expect(s.shape).toEqual(keepDims ? shape.map((d, i) => (axes.includes(i) ? 1 : d)) : shape.filter((_, i) => !axes.includes(i)));
      expect(maxAbsDiff(Array.from(await s.data()), r)).toBeLessThan(1e-3);
      expect(
        maxAbsDiff(
          Array.from(await m.data()),
          r.map((x) => x / count),
        ),
      ).toBeLessThan(1e-5);
      tf.dispose([s, m]);
      expect(ids()).toBe(before);
    }
    expect(columnSumGroups(3000, 6)).toBe(187);
  });

  it('uploads through the buffer pool keep values and dtypes (float view with offset, int32, bool, large)', async () => {
    await useBackend('webgpu', { allowSoftware: true });
    const base = new Float32Array(20).map((_, i) => i * 0.5 - 3);
    const view = new Float32Array(base.buffer, 8, 10); // starts at element 2
    const big = Float32Array.from(randArray(300_001, 11));
    const ints = Int32Array.from({ length: 7 }, (_, i) => i * 1000 - 3000);
    const bools = [true, false, false, true, true];
    const [a, b, c, d] = tf.tidy(() => [
      tf.add(tf.tensor1d(view), 0),
      tf.mul(tf.tensor1d(big), 2),
      tf.add(tf.tensor1d(ints, 'int32'), 1),
      tf.cast(tf.logicalNot(tf.tensor1d(bools, 'bool')), 'int32'),
    ]);
    expect(Array.from(await a.data())).toEqual(Array.from(view));
    expect(
      maxAbsDiff(
        Array.from(await b.data()),
        Array.from(big).map((v) => 2 * v),
      ),
    ).toBeLessThan(1e-6);
    expect(Array.from(await c.data())).toEqual(Array.from(ints).map((v) => v + 1));
    expect(Array.from(await d.data())).toEqual(bools.map((v) => (v ? 0 : 1)));
    tf.dispose([a, b, c, d]);
  });

  it('a BoW feature batch (dense SIFT, hard coding, pyramid pooling) matches wasm', async () => {
    const img = randArray(3 * 28 * 28, 3).map((v) => (v + 1) / 2);
    const cents = randArray(32 * 128, 4).map(Math.abs);
    const run = async () => {
      const cod = coding({ words: 32, mode: 'soft', beta: 2 });
      cod.setCentres(tf.tensor2d(cents, [32, 128]));
      const stages = [
        ...denseSiftStages({ size: 4, step: 2, mode: 'bilinear', window: 'triangle' }),
        cod,
        pooling({ op: 'sum', pyramid: [1, 2] }),
      ];
      const y = applyStages(stages, tf.tensor4d(img, [3, 28, 28, 1]));
      const v = Array.from(await y.data());
      y.dispose();
      return v;
    };
    const wasm = await on('wasm', run),
      gpu = await on('webgpu', run);
    expect(gpu.length).toBe(3 * 32 * 5);
    expect(maxAbsDiff(gpu, wasm) / Math.max(...wasm.map(Math.abs))).toBeLessThan(1e-3);
  });

  it('three LeNet-5 training steps: the loss falls, and the first loss matches wasm', async () => {
    const x = randArray(32 * 28 * 28, 5).map((v) => (v + 1) / 2);
    const y = Array.from({ length: 32 }, (_, i) => i % 10);
    const run = async () => {
      const m = lenet5({ seed: 4 });
      const opt = adam(3e-3); // bowcnn's: the fused kernels on both backends
      const xt = tf.tensor4d(x, [32, 28, 28, 1]),
        yt = tf.oneHot(tf.tensor1d(y, 'int32'), 10);
      const losses: number[] = [];
      for (let s = 0; s < 3; s++) {
        const l = opt.minimize(
          () => tf.losses.softmaxCrossEntropy(yt, m.apply(xt, { training: true }) as tf.Tensor) as tf.Scalar,
          true,
          m.trainableWeights.map((w) => w.read() as tf.Variable),
        );
        losses.push((await l!.data())[0]);
        l!.dispose();
      }
      tf.dispose([xt, yt]);
      m.dispose();
      opt.dispose();
      return losses;
    };
    const wasm = await on('wasm', run),
      gpu = await on('webgpu', run);
    expect(gpu[2]).toBeLessThan(gpu[0]);
    expect(wasm[2]).toBeLessThan(wasm[0]);
    expect(Math.abs(gpu[0] - wasm[0])).toBeLessThan(1e-3);
  });

  it('fused bias + ReLU (forward, dx, dbias) and Adam (3 dispatches a variable) match plain loops and tf.train.adam on cpu', async () => {
    await useBackend('webgpu', { allowSoftware: true });
    const shape = [5, 3, 3, 6],
      n = 270,
      C = 6;
    const xv = randArray(n, 1),
      bv = randArray(C, 2).map((v) => v / 4),
      cv = randArray(n, 3);
    const x = tf.tensor(xv, shape),
      b = tf.tensor1d(bv),
      c = tf.tensor(cv, shape);
    const y = await biasRelu(x, b).data();
    const want = Array.from(xv, (v, j) => Math.max(v + bv[j % C], 0));
    expect(maxAbsDiff(y, want)).toBeLessThan(1e-6);
    const [gx, gb] = tf.grads((xx: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.mul(biasRelu(xx, bb), c)))([x, b]);
    const wantDx = Array.from(cv, (v, j) => (want[j] > 0 ? v : 0)),
      wantDb = new Array(C).fill(0);
    wantDx.forEach((v, j) => {
      wantDb[j % C] += v;
    });
    expect(maxAbsDiff(await gx.data(), wantDx)).toBe(0);
    expect(maxAbsDiff(await gb.data(), wantDb)).toBeLessThan(1e-5);
    tf.dispose([x, b, c, gx, gb]);

    const steps = async (backend: 'cpu' | 'webgpu', make: () => tf.Optimizer) =>
      on(backend, async () => {
        const w = tf.variable(tf.tensor1d(randArray(37, 4)), true, `gpu_adam_${backend}`);
        const opt = make() as tf.Optimizer & { learningRate: number };
        for (let s = 0; s < 4; s++) {
          opt.learningRate = [1e-2, 3e-2, 5e-3, 1e-2][s];
          const g = tf.tensor1d(randArray(37, 40 + s));
          opt.applyGradients({ [w.name]: g } as never);
          g.dispose();
        }
        const v = Array.from(await w.data());
        w.dispose();
        opt.dispose();
        return v;
      });
    const ref = await steps('cpu', () => tf.train.adam(1e-2));
    const got = await steps('webgpu', () => new Adam(1e-2));
    expect(maxAbsDiff(got, ref)).toBeLessThan(2e-6);
    const names = await on('webgpu', async () => {
      const w = tf.variable(tf.zeros([8]));
      const opt = new Adam(1e-2);
      const p = await tf.profile(() => {
        const g = tf.ones([8]);
        opt.applyGradients({ [w.name]: g } as never);
        g.dispose();
      });
      w.dispose();
      opt.dispose();
      return p.kernels.map((k) => k.name);
    });
    expect(names).toContain('BowcnnAdam');
    expect(names).not.toContain('Sqrt');
  });

  it('runs compare end to end: both halves, robustness, ablation and the report', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'bowcnn-webgpu-')), 'run');
    const root = resolve(import.meta.dirname, '..', '..');
    const r = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        join(root, 'src/cli/main.ts'),
        'compare',
        '--backend',
        'webgpu',
        '--pipelines',
        'bow-sift,lenet5',
        '--subset',
        '200',
        '--test-subset',
        '60',
        '--set',
        'coding.words=16',
        '--set',
        'coding.sample=2000',
        '--set',
        'train.epochs=1',
        '--set',
        'train.minSteps=0',
        '--robustness',
        '--robustness-images',
        '10',
        '--ablation',
        '--out',
        out,
        '--json',
      ],
      { cwd: root, encoding: 'utf8', env: { ...process.env, BOWCNN_PROGRESS: '0', BOWCNN_WEBGPU_SOFTWARE: '1' }, timeout: 280_000 },
    );
    expect(r.status, r.stderr.slice(-2000)).toBe(0);
    const res = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
    expect(res.backend.name).toBe('webgpu');
    expect(res.contenders.map((c: { name: string }) => c.name)).toEqual(['bow-sift', 'lenet5']);
    expect(res.contenders[0].accuracy).toBeGreaterThan(0.3); // 10 classes: chance is 0.1
    expect(Object.keys(res.robustness)).toEqual(['bow-sift', 'lenet5']);
    expect(res.ablation.length).toBeGreaterThan(0);
  });
});
