/** What the commands share: starting the backend, reading a dataset, --set values, printing a result. */
import { resolve } from 'node:path';
import { existsSync, statSync } from 'node:fs';
import { type BackendName, useBackend } from '../backend/index.js';
import { UsageError } from '../core/errors.js';
import { dataset, type DatasetOptions } from '../data/registry.js';
import { type FolderOptions, parseFolderSize } from '../data/folder.js';
import type { Dataset } from '../core/data.js';
import type { Classifier, DataInfo } from '../core/classifier.js';
import type { Values } from './spec.js';

export async function startBackend(v: Values) {
  return useBackend((v.backend as BackendName | undefined) ?? 'wasm', { progress: v.json ? false : undefined });
}

/** --data-dir, checked: a folder that does not exist is an error, not a fall-back to another copy. */
export function dataDir(v: Values): string | undefined {
  const d = v['data-dir'] as string | undefined;
  if (d === undefined) return undefined;
  const full = resolve(d);
  if (!existsSync(full)) throw new UsageError(`--data-dir ${d}: no such folder`);
  if (!statSync(full).isDirectory()) throw new UsageError(`--data-dir ${d}: not a folder`);
  return full;
}

/**
 * --image-size, --channels and --test-fraction as a folder dataset's options (over `fallback`: a saved model's
 * size and channels); given for another dataset, a UsageError.
 */
export function folderOptions(name: string, v: Values, fallback: FolderOptions = {}): FolderOptions | undefined {
  const given = (['image-size', 'channels', 'test-fraction'] as const).filter((k) => v[k] !== undefined);
  if (!/^folder:/i.test(name)) {
    if (given.length) throw new UsageError(`--${given[0]} is for folder: datasets (--dataset folder:PATH); ${name} has its own size`);
    return undefined;
  }
  const out: FolderOptions = { ...fallback };
  if (v['image-size'] !== undefined) out.size = parseFolderSize(String(v['image-size']));
  if (v.channels !== undefined) out.channels = Number(v.channels) === 1 ? 1 : 3;
  if (v['test-fraction'] !== undefined) {
    const f = Number(v['test-fraction']);
    if (!(f > 0 && f < 1)) throw new UsageError(`--test-fraction ${v['test-fraction']}: a fraction between 0 and 1 (e.g. 0.2)`);
    out.testFraction = f;
  }
  return out;
}

/** The folder read size when neither a saved model nor a CNN recipe says otherwise. */
export const DEFAULT_READ: [number, number] = [32, 32];

/**
 * The size a folder is read at when --image-size is not given and a CNN recipe declares its input (or searches
 * input.size): the largest height and the largest width declared, never under the default 32x32, so that no CNN
 * sees images scaled up from a smaller read and no pipeline gets smaller images than it would by default; and the
 * channels, when every classifier is a CNN declaring the same. Undefined when none declares a size or channels.
 */
export function declaredRead(
  classifiers: readonly Classifier[],
): { size?: [number, number]; channels?: 1 | 3; from: string[] } | undefined {
  let h = 0,
    w = 0;
  const from: string[] = [];
  const channels = new Set<number | undefined>();
  for (const c of classifiers) {
    const r = (
      c as {
        recipe?: { kind?: string; input?: { size?: number | [number, number]; channels?: 1 | 3 }; search?: Record<string, unknown[]> };
      }
    ).recipe;
    if (r?.kind !== 'cnn') {
      channels.add(undefined);
      continue;
    }
    channels.add(r.input?.channels);
    const sizes = [r.input?.size, ...((r.search?.['input.size'] as (number | [number, number])[] | undefined) ?? [])];
    for (const size of sizes) {
      if (size === undefined) continue;
      const [sh, sw] = typeof size === 'number' ? [size, size] : size;
      h = Math.max(h, sh);
      w = Math.max(w, sw);
      if (!from.includes(c.name)) from.push(c.name);
    }
  }
  const same = channels.size === 1 ? ([...channels][0] as 1 | 3 | undefined) : undefined;
  if (!h && same === undefined) return undefined;
  return {
    ...(h ? { size: [Math.max(h, DEFAULT_READ[0]), Math.max(w, DEFAULT_READ[1])] as [number, number] } : {}),
    ...(same !== undefined ? { channels: same } : {}),
    from,
  };
}

/**
 * The folder options that --image-size and --channels, when not given, leave to the CNN recipes of a run
 * (declaredRead), and the line that says so; none for a dataset that is not a folder.
 */
export function cnnRead(dataset: string, classifiers: readonly Classifier[], v: Values): { folder: FolderOptions; note: string | null } {
  const declared = /^folder:/i.test(dataset) ? declaredRead(classifiers) : undefined;
  const folder: FolderOptions = {
    ...(declared?.size && v['image-size'] === undefined ? { size: declared.size } : {}),
    ...(declared?.channels && v.channels === undefined ? { channels: declared.channels } : {}),
  };
  const size = folder.size as [number, number] | undefined;
  const note = size
    ? `reading the folder at ${size.join('x')}${classifiers.length > 1 ? ' for every classifier' : ''}, for ${declared!.from.join(', ')}'s input (--image-size to choose another size)`
    : null;
  return { folder, note };
}

