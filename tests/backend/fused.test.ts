// bowcnn's fused kernels (src/backend/fused-kernels.ts) against plain loops and tfjs-core's own ops:
// bias + ReLU forward and backward for channel counts that do and do not line up with SIMD lanes, with
// values past the last whole lane row; Adam (src/cnn/adam.ts) against tf.train.adam on the cpu backend.
import { afterAll, describe, expect, it } from 'vitest';
import { tf, useBackend } from '../../src/backend/index.js';
import { biasRelu, softmaxCrossEntropy } from '../../src/backend/fused-ops.js';
import { setSimdKernelsEnabled } from '../../src/backend/simd/index.js';
import { nativeAddon, setNativeKernelsEnabled } from '../../src/backend/native.js';
import { Adam } from '../../src/cnn/adam.js';
import { maxAbsDiff, randArray } from '../helpers.js';

describe('bias + ReLU', () => {
  afterAll(() => {
    setSimdKernelsEnabled(true);
    setNativeKernelsEnabled(true);
  });
  // [rows, C]: C = 6 (lane rows of 12, 270 values: 6 past the last row), 1, 3, 16, 120, and a 4-d tensor
  const shapes = [
    [5, 3, 3, 6],
    [7, 1],
    [2, 5, 3],
    [3, 4, 16],
    [5, 120],
    [2, 3, 3, 5],
  ];
  const modes = [
    [true, true, 'native kernels'],
    [false, true, 'SIMD'],
    [false, false, 'JavaScript'],
  ] as const;
  for (const [native, simd, label] of modes) {
    it.skipIf(native && !nativeAddon())(
      `forward, dx and dbias against plain loops on wasm (${label}), and as one kernel each way`,
      async () => {
        await useBackend('wasm');
        setSimdKernelsEnabled(simd);
        setNativeKernelsEnabled(native);
        for (const [i, shape] of shapes.entries()) {
          const n = shape.reduce((p, q) => p * q, 1),
            C = shape[shape.length - 1];
          const xv = randArray(n, 10 + i).map((v, j) => (j % 11 === 0 ? -0.25 : v)),
            bv = randArray(C, 20 + i).map((v) => v / 4);
          const cv = randArray(n, 30 + i);
          const x = tf.tensor(xv, shape),
            b = tf.tensor1d(bv),
            c = tf.tensor(cv, shape);
          const y = biasRelu(x, b);
          const want = Array.from(xv, (v, j) => Math.max(v + bv[j % C], 0));
          expect(maxAbsDiff(y.dataSync(), want)).toBeLessThan(1e-6);
          // L = sum c * biasRelu(x, b): dL/dx = pre > 0 ? c : 0, dL/db[k] = sum over the entries of channel k
          const [gx, gb] = tf.grads((xx: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.mul(biasRelu(xx, bb), c)))([x, b]);
          const wantDx = Array.from(cv, (v, j) => (want[j] > 0 ? v : 0));
          const wantDb = new Array(C).fill(0);
          wantDx.forEach((v, j) => {
            wantDb[j % C] += v;
          });
          expect(maxAbsDiff(gx.dataSync(), wantDx)).toBe(0);
          expect(maxAbsDiff(gb.dataSync(), wantDb)).toBeLessThan(1e-5);
          tf.dispose([x, b, c, y, gx, gb]);
        }
        const x = tf.randomNormal([4, 6, 6, 6]),
          b = tf.randomNormal([6]);
        const p = await tf.profile(() => tf.grads((xx: tf.Tensor, bb: tf.Tensor) => tf.sum(biasRelu(xx, bb)))([x, b]));
        const names = p.kernels.map((k) => k.name);
        expect(names.filter((k) => k === 'BowcnnBiasRelu')).toHaveLength(1);
        expect(names.filter((k) => k === 'BowcnnBiasReluGrad')).toHaveLength(1);
        expect(names).not.toContain('Relu');
        tf.dispose([x, b]);
      },
    );
  }

  it('is the same as tf.relu(tf.add(x, b)) on the cpu backend (which has no fused kernel)', async () => {
    await useBackend('cpu');
    const x = tf.tensor(randArray(2 * 3 * 6, 5), [2, 3, 6]),
      b = tf.tensor1d(randArray(6, 6));
    const y = biasRelu(x, b),
      ref = tf.relu(tf.add(x, b));
    expect(maxAbsDiff(y.dataSync(), ref.dataSync())).toBe(0);
    tf.dispose([x, b, y, ref]);
  });
});

