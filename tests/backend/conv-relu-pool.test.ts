// bowcnn's fused convolution + bias + ReLU + 2x2 max pool (native kernels BowcnnConvReluPool and its
// gradient, through backend/fused-ops convReluPool) against tfjs-core's conv2d, add, relu and maxPool and
// their gradients on the cpu backend (plain JavaScript loops): the pooled values, and the gradients with
// respect to the images, the filter and the bias, including ties inside a window (the first max takes
// the gradient, as MaxPoolGrad does), windows whose ReLU outputs are all 0, an odd output size (the last
// row and column are dropped), rows wider than one vector of windows, and more images than a chunk.
// Skipped where the addon is not built (CI builds it: .ci/run).
import { beforeAll, describe, expect, it } from 'vitest';
import { tf, useBackend } from '../../src/backend/index.js';
import { convReluPool } from '../../src/backend/fused-ops.js';
import { nativeAddon, setNativeKernelsEnabled } from '../../src/backend/native.js';
import { maxAbsDiff, onBackend, randArray } from '../helpers.js';

const built = nativeAddon() !== null;
type Shape4 = [number, number, number, number];
type Pad = 'same' | 'valid' | number;
interface Case {
  x: Shape4;
  k: [number, number];
  co: number;
  pad: Pad;
  ints?: boolean;
  bias?: number;
}
const CASES: Case[] = [
  { x: [3, 28, 28, 1], k: [5, 5], co: 6, pad: 'same' }, // LeNet-5 C1 + S2
  { x: [3, 14, 14, 6], k: [5, 5], co: 16, pad: 'valid' }, // C3 + S4
  { x: [2, 11, 11, 3], k: [3, 3], co: 5, pad: 'valid' }, // 9x9 output: the pool drops row and column 8
  { x: [2, 40, 36, 2], k: [3, 3], co: 11, pad: 'same' }, // 20x18 windows (more than a vector's), 11 channels
  { x: [2, 8, 9, 3], k: [2, 2], co: 4, pad: 1 }, // explicit pad, even kernel
  { x: [37, 6, 6, 2], k: [1, 1], co: 3, pad: 'valid' }, // more images than a chunk
  { x: [2, 4, 4, 3], k: [1, 1], co: 3, pad: 'valid' }, // a grid of one vector: the pool reads past its last row
  { x: [18, 7, 7, 8], k: [3, 3], co: 12, pad: 'same' }, // chunks of several images, several tiles each
  { x: [2, 8, 8, 2], k: [2, 2], co: 3, pad: 'valid', ints: true }, // small integers: exact ties in windows
  { x: [2, 8, 8, 2], k: [3, 3], co: 3, pad: 'same', bias: -50 }, // every ReLU output 0: no gradient
];
const label = (c: Case) =>
  `x ${c.x.join('x')} k ${c.k.join('x')} co ${c.co} ${c.pad}${c.ints ? ', ties' : ''}${c.bias ? ', all below 0' : ''}`;

function data(c: Case) {
  const f: Shape4 = [c.k[0], c.k[1], c.x[3], c.co];
  const info = tf.backend_util.computeConv2DInfo(c.x, f, 1, 1, c.pad);
  const pShape: Shape4 = [c.x[0], Math.floor(info.outHeight / 2), Math.floor(info.outWidth / 2), c.co];
  const int = (a: Float32Array) => a.map((v) => Math.round(v + 0.3)); // mostly 0 and 1
  const x = randArray(tf.util.sizeFromShape(c.x), 1),
    w = randArray(tf.util.sizeFromShape(f), 2);
  return {
    f,
    pShape,
    x: c.ints ? int(x) : x,
    w: c.ints ? w.map(() => 1) : w,
    b: c.bias !== undefined ? new Float32Array(c.co).fill(c.bias) : c.ints ? new Float32Array(c.co) : randArray(c.co, 3),
    dp: randArray(tf.util.sizeFromShape(pShape), 4),
  };
}

