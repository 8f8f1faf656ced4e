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
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { ensureDir, writeFileAtomic } from '../core/atomic.js';
import { ConfigError, describeErrno, showPath } from '../core/errors.js';
import { DataError, makeSplit, type Split } from '../core/data.js';
import { identity } from '../core/identity.js';
import { didYouMean } from '../core/suggest.js';
import { applyRule, type RawImage } from './input-rule.js';

/**
 * The size images are brought to (every image of a dataset must end at one size: the chain's tensors are
 * `[N,H,W,C]`):
 *   [h, w]        scaled to cover h x w and centre-cropped (the aspect ratio kept, never stretched)
 *   'keep'        each image's own size, unchanged (all the images must share it)
 *   { short: n }  the short side scaled to n and the centre n x n kept (the same as [n, n])
 *   { long: n }   the long side scaled to n and the short side padded to n by repeating its edge pixels
 *                 (the whole image kept; the edge repeated adds no gradient)
 */
export type FolderSize = [number, number] | 'keep' | { short: number } | { long: number };

export interface FolderOptions {
  size?: FolderSize; // default [32, 32]
  channels?: 1 | 3; // gray or RGB; default 3
  testFraction?: number; // for a single pool: a fraction (default 0.2), or a count of images
  seed?: number;
  /** images decoded at once (sharp decodes them in parallel; default 32) */
  batch?: number;
  /** where the listing of image sizes is kept between runs ('keep' reads every header once); false: nowhere */
  listingCache?: string | false;
}

/** A --image-size value: keep, N, HxW, short:N or long:N. */
export function parseFolderSize(text: string): FolderSize {
  const t = text.trim().toLowerCase();
  const whole = (v: string) => {
    const n = Number(v);
    return Number.isInteger(n) && n >= 1 && n <= 8192 ? n : null;
  };
  if (t === 'keep') return 'keep';
  const m = /^(short|long):(\d+)$/.exec(t);
  if (m && whole(m[2])) return m[1] === 'short' ? { short: whole(m[2])! } : { long: whole(m[2])! };
  const hw = /^(\d+)(?:x(\d+))?$/.exec(t);
  if (hw && whole(hw[1]) && (hw[2] === undefined || whole(hw[2])))
    return [whole(hw[1])!, hw[2] === undefined ? whole(hw[1])! : whole(hw[2])!];
  // a slip in a word ('kep', 'shrot:128') gets the nearest form, with the number given
  const n = /\d+/.exec(t)?.[0] ?? 'N';
  const near = /[a-z]/.test(t) ? didYouMean(t, ['keep', `short:${n}`, `long:${n}`]) : '';
  throw new ConfigError(
    `image size '${text}'${near}: expected keep, N (N x N), HxW (height x width), short:N or long:N, with sizes from 1 to 8192 pixels`,
  );
}

/** How a size reads in messages and results: '256x256', 'keep', 'short:256', 'long:256'. */
export function describeFolderSize(s: FolderSize): string {
  if (s === 'keep') return 'keep';
  if (Array.isArray(s)) return `${s[0]}x${s[1]}`;
  return 'short' in s ? `short:${s.short}` : `long:${s.long}`;
}

