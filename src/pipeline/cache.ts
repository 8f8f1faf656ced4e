/**
 * The on-disk cache: named float32 tensors in one file, with a SHA-256 of the body in the header.
 * Written to a temp file and renamed (a reader never sees half a file); a file whose length or
 * checksum is wrong is reported as corrupt and recomputed by the caller, never trusted.
 *
 *   "BOWC" | u32 header length | header JSON {version, tensors: [{name, shape}], sha256} | float32 body
 */
import { piecesOf, writeFileAtomicParts } from '../core/atomic.js';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, fstatSync, openSync, readSync, rmSync, statSync } from 'node:fs';
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

/** Node's hashing, writing and reading take at most 2 GiB at once: bodies go through in pieces of this size. */
const CHUNK_BYTES = 1 << 30;

function sha256(parts: ArrayBufferView[], chunkBytes: number): string {
  const h = createHash('sha256');
  for (const p of parts) for (const piece of piecesOf(p, chunkBytes)) h.update(piece);
  return h.digest('hex');
}

/** Writes the arrays as one cache file, their bytes hashed and written in place (never copied into one body). */
export function writeArrays(file: string, arrays: NamedArray[], chunkBytes = CHUNK_BYTES): void {
  const body = arrays.map((a) => a.data);
  const header = Buffer.from(
    JSON.stringify({
      version: 2,
      tensors: arrays.map((a) => ({ name: a.name, shape: a.shape, dtype: a.data instanceof Int32Array ? 'int32' : 'float32' })),
      sha256: sha256(body, chunkBytes),
    }),
  );
  const head = Buffer.alloc(8);
  head.write('BOWC', 0, 'ascii');
  head.writeUInt32LE(header.length, 4);
  writeFileAtomicParts(file, [head, header, ...body], chunkBytes);
}

/** Fills `into` with the file's bytes from `position` on, in pieces; false if the file ends first. */
function readFully(fd: number, into: ArrayBufferView, position: number, chunkBytes: number): boolean {
  let at = position;
  for (const piece of piecesOf(into, chunkBytes)) {
    for (let o = 0; o < piece.byteLength; ) {
      const n = readSync(fd, piece, o, piece.byteLength - o, at + o);
      if (n === 0) return false;
      o += n;
    }
    at += piece.byteLength;
  }
  return true;
}

/** Reads a cache file; throws CacheError if it is truncated, foreign or fails its checksum. */
export function readArrays(file: string, chunkBytes = CHUNK_BYTES): NamedArray[] {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (e) {
    throw IoError.wrap(file, 'read', e);
  }
  try {
    const size = fstatSync(fd).size;
    const head = new Uint8Array(8);
    if (size < 8 || !readFully(fd, head, 0, chunkBytes) || Buffer.from(head.buffer, 0, 4).toString('ascii') !== 'BOWC')
      throw new CacheError(file, 'not a bowcnn cache file');
    const hl = Buffer.from(head.buffer).readUInt32LE(4);
    if (8 + hl > size) throw new CacheError(file, 'truncated header');
    const hb = new Uint8Array(hl);
    if (!readFully(fd, hb, 8, chunkBytes)) throw new CacheError(file, 'truncated header');
    let header: { version: number; tensors: { name: string; shape: number[]; dtype?: 'int32' | 'float32' }[]; sha256: string };
    try {
      header = JSON.parse(Buffer.from(hb.buffer).toString('utf8'));
    } catch {
      throw new CacheError(file, 'unreadable header');
    }
    if (header.version !== 1 && header.version !== 2) throw new CacheError(file, `unknown cache version ${header.version}`);
    const bodyStart = 8 + hl;
    const need = header.tensors.reduce((a, t) => a + t.shape.reduce((x, y) => x * y, 1), 0) * 4;
    if (size - bodyStart !== need) throw new CacheError(file, `truncated: ${size - bodyStart} body bytes, expected ${need}`);
    const all = new ArrayBuffer(need);
    const body = new DataView(all);
    if (!readFully(fd, body, bodyStart, chunkBytes)) throw new CacheError(file, 'truncated while read');
    if (sha256([body], chunkBytes) !== header.sha256) throw new CacheError(file, 'checksum mismatch');
    let o = 0;
    return header.tensors.map((t) => {
      const n = t.shape.reduce((x, y) => x * y, 1);
      const data = t.dtype === 'int32' ? new Int32Array(all, o * 4, n) : new Float32Array(all, o * 4, n);
      o += n;
      return { name: t.name, shape: t.shape, data };
    });
  } catch (e) {
    throw e instanceof CacheError ? e : IoError.wrap(file, 'read', e);
  } finally {
    closeSync(fd);
  }
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
