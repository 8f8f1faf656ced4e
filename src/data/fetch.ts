/**
 * `bowcnn datasets fetch NAME`: download the official files, check SHA-256, write atomically.
 * A file is streamed to `<name>.part`, hashed on the way, and renamed into place only when the
 * byte count and the hash match. A mismatch, a cut connection or an interruption leaves no file
 * under the final name.
 */
import { BowcnnError } from '../core/errors.js';
import { settings } from '../core/settings.js';
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { ensureDir } from '../core/atomic.js';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import http from 'node:http';
import https from 'node:https';
import { gunzipSync } from 'node:zlib';

export interface RemoteFile {
  name: string;
  sha256: string;
  size?: number;
}
export interface RemoteDataset {
  base: string;
  files: RemoteFile[];
  extract?: 'tar.gz';
}

/** Official locations and the SHA-256 sums published for them (TFDS/Keras checksum registries). */
export const REMOTE: Record<string, RemoteDataset> = {
  mnist: {
    base: 'https://storage.googleapis.com/cvdf-datasets/mnist/',
    files: [
      { name: 'train-images-idx3-ubyte.gz', sha256: '440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609' },
      { name: 'train-labels-idx1-ubyte.gz', sha256: '3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c' },
      { name: 't10k-images-idx3-ubyte.gz', sha256: '8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6' },
      { name: 't10k-labels-idx1-ubyte.gz', sha256: 'f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6' },
    ],
  },
  'fashion-mnist': {
    base: 'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/',
    files: [
      { name: 'train-images-idx3-ubyte.gz', sha256: '08dc20ab1689590a0bcd66e874647b6ee8464e2d501b5a3f1f78831db19a3fdc' },
      { name: 'train-labels-idx1-ubyte.gz', sha256: 'b0197879cbda89f3dc7b894f9fd52b858e68ea4182b6947c9d8c2b67e5f18dcc' },
      { name: 't10k-images-idx3-ubyte.gz', sha256: '78dcbbfb5a27efaf1b6c1d616caca68560be8766c5bffcb2791df9273a534229' },
      { name: 't10k-labels-idx1-ubyte.gz', sha256: '42bd18137a62d5998cdeae52bf3a0676ac6b706f5cf8439b47bb5b151ae3dccf' },
    ],
  },
  cifar10: {
    base: 'https://www.cs.toronto.edu/~kriz/',
    files: [{ name: 'cifar-10-binary.tar.gz', sha256: 'c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd' }],
    extract: 'tar.gz',
  },
};

export class FetchError extends BowcnnError {
  constructor(
    public readonly url: string,
    public readonly problem: string,
  ) {
    super(`${url}: ${problem}`);
    this.name = 'FetchError';
  }
}

/** Where fetched datasets live: $BOWCNN_DATA, else ~/.cache/bowcnn/datasets. */
export function dataHome(): string {
  return settings().dataDir ?? join(homedir(), '.cache', 'bowcnn', 'datasets');
}

export interface FetchProgress {
  file: string;
  received: number;
  total: number | null;
}

function get(url: string, redirects = 5): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const lib = url.startsWith('https:') ? https : http;
    const req = lib.get(url, (res) => {
      const code = res.statusCode ?? 0;
      if (code >= 300 && code < 400 && res.headers.location && redirects > 0) {
        res.resume();
        resolve(get(new URL(res.headers.location, url).toString(), redirects - 1));
        return;
      }
      if (code !== 200) {
        res.resume();
        reject(new FetchError(url, `HTTP ${code}`));
        return;
      }
      resolve(res);
    });
    req.on('error', (e) => reject(new FetchError(url, `connection failed (${e.message})`)));
    req.setTimeout(60_000, () => req.destroy(new Error('no data for 60 s')));
  });
}

