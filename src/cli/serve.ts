/**
 * bowcnn serve [DIR]: the teaching page over a run directory's models, on 127.0.0.1. The page's static
 * files come from dist-web/ (npm run build:web); its models/ are made from DIR in memory (a BoW pipeline
 * as its bownet, a CNN as saved), or are the built page's own when DIR is not given.
 */
import { createServer, type ServerResponse } from 'node:http';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Interrupted, IoError, UsageError } from '../core/errors.js';
import { stopRequested } from '../core/interrupt.js';
import { pageFiles, type PageFiles } from '../models/page.js';
import { dataDir, say, startBackend } from './common.js';
import type { Values } from './spec.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.bin': 'application/octet-stream',
  '.png': 'image/png',
};

/** Where the built page is: dist-web/ beside dist/ (or src/) in the package. */
export function pageRoot(): string {
  return fileURLToPath(new URL('../../dist-web/', import.meta.url));
}

export async function serveCommand(v: Values, pos: string[]): Promise<void> {
  const root = pageRoot();
  if (!existsSync(join(root, 'index.html')))
    throw new UsageError(`the page is not built (${root} has no index.html): run npm run build:web`);
  let models: PageFiles | null = null;
  const [dir] = pos;
  if (dir) {
    await startBackend(v);
    models = await pageFiles(resolve(dir), { models: (v.models as string | undefined)?.split(',').filter(Boolean), dataDir: dataDir(v) });
  }
  const host = v.host as string;
  const port = v.port as number;
  if (!(Number.isInteger(port) && port >= 0 && port < 65536))
    throw new UsageError(`--port ${port}: a whole number from 0 (a free port) to 65535`);
  const server = createServer((req, res) => {
    let path: string;
    try {
      path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    } catch {
      return send(res, 400, 'a malformed path');
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'only GET and HEAD');
    if (models && path.startsWith('/models/')) {
      const f = models.get(path.slice('/models/'.length));
      return f === undefined ? send(res, 404, `${path}: no such model file`) : send(res, 200, f, TYPES[extname(path)]);
    }
    const file = normalize(join(root, path.endsWith('/') ? `${path}index.html` : path));
    if (!file.startsWith(root.endsWith(sep) ? root : root + sep) || !existsSync(file) || !statSync(file).isFile())
      return send(res, 404, `${path}: not found`);
    send(res, 200, readFileSync(file), TYPES[extname(file)] ?? 'application/octet-stream');
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      fail(
        e.code === 'EADDRINUSE'
          ? new UsageError(`--port ${port}: ${host}:${port} is in use (another port, or --port 0 for a free one)`)
          : e.code === 'EADDRNOTAVAIL' || e.code === 'ENOTFOUND'
            ? new UsageError(`--host ${host}: not an address of this machine (${e.code})`)
            : new IoError(`${host}:${port}`, e.message),
      ),
    );
    server.listen(port, host, ok);
  });
  const addr = server.address();
  const url = `http://${host}:${typeof addr === 'object' && addr ? addr.port : port}/`;
  const names = models
    ? JSON.parse(String(models.get('manifest.json'))).chains.map((c: { name: string }) => c.name)
    : ["the built page's own"];
  say(v, `the page is at ${url} (models: ${names.join(', ')}${dir ? ` from ${dir}` : ''}); Ctrl-C stops`);
  if (v.json) console.log(JSON.stringify({ url, models: names }));
  try {
    while (!stopRequested()) await new Promise((r) => setTimeout(r, 100));
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
  throw new Interrupted(stopRequested() ?? 'SIGINT', 'the page is no longer served');
}

function send(res: ServerResponse, code: number, body: string | Uint8Array, type = 'text/plain; charset=utf-8'): void {
  // cross-origin isolation lets tfjs's wasm backend use threads in the browser
  res.writeHead(code, {
    'content-type': type,
    'cache-control': 'no-cache',
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-embedder-policy': 'require-corp',
  });
  res.end(body);
}
