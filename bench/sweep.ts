// The sweep machinery's speed: sweeps/quick.json in this process, and on a real Redis with 1 and 2 `bowcnn
// worker` processes (each with the default threads, and with one thread each), in turns, each run on a fresh
// cache so that nothing is reused; then a folder's features in shards of 1,000 images (28x28 and 64x64), the
// per-shard time that docs/scale-out.md projects a large folder from.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { dataset } from '../src/data/registry.js';
import { encodePng } from '../src/report/png.js';
import { freePort, startRedis } from '../scripts/local-redis.js';

const ROOT = resolve(import.meta.dirname, '..');
const MAIN = join(ROOT, 'src/cli/main.ts');
const ENV = { ...process.env, BOWCNN_PROGRESS: '0' };

function cli(args: string[], env: Record<string, string> = {}): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ['--import', 'tsx', MAIN, ...args], { cwd: ROOT, env: { ...ENV, ...env }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`bowcnn ${args.join(' ')}: exit ${r.status}\n${r.stderr}`);
  return (performance.now() - t0) / 1000;
}

async function queued(workers: number, threads: string | undefined): Promise<number> {
  const port = await freePort();
  const redis = await startRedis(port);
  const dir = mkdtempSync(join(tmpdir(), 'bowcnn-bench-sweep-'));
  const url = `redis://127.0.0.1:${port}`;
  const ws: ChildProcess[] = [];
  try {
    for (let i = 0; i < workers; i++)
      ws.push(
        spawn(process.execPath, ['--import', 'tsx', MAIN, 'worker', '--queue', url, '--cache', join(dir, 'cache')], {
          cwd: ROOT,
          env: { ...ENV, ...(threads ? { BOWCNN_WASM_THREADS: threads } : {}) },
          stdio: 'ignore',
        }),
      );
    // the workers start while the sweep loads its datasets: timed from the sweep's start to its end
    return cli(['sweep', 'sweeps/quick.json', '--queue', url, '--cache', join(dir, 'cache'), '--out', dir]);
  } finally {
    for (const w of ws) w.kill('SIGKILL');
    redis.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

function here(): number {
  const dir = mkdtempSync(join(tmpdir(), 'bowcnn-bench-sweep-'));
  try {
    return cli(['sweep', 'sweeps/quick.json', '--out', dir]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

export async function run(): Promise<Record<string, unknown>> {
  const reps = Number(process.env.BOWCNN_BENCH_REPS ?? 2);
  const configs: [string, () => Promise<number> | number][] = [
    ['in-process', here],
    ['1 worker', () => queued(1, undefined)],
    ['2 workers', () => queued(2, undefined)],
    ['2 workers, 1 thread each', () => queued(2, '1')],
  ];
  const times: Record<string, number[]> = Object.fromEntries(configs.map(([n]) => [n, []]));
  for (let r = 0; r < reps; r++)
    for (const [name, f] of configs) {
      const s = await f();
      times[name].push(s);
      console.log(`${name.padEnd(26)} run ${r + 1}: ${s.toFixed(1)} s`);
    }
  const ratios = Array.from({ length: reps }, (_, i) => times['1 worker'][i] / times['2 workers'][i]);
  const ratios1 = Array.from({ length: reps }, (_, i) => times['1 worker'][i] / times['2 workers, 1 thread each'][i]);
  console.log(`\nquick.json (10 jobs), median wall seconds over ${reps} turns on ${cpus().length} CPUs:`);
  for (const [n] of configs) console.log(`  ${n.padEnd(26)} ${median(times[n]).toFixed(1)} s`);
  console.log(
    `  speedup 1 -> 2 workers: ${ratios.map((x) => x.toFixed(2)).join(', ')} (1 thread each: ${ratios1.map((x) => x.toFixed(2)).join(', ')})`,
  );

  // features: 2,000 MNIST test images as a folder, shards of 1,000, at 28x28 and 64x64
  const folder = mkdtempSync(join(tmpdir(), 'bowcnn-bench-folder-'));
  const shards: Record<string, number> = {};
  try {
    const ds = await dataset('mnist', { subset: 10, testSubset: 2000, seed: 0 });
    for (let i = 0; i < ds.test.n; i++) {
      const c = join(folder, 'images', ds.classes[ds.test.labels[i]]);
      mkdirSync(c, { recursive: true });
      writeFileSync(join(c, `${i}.png`), encodePng(ds.test.pixels.subarray(i * 784, (i + 1) * 784), 28, 28, 1));
    }
    for (const size of ['28x28', '64x64']) {
      cli([
        'features',
        '--dataset',
        `folder:${join(folder, 'images')}`,
        '--pipeline',
        'bow-sift',
        '--size',
        size,
        '--out',
        join(folder, size),
      ]);
      const f = JSON.parse(readFileSync(join(folder, size, 'features.json'), 'utf8')) as { medianShardSeconds: number };
      shards[size] = f.medianShardSeconds;
      console.log(`features, bow-sift, ${size}: ${f.medianShardSeconds.toFixed(2)} s a shard of 1,000 images (in this process)`);
    }
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
  return {
    cpus: cpus().length,
    reps,
    times,
    medians: Object.fromEntries(configs.map(([n]) => [n, median(times[n])])),
    speedup: ratios,
    speedupOneThread: ratios1,
    shardSeconds: shards,
  };
}