/** p, and the gradients of sum(p * dp) with respect to x, filter and bias: flat arrays */
function passes(c: Case, needDx: boolean) {
  const d = data(c);
  return tf.tidy(() => {
    const x = tf.tensor4d(d.x, c.x),
      w = tf.tensor4d(d.w, d.f),
      b = tf.tensor1d(d.b),
      dp = tf.tensor4d(d.dp, d.pShape);
    const p = convReluPool(x, w, b, c.pad, needDx);
    const g = tf.grads((xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) =>
      tf.sum(tf.mul(convReluPool(xx as tf.Tensor4D, ww as tf.Tensor4D, bb as tf.Tensor1D, c.pad, needDx), dp)),
    );
    return [p, ...g([x, w, b])].map((t) => t.dataSync() as Float32Array);
  });
}

function close(a: Float32Array[], b: Float32Array[], what = ['p', 'dx', 'dfilter', 'dbias']) {
  for (let i = 0; i < a.length; i++) {
    const scale = Math.max(1, ...Array.from(b[i], Math.abs));
    expect(a[i].length, what[i]).toBe(b[i].length);
    expect(maxAbsDiff(a[i], b[i]) / scale, what[i]).toBeLessThan(2e-5);
  }
}

/** how many times the addon's fused forward and gradient run during f */
function counting<T>(f: () => T): { value: T; fwd: number; grad: number } {
  const addon = nativeAddon()!,
    fwd = addon.convReluPool,
    grad = addon.convReluPoolGrad;
  const n = { fwd: 0, grad: 0 };
  addon.convReluPool = (...a) => {
    n.fwd++;
    return fwd(...a);
  };
  addon.convReluPoolGrad = (...a) => {
    n.grad++;
    return grad(...a);
  };
  try {
    return { value: f(), ...n };
  } finally {
    addon.convReluPool = fwd;
    addon.convReluPoolGrad = grad;
  }
}

