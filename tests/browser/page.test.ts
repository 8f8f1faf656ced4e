// The teaching page in a real browser (Debian's chromium, headless, driven by playwright-core): the built
// page (npm run build:web) served by `bowcnn serve` over the committed models, fed 20 MNIST test images.
// Both chains' labels must equal those computed in Node by the saved models themselves (the BoW Pipeline,
// not its bownet; the CNN through bowcnn's own execution pass), their scores within 1e-4; no console error;
// moving the shift slider changes the plotted curve; one forward pass of both on one image under 50 ms on
// wasm (median of 20). Screenshots go to docs/.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../src/backend/index.js';
import { dataset } from '../../src/data/registry.js';
import { batchTensor } from '../../src/data/split.js';
import { load } from '../../src/models/load.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const CHROMIUM = '/usr/bin/chromium';
const N = 20;
let server: ChildProcess;
let url = '';
let browser: Browser;
const consoleErrors: string[] = [];

async function open(query: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1300, height: 1400 } });
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(`${query}: ${m.text()}`);
  });
  page.on('pageerror', (e) => consoleErrors.push(`${query}: ${e.message}`));
  await page.goto(url + query);
  await page.waitForFunction(
    () =>
      document.body.dataset.ready === 'true' ||
      ((window as never as { bowcnnPage?: { errors: string[] } }).bowcnnPage?.errors.length ?? 0) > 0 ||
      document.querySelector('.status.error'),
    null,
    { timeout: 60_000 },
  );
  expect(await page.locator('#status').getAttribute('class')).not.toContain('error');
  await idle(page);
  return page;
}

const idle = (page: Page) => page.evaluate(() => (window as never as { bowcnnPage: { idle(): Promise<void> } }).bowcnnPage.idle());
const curves = (page: Page, id: string) => page.locator(`#${id} path.curve`).evaluateAll((ps) => ps.map((p) => p.getAttribute('d')));

