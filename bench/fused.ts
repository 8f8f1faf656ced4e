// bowcnn's fused training kernels (src/backend/fused-kernels.ts: bias + ReLU, Adam) against tfjs-core's
// ops (BOWCNN_WASM_FUSED=0), in alternating processes (bench/variants.ts), at the default thread count:
// the LeNet-5 and alexnet-small training steps only, 5 rounds unless BOWCNN_BENCH_ROUNDS says otherwise.
import { runVariants } from './variants.js';

export async function run(): Promise<Record<string, unknown>> {
  process.env.BOWCNN_BENCH_ROUNDS ??= '5';
  const only = { BOWCNN_BENCH_STEPS_ONLY: '1' };
  return runVariants([
    { label: 'tfjs ops', env: { ...only, BOWCNN_WASM_FUSED: '0' } },
    { label: 'fused', env: { ...only, BOWCNN_WASM_FUSED: '1' } },
  ]);
}
