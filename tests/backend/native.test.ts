// bowcnn's native kernels (native/bowcnn.cc through src/backend/native.ts) against the cpu backend's
// kernels (plain JavaScript loops) and against plain loops here: convolutions forward (with bias and
// ReLU), both gradients, matrix products with every transpose and a broadcast batch; the fallbacks
// they leave to wasm; results independent of the thread count. Skipped where the addon is not built
// (CI builds it and checks that it loads: .ci/run).
import { beforeAll, describe, expect, it } from 'vitest';
import { tf, useBackend, backendInfo } from '../../src/backend/index.js';
import { nativeAddon, setNativeKernelsEnabled } from '../../src/backend/native.js';
import { conv2dFilterGrad } from '../../src/backend/wasm-kernels.js';
import { maxAbsDiff, onBackend, randArray } from '../helpers.js';

const built = nativeAddon() !== null;
type Shape4 = [number, number, number, number];
type Pad = 'same' | 'valid' | number;
interface ConvCase {
  x: Shape4;
  k: [number, number];
  co: number;
  pad: Pad;
  s?: number;
}
const CONVS: ConvCase[] = [
  { x: [3, 28, 28, 1], k: [5, 5], co: 6, pad: 'same' }, // LeNet-5 C1
  { x: [3, 14, 14, 6], k: [5, 5], co: 16, pad: 'valid' }, // C3
  { x: [2, 14, 14, 16], k: [3, 3], co: 32, pad: 'same' }, // alexnet-small conv2
  { x: [2, 7, 7, 32], k: [3, 3], co: 64, pad: 'same' }, // conv3
  { x: [2, 9, 7, 5], k: [2, 4], co: 11, pad: 'same' }, // even kernel (uneven 'same' pads), 11 = 8 + 3 channels
  { x: [2, 6, 8, 3], k: [3, 3], co: 13, pad: 1 }, // explicit pad, 13 channels (8 + 5)
  { x: [37, 5, 5, 2], k: [1, 1], co: 3, pad: 'valid' }, // 1x1, more images than a chunk
  { x: [1, 4, 4, 2], k: [5, 5], co: 2, pad: 'same' }, // kernel wider than the image
  { x: [2, 9, 9, 3], k: [3, 3], co: 4, pad: 'same', s: 2 }, // stride 2: left to wasm
  { x: [2, 3, 3, 4], k: [3, 3], co: 8, pad: 'same' }, // a grid of one vector: blocks of one vector
  { x: [18, 7, 7, 8], k: [3, 3], co: 12, pad: 'same' }, // filter gradient: chunks of several images, several tiles each
];

const label = (c: ConvCase) => `x ${c.x.join('x')} k ${c.k.join('x')} co ${c.co} ${c.pad}${c.s ? ` stride ${c.s}` : ''}`;

function data(c: ConvCase) {
  const ci = c.x[3];
  const f: Shape4 = [c.k[0], c.k[1], ci, c.co];
  const info = tf.backend_util.computeConv2DInfo(c.x, f, c.s ?? 1, 1, c.pad);
  return {
    f,
    dyShape: info.outShape as Shape4,
    x: randArray(tf.util.sizeFromShape(c.x), 1),
    w: randArray(tf.util.sizeFromShape(f), 2),
    b: randArray(c.co, 3),
    dy: randArray(tf.util.sizeFromShape(info.outShape), 4),
  };
}

/** forward with bias + ReLU (fused op), input gradient, filter gradient: one flat array each */
function passes(c: ConvCase) {
  const d = data(c),
    s = c.s ?? 1;
  return tf.tidy(() => {
    const x = tf.tensor4d(d.x, c.x),
      w = tf.tensor4d(d.w, d.f),
      dy = tf.tensor4d(d.dy, d.dyShape);
    const y = tf.conv2d(x, w, s, c.pad);
    const yf = tf.fused.conv2d({ x, filter: w, strides: s, pad: c.pad, bias: tf.tensor1d(d.b), activation: 'relu' });
    const dx = tf.conv2dTranspose(dy, w, c.x, s, c.pad);
    const dw = conv2dFilterGrad(x, dy, d.f, s, c.pad);
    return [y, yf, dx, dw].map((t) => t.dataSync() as Float32Array);
  });
}

function close(a: Float32Array[], b: Float32Array[]) {
  for (let i = 0; i < a.length; i++) {
    const scale = Math.max(1, ...Array.from(b[i], Math.abs));
    expect(a[i].length).toBe(b[i].length);
    expect(maxAbsDiff(a[i], b[i]) / scale).toBeLessThan(2e-5);
  }
}

