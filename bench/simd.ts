// bowcnn's WebAssembly SIMD kernels (src/backend/simd/kernels.wat) against what they replace
// (BOWCNN_WASM_SIMD=0: JavaScript loops over the heap, the composed one-channel filter gradient), in
// alternating processes (bench/variants.ts), at the default thread count.
import { runVariants } from './variants.js';

export async function run(): Promise<Record<string, unknown>> {
  return runVariants([
    { label: 'JavaScript', env: { BOWCNN_WASM_SIMD: '0' } },
    { label: 'SIMD', env: { BOWCNN_WASM_SIMD: '1' } },
  ]);
}
