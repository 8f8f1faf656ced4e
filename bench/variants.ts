// The same measurements (bench/threads-child.ts) in processes that differ by environment, alternating
// for BOWCNN_BENCH_ROUNDS rounds (default 3) so that a noisy machine hurts every variant alike; each
// figure is the best round's. Used by the threads and simd suites.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { table } from './util.js';

type Row = Record<string, number>;
export interface Variant {
  label: string;
  env: Record<string, string>;
  check?: (row: Row) => string | null;
}

export function runVariants(variants: Variant[]): { rounds: number; rows: Record<string, unknown>[] } {
  const rounds = Number(process.env.BOWCNN_BENCH_ROUNDS ?? 3);
  const best: Record<string, Row> = {};
  for (let r = 0; r < rounds; r++) {
    for (const v of variants) {
      const p = spawnSync(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'threads-child.ts')], {
        env: { ...process.env, ...v.env },
        encoding: 'utf8',
        timeout: 600_000,
      });
      if (p.status !== 0) throw new Error(`bench child (${v.label}) failed: ${p.stderr}`);
      const row = JSON.parse(p.stdout.trim().split('\n').pop()!) as Row;
      const wrong = v.check?.(row);
      if (wrong) throw new Error(`bench child (${v.label}): ${wrong}`);
      best[v.label] = best[v.label] ? Object.fromEntries(Object.entries(row).map(([k, x]) => [k, Math.min(x, best[v.label][k])])) : row;
      console.log(`round ${r + 1}, ${v.label}:`, JSON.stringify(row));
    }
  }
  const first = variants[0].label,
    last = variants[variants.length - 1].label;
  const keys = Object.keys(best[first]).filter((k) => k !== 'threads');
  const rows = keys.map((k) => ({
    measure: k,
    ...Object.fromEntries(variants.map((v) => [v.label, best[v.label][k]])),
    [`speedup (${first} / ${last})`]: +(best[first][k] / best[last][k]).toFixed(2),
  }));
  table(rows);
  return { rounds, rows };
}
