// The wasm Conv2DBackpropFilter (our kernel) against the cpu backend's, and dilated-conv gradients
// against a plain-loop reference.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf, useBackend } from '../../src/backend/index.js';
import { conv2dFilterGrad } from '../../src/backend/wasm-kernels.js';
import { setNativeKernelsEnabled } from '../../src/backend/native.js';
import { maxAbsDiff, onBackend, randArray } from '../helpers.js';

type Pad = 'same' | 'valid';
interface Case {
  x: [number, number, number, number];
  k: [number, number];
  co: number;
  s: number | [number, number];
  pad: Pad;
}
const CASES: Case[] = [
  { x: [2, 8, 8, 1], k: [3, 3], co: 4, s: 1, pad: 'valid' },
  { x: [2, 8, 8, 1], k: [3, 3], co: 4, s: 1, pad: 'same' },
  { x: [3, 9, 11, 2], k: [3, 3], co: 5, s: 2, pad: 'same' },
  { x: [3, 9, 11, 2], k: [3, 3], co: 5, s: 2, pad: 'valid' }, // stride leaves a row unread
  { x: [1, 10, 7, 3], k: [2, 4], co: 2, s: [2, 3], pad: 'valid' }, // non-square kernel and stride
  { x: [4, 28, 28, 1], k: [5, 5], co: 6, s: 1, pad: 'same' }, // LeNet C1
  { x: [4, 14, 14, 6], k: [5, 5], co: 16, s: 1, pad: 'valid' }, // LeNet C3
  { x: [2, 12, 12, 16], k: [1, 1], co: 32, s: 1, pad: 'valid' }, // 1x1, many channels
  { x: [2, 13, 13, 4], k: [3, 3], co: 7, s: 3, pad: 'same' },
  { x: [5, 6, 6, 3], k: [6, 6], co: 3, s: 1, pad: 'valid' }, // kernel = input
  // one input channel: the SIMD kernel (4-lane blocks of Co and a scalar tail)
  { x: [3, 28, 28, 1], k: [3, 3], co: 16, s: 1, pad: 'same' }, // alexnet-small conv1
  { x: [2, 13, 11, 1], k: [3, 5], co: 7, s: [2, 3], pad: 'same' },
  { x: [2, 9, 9, 1], k: [4, 4], co: 3, s: 2, pad: 'valid' },
  { x: [130, 6, 6, 1], k: [2, 2], co: 8, s: 1, pad: 'valid' }, // many images: float64 across images
  { x: [2, 10, 10, 1], k: [3, 3], co: 22, s: 1, pad: 'same' }, // two channel groups (16 + 6)
  { x: [2, 5, 5, 1], k: [7, 7], co: 4, s: 1, pad: 'same' }, // kernel wider than the image
  // stride 1, Ci >= 8 and x smaller than dy: dy as the input, x as the filter (filterGradSwapped)
  { x: [3, 14, 14, 16], k: [3, 3], co: 32, s: 1, pad: 'same' }, // alexnet-small conv2
  { x: [3, 7, 7, 32], k: [3, 3], co: 64, s: 1, pad: 'same' }, // alexnet-small conv3
  { x: [2, 7, 9, 8], k: [2, 4], co: 16, s: 1, pad: 'same' }, // even kernel: uneven 'same' pads
  { x: [2, 8, 8, 8], k: [3, 3], co: 24, s: 1, pad: 'valid' },
];

function tensors(c: Case) {
  const [n, h, w, ci] = c.x;
  const info = tf.backend_util.computeConv2DInfo(c.x, [c.k[0], c.k[1], ci, c.co], c.s, 1, c.pad);
  const x = randArray(n * h * w * ci, 11);
  const dy = randArray(
    info.outShape.reduce((a, b) => a * b, 1),
    23,
  );
  return {
    x,
    dy,
    dyShape: info.outShape as [number, number, number, number],
    fShape: [c.k[0], c.k[1], ci, c.co] as [number, number, number, number],
  };
}

