// Sweeps with the real parts: a real redis-server on a free port of 127.0.0.1 and real `bowcnn worker`
// processes. sweeps/quick.json on two workers, one of them killed (kill -9) mid-job, gives the in-process
// run's results.json apart from timings, with each job's result once; a Redis restart loses no finished
// result (a rerun reads them from the cache with no worker at all); a job that fails after its retries is a
// row with its error and the sweep still finishes. The grid's own checks are plain unit tests.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/errors.js';
import { expandGrid, readGrid } from '../../src/eval/sweep.js';
import { freePort, startRedis } from '../../scripts/local-redis.js';
import { parseQueueUrl } from '../../src/eval/queue.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const MAIN = join(ROOT, 'src/cli/main.ts');
const REDIS = '/usr/bin/redis-server';
// CI installs redis-server and sets REQUIRE_REDIS=1, so that these tests cannot be skipped there
if (process.env.REQUIRE_REDIS && !existsSync(REDIS)) throw new Error(`${REDIS} is missing, and REQUIRE_REDIS is set`);
const dirs: string[] = [];
const procs: ChildProcess[] = [];
const tmp = (p: string) => {
  const d = mkdtempSync(join(tmpdir(), `bowcnn-${p}-`));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const ENV = { ...process.env, BOWCNN_PROGRESS: '0', BOWCNN_WASM_THREADS: '1' };
function cli(args: string[], timeout = 300_000) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', MAIN, ...args], { cwd: ROOT, encoding: 'utf8', env: ENV, timeout });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
function start(args: string[]): { p: ChildProcess; log: () => string } {
  const p = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { cwd: ROOT, env: ENV, stdio: ['ignore', 'pipe', 'pipe'] });
  procs.push(p);
  let log = '';
  p.stdout!.on('data', (d) => (log += d));
  p.stderr!.on('data', (d) => (log += d));
  return { p, log: () => log };
}
async function redis(port: number): Promise<ChildProcess> {
  const p = await startRedis(port, REDIS);
  procs.push(p);
  return p;
}
const until = async (f: () => boolean, ms: number, what: string) => {
  const t0 = performance.now();
  while (!f()) {
    if (performance.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
};
/** results.json's rows without what differs from run to run (timings, which worker, when, whether cached). */
const rows = (dir: string) =>
  (JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')).jobs as Record<string, unknown>[]).map(
    ({ timings, worker, date, ...rest }) => rest,
  );

describe('a sweep grid', () => {
  it('is validated: unknown keys and settings no pipeline has are errors that name them', async () => {
    const d = tmp('grid');
    const write = (g: unknown) => {
      const f = join(d, 'g.json');
      writeFileSync(f, JSON.stringify(g));
      return f;
    };
    expect(() => readGrid(write({ name: 'x', datasets: ['mnist'], pipelines: ['lenet5'], seed: [0] }))).toThrow(
      /unknown key 'seed'.*did you mean 'seeds'/,
    );
    expect(() => readGrid(join(d, 'none.json'))).toThrow(/none\.json: no such file/);
    // a missing comma on line 3: the line and column where the text stops being JSON
    writeFileSync(join(d, 'bad.json'), '{\n  "name": "x",\n  "datasets": ["mnist"]\n  "pipelines": ["lenet5"]\n}\n');
    expect(() => readGrid(join(d, 'bad.json'))).toThrow(/bad\.json: not valid JSON at line 4, column 3: Expected ',' or '}'/);
    writeFileSync(join(d, 'cut.json'), '{\n  "name": ');
    expect(() => readGrid(join(d, 'cut.json'))).toThrow(/cut\.json: not valid JSON at line 2, column 11: Unexpected end/);
    const g = readGrid(
      write({ name: 'x', datasets: ['mnist'], subset: 100, testSubset: 50, pipelines: ['bow-sift'], set: { 'coding.wrods': [8] } }),
    );
    await expect(expandGrid(g)).rejects.toThrow(ConfigError);
    await expect(expandGrid(g, { where: 'g.json' })).rejects.toThrow(/^g\.json: set 'coding\.wrods' = 8: .*did you mean 'words'/);
    expect(() => parseQueueUrl('http://x:1')).toThrow(/expected redis:\/\/HOST:PORT/);
  });

  it("expands to one job per distinct configuration: a setting varies only the pipelines that have it, and the ids are the configurations' hashes", async () => {
    const jobs = await expandGrid(readGrid(join(ROOT, 'sweeps', 'quick.json')));
    // bow-sift: 2 word counts x 2 pyramids x 2 seeds; lenet5 has neither setting: 2 seeds
    expect(jobs.length).toBe(10);
    expect(jobs.filter((j) => j.config.pipeline === 'lenet5').map((j) => j.config.set)).toEqual([{}, {}]);
    expect(new Set(jobs.map((j) => j.id)).size).toBe(10);
    // a job that reuses another's dictionary (same words and seed, another pyramid) waits for it on a queue
    for (const j of jobs) {
      const twin = jobs.find(
        (o) =>
          o !== j &&
          o.config.pipeline === 'bow-sift' &&
          o.config.seed === j.config.seed &&
          o.config.set['coding.words'] === j.config.set['coding.words'],
      );
      const first = JSON.stringify(j.config.set['pooling.pyramid']) === '[1]';
      expect(j.after, JSON.stringify(j.config)).toBe(j.config.pipeline === 'lenet5' || first ? undefined : twin!.id);
    }
    expect((await expandGrid(readGrid(join(ROOT, 'sweeps', 'quick.json')))).map((j) => j.id)).toEqual(jobs.map((j) => j.id));
  });
});

describe("a sweep's report", () => {
  it('gives per value the mean validation accuracy and its interval (one job: its Wilson interval; several: their range), and the chosen point with its test accuracy', async () => {
    const { sweepMarkdown } = await import('../../src/report/sweep.js');
    const grid = readGrid(join(ROOT, 'sweeps', 'quick.json'));
    const row = (
      words: number,
      seed: number,
      accuracy: number,
      ci95?: [number, number],
      scoredOn: 'validation' | 'test' = 'validation',
    ) => ({
      id: `id${words}-${seed}-${scoredOn}`,
      name: 'bow-sift',
      config: {
        dataset: { name: 'mnist', dataSeed: 0 },
        pipeline: 'bow-sift',
        set: { 'coding.words': words, 'pooling.pyramid': [1] },
        seed,
        scoredOn,
      },
      accuracy,
      ci95,
      timings: { totalSeconds: 1 },
      date: '',
    });
    const md = sweepMarkdown({
      grid,
      mode: 'in-process',
      seconds: 1,
      jobs: [
        row(64, 0, 0.9, [0.88, 0.92]),
        row(64, 1, 0.8, [0.78, 0.82]),
        row(256, 0, 0.95, [0.93, 0.97]),
        row(256, 0, 0.94, [0.92, 0.96], 'test'),
      ],
    });
    // 64 words: two seeds, mean 85% and their range; 256: one job, its own interval (validation rows only)
    expect(md).toContain('## Validation accuracy against coding.words');
    expect(md).toContain('| bow-sift | 85.00% [80.00%, 90.00%] | 95.00% [93.00%, 97.00%] |');
    expect(md).toMatch(/\| bow-sift \| mnist \| coding\.words=256, pooling\.pyramid=\[1\] \| 95\.00% \| 94\.00% \| 92\.00% – 96\.00% \|/);
    // under the fixed protocol, the best point on the test set is labelled an exploration
    const fixed = sweepMarkdown({
      grid: { ...grid, protocol: 'fixed' },
      mode: 'in-process',
      seconds: 1,
      jobs: [row(64, 0, 0.9, [0.88, 0.92], 'test')],
    });
    expect(fixed).toMatch(/## Best per pipeline on the test set \(exploration\)/);
    expect(fixed).toMatch(/not a fair choice/);
  });

  it('the validation protocol: candidates scored on a split of the training set, the best mean over seeds refitted and scored on the test set', async () => {
    const { finalJobs } = await import('../../src/eval/sweep.js');
    const grid = readGrid(join(ROOT, 'sweeps', 'quick.json'));
    const jobs = await expandGrid(grid);
    expect(jobs.every((j) => j.config.scoredOn === 'validation' && j.config.validation === 0.1)).toBe(true);
    // made-up validation results: 256 words with pyramid [1, 2] is best on the mean over the two seeds
    const acc = (set: Record<string, unknown>, seed: number) =>
      set['coding.words'] === 256 && JSON.stringify(set['pooling.pyramid']) === '[1,2]' ? 0.9 + seed / 100 : 0.95 - seed / 10;
    const results = jobs.map((j) => ({
      id: j.id,
      config: j.config,
      name: j.config.pipeline,
      accuracy: acc(j.config.set, j.config.seed),
      timings: { totalSeconds: 1 },
      date: '',
    }));
    const finals = await finalJobs(grid, results);
    const bow = finals.filter((j) => j.config.pipeline === 'bow-sift');
    expect(bow.map((j) => [j.config.set, j.config.seed, j.config.scoredOn])).toEqual([
      [{ 'coding.words': 256, 'pooling.pyramid': [1, 2] }, 0, 'test'],
      [{ 'coding.words': 256, 'pooling.pyramid': [1, 2] }, 1, 'test'],
    ]);
    expect(finals.filter((j) => j.config.pipeline === 'lenet5').map((j) => j.config.seed)).toEqual([0, 1]);
    // a test job is another job than any candidate
    expect(finals.some((f) => jobs.some((j) => j.id === f.id))).toBe(false);
  });
});

describe.skipIf(!existsSync(REDIS))('sweeps on BullMQ with a real Redis and real workers', () => {
  it('quick.json on workers, one killed mid-job (kill -9) and one stopped mid-job (Ctrl-C), gives the in-process results; a Redis restart loses no result', async () => {
    const here = tmp('here'),
      queued = tmp('queued');
    const a = cli(['sweep', 'sweeps/quick.json', '--out', here]);
    expect(a.code, a.err).toBe(0);
    const port = await freePort();
    const url = `redis://127.0.0.1:${port}`;
    let server = await redis(port);
    const cache = join(queued, 'cache');
    const worker = () => start(['worker', '--queue', url, '--cache', cache, '--stall-seconds', '2']);
    const w1 = worker(),
      w2 = worker();
    const sweep = start(['sweep', 'sweeps/quick.json', '--queue', url, '--cache', cache, '--out', queued]);
    // kill -9 the first worker as soon as it has started a job
    await until(() => /job \w+ \(\S+\) started/.test(w1.log()), 120_000, 'the first worker to start a job');
    const killedJob = /job (\w+) \(\S+\) started/.exec(w1.log())![1];
    w1.p.kill('SIGKILL');
    // then Ctrl-C the second in the middle of a job of its own: it exits 130 at once, leaving that job to a third
    // (a job that fits a dictionary: seconds long, so the signal lands while it runs)
    const long = (await expandGrid(readGrid(join(ROOT, 'sweeps', 'quick.json'))))
      .filter((j) => j.config.pipeline === 'bow-sift' && !j.after)
      .map((j) => j.id.slice(0, 10));
    const before = w2.log().length;
    const startedLong = () =>
      [
        ...w2
          .log()
          .slice(before)
          .matchAll(/job (\w+) \(\S+\) started/g),
      ]
        .map((m) => m[1])
        .find((id) => long.includes(id));
    await until(() => !!startedLong(), 120_000, 'the second worker to start a job that fits a dictionary');
    const interruptedJob = startedLong()!;
    w2.p.kill('SIGINT');
    expect(await new Promise((ok) => (w2.p.exitCode !== null ? ok(w2.p.exitCode) : w2.p.on('exit', ok)))).toBe(130);
    expect(w2.log()).toContain('its running job is left to stall and is taken by another worker');
    const w3 = worker();
    const code = await new Promise<number | null>((ok) => sweep.p.on('exit', ok));
    expect(code, sweep.log()).toBe(0);
    expect(rows(queued)).toEqual(rows(here));
    // each job's result once; the killed worker's job and the interrupted one were finished by the others
    const results = readdirSync(join(cache, 'results'));
    expect(results.length).toBe(14); // 10 candidates on the validation split, 4 test jobs (each pipeline's choice, 2 seeds);
    const by = (id: string) =>
      JSON.parse(readFileSync(join(cache, 'results', results.find((f) => f.startsWith(id))!), 'utf8')).worker as string;
    expect(by(killedJob)).not.toMatch(new RegExp(`:${w1.p.pid}$`));
    expect(by(interruptedJob)).toMatch(new RegExp(`:${w3.p.pid}$`));
    // Redis restarts empty: a rerun of the sweep, with no worker running, reads every result from the cache
    w3.p.kill('SIGINT');
    expect(await new Promise((ok) => (w3.p.exitCode !== null ? ok(w3.p.exitCode) : w3.p.on('exit', ok)))).toBe(130);
    server.kill('SIGKILL');
    await new Promise((ok) => server.on('exit', ok));
    server = await redis(port);
    const again = cli(['sweep', 'sweeps/quick.json', '--queue', url, '--cache', cache, '--out', join(queued, 'again')], 60_000);
    expect(again.code, again.err).toBe(0);
    expect(again.err).toContain('10 jobs (10 already in');
    expect(rows(join(queued, 'again'))).toEqual(rows(here));
    server.kill('SIGKILL');
  }, 600_000);

  it('with no worker, a queued sweep says so and how to start one (after --quiet-seconds), and stops on Ctrl-C', async () => {
    const d = tmp('noworker');
    const port = await freePort();
    const url = `redis://127.0.0.1:${port}`;
    await redis(port);
    const s = start([
      'sweep',
      join(ROOT, 'sweeps', 'quick.json'),
      '--queue',
      url,
      '--cache',
      join(d, 'cache'),
      '--out',
      join(d, 'out'),
      '--quiet-seconds',
      '2',
    ]);
    await until(() => /no worker is connected/.test(s.log()), 60_000, 'the no-worker notice');
    expect(s.log()).toMatch(new RegExp(`Start one .*: bowcnn worker --queue ${url} --cache ${join(d, 'cache')}`));
    s.p.kill('SIGINT');
    await until(() => s.p.exitCode !== null, 10_000, 'the sweep to stop');
    expect(s.p.exitCode).toBe(130);
  }, 120_000);

  it('a job that fails after its retries is a row with its error; the others finish and the sweep exits 1 having written results.json', async () => {
    const d = tmp('fail');
    const grid = join(d, 'grid.json');
    // 40 training images cannot give 4096 visual words: k-means refuses, on every attempt
    writeFileSync(
      grid,
      JSON.stringify({
        name: 'fails',
        datasets: ['mnist'],
        subset: 40,
        testSubset: 20,
        pipelines: ['bow-sift', 'lenet5'],
        set: { 'coding.words': [4096], 'train.epochs': [1], 'train.minSteps': [0] },
        retries: 1,
      }),
    );
    const port = await freePort();
    const url = `redis://127.0.0.1:${port}`;
    const server = await redis(port);
    const w = start(['worker', '--queue', url, '--cache', join(d, 'cache'), '--idle-exit', '3']);
    const r = cli(['sweep', grid, '--queue', url, '--cache', join(d, 'cache'), '--out', d]);
    expect(r.code).toBe(1);
    expect(r.err).toContain('1 of 3 jobs failed');
    const jobs = JSON.parse(readFileSync(join(d, 'results.json'), 'utf8')).jobs;
    // bow-sift's only candidate failed, so it has no test job; lenet5 has its candidate and its test job
    expect(jobs.map((j: { config: { pipeline: string; scoredOn: string } }) => `${j.config.pipeline} ${j.config.scoredOn}`).sort()).toEqual(
      ['bow-sift validation', 'lenet5 test', 'lenet5 validation'],
    );
    const bad = jobs.find((j: { config: { pipeline: string } }) => j.config.pipeline === 'bow-sift');
    expect(bad.accuracy).toBeNull();
    expect(bad.attempts).toBe(2);
    expect(bad.error).toMatch(/words|clusters|points/);
    for (const j of jobs.filter((x: { config: { pipeline: string } }) => x.config.pipeline === 'lenet5')) {
      expect(j.error).toBeUndefined();
      expect(typeof j.accuracy).toBe('number');
    }
    // --idle-exit: the worker leaves by itself once the queue has been empty that long
    expect(await new Promise((ok) => (w.p.exitCode !== null ? ok(w.p.exitCode) : w.p.on('exit', ok)))).toBe(0);
    expect(w.log()).toContain('no job for 3 s: exiting');
    server.kill('SIGKILL');
  }, 300_000);
});

describe.skipIf(!existsSync(REDIS))('features of a folder, in shards', () => {
  it('in this process and on a worker: the same shard files, equal to the dictionary pipeline run on the whole folder', async () => {
    const d = tmp('features');
    const folder = join(d, 'images');
    const { dataset } = await import('../../src/data/registry.js');
    const { encodePng } = await import('../../src/report/png.js');
    const { mkdirSync } = await import('node:fs');
    const ds = await dataset('mnist', { subset: 10, testSubset: 250, seed: 2 });
    for (let i = 0; i < ds.test.n; i++) {
      const c = join(folder, ds.classes[ds.test.labels[i]]);
      mkdirSync(c, { recursive: true });
      writeFileSync(join(c, `${i}.png`), encodePng(ds.test.pixels.subarray(i * 784, (i + 1) * 784), 28, 28, 1));
    }
    const args = ['features', '--dataset', `folder:${folder}`, '--pipeline', 'bow-sift', '--shard', '100', '--sample', '150'];
    const a = cli([...args, '--out', join(d, 'here')]);
    expect(a.code, a.err).toBe(0);
    const here = JSON.parse(readFileSync(join(d, 'here', 'features.json'), 'utf8'));
    expect(here.shards.map((s: { start: number; end: number }) => [s.start, s.end])).toEqual([
      [0, 100],
      [100, 200],
      [200, 250],
    ]);
    const port = await freePort();
    const url = `redis://127.0.0.1:${port}`;
    const server = await redis(port);
    start(['worker', '--queue', url, '--cache', join(d, 'shared')]);
    const b = cli([...args, '--queue', url, '--cache', join(d, 'shared'), '--out', join(d, 'queued')]);
    expect(b.code, b.err).toBe(0);
    const queued = JSON.parse(readFileSync(join(d, 'queued', 'features.json'), 'utf8'));
    expect(queued.shards.map((s: { id: string }) => s.id)).toEqual(here.shards.map((s: { id: string }) => s.id));
    for (let i = 0; i < 3; i++) expect(readFileSync(queued.shards[i].file).equals(readFileSync(here.shards[i].file))).toBe(true);
    // the shards are the fitted feature pipeline's rows for the whole folder, in listing order
    const { Pipeline } = await import('../../src/pipeline/pipeline.js');
    const { listFolder, readFiles } = await import('../../src/data/folder.js');
    const { readShard } = await import('../../src/eval/features.js');
    const { csrToDense } = await import('../../src/core/sparse.js');
    const { useBackend } = await import('../../src/backend/index.js');
    await useBackend('wasm');
    const all = await readFiles(listFolder(folder).files, 28, 28, 1);
    const p = await Pipeline.load(here.dictionary.dir);
    const want = csrToDense((await p.features(all, { progress: false })).rows);
    const got = here.shards.flatMap((s: { file: string }) => {
      const r = readShard(s.file);
      return Array.from(csrToDense({ n: r.n, d: r.d, indptr: r.indptr, indices: r.indices, values: r.values }));
    });
    expect(got.length).toBe(want.length);
    let worst = 0;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
    expect(worst).toBeLessThan(1e-6);
    expect(Array.from(readShard(here.shards[0].file).labels)).toEqual(Array.from(all.labels.subarray(0, 100)));
    p.dispose();
    server.kill('SIGKILL');
  }, 300_000);
});
