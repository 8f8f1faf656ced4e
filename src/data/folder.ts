/**
 * A class-per-folder image collection, read through sharp:
 *
 *   ROOT/<class>/<image>            one pool, split into train/test by a seeded stratified draw
 *   ROOT/train/<class>/<image>      or explicit splits (ROOT/test/... must then exist too)
 *
 * Class names are the folder names, sorted. Every file in a class folder must be an image that
 * sharp decodes (hidden files are skipped); anything else is a DataError naming the file. Each image goes
 * through the input rule that `predict` and the page use (data/input-rule.ts: alpha on white, grey or
 * colour, scaled to cover the size and centre-cropped).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import sharp from 'sharp';
import { describeErrno, showPath } from '../core/errors.js';
import { DataError, makeSplit, type Split } from '../core/data.js';
import { applyRule, type RawImage } from './input-rule.js';

export interface FolderOptions {
  size?: [number, number]; // [height, width] after resizing; default 32x32
  channels?: 1 | 3; // gray or RGB; default 3
  testFraction?: number; // for a single pool; default 0.2
  seed?: number;
}

/** A path as bytes (a file name need not be UTF-8) and as a person reads it. */
interface Path {
  raw: Buffer;
  shown: string;
}
const pathOf = (dir: Path, name: Buffer): Path => {
  const raw = Buffer.concat([dir.raw, Buffer.from('/'), name]);
  return { raw, shown: showPath(raw) };
};

interface Listed {
  classes: string[];
  files: { file: Path; label: number; size: number; mtimeMs: number }[];
}

function entries(dir: Path): { name: Buffer; path: Path; kind: 'dir' | 'file' | 'other'; size: number; mtimeMs: number }[] {
  let names: Buffer[];
  try {
    names = readdirSync(dir.raw, { encoding: 'buffer' });
  } catch (e) {
    throw new DataError(dir.shown, `cannot be listed (${describeErrno(e)})`);
  }
  return names
    .filter((n) => n[0] !== 0x2e) // hidden files and folders
    .sort(Buffer.compare)
    .map((name) => {
      const path = pathOf(dir, name);
      let st: ReturnType<typeof statSync>;
      try {
        st = statSync(path.raw);
      } catch (e) {
        throw new DataError(path.shown, `cannot be read (${describeErrno(e)})`);
      }
      const kind = st.isDirectory() ? ('dir' as const) : st.isFile() ? ('file' as const) : ('other' as const);
      return { name, path, kind, size: st.size, mtimeMs: st.mtimeMs };
    });
}

function listClasses(root: Path): Listed {
  const dirs = entries(root).filter((e) => e.kind === 'dir');
  if (dirs.length === 0) throw new DataError(root.shown, 'has no class folders (expected ROOT/<class>/<image files>)');
  const files: Listed['files'] = [];
  dirs.forEach((d, label) => {
    const inside = entries(d.path);
    const odd = inside.find((e) => e.kind === 'other');
    if (odd)
      throw new DataError(
        odd.path.shown,
        'is not a regular file (a FIFO, a socket or a device): only image files belong in a class folder',
      );
    const imgs = inside.filter((e) => e.kind === 'file');
    if (imgs.length === 0) throw new DataError(d.path.shown, `class folder '${showPath(d.name)}' has no image files`);
    for (const e of imgs) files.push({ file: e.path, label, size: e.size, mtimeMs: e.mtimeMs });
  });
  return { classes: dirs.map((d) => showPath(d.name)), files };
}

/**
 * An image file as `[h, w, channels]` bytes by the input rule (data/input-rule.ts, framing 'photo'): alpha
 * composited on white, grey or colour, scaled to cover h x w and centre-cropped (its aspect ratio kept).
 */
