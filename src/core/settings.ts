/**
 * bowcnn's settings, in one place. Every BOWCNN_* environment variable is read here, by `envSettings`,
 * and nowhere else; `useBackend(name, options)` lays the options it is given over them and keeps the
 * result, which the kernels, passes and loaders read through `settings()`. The table in
 * docs/configuration.md lists the same variables (a test holds the two together).
 */
import { didYouMean } from './suggest.js';
import { ConfigError } from './errors.js';

export interface Settings {
  /** wasm: XNNPACK / native kernel threads, the main thread included (1..8; default one per CPU, at most 8) */
  threads?: number;
  /** use the native kernels where the addon is built */
  native: boolean;
  /** the hand-written WebAssembly SIMD kernels (else their JavaScript loops) */
  wasmSimd: boolean;
  /** tfjs's own wasm kernels only (no bowcnn kernel registered): for comparison */
  wasmStock: boolean;
  /** bowcnn's fused wasm kernels (softmax cross-entropy, Adam, bias + ReLU) */
  wasmFused: boolean;
  /** the execution passes' fusions (conv + ReLU + pool, dense + bias + ReLU) */
  fuse: boolean;
  /** webgpu: accept a software adapter (Mesa llvmpipe, SwiftShader) */
  webgpuSoftware: boolean;
  /** webgpu: tfjs's own kernels only */
  webgpuStock: boolean;
  /** webgpu: bowcnn's fused kernels */
  webgpuFused: boolean;
  /** webgpu: training steps recorded once and replayed (backend/webgpu-replay.ts) */
  webgpuReplay: boolean;
  /** flags for Dawn's create(), e.g. ['backend=vulkan'] */
  dawnFlags: string[];
  /** where datasets are looked for and fetched to (else the package, Debian's copy, ~/.cache/bowcnn/datasets) */
  dataDir?: string;
  /** progress bars on stderr */
  progress: boolean;
  /** stack traces with errors */
  debug: boolean;
}

export interface EnvVariable {
  name: string;
  setting: keyof Settings;
  values: string;
  meaning: string;
}

/** The variables, their settings and what they do (docs/configuration.md is written from this table). */
export const ENV_VARIABLES: readonly EnvVariable[] = [
  {
    name: 'BOWCNN_WASM_THREADS',
    setting: 'threads',
    values: '1..8',
    meaning: 'threads for the wasm backend and the native kernels (default: one per CPU, at most 8)',
  },
  { name: 'BOWCNN_NATIVE', setting: 'native', values: '1 | 0', meaning: '0: do not load the native kernels even where they are built' },
  {
    name: 'BOWCNN_WASM_SIMD',
    setting: 'wasmSimd',
    values: '1 | 0',
    meaning: "0: bowcnn's hand-written WebAssembly SIMD kernels give way to their JavaScript loops",
  },
  {
    name: 'BOWCNN_WASM_STOCK',
    setting: 'wasmStock',
    values: '1 | 0',
    meaning: "1: tfjs's own wasm kernels only, none of bowcnn's (for comparison)",
  },
  {
    name: 'BOWCNN_WASM_FUSED',
    setting: 'wasmFused',
    values: '1 | 0',
    meaning: "0: no fused wasm kernels (softmax cross-entropy, Adam, bias + ReLU): tfjs-core's ops",
  },
  {
    name: 'BOWCNN_FUSE',
    setting: 'fuse',
    values: '1 | 0',
    meaning: '0: the execution passes run layer by layer, fusing nothing (for comparison)',
  },
  {
    name: 'BOWCNN_WEBGPU_SOFTWARE',
    setting: 'webgpuSoftware',
    values: '1 | 0',
    meaning: '1: webgpu may use a software adapter (Mesa llvmpipe over OpenGL): slow, for tests',
  },
  { name: 'BOWCNN_WEBGPU_STOCK', setting: 'webgpuStock', values: '1 | 0', meaning: "1: tfjs's own webgpu kernels only" },
  { name: 'BOWCNN_WEBGPU_FUSED', setting: 'webgpuFused', values: '1 | 0', meaning: '0: no fused webgpu kernels' },
  {
    name: 'BOWCNN_WEBGPU_REPLAY',
    setting: 'webgpuReplay',
    values: '1 | 0',
    meaning: '0: every webgpu training step through tfjs (none recorded and replayed)',
  },
  { name: 'BOWCNN_DAWN_FLAGS', setting: 'dawnFlags', values: 'comma-separated', meaning: 'flags for Dawn, e.g. backend=vulkan' },
  {
    name: 'BOWCNN_DATA',
    setting: 'dataDir',
    values: 'a folder',
    meaning: 'where datasets are looked for first and where `bowcnn datasets fetch` puts them',
  },
  { name: 'BOWCNN_PROGRESS', setting: 'progress', values: '1 | 0', meaning: '0: no progress bars' },
  { name: 'BOWCNN_DEBUG', setting: 'debug', values: '1 | 0', meaning: '1: print stack traces with errors' },
];