// bowcnn's wasm filter gradient (the native kernels stand in front of it where the addon is built:
// they are tested in native.test.ts and turned off here)
describe('Conv2DBackpropFilter on wasm', () => {
  beforeAll(async () => {
    await useBackend('wasm');
    setNativeKernelsEnabled(false);
  });
  afterAll(() => setNativeKernelsEnabled(true));

  it('is registered for wasm', () => {
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined();
  });

  for (const c of CASES) {
    it(`matches cpu: x ${c.x.join('x')} k ${c.k.join('x')} co ${c.co} stride ${c.s} ${c.pad}`, async () => {
      const t = tensors(c);
      const grad = (): Float32Array =>
        tf.tidy(
          () => conv2dFilterGrad(tf.tensor4d(t.x, c.x), tf.tensor4d(t.dy, t.dyShape), t.fShape, c.s, c.pad).dataSync() as Float32Array,
        );
      const wasm = await onBackend('wasm', grad);
      const cpu = await onBackend('cpu', grad);
      const scale = Math.max(1, ...Array.from(cpu, Math.abs));
      expect(wasm.length).toBe(cpu.length);
      expect(maxAbsDiff(wasm, cpu) / scale).toBeLessThan(1e-5);
    });
  }

  it('takes the swapped form (x as the filter) at stride 1 with Ci >= 8 and x smaller than dy, and only then', async () => {
    // the kernel calls wasm's Reverse directly (not through the engine, so tf.profile does not see it): count those calls
    const reverse = tf.getKernel('Reverse', 'wasm')!;
    let calls = 0;
    tf.unregisterKernel('Reverse', 'wasm');
    tf.registerKernel({
      ...reverse,
      kernelFunc: ((a: Parameters<tf.KernelFunc>[0]) => {
        calls++;
        return reverse.kernelFunc(a);
      }) as tf.KernelFunc,
    });
    try {
      const reverses = (c: Case) => {
        const t = tensors(c);
        calls = 0;
        tf.tidy(() => conv2dFilterGrad(tf.tensor4d(t.x, c.x), tf.tensor4d(t.dy, t.dyShape), t.fShape, c.s, c.pad).dataSync());
        return calls;
      };
      expect(reverses(CASES[16])).toBe(1); // alexnet-small conv2
      expect(reverses(CASES[7])).toBe(1); // 1x1, 16 -> 32
      expect(reverses(CASES[6])).toBe(0); // LeNet C3: Ci = 6
      expect(reverses(CASES[9])).toBe(0); // x larger than dy
      expect(reverses(CASES[2])).toBe(0); // stride 2
    } finally {
      tf.unregisterKernel('Reverse', 'wasm');
      tf.registerKernel(reverse);
    }
  });

  it('leaves no tensors behind', () => {
    const c = CASES[3];
    const t = tensors(c);
    const x = tf.tensor4d(t.x, c.x),
      dy = tf.tensor4d(t.dy, t.dyShape);
    const before = tf.memory().numTensors;
    const g = conv2dFilterGrad(x, dy, t.fShape, c.s, c.pad);
    expect(tf.memory().numTensors).toBe(before + 1);
    tf.dispose([g, x, dy]);
  });
});

// y[n,i,j,o] = sum x[n, i*s + a*d - pt, j*s + b*d - pl, c] w[a,b,c,o]  (plain loop, valid padding)
function loopDilatedGrads(x: Float32Array, xs: number[], w: Float32Array, ws: number[], s: number, d: number, dy: Float32Array) {
  const [N, H, W, C] = xs,
    [KH, KW, , O] = ws;
  const OH = Math.floor((H - ((KH - 1) * d + 1)) / s) + 1,
    OW = Math.floor((W - ((KW - 1) * d + 1)) / s) + 1;
  const dx = new Float32Array(x.length),
    dw = new Float32Array(w.length);
  for (let n = 0; n < N; n++)
    for (let i = 0; i < OH; i++)
      for (let j = 0; j < OW; j++)
        for (let o = 0; o < O; o++) {
          const g = dy[((n * OH + i) * OW + j) * O + o];
          for (let a = 0; a < KH; a++)
            for (let b = 0; b < KW; b++)
              for (let c = 0; c < C; c++) {
                const xi = ((n * H + i * s + a * d) * W + j * s + b * d) * C + c;
                const wi = ((a * KW + b) * C + c) * O + o;
                dx[xi] += g * w[wi];
                dw[wi] += g * x[xi];
              }
        }
  return { dx, dw, OH, OW };
}