/** A path as bytes (a file name need not be UTF-8) and as a person reads it. */
export interface Path {
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

/** An image's pixel size from its header (no decoding), or a DataError naming the file. */
async function headerSize(file: Path): Promise<[number, number]> {
  try {
    // a path sharp can open reads the header alone; a name that is not UTF-8 goes as the file's bytes
    const input = Buffer.from(file.shown).equals(file.raw) ? file.shown : readFileSync(file.raw);
    const m = await sharp(input, { failOn: 'error' }).metadata();
    if (!m.width || !m.height) throw new Error('no size in its header');
    // EXIF orientations 5-8 turn the image a quarter: its shown height is the stored width
    return (m.orientation ?? 1) >= 5 ? [m.width, m.height] : [m.height, m.width];
  } catch (e) {
    if (e instanceof DataError) throw e;
    throw new DataError(file.shown, `is not an image that can be decoded (${(e as Error).message.split('\n')[0]})`);
  }
}

/**
 * Each file's [height, width], from its header: read once, then from the listing cache (keyed by every file's
 * path, byte size and modification time, so a changed or added image makes a new listing).
 */
async function headerSizes(files: { file: Path; size: number; mtimeMs: number }[], cache: string | false): Promise<[number, number][]> {
  const key = identity(
    files.map((f) => [f.file.raw.toString('base64'), f.size, f.mtimeMs]),
    32,
  );
  const at = cache ? join(cache, `${key}.json`) : null;
  if (at && existsSync(at)) {
    try {
      const got = JSON.parse(readFileSync(at, 'utf8')) as [number, number][];
      if (Array.isArray(got) && got.length === files.length) return got;
    } catch {
      /* a damaged listing is read again */
    }
  }
  const out: [number, number][] = [];
  for (let i = 0; i < files.length; i += 64) out.push(...(await Promise.all(files.slice(i, i + 64).map((f) => headerSize(f.file)))));
  if (at && cache) {
    ensureDir(cache);
    writeFileAtomic(at, JSON.stringify(out));
  }
  return out;
}

/** The default listing cache: ~/.cache/bowcnn/listings. */
export const DEFAULT_LISTING_CACHE = join(homedir(), '.cache', 'bowcnn', 'listings');

/**
 * An image file as `[h, w, channels]` bytes by the input rule (data/input-rule.ts, framing 'photo'): alpha
 * composited on white, grey or colour, scaled to cover h x w and centre-cropped (its aspect ratio kept);
 * with `long`, first scaled so that its long side is h (= w) and padded to h x w by repeating its edges.
 */
async function decode(file: Path, h: number, w: number, channels: 1 | 3, long = false): Promise<Uint8Array> {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file.raw);
  } catch (e) {
    throw new DataError(file.shown, `cannot be read (${describeErrno(e)})`);
  }
  let raw: RawImage;
  try {
    let img = sharp(bytes, { failOn: 'error' }).rotate(); // EXIF orientation applied, as a viewer shows it
    const meta = await sharp(bytes).metadata();
    const turned = (meta.orientation ?? 1) >= 5;
    const iw = (turned ? meta.height : meta.width) ?? 0,
      ih = (turned ? meta.width : meta.height) ?? 0;
    if (long) {
      const f = Math.min(h / ih, w / iw);
      const rh = Math.max(1, Math.min(h, Math.round(ih * f))),
        rw = Math.max(1, Math.min(w, Math.round(iw * f)));
      const top = Math.floor((h - rh) / 2),
        left = Math.floor((w - rw) / 2);
      const small = await img.resize(rw, rh, { fit: 'fill', kernel: 'lanczos3' }).raw().toBuffer({ resolveWithObject: true });
      const { width, height, channels: c } = small.info;
      img = sharp(small.data, { raw: { width, height, channels: c } }).extend({
        top,
        bottom: h - rh - top,
        left,
        right: w - rw - left,
        extendWith: 'copy',
      });
    } else if (iw > 4 * w && ih > 4 * h) {
      // a large image is first brought near the target by sharp (decoding cost only: the rule then frames it)
      img = img.resize(4 * w, 4 * h, { fit: 'outside' });
    }
    const { data, info } = await img.toColourspace('srgb').ensureAlpha().raw().toBuffer({ resolveWithObject: true });
    raw = { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height, channels: 4 };
  } catch (e) {
    if (e instanceof DataError) throw e;
    throw new DataError(file.shown, `is not an image that can be decoded (${(e as Error).message.split('\n')[0]})`);
  }
  const px = applyRule(raw, { framing: 'photo', height: h, width: w, channels }).pixels;
  return Uint8Array.from(px, (v) => Math.round(v * 255));
}

/** A listed image: its file, label, byte size and modification time. */
export interface FolderEntry {
  file: Path;
  label: number;
  size: number;
  mtimeMs: number;
}