describe.skipIf(!built)('fused convolution + bias + ReLU + 2x2 max pool (native)', () => {
  beforeAll(async () => {
    await useBackend('wasm');
    setNativeKernelsEnabled(true);
  });

  // the gradient has two ways (dense passes over the unpooled grid, or from its nonzeros): both, every case
  for (const [path, way] of [
    [1, 'dense'],
    [2, 'sparse'],
  ] as const) {
    for (const c of CASES) {
      it(`matches conv2d, relu and maxPool on cpu, forward and all three gradients (${way}): ${label(c)}`, async () => {
        const addon = nativeAddon()!,
          before = addon.setPoolGradPath(path);
        try {
          const nat = await onBackend('wasm', () => counting(() => passes(c, true)));
          expect(nat.fwd).toBe(2); // the op itself ran natively (once alone, once under tf.grads)
          expect(nat.grad).toBe(1); // all three gradients from one call
          const cpu = await onBackend('cpu', () => passes(c, true));
          close(nat.value, cpu);
        } finally {
          addon.setPoolGradPath(before);
        }
      });
    }
  }

  it('computes the input gradient when asked for it even if the forward said it would not be wanted', async () => {
    const c = CASES[1];
    const nat = await onBackend('wasm', () => counting(() => passes(c, false)));
    expect(nat.grad).toBe(2); // filter and bias first, then the images' on demand
    close(nat.value, await onBackend('cpu', () => passes(c, true)));
  });

  it('does not compute the input gradient when only the filter and the bias want theirs', () => {
    const c = CASES[0],
      d = data(c);
    const addon = nativeAddon()!,
      grad = addon.convReluPoolGrad;
    const dxArgs: number[] = [];
    addon.convReluPoolGrad = (...a) => {
      dxArgs.push(a[7]);
      return grad(...a);
    };
    try {
      tf.tidy(() => {
        const x = tf.tensor4d(d.x, c.x),
          w = tf.variable(tf.tensor4d(d.w, d.f)),
          b = tf.variable(tf.tensor1d(d.b));
        const { grads } = tf.variableGrads(() => tf.sum(convReluPool(x, w as tf.Tensor4D, b as tf.Tensor1D, c.pad, false)), [w, b]);
        expect(Object.keys(grads)).toHaveLength(2);
        tf.dispose([w, b]);
      });
    } finally {
      addon.convReluPoolGrad = grad;
    }
    expect(dxArgs).toEqual([-1]); // one call, no dx offset
  });

  for (const [path, way] of [
    [1, 'dense'],
    [2, 'sparse'],
  ] as const) {
    it(`gives the same gradients for 1 and 2 threads, and twice the same (${way})`, () => {
      const addon = nativeAddon()!,
        before = addon.setThreads(),
        beforePath = addon.setPoolGradPath(path);
      try {
        addon.setThreads(1);
        const one = passes(CASES[1], true);
        addon.setThreads(2);
        const two = passes(CASES[1], true),
          again = passes(CASES[1], true);
        for (let i = 0; i < one.length; i++) {
          expect(Array.from(two[i])).toEqual(Array.from(one[i]));
          expect(Array.from(again[i])).toEqual(Array.from(two[i]));
        }
      } finally {
        addon.setThreads(before);
        addon.setPoolGradPath(beforePath);
      }
    });
  }

  it("says which way each gradient took; the automatic choice gives that way's values, the other way agrees within 2e-5", () => {
    // which way is cheaper depends on the vector width (-march=native): the addon's counters tell which ran,
    // never the values (the two ways sum the filter gradient in different orders)
    const addon = nativeAddon()!,
      pick = addon.setPoolGradPath(0);
    const taken = (f: () => Float32Array[]) => {
      const [d0, s0] = addon.poolGradPaths();
      const v = f();
      const [d1, s1] = addon.poolGradPaths();
      expect(d1 - d0 + s1 - s0).toBe(1); // one gradient call, one way
      return { way: s1 > s0 ? 2 : 1, v };
    };
    try {
      for (const c of [CASES[0], CASES[1]]) {
        const auto = taken(() => passes(c, true));
        addon.setPoolGradPath(auto.way);
        const same = taken(() => passes(c, true));
        addon.setPoolGradPath(3 - auto.way);
        const other = taken(() => passes(c, true));
        addon.setPoolGradPath(0);
        expect(same.way).toBe(auto.way);
        expect(other.way).toBe(3 - auto.way);
        for (let i = 0; i < auto.v.length; i++) expect(Array.from(same.v[i])).toEqual(Array.from(auto.v[i]));
        close(other.v, auto.v);
        // C3 + S4 (runs of 30 floats per kernel row) takes the sparse way at every vector width (4, 8, 16)
        if (c === CASES[1]) expect(auto.way).toBe(2);
      }
    } finally {
      addon.setPoolGradPath(pick);
    }
  });

  it('composes tfjs-core ops when the native kernels are off, with the same values', () => {
    const c = CASES[2];
    const nat = passes(c, true);
    setNativeKernelsEnabled(false);
    try {
      const off = counting(() => passes(c, true));
      expect(off.fwd + off.grad).toBe(0);
      close(off.value, nat);
    } finally {
      setNativeKernelsEnabled(true);
    }
  });

  it('leaves no tensors behind (the window codes are freed with the gradient)', () => {
    const c = CASES[1],
      d = data(c);
    const x = tf.tensor4d(d.x, c.x),
      w = tf.variable(tf.tensor4d(d.w, d.f)),
      b = tf.variable(tf.tensor1d(d.b));
    const before = tf.memory().numTensors;
    const p = convReluPool(x, w as tf.Tensor4D, b as tf.Tensor1D, c.pad);
    expect(tf.memory().numTensors).toBe(before + 1);
    p.dispose();
    for (let i = 0; i < 3; i++) {
      const { value, grads } = tf.variableGrads(() => tf.sum(convReluPool(x, w as tf.Tensor4D, b as tf.Tensor1D, c.pad)), [w, b]);
      tf.dispose([value, ...Object.values(grads)]);
    }
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, w, b]);
  });
});
