/**
 * Choose and start the tfjs backend.
 *
 *   'auto'       -> 'tensorflow' if @tensorflow/tfjs-node-gpu or @tensorflow/tfjs-node can be imported,
 *                   else 'webgpu' if a hardware GPU adapter exists, else 'wasm'.
 *   'wasm'       -> XNNPACK in WebAssembly, SIMD, with its thread pool (./wasm-threads.ts): one thread per
 *                   CPU up to 8, or `threads` / BOWCNN_WASM_THREADS (1 = the unthreaded SIMD build).
 *   'cpu'        -> tfjs's plain JavaScript kernels: slow, but the numerical reference.
 *   'webgpu'     -> @tensorflow/tfjs-backend-webgpu on Dawn (the `webgpu` npm package), see ./webgpu.ts.
 *   'tensorflow' -> libtensorflow through tfjs-node(-gpu), when the user has installed it.
 *
 * An explicit name that cannot start throws a BackendError; it never falls back in silence.
 */
import * as tf from '@tensorflow/tfjs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { BowcnnError } from '../core/errors.js';
import { configure, envSettings, type Settings } from '../core/settings.js';
import { registerGradients } from './gradients.js';
import { registerDilatedConvGradient, registerWasmKernels } from './wasm-kernels.js';
import { finishWasmThreads, prepareWasmThreads } from './wasm-threads.js';
import { nativeIsa, nativeUnavailableReason, setNativeThreads } from './native.js';
import { hardwareAdapterPossible, startWebgpu, webgpuAdapterInfo, type WebgpuOptions } from './webgpu.js';

export type BackendName = 'auto' | 'wasm' | 'cpu' | 'webgpu' | 'tensorflow';
export const BACKENDS: readonly BackendName[] = ['auto', 'wasm', 'cpu', 'webgpu', 'tensorflow'];

export class BackendError extends BowcnnError {
  constructor(
    public readonly backend: string,
    message: string,
  ) {
    super(`backend '${backend}': ${message}`);
    this.name = 'BackendError';
  }
}

export interface BackendInfo {
  name: string; // the tfjs backend that runs: wasm, cpu, webgpu, tensorflow
  requested: BackendName;
  simd: boolean | null; // wasm only
  threads: number; // compute threads the backend uses
  device: string; // a human description of what computes
  notes: string[];
}

let current: BackendInfo | null = null;
// tfjs prints a banner urging tfjs-node on the first cpu tensor; bowcnn says what runs in backendInfo().
tf.env().set('PROD', true);
const require = createRequire(import.meta.url);

/**
 * What useBackend is told: bowcnn's settings (core/settings.ts; each defaults to its BOWCNN_* variable)
 * and the webgpu adapter choice.
 */
export interface BackendOptions extends WebgpuOptions, Partial<Settings> {}

/** The wasm thread count asked for: the option, else the threads setting (BOWCNN_WASM_THREADS), else the CPU count; 1..8. */
export function wasmThreadsWanted(threads?: number): number {
  const fromEnv = threads === undefined ? envSettings().threads : undefined;
  const n = threads ?? fromEnv ?? os.availableParallelism();
  if (!Number.isInteger(n) || n < 1) {
    throw new BackendError('wasm', `threads must be a whole number >= 1, got ${threads ?? `BOWCNN_WASM_THREADS=${fromEnv}`}`);
  }
  return Math.min(n, 8);
}

let wasmThreads = 1; // XNNPACK's
let nativeThreads = 0; // the native kernels' (0: not in use)
let wasmThreadsNote: string | null = null;

async function startWasm(threads: number): Promise<void> {
  // Emscripten's Node glue installs process-wide uncaughtException/unhandledRejection handlers that
  // rethrow and print the whole minified module on any error; remove the ones it adds.
  const before = {
    uncaughtException: process.listeners('uncaughtException'),
    unhandledRejection: process.listeners('unhandledRejection'),
  };
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  registerWasmKernels();
  // With the native kernels, the threads go to them (OpenMP) and XNNPACK keeps one: what is left in
  // XNNPACK (pooling, element-wise ops) gains little from threads, and its pool's waiting workers took
  // cores from the native kernels' threads (LeNet-5 step, 3 alternating runs: 22.6-24.4 ms with 2 + 2
  // threads, 17.7-21.5 ms with 1 + 2).
  const native = nativeIsa() !== null;
  nativeThreads = native ? threads : 0;
  if (native) threads = 1;
  const started = () => (tf.engine() as unknown as { registry: Record<string, { wasm?: unknown }> }).registry.wasm;
  const fresh = started() === undefined;
  const threaded = fresh && prepareWasmThreads(threads);
  if (threaded) wasm.setThreadsCount(threads);
  if (fresh && threads > 1 && !threaded) {
    wasmThreadsNote = `one thread, not ${threads}: this tfjs-backend-wasm build is not the one src/backend/wasm-threads.ts knows how to start threaded`;
  }
  let ok: boolean;
  try {
    ok = await tf.setBackend('wasm');
    await tf.ready();
  } finally {
    if (threaded) finishWasmThreads(started()?.wasm);
  }
  wasmThreads = threaded && started() ? wasm.getThreadsCount() : fresh ? 1 : wasmThreads;
  if (native) setNativeThreads(nativeThreads);
  for (const l of process.listeners('uncaughtException')) {
    if (!before.uncaughtException.includes(l)) process.removeListener('uncaughtException', l);
  }
  for (const l of process.listeners('unhandledRejection')) {
    if (!before.unhandledRejection.includes(l)) process.removeListener('unhandledRejection', l);
  }
  if (!ok) {
    throw new BackendError(
      'wasm',
      'tf.setBackend("wasm") returned false' +
        (threaded ? ` (with ${threads} threads; BOWCNN_WASM_THREADS=1 starts the unthreaded build)` : ''),
    );
  }
}

