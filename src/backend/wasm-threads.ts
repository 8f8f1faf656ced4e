/**
 * XNNPACK's thread pool for the wasm backend in Node.
 *
 * tfjs-backend-wasm 4.22 ships a threaded SIMD binary, but in Node it never uses it:
 * * 1. its WASM_HAS_MULTITHREAD_SUPPORT flag returns false when IS_NODE (tfjs's GitHub issue 3830);
 *   2. Emscripten's pthread workers are created from blob: URLs (the worker script, and the factory the
 *      worker imports as `mainScriptUrlOrBlob`), which Node's worker_threads cannot start or read;
 *   3. the C side caps the pool at `emscripten_num_logical_cores() / 2` (it assumes two hyperthreads per
 *      core), computed once from `os.cpus().length` when the module starts: 1 thread on a 2-vCPU machine.
 *
 * `prepareWasmThreads(n)`, called after the wasm package is imported and before `tf.setBackend('wasm')`:
 *   1. sets the flag;
 *   2. installs a `Worker` global that Emscripten's Node glue cannot overwrite: a worker_threads Worker
 *      that, for a blob: URL, starts a small bootstrap and sends it the blob's script, and that replaces
 *      the factory Blob in the 'load' message by a file in a private temporary folder (with the bundle's
 *      `require$$N` module aliases, which the factory's source refers to, defined in front);
 *   3. makes `os.cpus()` report 2n entries while the module starts.
 * `finishWasmThreads()` undoes 3, removes the temporary folder (the workers have read their files by then)
 * and unrefs the pool's running workers (Emscripten refs a worker while it runs a pthread, which would keep
 * Node alive after the work is done).
 *
 * Messages posted before a worker has its script are queued in order; from then on they are posted
 * synchronously, as Emscripten needs (pthreadpool_create waits for its threads on the main thread).
 * Results do not depend on the thread count: XNNPACK splits a kernel's output between threads, and each
 * output is summed in the same order by whichever thread computes it.
 */
import { resolveObjectURL } from 'node:buffer';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { join } from 'node:path';
import { Worker as NodeWorker, type WorkerOptions } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';

type Transfer = Parameters<NodeWorker['postMessage']>[1];
const require = createRequire(import.meta.url);

/** Runs in the worker: waits for the first message, the worker script, and evaluates it globally. */
const BOOTSTRAP = `const wt = require('node:worker_threads');
globalThis.require = require;
globalThis.__filename = 'bowcnn-wasm-pthread';
wt.parentPort.once('message', (m) => { (0, eval)(m.bowcnnWorkerScript); });`;

let prelude: string | null | undefined;
let folder: string | null = null;
let fileCount = 0;
// Emscripten sends every pool worker the same factory Blob: one file per Blob, written once
let factoryFiles = new WeakMap<Blob, Promise<string>>();

/** `var require$$N = require('M');` for each module alias the wasm bundle declares; null if it has none. */
function bundlePrelude(): string | null {
  if (prelude !== undefined) return prelude;
  try {
    const bundle = readFileSync(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tf-backend-wasm.node.js'), 'utf8');
    const aliases = [...bundle.matchAll(/^var (require\$\$\d+) = require\('([a-z_]+)'\);$/gm)];
    prelude =
      aliases.length > 0 && bundle.includes('var wasmWorkerContents = ')
        ? `${aliases.map((m) => `var ${m[1]} = require('${m[2]}');`).join('\n')}\nvar commonjsGlobal = globalThis;\n`
        : null;
  } catch {
    prelude = null;
  }
  return prelude;
}

function factoryFile(blob: Blob): Promise<string> {
  let file = factoryFiles.get(blob);
  if (!file) {
    file = blob.text().then((text) => tempFile(bundlePrelude() + text));
    factoryFiles.set(blob, file);
  }
  return file;
}

function tempFile(text: string): string {
  if (!folder) {
    const dir = mkdtempSync(join(os.tmpdir(), 'bowcnn-wasm-'));
    folder = dir;
    process.once('exit', () => rmSync(dir, { recursive: true, force: true })); // if the start never finished
  }
  const file = join(folder, `factory-${fileCount++}.js`);
  writeFileSync(file, text);
  return file;
}

interface LoadMessage {
  cmd?: string;
  urlOrBlob?: unknown;
}

/** worker_threads Worker that can start from a blob: URL and forwards Emscripten's factory as a file. */
class BlobUrlWorker extends NodeWorker {
  private queue: Promise<void> = Promise.resolve();
  private queued = 0;

  constructor(url: string | URL, options?: WorkerOptions) {
    const blob = String(url).startsWith('blob:') ? resolveObjectURL(String(url)) : undefined;
    super(blob ? BOOTSTRAP : url, blob ? { ...options, eval: true } : options);
    if (blob) this.enqueue(async () => ({ bowcnnWorkerScript: await blob.text() }));
  }

  override postMessage(message: unknown, transfer?: Transfer): void {
    const m = message as LoadMessage;
    if (this.queued === 0 && !(m?.cmd === 'load' && m.urlOrBlob instanceof Blob)) {
      super.postMessage(message, transfer);
      return;
    }
    this.enqueue(async () => {
      if (m?.cmd === 'load' && m.urlOrBlob instanceof Blob) {
        return { ...m, urlOrBlob: await factoryFile(m.urlOrBlob) };
      }
      return message;
    }, transfer);
  }

  private enqueue(make: () => Promise<unknown>, transfer?: Transfer): void {
    this.queued++;
    this.queue = this.queue.then(async () => {
      try {
        super.postMessage(await make(), transfer);
      } finally {
        this.queued--;
      }
    });
  }
}

let restoreCpus: (() => void) | null = null;

/**
 * Prepares the threaded wasm module for `threads` XNNPACK threads (the main thread counts as one).
 * Returns false, changing nothing, when threads < 2 or this tfjs build does not look as expected.
 */
export function prepareWasmThreads(threads: number): boolean {
  if (!(threads >= 2) || bundlePrelude() === null || typeof SharedArrayBuffer === 'undefined') return false;
  try {
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true); // registered by the wasm package's import
  } catch {
    return false;
  }
  Object.defineProperty(globalThis, 'Worker', { get: () => BlobUrlWorker, set: () => {}, configurable: true });
  const cpus = os.cpus;
  const one = cpus()[0];
  (os as { cpus: () => os.CpuInfo[] }).cpus = () => Array.from({ length: 2 * threads }, () => one);
  restoreCpus = () => {
    (os as { cpus: () => os.CpuInfo[] }).cpus = cpus;
  };
  return true;
}

/** After `tf.setBackend('wasm')`: restores os.cpus and lets Node exit while the pool's threads idle. */
export function finishWasmThreads(wasmModule: unknown): void {
  restoreCpus?.();
  restoreCpus = null;
  // every pool worker has read its factory file before the module finished starting: remove them now
  // (a process killed later, as test runners kill their workers, leaves nothing behind)
  if (folder) rmSync(folder, { recursive: true, force: true });
  folder = null;
  factoryFiles = new WeakMap();
  const pthread = (wasmModule as { PThread?: { runningWorkers?: NodeWorker[] } } | undefined)?.PThread;
  for (const w of pthread?.runningWorkers ?? []) w.unref();
}
