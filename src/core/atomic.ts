/**
 * Writes that a reader never sees half done: a file is written to a temp name beside it and renamed;
 * a folder is filled under a temp name and swapped in (the old one removed only after the swap). A
 * write that fails (a full disk, no permission) removes its temp file and names the file it was for.
 */
import { closeSync, existsSync, mkdirSync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import { IoError } from './errors.js';

/**
 * mkdir -p that always answers: each missing folder made one by one from the nearest one that exists.
 * (Node's recursive mkdirSync never returns for a path under /proc.)
 */
export function ensureDir(dir: string): void {
  const missing: string[] = [];
  let d = resolve(dir);
  while (!existsSync(d)) {
    missing.push(d);
    const up = dirname(d);
    if (up === d) break;
    d = up;
  }
  if (existsSync(d) && !statSync(d).isDirectory()) throw new IoError(d, 'is not a folder');
  for (const m of missing.reverse()) {
    try {
      mkdirSync(m);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw IoError.wrap(m, 'create', e);
    }
  }
}

/**
 * A temporary name beside `path` that no other writer uses: the process, the host and a random part, for
 * folders that several machines write at once (a shared cache on NFS, where two containers can have the
 * same pid).
 */
const tmpName = (path: string, kind: 'tmp' | 'old') =>
  `${path}.${kind}-${process.pid}-${hostname().replace(/[^\w.-]/g, '_')}-${randomBytes(4).toString('hex')}`;

/**
 * The bytes of `view` as views of at most `chunkBytes` each: Node 20 makes no typed array of more than 2^32
 * elements, so a Float32Array of 2 GB and more has no single byte view.
 */
export function* piecesOf(view: ArrayBufferView, chunkBytes: number): Generator<Uint8Array> {
  for (let o = 0; o < view.byteLength; o += chunkBytes)
    yield new Uint8Array(view.buffer, view.byteOffset + o, Math.min(chunkBytes, view.byteLength - o));
}

/**
 * A file of data in parts, written one after the other in pieces of at most `chunkBytes` (Node writes at most
 * 2 GiB at once; a cache of 60,000 images' features can be several GB), under a temp name, then renamed.
 */
export function writeFileAtomicParts(file: string, parts: ArrayBufferView[], chunkBytes = 1 << 30): void {
  const tmp = tmpName(file, 'tmp');
  try {
    ensureDir(dirname(file));
    const fd = openSync(tmp, 'w');
    try {
      for (const part of parts)
        for (const piece of piecesOf(part, chunkBytes))
          for (let o = 0; o < piece.byteLength; ) {
            const n = writeSync(fd, piece, o, piece.byteLength - o);
            if (n <= 0) throw new Error(`wrote ${n} bytes`);
            o += n;
          }
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true, recursive: true });
    throw IoError.wrap(file, 'write', e);
  }
}

export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  writeFileAtomicParts(file, [typeof data === 'string' ? Buffer.from(data) : data]);
}

export async function replaceDirAtomic(dir: string, fill: (tmp: string) => void | Promise<void>): Promise<void> {
  const tmp = tmpName(dir, 'tmp');
  const old = tmpName(dir, 'old');
  try {
    ensureDir(dirname(dir));
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp);
    await fill(tmp);
    if (existsSync(dir)) renameSync(dir, old);
    renameSync(tmp, dir);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    if (existsSync(old) && !existsSync(dir)) renameSync(old, dir); // put the old folder back
    throw IoError.wrap(dir, 'write', e);
  }
  rmSync(old, { recursive: true, force: true });
}
