/**
 * bowcnn cache [DIR]: what a run's cache holds and how big it is (DIR/cache of a compare run, or a cache
 * folder itself: BoW features and dictionaries, sweep results, feature shards); --clear deletes it. A later
 * run recomputes whatever it needs from the cache.
 */
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { UsageError } from '../core/errors.js';
import { output, say } from './common.js';
import type { Values } from './spec.js';

/** The cache folder of a run folder (DIR/cache), or DIR when it is a cache itself. */
export function cacheOf(dir: string): string {
  const full = resolve(dir);
  if (!existsSync(full)) throw new UsageError(`${dir}: no such folder`);
  if (!statSync(full).isDirectory()) throw new UsageError(`${dir}: not a folder`);
  return existsSync(join(full, 'cache')) && statSync(join(full, 'cache')).isDirectory() ? join(full, 'cache') : full;
}

/** Bytes and files under a folder, and by kind (a file's extension, or its first folder's name). */
export function cacheSize(dir: string): { bytes: number; files: number; kinds: Record<string, { bytes: number; files: number }> } {
  const out = { bytes: 0, files: 0, kinds: {} as Record<string, { bytes: number; files: number }> };
  const walk = (d: string, kind: string | null) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p, kind ?? e.name);
      else if (e.isFile()) {
        const size = statSync(p).size;
        const k = kind ?? (e.name.includes('.') ? e.name.slice(e.name.lastIndexOf('.') + 1) : 'other');
        out.bytes += size;
        out.files++;
        out.kinds[k] ??= { bytes: 0, files: 0 };
        out.kinds[k].bytes += size;
        out.kinds[k].files++;
      }
    }
  };
  if (existsSync(dir)) walk(dir, null);
  return out;
}

export const megabytes = (b: number) => `${(b / 2 ** 20).toFixed(b < 10 * 2 ** 20 ? 1 : 0)} MB`;

const KIND_NAMES: Record<string, string> = {
  rows: "a split's BoW features (sparse rows)",
  state: "a stage's fitted state (a dictionary)",
  results: "sweep jobs' results",
  features: 'BoW features and dictionaries (sweeps)',
  dictionaries: 'dictionaries (features command)',
  shards: 'feature shards (features command)',
};

export async function cacheCommand(v: Values, pos: string[]): Promise<void> {
  const dir = cacheOf(pos[0] ?? 'runs/compare');
  const s = cacheSize(dir);
  if (v.clear) {
    if (basename(dir) !== 'cache' && !existsSync(join(dir, 'results')) && !Object.keys(s.kinds).some((k) => k === 'rows' || k === 'state'))
      throw new UsageError(`${dir} does not look like a bowcnn cache (no cache/ folder, features or results in it): not cleared`);
    rmSync(dir, { recursive: true, force: true });
    say(v, `cleared ${dir}: ${megabytes(s.bytes)} in ${s.files} files (a rerun recomputes what it needs)`);
    output(v.json, { dir, cleared: true, bytes: s.bytes, files: s.files }, () => {});
    return;
  }
  output(v.json, { dir, ...s }, () => {
    console.log(`${dir}: ${megabytes(s.bytes)} in ${s.files} files`);
    for (const [k, x] of Object.entries(s.kinds).sort((a, b) => b[1].bytes - a[1].bytes))
      console.log(`  ${megabytes(x.bytes).padStart(9)}  ${String(x.files).padStart(5)} files  ${KIND_NAMES[k] ?? k}`);
    console.log(`bowcnn cache ${pos[0] ?? 'runs/compare'} --clear deletes it; a rerun then recomputes what it needs`);
  });
}
