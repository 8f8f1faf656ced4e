/**
 * bowcnn sweep GRID.json [--queue redis://HOST:PORT] and bowcnn worker --queue ... --cache DIR: a grid of
 * jobs run in this process (the default; no Redis needed) or on BullMQ workers sharing a cache folder.
 */
import { resolve } from 'node:path';
import { hostname } from 'node:os';
import { ensureDir } from '../core/atomic.js';
import { FitError, UsageError } from '../core/errors.js';
import { parseQueueUrl, runSweepQueued, runWorker } from '../eval/queue.js';
import { featureProcessors } from '../eval/features.js';
import {
  expandGrid,
  finalJobs,
  fitProcessor,
  type JobResult,
  readGrid,
  readResult,
  runSweepHere,
  type SweepProgress,
} from '../eval/sweep.js';
import { writeSweepReport } from '../report/sweep.js';
import { Progress } from '../util/progress.js';
import { dataDir, output, say, startBackend } from './common.js';
import type { Values } from './spec.js';

const pct = (v: number | null) => (v === null ? '—' : `${(100 * v).toFixed(2)}%`);
const count = (n: number, one: string) => `${n} ${one}${n === 1 ? '' : 's'}`;

/** --cache: a folder (made if missing); a file there is a usage error, before any job is taken. */
export function cacheFolder(dir: string): string {
  const full = resolve(dir);
  try {
    ensureDir(full);
  } catch (e) {
    throw new UsageError(`--cache ${dir}: ${(e as Error).message}`);
  }
  return full;
}

export async function sweepCommand(v: Values, pos: string[]): Promise<void> {
  const [file] = pos;
  const grid = readGrid(file);
  const out = resolve((v.out as string | undefined) ?? `runs/sweeps/${grid.name}`);
  const queue = v.queue ? parseQueueUrl(v.queue as string) : null;
  const info = await startBackend(v);
  const t0 = performance.now();
  const jobs = await expandGrid(grid, { dataDir: dataDir(v), where: file });
  const cacheDir = cacheFolder((v.cache as string | undefined) ?? `${out}/cache`);
  const cached = jobs.filter((j) => readResult(cacheDir, j.id)).length;
  say(
    v,
    `sweep ${grid.name}: ${count(jobs.length, 'job')} (${cached} already in ${cacheDir}), ${queue ? `on the queue ${queue.url}` : `in this process on ${info.name}`}`,
  );
  const bar = new Progress(`sweep ${grid.name}`, jobs.length - cached, {
    unit: 'job',
    silent: v.json || cached === jobs.length ? true : undefined,
  });
  let shown = 0;
  const onProgressFor = (b: Progress) => (p: SweepProgress, last?: JobResult) => {
    const finished = p.done + p.failed - p.cached;
    b.set({ running: String(p.running), failed: String(p.failed) });
    if (finished > shown) {
      b.tick(finished - shown);
      shown = finished;
    } else b.tick(0);
    if (last && !v.json && last.error)
      process.stderr.write(`\nbowcnn: job ${last.id.slice(0, 10)} (${last.name}) failed: ${last.error.split('\n')[0]}\n`);
  };
  const onProgress = onProgressFor(bar);
  const run = (list: typeof jobs) =>
    queue
      ? runSweepQueued(list, queue, {
          cacheDir,
          retries: grid.retries,
          onProgress,
          onNote: (m) => process.stderr.write(`\nbowcnn: ${m}\n`),
          quietSeconds: v['quiet-seconds'] as number,
        })
      : runSweepHere(list, { cacheDir, dataDir: dataDir(v), onProgress });
  const results = await run(jobs);
  bar.end();
  // the validation protocol's second wave: each pipeline's best point on validation, scored on the test set
  const finals = await finalJobs(grid, results, { dataDir: dataDir(v) });
  if (finals.length) {
    say(
      v,
      `${count(finals.length, 'job')}: each pipeline's best grid point on validation, refitted on all training images and scored on the test set`,
    );
    shown = 0;
    const bar2 = new Progress(`sweep ${grid.name} (test)`, finals.length, { unit: 'job', silent: v.json ? true : undefined });
    const tick = onProgressFor(bar2);
    const got = queue
      ? await runSweepQueued(finals, queue, {
          cacheDir,
          retries: grid.retries,
          onProgress: tick,
          onNote: (m) => process.stderr.write(`\nbowcnn: ${m}\n`),
        })
      : await runSweepHere(finals, { cacheDir, dataDir: dataDir(v), onProgress: tick });
    bar2.end();
    results.push(...got);
  }
  const files = writeSweepReport(
    { grid, mode: queue ? 'queue' : 'in-process', seconds: (performance.now() - t0) / 1000, jobs: results, cached },
    out,
  );
  const failed = results.filter((r) => r.error);
  output(v.json, { files, jobs: results }, () => {
    const w = Math.max(...results.map((r) => r.name.length));
    for (const r of results)
      console.log(
        `${r.id.slice(0, 10)}  ${r.name.padEnd(w)}  ${pct(r.accuracy).padStart(7)} ${r.config.scoredOn === 'validation' ? 'val ' : 'test'}  ${[...Object.entries(r.config.set).map(([k, x]) => `${k}=${JSON.stringify(x)}`), `seed=${r.config.seed}`, r.config.dataset.name].join(' ')}${r.error ? `  FAILED: ${r.error.split('\n')[0]}` : ''}`,
      );
    console.log(`\nreport: ${files.html}\n        ${files.md}\n        ${files.json}`);
  });
  if (failed.length) throw new FitError(`${failed.length} of ${results.length} jobs failed (their errors are in ${files.json})`);
}