async function decode(file: Path, h: number, w: number, channels: 1 | 3): Promise<Uint8Array> {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file.raw);
  } catch (e) {
    throw new DataError(file.shown, `cannot be read (${describeErrno(e)})`);
  }
  let raw: RawImage;
  try {
    // a large image is first brought near the target by sharp (decoding cost only: the rule then frames it)
    const img = sharp(bytes, { failOn: 'error' });
    const meta = await img.metadata();
    const big = (meta.width ?? 0) > 4 * w && (meta.height ?? 0) > 4 * h;
    const pre = big ? img.resize(4 * w, 4 * h, { fit: 'outside' }) : img;
    const { data, info } = await pre.toColourspace('srgb').ensureAlpha().raw().toBuffer({ resolveWithObject: true });
    raw = { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height, channels: 4 };
  } catch (e) {
    throw new DataError(file.shown, `is not an image that can be decoded (${(e as Error).message.split('\n')[0]})`);
  }
  const px = applyRule(raw, { framing: 'photo', height: h, width: w, channels }).pixels;
  return Uint8Array.from(px, (v) => Math.round(v * 255));
}

async function readListed(
  l: { files: { file: Path; label: number }[] },
  h: number,
  w: number,
  channels: 1 | 3,
  onProgress?: (done: number, total: number) => void,
): Promise<Split> {
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

/** Every image file of a folder dataset, in a fixed order (train then test where it has both), with its label. */
export function listFolder(root: string): {
  classes: string[];
  files: { path: Buffer; shown: string; label: number; size: number; mtimeMs: number }[];
} {
  const rootPath: Path = { raw: Buffer.from(root), shown: showPath(root) };
  const top = entries(rootPath)
    .filter((e) => e.kind === 'dir')
    .map((e) => e.name.toString('latin1'));
  const parts =
    top.includes('train') && top.includes('test')
      ? [listClasses(pathOf(rootPath, Buffer.from('train'))), listClasses(pathOf(rootPath, Buffer.from('test')))]
      : [listClasses(rootPath)];
  return {
    classes: parts[0].classes,
    files: parts.flatMap((l) =>
      l.files.map((f) => ({ path: f.file.raw, shown: f.file.shown, label: f.label, size: f.size, mtimeMs: f.mtimeMs })),
    ),
  };
}

/** Decodes listed image files (raw paths) into a split of h x w x channels images. */
export function readFiles(files: { path: Buffer; label: number }[], h: number, w: number, channels: 1 | 3): Promise<Split> {
  return readListed({ files: files.map((f) => ({ file: { raw: f.path, shown: showPath(f.path) }, label: f.label })) }, h, w, channels);
}

export interface FolderData {
  classes: string[];
  train: Split;
  test: Split | null;
}

/** Reads ROOT; `test` is null for a single pool (the caller splits it). */
export async function readFolder(
  root: string,
  opts: FolderOptions = {},
  onProgress?: (done: number, total: number) => void,
): Promise<FolderData> {
  const [h, w] = opts.size ?? [32, 32];
  const channels = opts.channels ?? 3;
  const rootPath: Path = { raw: Buffer.from(root), shown: showPath(root) };
  const top = entries(rootPath)
    .filter((e) => e.kind === 'dir')
    .map((e) => e.name.toString('latin1'));
  if (top.includes('train') && top.includes('test')) {
    const tr = listClasses(pathOf(rootPath, Buffer.from('train')));
    const te = listClasses(pathOf(rootPath, Buffer.from('test')));
    if (tr.classes.join('\n') !== te.classes.join('\n')) {
      throw new DataError(
        `${rootPath.shown}/test`,
        `class folders [${te.classes.join(', ')}] differ from train's [${tr.classes.join(', ')}]`,
      );
    }
    return {
      classes: tr.classes,
      train: await readListed(tr, h, w, channels, onProgress),
      test: await readListed(te, h, w, channels, onProgress),
    };
  }
  const all = listClasses(rootPath);
  return { classes: all.classes, train: await readListed(all, h, w, channels, onProgress), test: null };
}
