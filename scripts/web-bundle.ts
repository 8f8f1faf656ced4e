/**
 * The browser bundles: the page (web/main.ts) and the library's browser entry (src/browser.ts), built by
 * esbuild for browsers. A bundle that pulls a Node-only module fails: esbuild cannot resolve Node's
 * built-ins for a browser, and `nodeOnly` names what reached the bundle from bowcnn's Node side.
 */
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { build, type Metafile, type Plugin } from 'esbuild';

const ROOT = resolve(import.meta.dirname, '..');

/** bowcnn's modules that need Node (files, the native addon, Node's backends and threads): none may be in a browser bundle. */
export const NODE_ONLY = [
  /^src\/backend\//,
  /^src\/data\/(?!input-rule\.ts$)/, // the input rule is plain arrays, shared with the page
  /^src\/pipeline\//,
  /^src\/learn\//,
  /^src\/cli\//,
  /^src\/eval\//,
  /^src\/report\//,
  /^src\/core\/(persist|atomic|settings)\.ts$/,
  /^src\/models\/(load|page|resolve)\.ts$/,
  /^src\/index\.ts$/,
  /sharp|bowcnn_native|node_modules\/webgpu\//,
];

/** The inputs of a bundle that are Node-only. */
export function nodeOnly(meta: Metafile): string[] {
  return Object.keys(meta.inputs).filter((f) => NODE_ONLY.some((r) => r.test(f)));
}

/** tfjs's webgpu backend is an optional dependency: without it, the page has webgl, wasm and cpu. */
const optionalWebgpu: Plugin = {
  name: 'optional-webgpu',
  setup(b) {
    b.onResolve({ filter: /^@tensorflow\/tfjs-backend-webgpu$/ }, (args) => {
      try {
        createRequire(`${ROOT}/`).resolve('@tensorflow/tfjs-backend-webgpu');
        return undefined;
      } catch {
        return { path: args.path, namespace: 'empty' };
      }
    });
    b.onLoad({ filter: /.*/, namespace: 'empty' }, () => ({ contents: 'export {};', loader: 'js' }));
  },
};

async function bundle(
  entry: string,
  outfile: string | undefined,
  minify: boolean,
): Promise<{ meta: Metafile; bytes: number; code?: string }> {
  const r = await build({
    entryPoints: [resolve(ROOT, entry)],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    minify,
    metafile: true,
    write: !!outfile,
    outfile: outfile ?? 'out.js',
    absWorkingDir: ROOT,
    plugins: [optionalWebgpu],
    logLevel: 'silent',
  });
  const bad = nodeOnly(r.metafile);
  if (bad.length) throw new Error(`${entry}: the browser bundle pulls Node-only modules: ${bad.join(', ')}`);
  const bytes = Object.values(r.metafile.outputs).reduce((a, o) => a + o.bytes, 0);
  return { meta: r.metafile, bytes, code: r.outputFiles?.[0]?.text };
}

/** The page's bundle, written to outfile. */
export function bundlePage(outfile: string) {
  return bundle('web/main.ts', outfile, true);
}

/** The library's browser entry, bundled in memory (the build test reads its inputs and its code). */
export function bundleBrowserEntry() {
  return bundle('src/browser.ts', undefined, false);
}