export async function workerCommand(v: Values): Promise<void> {
  if (!v.queue) throw new UsageError('give --queue redis://HOST:PORT');
  if (!v.cache) throw new UsageError('give --cache DIR (the folder the sweeps read results from, shared by every worker)');
  const c = parseQueueUrl(v.queue as string);
  const cacheDir = cacheFolder(v.cache as string);
  const conc = v.concurrency as number;
  if (!(Number.isInteger(conc) && conc >= 1)) throw new UsageError(`--concurrency ${conc}: a whole number of jobs, at least 1`);
  const stall = v['stall-seconds'] as number;
  if (!(stall > 0)) throw new UsageError(`--stall-seconds ${stall}: a number of seconds above 0`);
  const info = await startBackend(v);
  const me = `${hostname()}:${process.pid}`;
  const idle = v['idle-exit'] as number | undefined;
  if (idle !== undefined && !(idle > 0)) throw new UsageError(`--idle-exit ${idle}: a number of seconds above 0`);
  say(
    v,
    `worker ${me} on ${info.name}: jobs from ${c.url}, results into ${cacheDir}; Ctrl-C stops (a running job is taken again by another worker)`,
  );
  const started = new Map<string, number>();
  await runWorker(c, {
    processors: { fit: fitProcessor, ...featureProcessors },
    cacheDir,
    dataDir: dataDir(v),
    concurrency: v.concurrency as number,
    stallSeconds: v['stall-seconds'] as number,
    idleExitSeconds: v['idle-exit'] as number | undefined,
    onEvent: (what, job, detail) => {
      const id = String(job.id).slice(0, 10);
      const j = (job.data as { job?: { config?: { pipeline: string }; pipeline?: string; start?: number; end?: number } }).job;
      const name = j?.config?.pipeline ?? (j?.start !== undefined ? `${job.name} ${j.start}-${j.end}` : job.name);
      if (what === 'start') {
        started.set(String(job.id), performance.now());
        say(v, `${me}: job ${id} (${name}) started, attempt ${job.attemptsMade + 1}`);
      } else {
        const s = ((performance.now() - (started.get(String(job.id)) ?? performance.now())) / 1000).toFixed(1);
        const acc = (job.returnvalue as { accuracy?: number } | undefined)?.accuracy;
        say(
          v,
          what === 'done'
            ? `${me}: job ${id} done in ${s} s${acc !== undefined ? `: ${pct(acc)}` : ''}`
            : `${me}: job ${id} failed after ${s} s: ${detail}`,
        );
      }
    },
  });
  say(v, `${me}: no job for ${idle} s: exiting`);
}