/** The one size every image ends at, for `size`; 'keep' reads the headers (through the listing cache). */
export async function targetSize(entries: FolderEntry[], size: FolderSize, cache: string | false): Promise<[number, number]> {
  if (Array.isArray(size)) return size;
  if (size !== 'keep') {
    const n = 'short' in size ? size.short : size.long;
    return [n, n];
  }
  const dims = await headerSizes(entries, cache);
  const first = dims[0];
  const odd = dims.findIndex((d) => d[0] !== first[0] || d[1] !== first[1]);
  if (odd >= 0) {
    throw new DataError(
      entries[odd].file.shown,
      `is ${dims[odd][1]}x${dims[odd][0]} (width x height), and ${entries[0].file.shown} is ${first[1]}x${first[0]}: ` +
        '--image-size keep needs one size for every image; give short:N (the centre N x N), long:N (the whole image, padded) or HxW',
    );
  }
  return first;
}

/**
 * Decodes entries into a split of h x w x channels images, `batch` files at a time (decoded in parallel,
 * each written into the split's bytes as it comes: no more than `batch` decoded images are held besides).
 */
export async function decodeEntries(
  entries: readonly FolderEntry[],
  h: number,
  w: number,
  channels: 1 | 3,
  opts: { long?: boolean; batch?: number; onProgress?: (done: number, total: number) => void; onBatch?: (size: number) => void } = {},
): Promise<Split> {
  const n = entries.length;
  const per = h * w * channels;
  const pixels = new Uint8Array(n * per);
  const labels = new Int32Array(n);
  const batch = Math.max(1, opts.batch ?? 32);
  for (let i = 0; i < n; i += batch) {
    const part = entries.slice(i, i + batch);
    opts.onBatch?.(part.length);
    const got = await Promise.all(part.map((e) => decode(e.file, h, w, channels, opts.long)));
    got.forEach((px, j) => {
      pixels.set(px, (i + j) * per);
      labels[i + j] = part[j].label;
    });
    opts.onProgress?.(Math.min(n, i + batch), n);
  }
  return makeSplit(pixels, labels, h, w, channels);
}

/** Every image file of a folder dataset, in a fixed order (train then test where it has both), with its label. */
export function listFolder(root: string): {
  classes: string[];
  files: { path: Buffer; shown: string; label: number; size: number; mtimeMs: number }[];
} {
  const l = listSplits(root);
  return {
    classes: l.classes,
    files: [...l.train, ...(l.test ?? [])].map((f) => ({
      path: f.file.raw,
      shown: f.file.shown,
      label: f.label,
      size: f.size,
      mtimeMs: f.mtimeMs,
    })),
  };
}

/** Decodes listed image files (raw paths) into a split of h x w x channels images. */
export function readFiles(files: { path: Buffer; label: number }[], h: number, w: number, channels: 1 | 3): Promise<Split> {
  return decodeEntries(
    files.map((f) => ({ file: { raw: f.path, shown: showPath(f.path) }, label: f.label, size: 0, mtimeMs: 0 })),
    h,
    w,
    channels,
  );
}

/** A folder's classes and its listed images: `train/` and `test/` when it has both (test then non-null), else one pool. */
export function listSplits(root: string): { classes: string[]; train: FolderEntry[]; test: FolderEntry[] | null } {
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
    return { classes: tr.classes, train: tr.files, test: te.files };
  }
  const all = listClasses(rootPath);
  return { classes: all.classes, train: all.files, test: null };
}

export interface FolderData {
  classes: string[];
  train: Split;
  test: Split | null;
}

/** Reads ROOT whole; `test` is null for a single pool (the caller splits it). */
export async function readFolder(
  root: string,
  opts: FolderOptions = {},
  onProgress?: (done: number, total: number) => void,
): Promise<FolderData> {
  const size = opts.size ?? [32, 32];
  const channels = opts.channels ?? 3;
  const l = listSplits(root);
  const [h, w] = await targetSize([...l.train, ...(l.test ?? [])], size, opts.listingCache ?? DEFAULT_LISTING_CACHE);
  const dec = { long: typeof size === 'object' && 'long' in size, batch: opts.batch, onProgress };
  return {
    classes: l.classes,
    train: await decodeEntries(l.train, h, w, channels, dec),
    test: l.test ? await decodeEntries(l.test, h, w, channels, dec) : null,
  };
}
