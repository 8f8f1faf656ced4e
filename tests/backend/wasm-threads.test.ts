// XNNPACK's thread pool in Node (src/backend/wasm-threads.ts): with 2 threads the backend says so, gives
// bit-identical results to the unthreaded build, and the process exits by itself afterwards.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const probe = resolve(import.meta.dirname, 'threads-probe.ts');

function run(threads: number, native: boolean) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', probe], {
    env: { ...process.env, BOWCNN_WASM_THREADS: String(threads), BOWCNN_NATIVE: native ? '1' : '0' },
    encoding: 'utf8',
    timeout: 60_000,
  });
  expect(r.error, `probe with ${threads} threads did not exit by itself`).toBeUndefined();
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as { threads: number; notes: string; loss: number; grad: number[]; mm: number[]; simd: number[] };
}

describe('wasm thread pool', () => {
  // XNNPACK's own pool: with the native kernels turned off (with them, XNNPACK keeps one thread)
  it('runs 2 threads with the same results as 1, and lets Node exit', () => {
    const one = run(1, false),
      two = run(2, false);
    expect(two.notes).toMatch(/XNNPACK thread pool of 2/);
    expect(one.threads).toBe(1);
    expect(two.threads).toBe(2);
    expect(two.loss).toBe(one.loss);
    expect(two.grad).toEqual(one.grad);
    expect(two.mm).toEqual(one.mm);
    expect(two.simd).toEqual(one.simd); // SIMD kernels over shared and unshared memory
    expect(one.simd.some((v) => v !== 0)).toBe(true);
    expect(one.grad.some((v) => v !== 0)).toBe(true);
  });

  it.skipIf(!existsSync(resolve(import.meta.dirname, '../../native/build/Release/bowcnn_native.node')))(
    'with the native kernels: their 2 threads give the results of 1, and Node exits',
    () => {
      const one = run(1, true),
        two = run(2, true);
      expect(two.threads).toBe(2);
      expect(two.notes).toMatch(/native kernels: .*2 OpenMP threads; XNNPACK 1 thread/);
      expect(two.loss).toBe(one.loss);
      expect(two.grad).toEqual(one.grad);
      expect(two.mm).toEqual(one.mm);
      expect(two.simd).toEqual(one.simd);
    },
  );
});

describe('wasmThreadsWanted', () => {
  it('takes the option, else BOWCNN_WASM_THREADS, else the CPU count; caps at 8; refuses nonsense', async () => {
    const { wasmThreadsWanted, BackendError } = await import('../../src/backend/index.js');
    const { ConfigError } = await import('../../src/core/errors.js');
    const { availableParallelism } = await import('node:os');
    const saved = process.env.BOWCNN_WASM_THREADS;
    try {
      process.env.BOWCNN_WASM_THREADS = '3';
      expect(wasmThreadsWanted(1)).toBe(1);
      expect(wasmThreadsWanted()).toBe(3);
      expect(wasmThreadsWanted(32)).toBe(8);
      delete process.env.BOWCNN_WASM_THREADS;
      expect(wasmThreadsWanted()).toBe(Math.min(8, availableParallelism()));
      process.env.BOWCNN_WASM_THREADS = 'two';
      expect(() => wasmThreadsWanted()).toThrow(ConfigError); // a setting that is not one: exit 2
      expect(() => wasmThreadsWanted()).toThrow("BOWCNN_WASM_THREADS='two': a whole number >= 1");
      expect(() => wasmThreadsWanted(0)).toThrow(BackendError);
      expect(() => wasmThreadsWanted(0)).toThrow(/whole number >= 1/);
    } finally {
      if (saved === undefined) delete process.env.BOWCNN_WASM_THREADS;
      else process.env.BOWCNN_WASM_THREADS = saved;
    }
  });
});