async function startTensorflow(): Promise<string> {
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      require.resolve(pkg);
    } catch {
      continue;
    }
    await import(pkg);
    if (await tf.setBackend('tensorflow')) {
      await tf.ready();
      return pkg;
    }
    throw new BackendError(
      'tensorflow',
      `${pkg} was imported but tf.setBackend('tensorflow') failed: ` +
        'it may have been built against another copy of @tensorflow/tfjs-core',
    );
  }
  throw new BackendError(
    'tensorflow',
    'neither @tensorflow/tfjs-node-gpu nor @tensorflow/tfjs-node is installed ' +
      '(npm install @tensorflow/tfjs-node, on a machine that can download its binary; docs/gpu.md)',
  );
}

function tensorflowImportable(): boolean {
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      require.resolve(pkg);
      return true;
    } catch {
      /* not installed */
    }
  }
  return false;
}

/** Starts a backend and returns what runs. Idempotent for the same name. */
export async function useBackend(name: BackendName = 'auto', opts: BackendOptions = {}): Promise<BackendInfo> {
  if (!BACKENDS.includes(name)) {
    throw new BackendError(String(name), `unknown backend; choose one of ${BACKENDS.join(', ')}`);
  }
  const set = configure(opts);
  // variables the C libraries read as they load: OpenMP's idle threads sleep instead of spinning;
  // EGL without a display for Dawn's OpenGL backend (the software adapter)
  if (set.native) process.env.OMP_WAIT_POLICY ??= 'PASSIVE';
  if (name === 'webgpu' || name === 'auto') process.env.EGL_PLATFORM ??= 'surfaceless';
  registerDilatedConvGradient();
  registerGradients();
  const notes: string[] = [];
  let chosen: Exclude<BackendName, 'auto'> = name === 'auto' ? 'wasm' : name;
  if (name === 'auto') {
    if (tensorflowImportable()) chosen = 'tensorflow';
    // a full start on a hardware adapter, or nothing (startWebgpu is idempotent, so the start below reuses it)
    else if (
      hardwareAdapterPossible() &&
      (await startWebgpu({ ...opts, hardwareOnly: true, quiet: true }).then(
        () => true,
        () => false,
      ))
    )
      chosen = 'webgpu';
  }
  try {
    if (chosen === 'wasm') await startWasm(wasmThreadsWanted(set.threads));
    else if (chosen === 'cpu') {
      await tf.setBackend('cpu');
      await tf.ready();
    } else if (chosen === 'webgpu') await startWebgpu(opts);
    else if (chosen === 'tensorflow') notes.push(`loaded ${await startTensorflow()}`);
  } catch (e) {
    if (e instanceof BackendError) throw e;
    throw new BackendError(chosen, (e as Error).message);
  }
  current = describe(name, notes);
  return current;
}

function describe(requested: BackendName, notes: string[]): BackendInfo {
  const name = tf.getBackend();
  const cpus = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency;
  if (name === 'wasm') {
    const simd = tf.env().getBool('WASM_HAS_SIMD_SUPPORT');
    const isa = nativeIsa();
    if (isa) {
      notes.push(
        `convolutions (stride 1, forward and both gradients), matrix products, 2x2 max pooling and bias + ReLU in bowcnn's native kernels: ${isa}, ${nativeThreads} OpenMP thread${nativeThreads > 1 ? 's' : ''}; XNNPACK ${wasmThreads} thread${wasmThreads > 1 ? 's' : ''} for the rest`,
      );
    } else {
      if (wasmThreads > 1) notes.push(`XNNPACK thread pool of ${wasmThreads} (worker_threads; see src/backend/wasm-threads.ts)`);
      notes.push(
        `no native kernels (${nativeUnavailableReason()}): convolutions in XNNPACK; Conv2DBackpropFilter is bowcnn's own kernel, composed from wasm Conv2D/Transpose/Slice`,
      );
    }
    if (wasmThreadsNote) notes.push(wasmThreadsNote);
    return {
      name,
      requested,
      simd,
      threads: isa ? Math.max(nativeThreads, wasmThreads) : wasmThreads,
      device: `CPU, XNNPACK via WebAssembly${simd ? ' SIMD' : ''}${isa ? ` + native ${isa} kernels` : ''}`,
      notes,
    };
  }
  if (name === 'cpu') {
    return { name, requested, simd: null, threads: 1, device: 'CPU, plain JavaScript kernels (reference, slow)', notes };
  }
  if (name === 'webgpu') {
    return { name, requested, simd: null, threads: 1, device: `GPU, WebGPU on ${webgpuAdapterInfo() ?? 'unknown adapter'}`, notes };
  }
  return { name, requested, simd: null, threads: cpus ?? 0, device: 'libtensorflow (tfjs-node)', notes };
}

/** What runs now. Starts nothing: call useBackend first. */
export function backendInfo(): BackendInfo {
  if (current && current.name === tf.getBackend()) return current;
  return describe('auto', []);
}

export { tf };