/** BOWCNN_* variables read by other programs than the library: the native build and the benchmarks. */
const OTHER = [/^BOWCNN_BENCH_/, /^BOWCNN_REQUIRE_NATIVE$/, /^BOWCNN_NATIVE_MARCH$/];

/**
 * The settings the environment gives (the only reader of BOWCNN_* variables at run time). A value a variable
 * does not take, or a BOWCNN_* variable that does not exist (a misspelt name), is a ConfigError naming it.
 */
export function envSettings(env: Record<string, string | undefined> = process.env): Settings {
  const known = new Set(ENV_VARIABLES.map((v) => v.name));
  for (const name of Object.keys(env)) {
    if (!name.startsWith('BOWCNN_') || known.has(name) || OTHER.some((r) => r.test(name))) continue;
    throw new ConfigError(
      `environment variable ${name} is not one bowcnn reads${didYouMean(name, [...known])}; known: ${[...known].join(', ')}`,
    );
  }
  const on = (name: string, dflt: boolean) => {
    const v = env[name];
    if (v === undefined || v === '') return dflt;
    const t = v.trim().toLowerCase();
    if (['1', 'true', 'on', 'yes'].includes(t)) return true;
    if (['0', 'false', 'off', 'no'].includes(t)) return false;
    throw new ConfigError(`${name}='${v}': expected 1 or 0 (or true / false, on / off)`);
  };
  const t = env.BOWCNN_WASM_THREADS;
  const threads = t === undefined || t === '' ? undefined : Number(t);
  if (threads !== undefined && !(Number.isInteger(threads) && threads >= 1))
    throw new ConfigError(`BOWCNN_WASM_THREADS='${t}': a whole number >= 1`);
  return {
    threads,
    native: on('BOWCNN_NATIVE', true),
    wasmSimd: on('BOWCNN_WASM_SIMD', true),
    wasmStock: on('BOWCNN_WASM_STOCK', false),
    wasmFused: on('BOWCNN_WASM_FUSED', true),
    fuse: on('BOWCNN_FUSE', true),
    webgpuSoftware: on('BOWCNN_WEBGPU_SOFTWARE', false),
    webgpuStock: on('BOWCNN_WEBGPU_STOCK', false),
    webgpuFused: on('BOWCNN_WEBGPU_FUSED', true),
    webgpuReplay: on('BOWCNN_WEBGPU_REPLAY', true),
    dawnFlags: env.BOWCNN_DAWN_FLAGS ? env.BOWCNN_DAWN_FLAGS.split(',').filter(Boolean) : [],
    dataDir: env.BOWCNN_DATA || undefined,
    progress: on('BOWCNN_PROGRESS', true),
    debug: on('BOWCNN_DEBUG', false),
  };
}

let current: Settings | null = null;

/** The settings in force: those useBackend was given over the environment's (the environment's until then). */
export function settings(): Settings {
  current ??= envSettings();
  return current;
}

/** Lays `over` over the environment's settings and keeps the result (useBackend calls this). */
export function configure(over: Partial<Settings> = {}): Settings {
  const base = envSettings();
  const defined = Object.fromEntries(Object.entries(over).filter(([, v]) => v !== undefined)) as Partial<Settings>;
  current = { ...base, ...defined };
  return current;
}
