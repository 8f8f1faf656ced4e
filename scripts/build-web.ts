/**
 * `npm run build:web`: the teaching page into dist-web/, static files only. web/main.ts is bundled for
 * browsers (esbuild; the build fails if it pulls a Node-only module), beside index.html, page.css, tfjs's
 * wasm binaries and models/ (manifest, the BoW pipeline as its bownet, the CNN, sample test images) made
 * from the models in web/models/ (or the run directory given as the first argument).
 */
import { copyFileSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { useBackend } from '../src/backend/index.js';
import { pageFiles } from '../src/models/page.js';
import { bundlePage } from './web-bundle.js';

const ROOT = resolve(import.meta.dirname, '..');
const OUT = join(ROOT, 'dist-web');
const models = resolve(process.argv[2] ?? join(ROOT, 'web', 'models'));

const t0 = performance.now();
const tmp = `${OUT}.tmp-${process.pid}`;
rmSync(tmp, { recursive: true, force: true });
mkdirSync(join(tmp, 'wasm'), { recursive: true });
try {
  const { bytes } = await bundlePage(join(tmp, 'app.js'));
  for (const f of ['index.html', 'page.css']) copyFileSync(join(ROOT, 'web', f), join(tmp, f));
  const wasmDir = dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/package.json'));
  for (const f of ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm'])
    copyFileSync(join(wasmDir, 'dist', f), join(tmp, 'wasm', f));
  await useBackend('wasm');
  const files = await pageFiles(models);
  for (const [name, data] of files) {
    const p = join(tmp, 'models', name);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, data);
  }
  rmSync(OUT, { recursive: true, force: true });
  renameSync(tmp, OUT);
  console.log(
    `build:web: dist-web/ (app.js ${(bytes / 1e6).toFixed(1)} MB, models from ${models}: ${[...files.keys()].join(', ')}) in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
} catch (e) {
  rmSync(tmp, { recursive: true, force: true });
  console.error(`build:web: ${(e as Error).message}`);
  process.exit(1);
}
