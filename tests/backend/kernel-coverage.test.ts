// Every kernel that the project's models and stages run, forward and backward, exists on wasm, and the
// results agree with the cpu backend.
import { beforeAll, describe, expect, it } from 'vitest';
import { tf, useBackend } from '../../src/backend/index.js';
import { onBackend } from '../helpers.js';
import { WORKLOADS } from './workloads.js';

describe('kernel coverage on wasm', () => {
  beforeAll(async () => {
    await useBackend('wasm');
  }); // registers the wasm kernels
  for (const w of WORKLOADS) {
    it(`${w.name}: every kernel exists on wasm and the step matches cpu`, async () => {
      // profile names also list op scopes ('fusedMatMul__op') and customGrad's 'unnamed scope'; the kernels
      // they ran are listed on their own
      const names = (
        await onBackend(
          'cpu',
          async () =>
            (
              await tf.profile(() => {
                w.run();
              })
            ).kernelNames,
        )
      ).filter((k) => !k.endsWith('__op') && k !== 'unnamed scope');
      expect(names.length).toBeGreaterThan(5);
      const missing = names.filter((k) => !tf.getKernel(k, 'wasm'));
      expect(missing).toEqual([]);
      if (w.name.startsWith('lenet')) expect(names).toContain('Conv2DBackpropFilter');
      const cpu = await onBackend('cpu', w.run);
      const wasm = await onBackend('wasm', w.run);
      for (let i = 0; i < cpu.length; i++) expect(Math.abs(wasm[i] - cpu[i])).toBeLessThan(1e-3 * Math.max(1, Math.abs(cpu[i])));
    });
  }
});
