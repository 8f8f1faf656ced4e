// bowcnn's WebAssembly SIMD kernels: the committed binary is what the build script makes from the .wat;
// the module runs over the wasm backend's memory; Identity shares the heap block instead of copying.
// (Their numerics are tested where they are used: tests/backend/batchnorm.test.ts (channel passes, SIMD and
// JavaScript against plain loops) and tests/backend/conv-filter-grad.test.ts (one-channel filter
// gradients against the cpu backend).)
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { tf, useBackend } from '../../src/backend/index.js';
import { simdKernels } from '../../src/backend/simd/index.js';
// @ts-expect-error: a plain .mjs build script without type declarations
import { generate } from '../../scripts/build-simd.mjs';

describe('SIMD kernels', () => {
  beforeAll(async () => {
    await useBackend('wasm');
  });

  it('the committed kernels-wasm.ts is what scripts/build-simd.mjs makes from kernels.wat', async () => {
    const committed = readFileSync(new URL('../../src/backend/simd/kernels-wasm.ts', import.meta.url), 'utf8');
    expect(committed).toBe(await (generate as () => Promise<string>)());
  });

  it('instantiates over the wasm backend memory and writes where a tensor lies', () => {
    const k = simdKernels(tf.backend());
    expect(k).not.toBeNull();
    const x = tf.tensor2d([1, 2, 3, 4, 5, 6, 7, 8], [2, 4]);
    const a = tf.tensor1d([1, 10, 100, 1000]),
      b = tf.tensor1d([0.5, 0.5, 0.5, 0.5]);
    const out = tf.zeros([2, 4]);
    k!.affine(k!.ptr(x), k!.ptr(a), k!.ptr(b), k!.ptr(out), 2, 4);
    expect(Array.from(out.dataSync())).toEqual([1.5, 20.5, 300.5, 4000.5, 5.5, 60.5, 700.5, 8000.5]);
    tf.dispose([x, a, b, out]);
  });
});

describe('Identity on wasm', () => {
  beforeAll(async () => {
    await useBackend('wasm');
  });

  it('shares the block: a clone outlives its source, and the block is freed with the last reference', () => {
    const be = tf.backend() as unknown as { numDataIds(): number };
    const ids = be.numDataIds();
    const x = tf.tensor1d([1, 2, 3]);
    const y = tf.clone(x);
    expect(be.numDataIds()).toBe(ids + 1); // one heap block for both
    x.dispose();
    expect(Array.from(y.dataSync())).toEqual([1, 2, 3]);
    y.dispose();
    expect(be.numDataIds()).toBe(ids);
  });
});
