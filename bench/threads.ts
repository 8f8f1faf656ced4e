// The wasm thread pool: the same work with BOWCNN_WASM_THREADS=1 and =2 (or BOWCNN_BENCH_THREADS=1,2,4),
// each in its own process (the pool is sized when the backend starts), alternating for
// BOWCNN_BENCH_ROUNDS rounds (default 3) so that a noisy machine hurts both alike. Each figure is
// the best round's median: LeNet-5 and alexnet-small training steps (batch 128, Adam) and single kernels
// at their shapes (conv forward, input and filter gradients).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { table } from './util.js';

type Row = Record<string, number>;

export async function run(): Promise<Record<string, unknown>> {
  const threads = (process.env.BOWCNN_BENCH_THREADS ?? '1,2').split(',').map(Number);
  const rounds = Number(process.env.BOWCNN_BENCH_ROUNDS ?? 3);
  const best: Record<number, Row> = {};
  for (let r = 0; r < rounds; r++) {
    for (const t of threads) {
      const p = spawnSync(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'threads-child.ts')],
        { env: { ...process.env, BOWCNN_WASM_THREADS: String(t) }, encoding: 'utf8', timeout: 600_000 });
      if (p.status !== 0) throw new Error(`threads-child with ${t} threads failed: ${p.stderr}`);
      const row = JSON.parse(p.stdout.trim().split('\n').pop()!) as Row;
      if (row.threads !== t) throw new Error(`asked for ${t} threads, the backend ran ${row.threads}`);
      best[t] = best[t] ? Object.fromEntries(Object.entries(row).map(([k, v]) => [k, Math.min(v, best[t][k])])) : row;
      console.log(`round ${r + 1}, ${t} thread(s):`, JSON.stringify(row));
    }
  }
  const keys = Object.keys(best[threads[0]]).filter((k) => k !== 'threads');
  const rows = keys.map((k) => ({ measure: k, ...Object.fromEntries(threads.map((t) => [`${t} thread${t > 1 ? 's' : ''}`, best[t][k]])),
    [`speedup ${threads[threads.length - 1]}/${threads[0]}`]: +(best[threads[0]][k] / best[threads[threads.length - 1]][k]).toFixed(2) }));
  table(rows);
  return { rounds, threads, rows };
}
