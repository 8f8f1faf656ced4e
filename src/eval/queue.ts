/**
 * Sweeps and feature extraction on BullMQ (Redis): the coordinator puts each job in the queue under its
 * content-hash id (BullMQ keeps one job per id, so a job is never queued twice) and follows the results as
 * workers write them into the shared cache; `worker` runs jobs from the queue on any machine that reaches
 * the same Redis and the same cache folder.
 *
 * Delivery is at least once: a worker that dies mid-job (kill -9, a lost machine) stops renewing its
 * lock, and after the stall interval another worker takes the job. Results are content-addressed and
 * written atomically, so a job run twice writes the same file. A job that fails is retried with
 * exponential backoff; after its last attempt it is reported with its error, and the sweep goes on. The
 * results live in the cache, not in Redis: a Redis restart loses queued work but no finished result, and
 * a rerun of the sweep queues only what is missing.
 */
import { Queue, type Job, Worker } from 'bullmq';
import { ConfigError, Interrupted, IoError } from '../core/errors.js';
import { checkpoint, stopRequested } from '../core/interrupt.js';
import { readResult, type JobResult, type SweepJob, failedResult, type SweepProgress } from './sweep.js';

export const QUEUE_NAME = 'bowcnn';

export interface Connection {
  host: string;
  port: number;
  db: number;
  username?: string;
  password?: string;
  tls: boolean; // rediss://
  url: string; // as shown: without the password
}

/** redis://[USER:PASSWORD@]HOST:PORT[/DB] or rediss:// (TLS), checked; the shown URL hides the password. */
export function parseQueueUrl(url: string): Connection {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ConfigError('--queue: not a URL (expected redis://HOST:PORT)');
  }
  const shown = `${u.protocol}//${u.hostname}${u.port ? `:${u.port}` : ''}${u.pathname && u.pathname !== '/' ? u.pathname : ''}`;
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:')
    throw new ConfigError(`--queue ${shown}: expected redis://HOST:PORT or rediss://HOST:PORT (got ${u.protocol}//)`);
  const port = Number(u.port || 6379);
  const db = u.pathname && u.pathname !== '/' ? Number(u.pathname.slice(1)) : 0;
  if (!Number.isInteger(db) || db < 0 || db > 15)
    throw new ConfigError(`--queue ${shown}: the database '${u.pathname.slice(1)}' is not one of 0..15`);
  return {
    host: u.hostname || '127.0.0.1',
    port,
    db,
    username: u.username ? decodeURIComponent(u.username) : undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    tls: u.protocol === 'rediss:',
    url: shown,
  };
}

const ioredis = (c: Connection) => ({
  host: c.host,
  port: c.port,
  db: c.db,
  username: c.username,
  password: c.password,
  ...(c.tls ? { tls: {} } : {}),
  maxRetriesPerRequest: null,
  enableOfflineQueue: true,
});

/** Resolves once Redis answers; an IoError naming the address (and Redis's own complaint, a refused password say) when it does not within `ms`. */
async function reachable(q: Queue | Worker, c: Connection, ms = 10_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  let last = '';
  const note = (e: Error) => {
    last = e.message;
  };
  const events = q as unknown as { on(e: 'error', f: (e: Error) => void): void; off(e: 'error', f: (e: Error) => void): void };
  events.on('error', note);
  try {
    await Promise.race([
      q.waitUntilReady(),
      new Promise((_, fail) => {
        timer = setTimeout(
          () =>
            fail(
              new IoError(
                c.url,
                last && !/ECONNREFUSED|ETIMEDOUT|ENOTFOUND|EHOSTUNREACH/.test(last)
                  ? `Redis refuses the connection: ${last}`
                  : `Redis does not answer (after ${ms / 1000} s): is redis-server running there?`,
              ),
            ),
          ms,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
    events.off('error', note);
  }
}

export type QueueData = { kind: string; [k: string]: unknown };

/** p, or Interrupted as soon as a stop is requested: a Redis call waits while Redis is down, a Ctrl-C must not. */
async function orStop<T>(p: Promise<T>): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, fail) => {
        t = setInterval(() => {
          const s = stopRequested();
          if (s) fail(new Interrupted(s));
        }, 200);
      }),
    ]);
  } finally {
    clearInterval(t);
  }
}

