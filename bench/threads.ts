// The wasm thread pool: the same work with BOWCNN_WASM_THREADS=1 and =2 (or BOWCNN_BENCH_THREADS=1,2,4),
// each in its own process (the pool is sized when the backend starts), alternating rounds (bench/variants.ts):
// LeNet-5 and alexnet-small training steps (batch 128, Adam) and single kernels at their shapes.
import { runVariants } from './variants.js';

export async function run(): Promise<Record<string, unknown>> {
  const threads = (process.env.BOWCNN_BENCH_THREADS ?? '1,2').split(',').map(Number);
  const r = runVariants(
    threads.map((t) => ({
      label: `${t} thread${t > 1 ? 's' : ''}`,
      env: { BOWCNN_WASM_THREADS: String(t) },
      check: (row) => (row.threads !== t ? `asked for ${t} threads, the backend ran ${row.threads}` : null),
    })),
  );
  return { threads, ...r };
}
