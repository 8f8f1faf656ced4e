/**
 * A class-per-folder image collection, read through sharp:
 *
 *   ROOT/<class>/<image>            one pool, split into train/test by a seeded stratified draw
 *   ROOT/train/<class>/<image>      or explicit splits (ROOT/test/... must then exist too)
 *
 * Class names are the folder names, sorted. Every file in a class folder must be an image that
 * sharp decodes (hidden files are skipped); anything else is a DataError naming the file.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { DataError, makeSplit, type Split } from './types.js';

export interface FolderOptions {
  size?: [number, number];         // [height, width] after resizing; default 32x32
  channels?: 1 | 3;                // gray or RGB; default 3
  testFraction?: number;           // for a single pool; default 0.2
  seed?: number;
}

interface Listed { classes: string[]; files: { file: string; label: number }[] }

function subdirs(dir: string): string[] {
  let names: string[];
  try { names = readdirSync(dir); } catch (e) { throw new DataError(dir, `cannot be listed (${(e as NodeJS.ErrnoException).code ?? e})`); }
  return names.filter((n) => !n.startsWith('.') && statSync(join(dir, n)).isDirectory()).sort();
}

function listClasses(root: string): Listed {
  const classes = subdirs(root);
  if (classes.length === 0) throw new DataError(root, 'has no class folders (expected ROOT/<class>/<image files>)');
  const files: Listed['files'] = [];
  classes.forEach((c, label) => {
    const dir = join(root, c);
    const entries = readdirSync(dir).filter((n) => !n.startsWith('.')).sort();
    const imgs = entries.filter((n) => {
      try { return !statSync(join(dir, n)).isDirectory(); } catch (e) {
        throw new DataError(join(dir, n), `cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
      }
    });
    if (imgs.length === 0) throw new DataError(dir, `class folder '${c}' has no image files`);
    for (const n of imgs) files.push({ file: join(dir, n), label });
  });
  return { classes, files };
}

async function decode(file: string, h: number, w: number, channels: 1 | 3): Promise<Uint8Array> {
  try {
    let img = sharp(file, { failOn: 'error' }).removeAlpha();
    img = channels === 1 ? img.grayscale() : img.toColourspace('srgb');
    const { data, info } = await img.resize(w, h, { fit: 'fill' }).raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== channels) {
      // sharp keeps 3 channels for some gray-with-profile inputs; reduce or expand ourselves
      const out = new Uint8Array(h * w * channels);
      for (let p = 0; p < h * w; p++) {
        for (let c = 0; c < channels; c++) out[p * channels + c] = data[p * info.channels + Math.min(c, info.channels - 1)];
      }
      return out;
    }
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  } catch (e) {
    const msg = (e as Error).message;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || /permission denied/i.test(msg)) throw new DataError(file, 'cannot be read (permission denied)');
    throw new DataError(file, `is not a readable image (${msg.split('\n')[0]})`);
  }
}

async function readListed(l: Listed, h: number, w: number, channels: 1 | 3, onProgress?: (done: number, total: number) => void): Promise<Split> {
  const n = l.files.length;
  const pixels = new Uint8Array(n * h * w * channels);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    pixels.set(await decode(l.files[i].file, h, w, channels), i * h * w * channels);
    labels[i] = l.files[i].label;
    onProgress?.(i + 1, n);
  }
  return makeSplit(pixels, labels, h, w, channels);
}

export interface FolderData { classes: string[]; train: Split; test: Split | null }

/** Reads ROOT; `test` is null for a single pool (the caller splits it). */
export async function readFolder(root: string, opts: FolderOptions = {}, onProgress?: (done: number, total: number) => void): Promise<FolderData> {
  const [h, w] = opts.size ?? [32, 32];
  const channels = opts.channels ?? 3;
  const top = subdirs(root);
  if (top.includes('train') && top.includes('test')) {
    const tr = listClasses(join(root, 'train'));
    const te = listClasses(join(root, 'test'));
    if (tr.classes.join('\n') !== te.classes.join('\n')) {
      throw new DataError(join(root, 'test'), `class folders [${te.classes.join(', ')}] differ from train's [${tr.classes.join(', ')}]`);
    }
    return { classes: tr.classes, train: await readListed(tr, h, w, channels, onProgress), test: await readListed(te, h, w, channels, onProgress) };
  }
  const all = listClasses(root);
  return { classes: all.classes, train: await readListed(all, h, w, channels, onProgress), test: null };
}