describe('softmax cross-entropy (one kernel on wasm)', () => {
  // the loss and its gradient with respect to the logits, for int32 one-hot and float soft labels
  async function lossAndGrad(backend: 'wasm' | 'cpu', fused: boolean, smoothing: number) {
    await useBackend(backend);
    return tf.tidy(() => {
      const z = tf.tensor2d(
        randArray(7 * 10, 41).map((v) => v * 6),
        [7, 10],
      );
      const hard = tf.oneHot(tf.tensor1d([3, 0, 9, 9, 1, 5, 2], 'int32'), 10);
      const soft = tf.softmax(tf.tensor2d(randArray(70, 42), [7, 10]));
      return [hard, soft].flatMap((y) => {
        const f = (zz: tf.Tensor) =>
          (fused ? softmaxCrossEntropy(y, zz, smoothing) : tf.losses.softmaxCrossEntropy(y, zz, undefined, smoothing)) as tf.Scalar;
        const { value, grad } = tf.valueAndGrad(f)(z);
        return [Array.from(value.dataSync()), Array.from(grad.dataSync())];
      });
    });
  }

  for (const smoothing of [0, 0.1]) {
    it(`gives tf.losses.softmaxCrossEntropy's loss and gradient on the cpu backend (label smoothing ${smoothing})`, async () => {
      const want = await lossAndGrad('cpu', false, smoothing);
      const got = await lossAndGrad('wasm', true, smoothing);
      for (let i = 0; i < want.length; i++) expect(maxAbsDiff(got[i], want[i])).toBeLessThan(2e-6);
    });
  }

  it('refuses labels of another shape than the logits, as tf.losses does', async () => {
    await useBackend('wasm');
    const z = tf.zeros([4, 10]),
      y = tf.zeros([4, 9]);
    expect(() => softmaxCrossEntropy(y, z)).toThrow(/shape/i);
    tf.dispose([z, y]);
  });

  it('is one kernel forward and one product backward on wasm', async () => {
    await useBackend('wasm');
    const z = tf.randomNormal([8, 10]),
      y = tf.oneHot(tf.tensor1d([1, 2, 3, 4, 5, 6, 7, 8], 'int32'), 10);
    const p = await tf.profile(() => tf.grad((zz: tf.Tensor) => softmaxCrossEntropy(y, zz))(z));
    // (customGrad's own bookkeeping: an Identity of the saved gradient and a 'forward' node)
    const compute = p.kernels.map((k) => k.name).filter((n) => !n.endsWith('__op') && n !== 'Identity' && n !== 'forward');
    expect(compute).toEqual(['BowcnnSoftmaxXent', 'Multiply']);
    tf.dispose([z, y]);
  });
});

describe('Adam (fused on wasm)', () => {
  afterAll(() => setSimdKernelsEnabled(true));

  // the same 6 steps (gradients fixed per step) of an optimizer over two variables; returns the
  // variables, the moments and the iteration count
  async function steps(backend: 'wasm' | 'cpu', make: () => tf.Optimizer, lrs: number[]) {
    await useBackend(backend);
    const w = tf.variable(tf.tensor2d(randArray(7 * 9, 1), [7, 9]), true, `adam_w_${backend}`);
    const b = tf.variable(tf.tensor1d(randArray(5, 2)), true, `adam_b_${backend}`);
    const opt = make() as tf.Optimizer & { learningRate: number };
    for (const [s, lr] of lrs.entries()) {
      opt.learningRate = lr;
      const gw = tf.tensor2d(
          randArray(63, 100 + s).map((v) => v * (s + 1)),
          [7, 9],
        ),
        gb = tf.tensor1d(randArray(5, 200 + s));
      opt.applyGradients({ [w.name]: gw, [b.name]: gb });
      tf.dispose([gw, gb]);
    }
    const state = await opt.getWeights();
    const out = {
      w: Array.from(w.dataSync()),
      b: Array.from(b.dataSync()),
      iterations: opt.iterations,
      moments: state.slice(1).map((s) => Array.from(s.tensor.dataSync())),
    };
    tf.dispose([w, b, state[0].tensor]);
    opt.dispose();
    return out;
  }
  const lrs = [1e-2, 2e-2, 5e-3, 1e-2, 3e-2, 1e-3];

  for (const [simd, label] of [
    [true, 'SIMD'],
    [false, 'JavaScript'],
  ] as const) {
    it(`gives tf.train.adam's variables and moments after 6 steps with a changing learning rate (${label})`, async () => {
      setSimdKernelsEnabled(simd);
      const ref = await steps('cpu', () => tf.train.adam(1e-2), lrs);
      let kernels: string[] = [];
      const got = await (async () => {
        await useBackend('wasm');
        const p = await tf.profile(async () => {
          await steps('wasm', () => new Adam(1e-2), [1e-2]);
        });
        kernels = p.kernels.map((k) => k.name);
        return steps('wasm', () => new Adam(1e-2), lrs);
      })();
      expect(kernels.filter((k) => k === 'BowcnnAdam')).toHaveLength(2); // one per variable
      expect(kernels).not.toContain('Sqrt');
      expect(got.iterations).toBe(6);
      expect(maxAbsDiff(got.w, ref.w)).toBeLessThan(2e-6);
      expect(maxAbsDiff(got.b, ref.b)).toBeLessThan(2e-6);
      expect(got.moments).toHaveLength(4);
      for (let i = 0; i < 4; i++) expect(maxAbsDiff(got.moments[i], ref.moments[i])).toBeLessThan(1e-6);
    });
  }

  it("resumes from saved state (getWeights / setWeights) as if it had not stopped, and interleaves with tfjs-core's path", async () => {
    await useBackend('wasm');
    const run = async (split: boolean) => {
      const w = tf.variable(tf.tensor1d(randArray(10, 3)), true);
      let opt = new Adam(0.05);
      for (let s = 0; s < 6; s++) {
        if (split && s === 3) {
          // a new optimizer from the saved state, as a resumed run does
          const state = await opt.getWeights();
          const copies = state.map((x) => ({ name: x.name, tensor: tf.clone(x.tensor) }));
          tf.dispose(state[0].tensor);
          opt.dispose();
          opt = new Adam(0.05);
          await opt.setWeights(copies);
          tf.dispose(copies.map((c) => c.tensor));
        }
        const g = tf.tensor1d(randArray(10, 50 + s));
        // step 4 goes through tfjs-core's own AdamOptimizer.applyGradients (the accBeta variables agree)
        if (split && s === 4) tf.AdamOptimizer.prototype.applyGradients.call(opt, { [w.name]: g } as unknown as tf.NamedTensorMap as never);
        else opt.applyGradients({ [w.name]: g } as unknown as tf.NamedTensorMap as never);
        g.dispose();
      }
      const v = Array.from(w.dataSync());
      w.dispose();
      opt.dispose();
      return v;
    };
    expect(maxAbsDiff(await run(true), await run(false))).toBeLessThan(1e-6);
  });
});