/** Waits for p at most `ms` (closing connections to a Redis that is gone). */
async function settleWithin(p: Promise<unknown>, ms = 2000): Promise<void> {
  let t: NodeJS.Timeout | undefined;
  await Promise.race([p.catch(() => {}), new Promise((r) => (t = setTimeout(r, ms)))]);
  clearTimeout(t);
}
/** Runs one queued job of a kind; `progress` reports a phase to BullMQ (the job's progress there). */
export type Processor = (
  data: QueueData,
  ctx: { cacheDir: string; dataDir?: string; progress: (phase: string) => void },
) => Promise<unknown>;

export interface WorkerOptions {
  /** what the worker runs, by job kind ('fit' for a sweep's jobs, 'dictionary' and 'shard' for features) */
  processors: Record<string, Processor>;
  cacheDir: string;
  dataDir?: string;
  concurrency?: number;
  /** a job whose worker stops renewing its lock for this long is taken by another worker (default 30) */
  stallSeconds?: number;
  /** returns (rather than waiting for more) once no job has run for this long: for a batch job (a Kubernetes Job) */
  idleExitSeconds?: number;
  onEvent?: (what: 'start' | 'done' | 'failed', job: Job, detail?: string) => void;
}

/**
 * Runs jobs from the queue until a stop is requested (Ctrl-C, SIGTERM: throws Interrupted), or until it has
 * been idle for `idleExitSeconds` (returns). A job interrupted by a stop is left to stall and be taken again
 * (it is not counted as failed); finished ones are in the cache.
 */