/** Downloads one file to `dest` atomically, checking its SHA-256. */
export async function fetchFile(url: string, dest: string, sha256: string, onProgress?: (p: FetchProgress) => void): Promise<void> {
  ensureDir(dirname(dest));
  const part = `${dest}.part`;
  const res = await get(url);
  const total = res.headers['content-length'] ? Number(res.headers['content-length']) : null;
  const hash = createHash('sha256');
  let received = 0;
  const out = createWriteStream(part);
  try {
    await new Promise<void>((resolve, reject) => {
      let done = false;
      const fail = (e: Error) => {
        if (!done) {
          done = true;
          reject(e);
        }
      };
      res.on('data', (chunk: Buffer) => {
        received += chunk.length;
        hash.update(chunk);
        if (!out.write(chunk)) {
          res.pause();
          out.once('drain', () => res.resume());
        }
        onProgress?.({ file: dest, received, total });
      });
      res.on('aborted', () => fail(new FetchError(url, `connection cut after ${received} bytes`)));
      res.on('error', (e) => fail(new FetchError(url, `connection cut after ${received} bytes (${e.message})`)));
      res.on('end', () => {
        if (done) return;
        if (!res.complete || (total !== null && received !== total)) {
          fail(new FetchError(url, `connection cut after ${received} of ${total ?? '?'} bytes`));
          return;
        }
        done = true;
        out.end(() => resolve());
      });
      res.on('close', () => {
        if (!res.complete) fail(new FetchError(url, `connection cut after ${received} bytes`));
      });
    });
    const got = hash.digest('hex');
    if (got !== sha256) throw new FetchError(url, `SHA-256 mismatch: got ${got}, expected ${sha256}; nothing was written`);
    renameSync(part, dest);
  } catch (e) {
    out.destroy();
    rmSync(part, { force: true });
    throw e;
  }
}

/** Extracts the regular files of an in-memory tar whose names match `keep`, into `dir`, atomically each. */
export function extractTarGz(file: string, dir: string, keep: (name: string) => boolean): string[] {
  const tar = gunzipSync(readFileSync(file));
  const written: string[] = [];
  let off = 0;
  while (off + 512 <= tar.length) {
    const header = tar.subarray(off, off + 512);
    if (header.every((b) => b === 0)) break;
    const name = header.subarray(0, 100).toString('utf8').replace(/\0.*$/s, '');
    const prefix = header.subarray(345, 500).toString('utf8').replace(/\0.*$/s, '');
    const size = parseInt(header.subarray(124, 136).toString('utf8').replace(/\0.*$/s, '').trim() || '0', 8);
    const type = String.fromCharCode(header[156] || 48);
    const full = prefix ? `${prefix}/${name}` : name;
    off += 512;
    if ((type === '0' || type === '\0') && keep(full)) {
      const base = full.split('/').pop() as string;
      const dest = join(dir, base);
      writeFileSync(`${dest}.part`, tar.subarray(off, off + size));
      renameSync(`${dest}.part`, dest);
      written.push(dest);
    }
    off += Math.ceil(size / 512) * 512;
  }
  return written;
}

/** Fetches a named dataset into `<dataHome>/<name>`; files already present with the right hash are kept. */
export async function fetchDataset(
  name: string,
  opts: { dir?: string; baseUrl?: string; onProgress?: (p: FetchProgress) => void } = {},
): Promise<string> {
  const spec = REMOTE[name];
  if (!spec) throw new Error(`no download is known for dataset '${name}' (known: ${Object.keys(REMOTE).join(', ')})`);
  const dir = opts.dir ?? join(dataHome(), name);
  ensureDir(dir);
  for (const f of spec.files) {
    const dest = join(dir, f.name);
    if (existsSync(dest) && createHash('sha256').update(readFileSync(dest)).digest('hex') === f.sha256) continue;
    await fetchFile(new URL(f.name, opts.baseUrl ?? spec.base).toString(), dest, f.sha256, opts.onProgress);
  }
  if (spec.extract === 'tar.gz') {
    extractTarGz(join(dir, spec.files[0].name), dir, (n) => n.endsWith('.bin') || n.endsWith('batches.meta.txt'));
  }
  return dir;
}
