/**
 * bowcnn's WebAssembly SIMD kernels (kernels.wat), instantiated over the wasm backend's own memory so
 * that they read and write tensors where they lie: no copies in or out. One instance per backend
 * object; `simdKernels(backend)` is null where WebAssembly SIMD or the memory is not available (the
 * callers then keep their JavaScript loops).
 *
 * Pointers are byte offsets into the heap: `ptr(t)` for a tensor, `scratch(bytes)` for a small buffer
 * the module keeps (accumulators), which stays valid until the next scratch() call.
 */
import { settings } from '../../core/settings.js';
import { sharedBase64, unsharedBase64 } from './kernels-wasm.js';
import { heapOffset, wasmMemory, type TensorInfo, type WasmModuleBackend } from '../kernel-util.js';

interface Exports {
  moments(x: number, M: number, C: number, acc32: number, acc64: number): void;
  sums(x: number, y: number, M: number, C: number, acc32: number, acc64: number): void;
  affine(x: number, a: number, b: number, out: number, M: number, C: number): void;
  affine2(x: number, a: number, b: number, x2: number, a2: number, out: number, M: number, C: number): void;
  convFilterC1(
    x: number,
    dy: number,
    acc32: number,
    acc64: number,
    N: number,
    H: number,
    W: number,
    OH: number,
    OW: number,
    Co: number,
    KH: number,
    KW: number,
    sH: number,
    sW: number,
    pt: number,
    pl: number,
  ): void;
  reluGrad(dy: number, x: number, dx: number, n: number): void;
  biasRelu(x: number, b: number, out: number, M: number, L: number): void;
  reluGradSum(dy: number, y: number, dx: number, M: number, L: number, acc32: number, acc64: number): void;
  adam(
    x: number,
    g: number,
    m: number,
    v: number,
    ox: number,
    om: number,
    ov: number,
    n: number,
    lr: number,
    b1: number,
    b2: number,
    eps: number,
    c1: number,
    c2: number,
  ): void;
  maxPoolGrad2x2(x: number, dy: number, dx: number, N: number, H: number, W: number, C: number, OH: number, OW: number): void;
}

export interface SimdKernels extends Exports {
  /** the heap offset of a tensor's data */
  ptr(t: TensorInfo): number;
  /** a scratch buffer of at least `bytes` bytes, 16-byte aligned, reused by the next call */
  scratch(bytes: number): number;
  /** float64 values at a heap offset (a fresh view: take it after the call that wrote them) */
  f64(offset: number, n: number): Float64Array;
  /** float32 values at a heap offset (a fresh view, as f64) */
  f32(offset: number, n: number): Float32Array;
  /** the heap's current size in bytes */
  heapBytes(): number;
}

// the few WebAssembly names used here (the project's TypeScript lib has no DOM/WebAssembly types)
const WA = (
  globalThis as unknown as {
    WebAssembly: {
      Module: new (bytes: Uint8Array) => object;
      Instance: new (m: object, imports: object) => { exports: unknown };
    };
  }
).WebAssembly;
type Backend = WasmModuleBackend & { wasm: { _malloc(n: number): number; _free(p: number): void } };

const instances = new WeakMap<object, SimdKernels | null>();
// off by the wasmSimd setting (BOWCNN_WASM_SIMD=0): the JavaScript loops (for comparison)
let forced: boolean | null = null;

/** Turns the SIMD kernels off and on (tests compare them with the JavaScript loops they replace); null: the setting. */
export function setSimdKernelsEnabled(on: boolean | null): void {
  forced = on;
}

export function simdKernels(backend: object): SimdKernels | null {
  if (!(forced ?? settings().wasmSimd)) return null;
  if (instances.has(backend)) return instances.get(backend)!;
  const made = instantiate(backend as Backend);
  instances.set(backend, made);
  return made;
}

function instantiate(be: Backend): SimdKernels | null {
  const memory = wasmMemory(be);
  if (!memory || typeof be.wasm._malloc !== 'function') return null;
  const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
  let ex: Exports;
  try {
    const bytes = Buffer.from(shared ? sharedBase64 : unsharedBase64, 'base64');
    ex = new WA.Instance(new WA.Module(bytes), { env: { memory } }).exports as unknown as Exports;
  } catch {
    return null; // no WebAssembly SIMD here (or a memory the module cannot import)
  }
  let scratchPtr = 0,
    scratchBytes = 0;
  return {
    ...ex,
    ptr: (t) => heapOffset(be, t),
    scratch(bytes) {
      if (bytes > scratchBytes) {
        if (scratchPtr) be.wasm._free(scratchPtr);
        scratchBytes = Math.max(bytes, 4096);
        scratchPtr = be.wasm._malloc(scratchBytes + 16);
      }
      return (scratchPtr + 15) & ~15;
    },
    f64(offset, n) {
      return new Float64Array(memory.buffer, offset, n);
    },
    f32(offset, n) {
      return new Float32Array(memory.buffer, offset, n);
    },
    heapBytes() {
      return memory.buffer.byteLength;
    },
  };
}