beforeAll(async () => {
  if (!existsSync(join(ROOT, 'dist-web', 'index.html'))) throw new Error('dist-web/ is not built: run npm run build:web first');
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium`);
  server = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve', 'web/models', '--port', '0', '--json'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  url = await new Promise<string>((ok, fail) => {
    let out = '';
    server.stdout!.on('data', (d) => {
      out += d;
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) ok((JSON.parse(line) as { url: string }).url);
    });
    server.stderr!.on('data', (d) => process.stderr.write(d));
    server.on('exit', (code) => fail(new Error(`bowcnn serve exited with ${code} before printing its address`)));
  });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  await useBackend('wasm');
}, 120_000);

afterAll(async () => {
  await browser?.close();
  if (server && server.exitCode === null) server.kill('SIGKILL');
});

describe('the teaching page in headless Chromium', () => {
  it("gives the Node models' labels on 20 MNIST test images, scores within 1e-4 (wasm)", async () => {
    const ds = await dataset('mnist', { subset: 10, seed: 0 });
    const pixels = Array.from(ds.test.pixels.subarray(0, N * 784), (v) => v / 255);
    const x = batchTensor(ds.test, 0, N);
    const node: Record<string, number[][]> = {};
    for (const name of ['bow-sift-pyramid', 'lenet5']) {
      const c = await load(join(ROOT, 'web', 'models', name));
      const s = await c.scores(x);
      node[name] = (await s.array()) as number[][];
      s.dispose();
      c.dispose();
    }
    x.dispose();
    const page = await open('?backend=wasm');
    expect(await page.evaluate(() => (window as never as { bowcnnPage: { backend: string } }).bowcnnPage.backend)).toBe('wasm');
    const web = await page.evaluate(
      ([p, n]) =>
        (window as never as { bowcnnPage: { classify(p: number[], n: number): Promise<Record<string, number[][]>> } }).bowcnnPage.classify(
          p,
          n,
        ),
      [pixels, N] as const,
    );
    const argmax = (r: number[]) => r.indexOf(Math.max(...r));
    for (const name of ['bow-sift-pyramid', 'lenet5']) {
      expect(web[name].map(argmax), name).toEqual(node[name].map(argmax));
      let worst = 0;
      for (let i = 0; i < N; i++) for (let k = 0; k < 10; k++) worst = Math.max(worst, Math.abs(web[name][i][k] - node[name][i][k]));
      expect(worst, name).toBeLessThan(1e-4);
    }
    // the labels are the right ones, not only the same: both classifiers get most of these 20 right
    for (const name of ['bow-sift-pyramid', 'lenet5'])
      expect(node[name].map(argmax).filter((p, i) => p === ds.test.labels[i]).length).toBeGreaterThanOrEqual(18);
    await page.close();
  });

  it('redraws the stability curve when the shift slider moves, and keeps its tensors', async () => {
    const page = await open('?backend=wasm');
    const before = await curves(page, 'profile');
    const tensors = await page.evaluate(() => (window as never as { bowcnnPage: { numTensors(): number } }).bowcnnPage.numTensors());
    await page.focus('#translate-x');
    for (let i = 0; i < 3; i++) await page.keyboard.press('ArrowRight');
    await idle(page);
    expect(await page.locator('output[for="translate-x"]').textContent()).toBe('3 px');
    const after = await curves(page, 'profile');
    expect(after.length).toBe(2); // one curve per chain
    expect(after).not.toEqual(before);
    // a shift moves the first layers (they are not shift-invariant): some stage is now at a distance > 0
    const moved = await page.locator('.card .change').allTextContents();
    expect(moved.some((t) => Number(t.split(' ').pop()) > 0.01)).toBe(true);
    expect(await page.evaluate(() => (window as never as { bowcnnPage: { numTensors(): number } }).bowcnnPage.numTensors())).toBe(tensors);
    await page.close();
  });

  it('runs one forward pass of both classifiers on one 28x28 image in under 50 ms on wasm (median of 20)', async () => {
    const page = await open('?backend=wasm');
    const t = await page.evaluate(() =>
      (window as never as { bowcnnPage: { forwardMs(n: number): Promise<number[]> } }).bowcnnPage.forwardMs(20),
    );
    t.sort((a, b) => a - b);
    const median = (t[9] + t[10]) / 2;
    console.log(`page forward pass, both chains, one image, wasm: median ${median.toFixed(1)} ms of 20`);
    expect(median).toBeLessThan(50);
    await page.close();
  });

  it('draws a digit with the mouse, and saves the screenshots to docs/', async () => {
    const page = await open('');
    await page.click('#clear');
    const box = (await page.locator('#draw').boundingBox())!;
    // a 7: the bar, then the stem
    const pts: [number, number][] = [
      [0.25, 0.22],
      [0.75, 0.22],
      [0.68, 0.4],
      [0.55, 0.62],
      [0.45, 0.85],
    ];
    await page.mouse.move(box.x + pts[0][0] * box.width, box.y + pts[0][1] * box.height);
    await page.mouse.down();
    for (const [px, py] of pts.slice(1)) await page.mouse.move(box.x + px * box.width, box.y + py * box.height, { steps: 8 });
    await page.mouse.up();
    await idle(page);
    const predicted = await page.locator('.pred b').allTextContents();
    expect(predicted).toEqual(['7', '7']);
    await page.screenshot({ path: join(ROOT, 'docs', 'web-chains.png'), fullPage: true });
    await page.focus('#rotate');
    for (let i = 0; i < 6; i++) await page.keyboard.press('ArrowRight');
    await idle(page);
    const panel = (await page.locator('#stability').boundingBox())!;
    const input = (await page.locator('#input-panel').boundingBox())!;
    await page.screenshot({
      path: join(ROOT, 'docs', 'web-stability.png'),
      clip: { x: input.x, y: input.y, width: panel.x + panel.width - input.x, height: Math.max(panel.height, 760) },
    });
    await page.close();
  });

  it('colours the prediction row above each sweep green and red, with no two labels overlapping; Clear leaves no prediction', async () => {
    const page = await open('?backend=wasm');
    await page.click('#sample');
    await idle(page);
    await page.focus('#rotate');
    for (let i = 0; i < 2; i++) await page.keyboard.press('ArrowRight');
    await idle(page);
    for (const id of ['sweep-bow', 'sweep-cnn']) {
      const labels = await page.locator(`#${id} .pred-label`).evaluateAll((ts) =>
        ts.map((t) => {
          const r = t.getBoundingClientRect();
          return { fill: getComputedStyle(t).fill, box: [r.left, r.top, r.right, r.bottom] };
        }),
      );
      expect(labels.length).toBeGreaterThan(3);
      for (const l of labels) expect(['rgb(26, 127, 55)', 'rgb(176, 0, 32)']).toContain(l.fill);
      expect(labels.some((l) => l.fill === 'rgb(26, 127, 55)')).toBe(true);
      for (let i = 0; i < labels.length; i++)
        for (let j = i + 1; j < labels.length; j++) {
          const [a, b] = [labels[i].box, labels[j].box];
          const overlap = Math.min(a[2], b[2]) - Math.max(a[0], b[0]) > 0.5 && Math.min(a[3], b[3]) - Math.max(a[1], b[1]) > 0.5;
          expect(overlap, `${id}: labels ${i} and ${j} overlap`).toBe(false);
        }
    }
    await page.click('#clear');
    await idle(page);
    expect(await page.locator('.pred').count()).toBe(0);
    expect(await page.locator('#predictions').textContent()).toMatch(/Nothing to classify/);
    expect(await page.locator('#lead').textContent()).toMatch(/^Draw a digit, .* the CNN lenet5, trained end to end/);
    await page.close();
  });

  it('reads a photo (dark ink on light paper, 4x the size) as the test image it was made from', async () => {
    const { encodePng } = await import('../../src/report/png.js');
    const ds = await dataset('mnist', { subset: 10, seed: 0 });
    const page = await open('?backend=wasm');
    let right = 0;
    const tried = 5;
    for (let i = 0; i < tried; i++) {
      const src = ds.test.pixels.subarray(i * 784, (i + 1) * 784);
      const big = new Uint8Array(112 * 112);
      for (let y = 0; y < 112; y++) for (let x = 0; x < 112; x++) big[y * 112 + x] = 255 - src[(y >> 2) * 28 + (x >> 2)];
      const before = await page.evaluate(() => (window as never as { bowcnnPage: { updates(): number } }).bowcnnPage.updates());
      await page.setInputFiles('#photo', { name: `digit-${i}.png`, mimeType: 'image/png', buffer: encodePng(big, 112, 112, 1) });
      await page.waitForFunction((n) => (window as never as { bowcnnPage: { updates(): number } }).bowcnnPage.updates() > n, before);
      await idle(page);
      const predicted = await page.locator('.pred b').allTextContents();
      if (predicted.every((p) => p === String(ds.test.labels[i]))) right++;
    }
    // framing a photo is not MNIST's own preprocessing: most, not all, must come back right through both chains
    expect(right).toBeGreaterThanOrEqual(4);
    await page.close();
  });

  it('works as plain static files: dist-web/ behind a bare file server (no cross-origin isolation), its own models', async () => {
    const { createServer } = await import('node:http');
    const { readFileSync, statSync } = await import('node:fs');
    const types: Record<string, string> = {
      '.html': 'text/html',
      '.js': 'text/javascript',
      '.css': 'text/css',
      '.json': 'application/json',
      '.wasm': 'application/wasm',
    };
    const root = join(ROOT, 'dist-web');
    const files = createServer((req, res) => {
      const f = join(root, decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname).replace(/\/$/, '/index.html'));
      try {
        if (!f.startsWith(root) || !statSync(f).isFile()) throw new Error();
        res.writeHead(200, { 'content-type': types[f.slice(f.lastIndexOf('.'))] ?? 'application/octet-stream' });
        res.end(readFileSync(f));
      } catch {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((ok) => files.listen(0, '127.0.0.1', ok));
    const base = `http://127.0.0.1:${(files.address() as { port: number }).port}/`;
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    await page.goto(`${base}?backend=wasm`);
    await page.waitForFunction(() => document.body.dataset.ready === 'true' || document.querySelector('.status.error'), null, {
      timeout: 60_000,
    });
    await idle(page);
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(false);
    expect(await page.locator('.pred b').count()).toBe(2);
    expect(errors).toEqual([]);
    await page.close();
    files.close();
  });

  it('shows no console error on any backend it chose', () => {
    expect(consoleErrors).toEqual([]);
  });

  it('bowcnn serve: serves only the page and its models, refuses a port in use, stops on Ctrl-C with 130', async () => {
    expect((await fetch(`${url}models/manifest.json`)).status).toBe(200);
    expect((await fetch(`${url}%2e%2e/package.json`)).status).toBe(404);
    expect((await fetch(`${url}models/nothing.bin`)).status).toBe(404);
    const port = new URL(url).port;
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--port', port], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`--port ${port}: 127.0.0.1:${port} is in use`);
    const t0 = performance.now();
    const code = await new Promise<number | null>((ok) => {
      server.once('exit', (c) => ok(c));
      server.kill('SIGINT');
    });
    expect(code).toBe(130);
    expect(performance.now() - t0).toBeLessThan(5000);
  });
});