export async function runWorker(c: Connection, opts: WorkerOptions): Promise<void> {
  const stall = (opts.stallSeconds ?? 30) * 1000;
  // a report that fails (a log line) never fails the job
  const tell = (what: 'start' | 'done' | 'failed', job: Job, detail?: string) => {
    try {
      opts.onEvent?.(what, job, detail);
    } catch {}
  };
  let active = 0,
    lastActive = performance.now();
  const worker = new Worker(
    QUEUE_NAME,
    async (job: Job) => {
      const data = job.data as QueueData;
      const run = opts.processors[data.kind];
      if (!run) throw new Error(`unknown job kind '${data.kind}' (this worker knows ${Object.keys(opts.processors).join(', ')})`);
      tell('start', job);
      active++;
      try {
        return await run(data, {
          cacheDir: opts.cacheDir,
          dataDir: opts.dataDir,
          progress: (phase) => void job.updateProgress({ phase }).catch(() => {}),
        });
      } catch (e) {
        // stopping: the job stays active with a lock nobody renews, and is taken again after the stall interval
        if (e instanceof Interrupted) await new Promise(() => {});
        throw e;
      } finally {
        active--;
        lastActive = performance.now();
      }
    },
    {
      connection: ioredis(c),
      concurrency: opts.concurrency ?? 1,
      lockDuration: stall,
      stalledInterval: stall,
      maxStalledCount: 2,
      autorun: false,
    },
  );
  worker.on('completed', (job) => tell('done', job));
  worker.on('failed', (job, err) => job && tell('failed', job, err.message));
  worker.on('error', () => {}); // connection errors: ioredis reconnects; the run loop goes on
  try {
    await reachable(worker, c);
  } catch (e) {
    await settleWithin(worker.close(true));
    throw e;
  }
  const running = worker.run();
  // --idle-exit: gone once nothing has been waiting or running anywhere for that long (a stalled job counts as
  // running until it is taken again, so that no job is left behind)
  const watch = opts.idleExitSeconds !== undefined ? new Queue(QUEUE_NAME, { connection: ioredis(c) }) : null;
  watch?.on('error', () => {});
  let busySince = performance.now();
  const idle = async () => {
    if (!watch) return false;
    const n = await orStop(watch.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children', 'paused'));
    if (active > 0 || Object.values(n).some((k) => k > 0)) busySince = performance.now();
    return performance.now() - Math.max(busySince, lastActive) > (opts.idleExitSeconds ?? 0) * 1000;
  };
  try {
    while (!stopRequested() && !(await idle())) await new Promise((r) => setTimeout(r, 250));
  } catch (e) {
    if (!(e instanceof Interrupted)) throw e;
  } finally {
    // closing waits on Redis, which may be down: not for long
    await settleWithin(worker.close(!!stopRequested()));
    if (watch) await settleWithin(watch.close());
    // a job interrupted by the stop never settles (it waits to be taken again): do not wait for it
    if (!stopRequested()) await running.catch(() => {});
  }
  const sig = stopRequested();
  if (sig)
    throw new Interrupted(
      sig,
      active > 0 ? 'its running job is left to stall and is taken by another worker; finished results are in the cache' : '',
    );
}

/** One unit of queued work: its id, what the worker gets, and where its result shows up once finished. */
export interface QueueItem<R> {
  id: string;
  name: string; // the job's name in BullMQ (its kind)
  data: QueueData;
  result(): R | null; // the finished result, read from the shared cache
  after?: string; // an item to wait for before this one is queued (one that makes what this one reuses)
}

export interface QueueWait {
  total: number;
  done: number;
  failed: number;
  running: number;
  cached: number;
}

/**
 * Queues the items that have no result yet and waits until each has one, or has failed its last attempt
 * (then its BullMQ failure reason is returned in its place). Items already in the queue under the same id
 * (another sweep, a rerun) are waited for, not queued again; one that failed or finished earlier without
 * its result here is queued afresh, and one lost from Redis (a restart) is queued again.
 */
export async function queueAndWait<R>(
  items: QueueItem<R>[],
  c: Connection,
  opts: {
    retries: number;
    onProgress?: (p: QueueWait, id?: string, r?: R | { error: string; attempts: number }) => void;
    pollMs?: number;
    /** a line to show when queued jobs wait for a worker: none has taken one for `quietSeconds` */
    onNote?: (message: string) => void;
    /** how long queued jobs may wait, nothing running, before onNote is told (default 30 s; again every 2 minutes) */
    quietSeconds?: number;
    /** the cache folder the workers must share, for the note's command line */
    cacheDir?: string;
  },
): Promise<Map<string, R | { error: string; attempts: number }>> {
  const queue = new Queue(QUEUE_NAME, { connection: ioredis(c) });
  queue.on('error', () => {});
  try {
    await reachable(queue, c);
    const out = new Map<string, R | { error: string; attempts: number }>();
    const p: QueueWait = { total: items.length, done: 0, failed: 0, running: 0, cached: 0 };
    for (const it of items) {
      const r = it.result();
      if (r) {
        out.set(it.id, r);
        p.done++;
        p.cached++;
      }
    }
    opts.onProgress?.(p);
    const add = async (it: QueueItem<R>) => {
      const old = await orStop(queue.getJob(it.id));
      if (old) {
        const state = await orStop(old.getState());
        if (state !== 'failed' && state !== 'completed') return; // waiting, active, delayed: on its way
        await orStop(old.remove());
      }
      await orStop(
        queue.add(it.name, it.data, {
          jobId: it.id,
          attempts: opts.retries + 1,
          backoff: { type: 'exponential', delay: 1000 },
          removeOnComplete: { age: 24 * 3600 },
          removeOnFail: { age: 7 * 24 * 3600 },
        }),
      );
    };
    const pending = items.filter((it) => !out.has(it.id));
    // an item waits for the one it comes after (finished or failed) before it is queued
    const queued = new Set<string>();
    const ids = new Set(items.map((it) => it.id));
    const ready = (it: QueueItem<R>) => !it.after || out.has(it.after) || !ids.has(it.after);
    const addReady = async () => {
      for (const it of pending)
        if (!queued.has(it.id) && !out.has(it.id) && ready(it)) {
          await add(it);
          queued.add(it.id);
        }
    };
    await addReady();
    // queued jobs that no worker takes: say so, with how to start one (and again every 2 minutes)
    const quiet = (opts.quietSeconds ?? 30) * 1000;
    let lastChange = performance.now(),
      lastNote = Number.NEGATIVE_INFINITY,
      lastSeen = '';
    const noteIfQuiet = async (running: number) => {
      const seen = `${p.done}/${p.failed}/${running}`;
      if (seen !== lastSeen || running > 0) {
        lastSeen = seen;
        lastChange = performance.now();
        return;
      }
      const now = performance.now();
      if (!opts.onNote || now - lastChange < quiet || now - lastNote < Math.max(quiet, 120_000)) return;
      lastNote = now;
      const workers = await orStop(queue.getWorkersCount());
      const waited = Math.round((now - lastChange) / 1000);
      const start = `bowcnn worker --queue ${c.url}${opts.cacheDir ? ` --cache ${opts.cacheDir}` : ' --cache DIR'}`;
      opts.onNote(
        workers === 0
          ? `no worker is connected to ${c.url}: ${items.length - out.size} job(s) have waited ${waited} s. Start one on any machine that reaches this Redis and this cache folder: ${start}`
          : `${workers} worker(s) are connected to ${c.url}, but none has taken a job for ${waited} s (busy with other jobs, or stopping?); more can join: ${start}`,
      );
    };
    while (out.size < items.length) {
      await checkpoint();
      await new Promise((r) => setTimeout(r, opts.pollMs ?? 500));
      let running = 0;
      for (const it of pending) {
        if (out.has(it.id)) continue;
        const r = it.result();
        if (r) {
          out.set(it.id, r);
          p.done++;
          opts.onProgress?.({ ...p, running }, it.id, r);
          continue;
        }
        if (!queued.has(it.id)) continue;
        const job = await orStop(queue.getJob(it.id));
        if (!job) {
          await add(it);
          continue;
        }
        const state = await orStop(job.getState());
        if (state === 'active') running++;
        // failed is final in BullMQ: after the last attempt, or a job that stalled more often than allowed
        if (state === 'failed') {
          const f = { error: job.failedReason || 'failed', attempts: job.attemptsMade };
          out.set(it.id, f);
          p.failed++;
          opts.onProgress?.({ ...p, running }, it.id, f);
        } else if (state === 'completed' && !it.result())
          throw new ConfigError(
            `job ${it.id} finished on a worker, but its result is not in this cache: give the workers and this command the same --cache folder`,
          );
      }
      p.running = running;
      opts.onProgress?.(p);
      await noteIfQuiet(running);
      await addReady();
    }
    return out;
  } finally {
    await settleWithin(queue.close());
  }
}

/** A sweep's jobs on the queue: queueAndWait over results/ID.json, failures as result rows. */
export async function runSweepQueued(
  jobs: SweepJob[],
  c: Connection,
  opts: {
    cacheDir: string;
    retries: number;
    onProgress?: (p: SweepProgress, last?: JobResult) => void;
    pollMs?: number;
    onNote?: (message: string) => void;
    quietSeconds?: number;
  },
): Promise<JobResult[]> {
  const t0 = performance.now();
  const byId = new Map(jobs.map((j) => [j.id, j]));
  const failed = (id: string, f: { error: string; attempts: number }) =>
    failedResult(byId.get(id)!, f.error, (performance.now() - t0) / 1000, f.attempts);
  const asRow = (id: string, r: JobResult | { error: string; attempts: number }) => ('config' in r ? r : failed(id, r));
  const got = await queueAndWait<JobResult>(
    jobs.map((j) => ({
      id: j.id,
      after: j.after,
      name: 'fit',
      data: { kind: 'fit', job: j },
      result: () => readResult(opts.cacheDir, j.id),
    })),
    c,
    {
      retries: opts.retries,
      pollMs: opts.pollMs,
      onNote: opts.onNote,
      quietSeconds: opts.quietSeconds,
      cacheDir: opts.cacheDir,
      onProgress: (p, id, r) => opts.onProgress?.(p, id && r ? asRow(id, r) : undefined),
    },
  );
  return jobs.map((j) => asRow(j.id, got.get(j.id)!));
}
