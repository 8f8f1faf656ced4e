/**
 * The on-disk cache: named float32 tensors in one file, with a SHA-256 of the body in the header.
 * Written to a temp file and renamed (a reader never sees half a file); a file whose length or
 * checksum is wrong is reported as corrupt and recomputed by the caller, never trusted.
 *
 *   "BOWC" | u32 header length | header JSON {version, tensors: [{name, shape}], sha256} | float32 body
 */
import { writeFileAtomic } from '../core/atomic.js';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { BowcnnError, IoError } from '../core/errors.js';
import { join } from 'node:path';

export interface NamedArray {
  name: string;
  shape: number[];
  data: Float32Array | Int32Array;
}

export class CacheError extends BowcnnError {
  constructor(
    public readonly file: string,
    public readonly problem: string,
  ) {
    super(`${file}: ${problem}`);
    this.name = 'CacheError';
  }
}

export function writeArrays(file: string, arrays: NamedArray[]): void {
  const total = arrays.reduce((a, x) => a + x.data.length, 0);
  const bodyBytes = new Uint8Array(total * 4);
  let o = 0;
  for (const a of arrays) {
    bodyBytes.set(new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength), o);
    o += a.data.byteLength;
  }
  const header = Buffer.from(
    JSON.stringify({
      version: 2,
      tensors: arrays.map((a) => ({ name: a.name, shape: a.shape, dtype: a.data instanceof Int32Array ? 'int32' : 'float32' })),
      sha256: createHash('sha256').update(bodyBytes).digest('hex'),
    }),
  );
  const head = Buffer.alloc(8);
  head.write('BOWC', 0, 'ascii');
  head.writeUInt32LE(header.length, 4);
  writeFileAtomic(file, Buffer.concat([head, header, Buffer.from(bodyBytes.buffer, bodyBytes.byteOffset, bodyBytes.byteLength)]));
}

/** Reads a cache file; throws CacheError if it is truncated, foreign or fails its checksum. */
export function readArrays(file: string): NamedArray[] {
  let buf: Buffer;
  try {
    buf = readFileSync(file);
  } catch (e) {
    throw IoError.wrap(file, 'read', e);
  }
  if (buf.length < 8 || buf.toString('ascii', 0, 4) !== 'BOWC') throw new CacheError(file, 'not a bowcnn cache file');
  const hl = buf.readUInt32LE(4);
  if (8 + hl > buf.length) throw new CacheError(file, 'truncated header');
  let header: { version: number; tensors: { name: string; shape: number[]; dtype?: 'int32' | 'float32' }[]; sha256: string };
  try {
    header = JSON.parse(buf.toString('utf8', 8, 8 + hl));
  } catch {
    throw new CacheError(file, 'unreadable header');
  }
  if (header.version !== 1 && header.version !== 2) throw new CacheError(file, `unknown cache version ${header.version}`);
  const bodyStart = 8 + hl;
  const need = header.tensors.reduce((a, t) => a + t.shape.reduce((x, y) => x * y, 1), 0) * 4;
  if (buf.length - bodyStart !== need) throw new CacheError(file, `truncated: ${buf.length - bodyStart} body bytes, expected ${need}`);
  const body = buf.subarray(bodyStart);
  if (createHash('sha256').update(body).digest('hex') !== header.sha256) throw new CacheError(file, 'checksum mismatch');
  const all = body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength);
  let o = 0;
  return header.tensors.map((t) => {
    const size = t.shape.reduce((x, y) => x * y, 1);
    const data = t.dtype === 'int32' ? new Int32Array(all, o * 4, size) : new Float32Array(all, o * 4, size);
    o += size;
    return { name: t.name, shape: t.shape, data };
  });
}

export class FeatureCache {
  hits = 0;
  misses = 0;
  corrupt = 0;
  constructor(public readonly dir: string) {}
  file(key: string, kind: string): string {
    return join(this.dir, `${key}.${kind}`);
  }
  /** The arrays under key, or null if absent or corrupt (a corrupt file is deleted and counted). */
  get(key: string, kind: string): NamedArray[] | null {
    const f = this.file(key, kind);
    if (!existsSync(f)) {
      this.misses++;
      return null;
    }
    if (!statSync(f).isFile()) throw new IoError(f, 'a cache entry that is not a file: remove it (the cache is rebuilt as needed)');
    try {
      const a = readArrays(f);
      this.hits++;
      return a;
    } catch (e) {
      if (!(e instanceof CacheError)) throw e;
      this.corrupt++;
      process.stderr.write(`bowcnn: cache ${e.message}; recomputing\n`);
      rmSync(f, { force: true });
      return null;
    }
  }
  put(key: string, kind: string, arrays: NamedArray[]): void {
    writeArrays(this.file(key, kind), arrays);
  }
}