/** How a folder is read for a saved model: at its input's size, in the channels its training images were read in. */
export function savedRead(info: Pick<DataInfo, 'inShape' | 'readShape'>): { size: [number, number]; channels: 1 | 3 } {
  return { size: [info.inShape[0], info.inShape[1]], channels: (info.readShape ?? info.inShape)[2] === 1 ? 1 : 3 };
}

export function loadDataset(name: string, v: Values, extra: DatasetOptions = {}): Promise<Dataset> {
  const { folder, ...rest } = extra;
  return dataset(name, {
    subset: v.subset as number | undefined,
    testSubset: v['test-subset'] as number | undefined,
    seed: (v.seed as number | undefined) ?? 0,
    dir: dataDir(v),
    ...rest,
    folder: folderOptions(name, v, folder),
  });
}

/** --set a.b=value ... as { 'a.b': value } (JSON values: numbers, booleans, arrays; else a string). */
export function parseSets(list: string[] | undefined): Record<string, unknown> {
  const sets: Record<string, unknown> = {};
  for (const s of list ?? []) {
    const eq = s.indexOf('=');
    if (eq < 0 || !s.slice(0, eq).includes('.')) {
      const head = (eq < 0 ? s : s.slice(0, eq)).trim();
      const one = { input: 'input.size=64', train: 'train.epochs=10', config: 'config.widths=[24,48,96]', predict: 'predict.flip=false' }[
        head
      ];
      throw new UsageError(
        one
          ? `--set ${s}: one value at a time, its path to the option (e.g. ${one})`
          : `--set ${s}: expected PATH=VALUE with PATH a stage option or a training option (e.g. coding.words=512, train.epochs=10)`,
      );
    }
    const raw = s.slice(eq + 1);
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      /* a plain string */
    }
    sets[s.slice(0, eq)] = value;
  }
  return sets;
}

/**
 * --search PATH=V1,V2 ... as { PATH: [V1, V2] }: a JSON array ('pooling.pyramid=[[1],[1,2]]'), or values
 * separated by commas, each read as JSON where it is JSON (numbers, booleans) and else as a string.
 */
export function parseSearch(list: string[] | undefined): Record<string, unknown[]> {
  const out: Record<string, unknown[]> = {};
  for (const s of list ?? []) {
    const eq = s.indexOf('=');
    if (eq < 0 || !s.slice(0, eq).includes('.'))
      throw new UsageError(
        `--search ${s}: expected PATH=V1,V2 with PATH a stage or training option (e.g. classifier.C=0.5,1,2, train.lr=0.001,0.003)`,
      );
    const raw = s.slice(eq + 1).trim();
    let values: unknown[];
    if (raw.startsWith('[')) {
      let v: unknown;
      try {
        v = JSON.parse(raw);
      } catch {
        throw new UsageError(`--search ${s}: the values start with '[' but are not a JSON array`);
      }
      if (!Array.isArray(v)) throw new UsageError(`--search ${s}: the values must be a JSON array`);
      values = v;
    } else
      values = raw.split(',').map((x) => {
        try {
          return JSON.parse(x);
        } catch {
          return x;
        }
      });
    if (!values.length || raw === '') throw new UsageError(`--search ${s}: give at least one value`);
    out[s.slice(0, eq)] = values;
  }
  return out;
}

/** --train-sizes 100,300,1000 as numbers. */
export function parseSizes(raw: string | undefined): number[] | undefined {
  if (raw === undefined) return undefined;
  const v = raw.split(',').map((x) => x.trim());
  const bad = v.find((x) => !/^\d+$/.test(x));
  if (bad !== undefined || !v.length)
    throw new UsageError(`--train-sizes ${raw}: expected whole numbers separated by commas (e.g. 100,1000,10000)`);
  return v.map(Number);
}

export function output(json: unknown, value: unknown, human: () => void): void {
  if (json) process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  else human();
}

/** A line on stderr, unless the output is JSON. */
export function say(v: Values, msg: string): void {
  if (!v.json) process.stderr.write(`bowcnn: ${msg}\n`);
}

/** Whether the classifier scores an image by the mean of its and its mirror's logits (its recipe's test-time flips, where the data allows mirrors). */
export const flips = (c: Classifier) => Boolean((c.describe().predict as { flip?: boolean } | undefined)?.flip && c.data?.flipSafe);

/** The classifier's test-time shifts in pixels (its recipe's predict.shifts; 0: none). */
export const shifts = (c: Classifier) => Number((c.describe().predict as { shifts?: number } | undefined)?.shifts ?? 0);

/** How many views of each image its scores average (flips x shifts), and those views in words ('' for one). */
export function testViews(c: Classifier): { count: number; words: string } {
  const f = flips(c),
    s = shifts(c);
  const count = (f ? 2 : 1) * (s > 0 ? 5 : 1);
  const parts = [...(f ? ['flips'] : []), ...(s > 0 ? [`${s}-pixel shifts`] : [])];
  return { count, words: count > 1 ? `test-time ${parts.join(' and ')} (${count} views)` : '' };
}
