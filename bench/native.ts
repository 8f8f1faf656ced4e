// bowcnn's native convolution kernels (src/backend/native.ts, native/bowcnn.cc) against the wasm
// backend without them (BOWCNN_NATIVE=0: XNNPACK's convolutions and bowcnn's wasm filter gradient), and
// with them but without the fusion pass (BOWCNN_FUSE=0: LeNet-5's conv, bias + ReLU and pool as separate
// kernels), in alternating processes (bench/variants.ts): the LeNet-5 and alexnet-small training steps
// only, 5 rounds unless BOWCNN_BENCH_ROUNDS says otherwise.
import { runVariants } from './variants.js';

export async function run(): Promise<Record<string, unknown>> {
  process.env.BOWCNN_BENCH_ROUNDS ??= '5';
  const only = { BOWCNN_BENCH_STEPS_ONLY: '1' };
  return runVariants([
    { label: 'wasm', env: { ...only, BOWCNN_NATIVE: '0' } },
    { label: 'native, unfused', env: { ...only, BOWCNN_NATIVE: '1', BOWCNN_FUSE: '0' } },
    { label: 'native + fusion', env: { ...only, BOWCNN_NATIVE: '1', BOWCNN_FUSE: '1' } },
  ]);
}