describe('gradients of dilated convolutions (tfjs-core refuses them; we differentiate through the zero-inserted filter)', () => {
  for (const backend of ['wasm', 'cpu'] as const) {
    for (const [s, d] of [
      [1, 2],
      [1, 4],
      [2, 2],
    ] as const) {
      it(`${backend}: stride ${s}, dilation ${d}`, async () => {
        const xs = [2, 17, 15, 3],
          ws = [3, 2, 3, 4];
        const x = randArray(
            xs.reduce((a, b) => a * b),
            5,
          ),
          w = randArray(
            ws.reduce((a, b) => a * b),
            7,
          );
        const ref0 = loopDilatedGrads(x, xs, w, ws, s, d, new Float32Array(0));
        const dy = randArray(2 * ref0.OH * ref0.OW * 4, 9);
        const ref = loopDilatedGrads(x, xs, w, ws, s, d, dy);
        const got = await onBackend(backend, () => {
          const xt = tf.tensor4d(x, xs as [number, number, number, number]);
          const wt = tf.tensor4d(w, ws as [number, number, number, number]);
          const dyt = tf.tensor4d(dy, [2, ref.OH, ref.OW, 4]);
          // loss = sum(y * dy) has dL/dy = dy; tfjs allows stride>1 with dilation>1 only through the kernel, so call it directly
          const f = (a: tf.Tensor4D, b: tf.Tensor4D) =>
            tf.sum(
              tf.mul(
                tf
                  .engine()
                  .runKernel(
                    'Conv2D',
                    { x: a, filter: b },
                    { strides: [s, s], pad: 'valid', dataFormat: 'NHWC', dilations: [d, d] },
                  ) as tf.Tensor,
                dyt,
              ),
            );
          const [gx, gw] = tf.grads(f as (...a: tf.Tensor[]) => tf.Tensor)([xt, wt]);
          const r = { dx: gx.dataSync() as Float32Array, dw: gw.dataSync() as Float32Array };
          tf.dispose([xt, wt, dyt, gx, gw]);
          return r;
        });
        expect(maxAbsDiff(got.dx, ref.dx)).toBeLessThan(1e-4);
        expect(maxAbsDiff(got.dw, ref.dw)).toBeLessThan(1e-3);
      });
    }
  }
});

describe("depthwise conv gradients on wasm (both kernels are bowcnn's) match cpu", () => {
  for (const [s, pad, M] of [
    [1, 'valid', 1],
    [2, 'same', 2],
    [1, 'same', 3],
  ] as const) {
    it(`stride ${s}, ${pad}, multiplier ${M}`, async () => {
      const xs: [number, number, number, number] = [2, 9, 8, 3],
        fs: [number, number, number, number] = [3, 4, 3, M];
      const x = randArray(
          xs.reduce((a, b) => a * b),
          31,
        ),
        f = randArray(
          fs.reduce((a, b) => a * b),
          32,
        );
      const run = () =>
        tf.tidy(() => {
          const xt = tf.tensor4d(x, xs),
            ft = tf.tensor4d(f, fs);
          const y = tf.depthwiseConv2d(xt, ft, s, pad);
          const w = tf.tensor(randArray(y.size, 33), y.shape);
          const [gx, gf] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
            tf.sum(tf.mul(tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, s, pad), w)),
          )([xt, ft]);
          return [...gx.dataSync(), ...gf.dataSync()];
        });
      const cpu = await onBackend('cpu', run),
        wasm = await onBackend('wasm', run);
      expect(maxAbsDiff(wasm, cpu)).toBeLessThan(1e-4);
    });
  }
});
