/**
 * Model folders that can be trusted. A saved model (either kind) is a folder of files plus meta.json,
 * which records what the model is and the SHA-256 of every other file:
 *
 *   meta.json  { format: 'bowcnn-model', version, kind, name, ..., files: { 'weights.bin': '<sha256>', ... } }
 *
 * The folder is filled under a temporary name and swapped in whole (core/atomic). On load every file is
 * checked against its sum first, so flipped bytes are refused with the file named; weights that are
 * not finite (NaN, infinity) are refused at save and at load.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { replaceDirAtomic } from './atomic.js';
import { ModelError } from './errors.js';

export const MODEL_FORMAT = 'bowcnn-model';
export const MODEL_VERSION = 2;

export interface ModelMeta {
  format: typeof MODEL_FORMAT;
  version: number;
  kind: 'bow' | 'cnn';
  name: string;
  files: Record<string, string>;
  [key: string]: unknown;
}

export function sha256(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Throws ModelError naming the first array with a value that is not finite. */
export function assertFinite(arrays: Iterable<{ name: string; data: ArrayLike<number> }>, where: string): void {
  for (const a of arrays) {
    for (let i = 0; i < a.data.length; i++) {
      const v = a.data[i];
      if (!Number.isFinite(v)) {
        throw new ModelError(
          where,
          `weight '${a.name}' holds ${v} at index ${i}: a model whose weights are not finite is not saved or loaded (training diverged? lower the learning rate)`,
        );
      }
    }
  }
}

/** Writes `files` and meta.json (with their checksums) into dir, atomically. */
export async function writeModelDir(
  dir: string,
  files: Record<string, Uint8Array | string>,
  meta: Omit<ModelMeta, 'format' | 'version' | 'files'>,
): Promise<void> {
  const sums: Record<string, string> = {};
  for (const [name, data] of Object.entries(files)) sums[name] = sha256(data);
  const full = { format: MODEL_FORMAT, version: MODEL_VERSION, ...meta, files: sums } as ModelMeta;
  await replaceDirAtomic(dir, (tmp) => {
    for (const [name, data] of Object.entries(files)) writeFileSync(join(tmp, name), data);
    writeFileSync(join(tmp, 'meta.json'), `${JSON.stringify(full, null, 2)}\n`);
  });
}

/**
 * A file name a model folder may hold: a plain name inside the folder (no folder part, no '..', not absolute).
 * A name from a model's own files (meta.json, model.json's weights paths) is checked before it is read, so
 * that a model from elsewhere cannot make bowcnn read a file outside its folder.
 */
export function checkFileName(name: unknown, where: string): string {
  if (typeof name !== 'string' || name === '' || name === '.' || name === '..' || /[/\\\0]/.test(name) || /^[A-Za-z]:/.test(name))
    throw new ModelError(where, `names the file ${JSON.stringify(name)}: a model's files must lie inside its folder (a plain file name)`);
  return name;
}

/** The shape meta.json's `data` must have when present: the dataset, its class names, the input [H, W, C]. */
function checkData(data: unknown, file: string): void {
  if (data === null || data === undefined) return;
  const d = data as { dataset?: unknown; classes?: unknown; inShape?: unknown };
  if (typeof d !== 'object' || !Array.isArray(d.classes) || !d.classes.every((c) => typeof c === 'string') || d.classes.length < 2)
    throw new ModelError(file, "'data.classes' must list at least 2 class names");
  const shape = (v: unknown) => Array.isArray(v) && v.length === 3 && v.every((x) => Number.isInteger(x) && x > 0);
  if (!shape(d.inShape)) throw new ModelError(file, "'data.inShape' must be [height, width, channels], whole numbers > 0");
  const read = (d as { readShape?: unknown }).readShape;
  if (read !== undefined && !shape(read))
    throw new ModelError(file, "'data.readShape' (the training images as read) must be [height, width, channels], whole numbers > 0");
}

/** The saved models one level down (a run's models/ folder, or a run folder), as '; models in it: a, b'. */
function modelsInside(dir: string): string {
  const found: string[] = [];
  for (const sub of ['', 'models']) {
    const d = join(dir, sub);
    try {
      if (!existsSync(d) || !statSync(d).isDirectory()) continue;
      for (const e of readdirSync(d, { withFileTypes: true }))
        if (e.isDirectory() && existsSync(join(d, e.name, 'meta.json'))) found.push(join(sub, e.name));
    } catch {
      // a folder that cannot be read: the error names the model folder without the list
    }
  }
  return found.length ? `; the saved models in it: ${found.map((f) => join(dir, f)).join(', ')}` : '';
}

/** meta.json of a model folder, checked for format and version (files are checked as they are read). */
export function readModelMeta(dir: string): ModelMeta {
  const file = join(dir, 'meta.json');
  if (!existsSync(dir)) throw new ModelError(dir, 'no such folder');
  if (!existsSync(file)) {
    const what =
      existsSync(join(dir, 'model.json')) || existsSync(join(dir, 'pipeline.json'))
        ? 'a model folder without meta.json (saved by another tool, or damaged)'
        : `not a saved bowcnn model (no meta.json)${modelsInside(dir)}`;
    throw new ModelError(dir, what);
  }
  let meta: ModelMeta;
  try {
    meta = JSON.parse(readFileSync(file, 'utf8')) as ModelMeta;
  } catch (e) {
    throw new ModelError(file, `not valid JSON (${(e as Error).message})`);
  }
  if (meta.format !== MODEL_FORMAT || typeof meta.files !== 'object' || meta.files === null) {
    const old = meta.version === 1 || (meta as { recipe?: unknown }).recipe !== undefined;
    throw new ModelError(
      file,
      old
        ? 'saved by an older bowcnn, without checksums: train it again (or run compare again) to save it in the current format'
        : `not a bowcnn model (format '${String(meta.format)}')`,
    );
  }
  if (meta.version !== MODEL_VERSION)
    throw new ModelError(file, `format version ${meta.version}; this bowcnn reads version ${MODEL_VERSION}`);
  if (meta.kind !== 'bow' && meta.kind !== 'cnn') throw new ModelError(file, `unknown model kind '${String(meta.kind)}'`);
  for (const [name, sum] of Object.entries(meta.files)) {
    checkFileName(name, file);
    if (typeof sum !== 'string' || !/^[0-9a-f]{64}$/.test(sum)) throw new ModelError(file, `the checksum of ${name} is not a SHA-256`);
  }
  checkData(meta.data, file);
  return meta;
}

/** A file of a model folder, after checking it against the sum meta.json records for it. */
export function readModelFile(dir: string, meta: ModelMeta, name: string): Buffer {
  const file = join(dir, checkFileName(name, join(dir, 'meta.json')));
  const want = meta.files[name];
  if (want === undefined) throw new ModelError(join(dir, 'meta.json'), `records no checksum for ${name}`);
  if (!existsSync(file)) throw new ModelError(file, 'is missing');
  const buf = readFileSync(file);
  if (sha256(buf) !== want) throw new ModelError(file, 'checksum mismatch: the file was changed or damaged after it was saved');
  return buf;
}

/** A Float32Array over a Buffer's bytes (copied: a Buffer's offset need not be 4-aligned); `file` names it in errors. */
export function floats(buf: Uint8Array, file = 'weights'): Float32Array {
  if (buf.byteLength % 4 !== 0)
    throw new ModelError(file, `${buf.byteLength} bytes: not a whole number of 32-bit values (the file was cut short or padded)`);
  return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
}
