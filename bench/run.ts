// npm run bench -- <suite> [...]: benchmarks, never part of the test run.
// Suites: backend, dsift, bow, bow-validation, cnn, deep, threads, simd, fused, native, peak, alexnet-validation, sweep, deep, encodings, folder, scenes, webgpu-host, netvlad. Each prints a table and writes bench/results/<suite>.json
// (<suite>-<tag>.json with BOWCNN_BENCH_TAG=tag, so that partial runs do not overwrite each other).
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const SUITES: Record<string, () => Promise<Record<string, unknown>>> = {
  backend: async () => (await import('./backend.js')).run(),
  dsift: async () => (await import('./dsift.js')).run(),
  bow: async () => (await import('./bow.js')).run(),
  'bow-validation': async () => (await import('./bow-validation.js')).run(),
  cnn: async () => (await import('./cnn.js')).run(),
  threads: async () => (await import('./threads.js')).run(),
  simd: async () => (await import('./simd.js')).run(),
  fused: async () => (await import('./fused.js')).run(),
  native: async () => (await import('./native.js')).run(),
  peak: async () => (await import('./peak.js')).run(),
  'alexnet-validation': async () => (await import('./alexnet-validation.js')).run(),
  sweep: async () => (await import('./sweep.js')).run(),
  deep: async () => (await import('./deep.js')).run(),
  encodings: async () => (await import('./encodings.js')).run(),
  folder: async () => (await import('./folder.js')).run(),
  scenes: async () => (await import('./scenes.js')).run(),
  'webgpu-host': async () => (await import('./webgpu-host.js')).run(),
  netvlad: async () => (await import('./netvlad.js')).run(),
};

const want = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const names = want.length ? want : Object.keys(SUITES);
for (const n of names) {
  const suite = SUITES[n];
  if (!suite) {
    console.error(`unknown suite '${n}'; known: ${Object.keys(SUITES).join(', ')}`);
    process.exit(2);
  }
  console.log(`\n== bench ${n} ==`);
  const result = await suite();
  const dir = join(import.meta.dirname, 'results');
  mkdirSync(dir, { recursive: true });
  const tag = process.env.BOWCNN_BENCH_TAG ? `-${process.env.BOWCNN_BENCH_TAG.replace(/[^\w.-]/g, '_')}` : '';
  const file = join(dir, `${n}${tag}.json`);
  writeFileSync(`${file}.tmp`, JSON.stringify({ date: new Date().toISOString(), node: process.version, ...result }, null, 2));
  renameSync(`${file}.tmp`, file);
  console.log(`(written to ${file})`);
}