describe.skipIf(!built)('native kernels on the wasm backend', () => {
  beforeAll(async () => {
    await useBackend('wasm');
    setNativeKernelsEnabled(true);
  });

  it('are in front of the wasm convolution and product kernels, and the backend says so', () => {
    expect(backendInfo().notes.join(' ')).toMatch(/native kernels: (AVX-512|AVX2|SSE)/);
    // count the addon's calls: one for a fused convolution with bias and ReLU, none for stride 2
    const addon = nativeAddon()!,
      conv = addon.conv;
    let calls = 0;
    addon.conv = (...args) => {
      calls++;
      return conv(...args);
    };
    const x = tf.ones([1, 4, 4, 1]) as tf.Tensor4D,
      w = tf.ones([3, 3, 1, 2]) as tf.Tensor4D;
    let y: tf.Tensor;
    try {
      tf.tidy(() => tf.conv2d(x, w, 2, 'same').dataSync());
      expect(calls).toBe(0);
      y = tf.fused.conv2d({ x, filter: w, strides: 1, pad: 'same', bias: tf.tensor1d([-5, 0]), activation: 'relu' });
      expect(calls).toBe(1);
    } finally {
      addon.conv = conv;
    }
    // corners see 4 ones, edges 6, the middle 9: minus 5 then ReLU on channel 0
    expect(Array.from(y.dataSync()).filter((_, i) => i % 2 === 0)).toEqual([0, 1, 1, 0, 1, 4, 4, 1, 1, 4, 4, 1, 0, 1, 1, 0]);
    expect(Array.from(y.dataSync()).filter((_, i) => i % 2 === 1)).toEqual([4, 6, 6, 4, 6, 9, 9, 6, 6, 9, 9, 6, 4, 6, 6, 4]);
    tf.dispose([x, w, y]);
  });

  for (const c of CONVS) {
    it(`convolution passes match cpu: ${label(c)}`, async () => {
      const nat = await onBackend('wasm', () => passes(c));
      const cpu = await onBackend('cpu', () => passes(c));
      close(nat, cpu);
    });
  }

  it('give the same convolutions as the wasm kernels they replace', async () => {
    const c = CONVS[1];
    const nat = passes(c);
    setNativeKernelsEnabled(false);
    try {
      close(passes(c), nat);
    } finally {
      setNativeKernelsEnabled(true);
    }
  });

  it('compute the filter gradient the same for 1, 2 and 3 threads, and the same twice', () => {
    const addon = nativeAddon()!;
    // 18 images of 7x7: several chunks of several images, so that threads split the chunks differently
    const c = CONVS.find((k) => k.x[0] === 18) as ConvCase;
    const d = data(c);
    const run = () =>
      tf.tidy(() => conv2dFilterGrad(tf.tensor4d(d.x, c.x), tf.tensor4d(d.dy, d.dyShape), d.f, 1, c.pad).dataSync() as Float32Array);
    const before = addon.setThreads();
    try {
      addon.setThreads(1);
      const one = run();
      addon.setThreads(2);
      const two = run(),
        again = run();
      addon.setThreads(3);
      const three = run();
      expect(Array.from(two)).toEqual(Array.from(one));
      expect(Array.from(again)).toEqual(Array.from(two));
      expect(Array.from(three)).toEqual(Array.from(one));
    } finally {
      addon.setThreads(before);
    }
  });

  // C[i,j] = sum_k A[i,k] B[k,j] (plain loop)
  function loopMatMul(a: Float32Array, b: Float32Array, M: number, K: number, N: number, ta: boolean, tb: boolean) {
    const c = new Float32Array(M * N);
    for (let i = 0; i < M; i++)
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += (ta ? a[k * M + i] : a[i * K + k]) * (tb ? b[j * K + k] : b[k * N + j]);
        c[i * N + j] = s;
      }
    return c;
  }

  for (const [M, K, N] of [
    [128, 400, 120],
    [7, 5, 3],
    [13, 33, 17],
    [1, 84, 10],
  ] as const) {
    for (const [ta, tb] of [
      [false, false],
      [true, false],
      [false, true],
      [true, true],
    ] as const) {
      it(`matMul ${M}x${K}x${N}, transposeA ${ta}, transposeB ${tb}, matches a plain loop`, () => {
        const a = randArray(M * K, 5),
          b = randArray(K * N, 6);
        const got = tf.tidy(() => tf.matMul(tf.tensor2d(a, ta ? [K, M] : [M, K]), tf.tensor2d(b, tb ? [N, K] : [K, N]), ta, tb).dataSync());
        const want = loopMatMul(a, b, M, K, N, ta, tb);
        expect(maxAbsDiff(got, want) / Math.max(1, ...Array.from(want, Math.abs))).toBeLessThan(1e-5);
      });
    }
  }

  it('batched and broadcast products, and the fused product with bias and ReLU, match cpu', async () => {
    const a = randArray(3 * 6 * 5, 7),
      b = randArray(5 * 4, 8),
      b3 = randArray(3 * 5 * 4, 9),
      bias = randArray(4, 10);
    const f = () =>
      tf.tidy(() =>
        [
          tf.matMul(tf.tensor3d(a, [3, 6, 5]), tf.tensor3d(b3, [3, 5, 4])),
          tf.matMul(tf.tensor3d(a, [3, 6, 5]), tf.tensor3d(b, [1, 5, 4])), // b broadcast over the batch
          tf.matMul(tf.tensor3d(b, [1, 5, 4]), tf.tensor3d(a, [3, 6, 5]), true, true), // a broadcast, both transposed
          tf.fused.matMul({
            a: tf.tensor2d(a.slice(0, 30), [6, 5]),
            b: tf.tensor2d(b, [5, 4]),
            bias: tf.tensor1d(bias),
            activation: 'relu',
          }),
        ].map((t) => t.dataSync() as Float32Array),
      );
    close(await onBackend('wasm', f), await onBackend('cpu', f));
  });

  it('leave no tensors behind', () => {
    const c = CONVS[0],
      d = data(c);
    const x = tf.tensor4d(d.x, c.x),
      w = tf.tensor4d(d.w, d.f);
    const before = tf.memory().numTensors;
    const y = tf.conv2d(x, w, 1, 'same');
    expect(tf.memory().numTensors).toBe(before + 1);
    tf.dispose([x, w, y]);
  });
});
