// bowcnn's native convolution kernels (src/backend/native.ts, native/bowcnn.cc) against the wasm
// backend without them (BOWCNN_NATIVE=0: XNNPACK's convolutions and bowcnn's wasm filter gradient), in
// alternating processes (bench/variants.ts): the LeNet-5 and alexnet-small training steps only, 5
// rounds unless BOWCNN_BENCH_ROUNDS says otherwise.
import { runVariants } from './variants.js';

export async function run(): Promise<Record<string, unknown>> {
  process.env.BOWCNN_BENCH_ROUNDS ??= '5';
  const only = { BOWCNN_BENCH_STEPS_ONLY: '1' };
  return runVariants([{ label: 'wasm', env: { ...only, BOWCNN_NATIVE: '0' } }, { label: 'native', env: { ...only, BOWCNN_NATIVE: '1' } }]);
}
