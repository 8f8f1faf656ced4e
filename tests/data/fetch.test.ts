// `datasets fetch` against a local HTTP server on 127.0.0.1: a good download, a checksum mismatch,
// and a connection cut mid-file. Nothing is left under the final name unless the hash matched.
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FetchError, fetchFile } from '../../src/data/fetch.js';
import { FIX } from '../helpers.js';

const body = readFileSync(join(FIX, 'data', 'idx', 'images-idx3-ubyte.gz'));
const sha = createHash('sha256').update(body).digest('hex');
let server: http.Server;
let base = '';

beforeAll(async () => {
  server = http.createServer((req, res) => {
    if (req.url === '/good.gz') {
      res.writeHead(200, { 'content-length': body.length });
      res.end(body);
      return;
    }
    if (req.url === '/cut.gz') {
      res.writeHead(200, { 'content-length': body.length });
      res.write(body.subarray(0, 40));
      setTimeout(() => res.socket?.destroy(), 20);
      return;
    }
    if (req.url === '/moved') {
      res.writeHead(302, { location: '/good.gz' });
      res.end();
      return;
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('fetchFile', () => {
  it('downloads, checks SHA-256 and renames into place (following a redirect)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bowcnn-fetch-'));
    await fetchFile(`${base}/moved`, join(dir, 'a.gz'), sha);
    expect(readFileSync(join(dir, 'a.gz')).equals(body)).toBe(true);
    expect(readdirSync(dir)).toEqual(['a.gz']);
  });
  it('refuses a checksum mismatch and writes nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bowcnn-fetch-'));
    await expect(fetchFile(`${base}/good.gz`, join(dir, 'a.gz'), '0'.repeat(64))).rejects.toThrow(/SHA-256 mismatch/);
    expect(readdirSync(dir)).toEqual([]);
  });
  it('reports a connection cut mid-file and leaves no partial file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bowcnn-fetch-'));
    const err = await fetchFile(`${base}/cut.gz`, join(dir, 'a.gz'), sha).catch((e) => e);
    expect(err).toBeInstanceOf(FetchError);
    expect(String(err.message)).toMatch(/connection cut after 40/);
    expect(existsSync(join(dir, 'a.gz'))).toBe(false);
    expect(readdirSync(dir)).toEqual([]);
  });
  it('reports an HTTP error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bowcnn-fetch-'));
    await expect(fetchFile(`${base}/missing`, join(dir, 'a.gz'), sha)).rejects.toThrow(/HTTP 404/);
  });
});
