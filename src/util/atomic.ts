/**
 * Writes that a reader never sees half done: a file is written to a temp name beside it and renamed;
 * a folder is filled under a temp name and swapped in (the old one removed only after the swap). A
 * write that fails (a full disk, no permission) removes its temp file and names the file it was for.
 */
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { IoError } from '../core/errors.js';

export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(tmp, data);
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true, recursive: true });
    throw IoError.wrap(file, 'write', e);
  }
}

export async function replaceDirAtomic(dir: string, fill: (tmp: string) => void | Promise<void>): Promise<void> {
  const tmp = `${dir}.tmp-${process.pid}`;
  const old = `${dir}.old-${process.pid}`;
  try {
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
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
