/**
 * Per-channel passes for batch normalisation, over a tensor read as `[M,C]` (all axes but the last
 * flattened into M rows; C channels, contiguous in NHWC):
 *
 *   channelMoments(x)              -> mean[c] = sum_m x[m,c] / M,  variance[c] = sum_m x[m,c]^2 / M - mean[c]^2
 *   channelSums(x, y)              -> sum_m y[m,c],  sum_m y[m,c] * x[m,c]
 *   channelAffine(x, a, b, x2, a2) -> a[c] * x[m,c] + b[c]  (+ a2[c] * x2[m,c] when x2 is given)
 *
 * On wasm each is one pass over the wasm heap (kernels 'BowcnnChannelMoments', 'BowcnnChannelSums',
 * 'BowcnnChannelAffine'): bowcnn's WebAssembly SIMD kernels (simd/kernels.wat) when C % 4 == 0 (affine:
 * C >= 4), plain JavaScript loops otherwise; sums keep float64 accuracy either way. A batch-norm layer's forward and
 * backward are then four passes over its input, where tfjs's layer ran ~25 kernels, several of them
 * broadcasting [1,1,1,C] to the full size. On other backends they are composed from tf ops.
 */
import * as tf from '@tensorflow/tfjs';

import { hasNativeKernel, type TensorInfo, type WasmHeapBackend as HeapBackend } from './kernel-util.js';
import { simdKernels, type SimdKernels } from './simd/index.js';
type Args = { inputs: Record<string, TensorInfo | undefined>; backend: tf.KernelBackend };

function rowsAndChannels(x: TensorInfo): [number, number] {
  const C = x.shape[x.shape.length - 1];
  return [x.shape.reduce((p, d) => p * d, 1) / C, C];
}

/** the SIMD kernels when they apply to rows of C channels (C % 4 == 0), else null */
function simdFor(backend: object, C: number): SimdKernels | null {
  return C % 4 === 0 ? simdKernels(backend) : null;
}

/** float64 accumulators [2C] filled by a SIMD pass (scratch: 2C float32 then 2C float64) */
function simdSums(k: SimdKernels, C: number, pass: (acc32: number, acc64: number) => void): Float64Array {
  const acc64 = k.scratch(24 * C),
    acc32 = acc64 + 16 * C;
  pass(acc32, acc64);
  return k.f64(acc64, 2 * C);
}

function momentsWasm({ inputs, backend }: Args): TensorInfo[] {
  const be = backend as HeapBackend;
  const x = inputs.x!;
  const [M, C] = rowsAndChannels(x);
  let s: Float64Array, q: Float64Array;
  const k = simdFor(backend, C);
  if (k) {
    const acc = simdSums(k, C, (a32, a64) => k.moments(k.ptr(x), M, C, a32, a64));
    s = acc.slice(0, C);
    q = acc.slice(C);
  } else {
    const v = be.typedArrayFromHeap(x);
    s = new Float64Array(C);
    q = new Float64Array(C);
    for (let o = 0; o < M * C; o += C) {
      for (let c = 0; c < C; c++) {
        const t = v[o + c];
        s[c] += t;
        q[c] += t * t;
      }
    }
  }
  const mean = be.makeOutput([C], 'float32'),
    variance = be.makeOutput([C], 'float32');
  const mv = be.typedArrayFromHeap(mean),
    vv = be.typedArrayFromHeap(variance);
  for (let c = 0; c < C; c++) {
    const m = s[c] / M;
    mv[c] = m;
    vv[c] = Math.max(0, q[c] / M - m * m);
  }
  return [mean, variance];
}

function sumsWasm({ inputs, backend }: Args): TensorInfo[] {
  const be = backend as HeapBackend;
  const x = inputs.x!,
    y = inputs.y!;
  const [M, C] = rowsAndChannels(x);
  let s: Float64Array, p: Float64Array;
  const k = simdFor(backend, C);
  if (k) {
    const acc = simdSums(k, C, (a32, a64) => k.sums(k.ptr(x), k.ptr(y), M, C, a32, a64));
    s = acc.slice(0, C);
    p = acc.slice(C);
  } else {
    const xv = be.typedArrayFromHeap(x),
      yv = be.typedArrayFromHeap(y);
    s = new Float64Array(C);
    p = new Float64Array(C);
    for (let o = 0; o < M * C; o += C) {
      for (let c = 0; c < C; c++) {
        const t = yv[o + c];
        s[c] += t;
        p[c] += t * xv[o + c];
      }
    }
  }
  const sum = be.makeOutput([C], 'float32'),
    dot = be.makeOutput([C], 'float32');
  be.typedArrayFromHeap(sum).set(s);
  be.typedArrayFromHeap(dot).set(p);
  return [sum, dot];
}

function affineWasm({ inputs, backend }: Args): TensorInfo {
  const be = backend as HeapBackend;
  const { x, a, b, x2, a2 } = inputs;
  const [M, C] = rowsAndChannels(x!);
  // allocate first: a heap that grows detaches (unthreaded build) or outgrows (threaded) earlier views
  const out = be.makeOutput(x!.shape, 'float32');
  const k = C >= 4 ? simdKernels(backend) : null; // rows of C % 4 != 0: an overlapping last block
  if (k) {
    if (x2) k.affine2(k.ptr(x!), k.ptr(a!), k.ptr(b!), k.ptr(x2), k.ptr(a2!), k.ptr(out), M, C);
    else k.affine(k.ptr(x!), k.ptr(a!), k.ptr(b!), k.ptr(out), M, C);
    return out;
  }
  const ov = be.typedArrayFromHeap(out);
  const xv = be.typedArrayFromHeap(x!),
    av = be.typedArrayFromHeap(a!),
    bv = be.typedArrayFromHeap(b!);
  if (x2) {
    const x2v = be.typedArrayFromHeap(x2),
      a2v = be.typedArrayFromHeap(a2!);
    for (let o = 0; o < M * C; o += C) {
      for (let c = 0; c < C; c++) ov[o + c] = av[c] * xv[o + c] + a2v[c] * x2v[o + c] + bv[c];
    }
  } else {
    for (let o = 0; o < M * C; o += C) {
      for (let c = 0; c < C; c++) ov[o + c] = av[c] * xv[o + c] + bv[c];
    }
  }
  return out;
}

let registered = false;
/** Registers the three kernels on wasm, once. */
export function registerChannelKernels(): void {
  if (registered) return;
  const k = (kernelName: string, kernelFunc: unknown) =>
    tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc: kernelFunc as tf.KernelFunc });
  k('BowcnnChannelMoments', momentsWasm);
  k('BowcnnChannelSums', sumsWasm);
  k('BowcnnChannelAffine', affineWasm);
  registered = true;
}

function leadingAxes(x: tf.Tensor): number[] {
  return x.shape.slice(0, -1).map((_, i) => i);
}

/** Per-channel mean and (biased) variance of x over all axes but the last. */
export function channelMoments(x: tf.Tensor): { mean: tf.Tensor1D; variance: tf.Tensor1D } {
  if (hasNativeKernel('BowcnnChannelMoments', x)) {
    const [mean, variance] = tf.engine().runKernel('BowcnnChannelMoments', { x }, {}) as tf.Tensor1D[];
    return { mean, variance };
  }
  const { mean, variance } = tf.moments(x, leadingAxes(x));
  return { mean: mean as tf.Tensor1D, variance: variance as tf.Tensor1D };
}

/** Per-channel sum of y and of y * x over all axes but the last. */
export function channelSums(x: tf.Tensor, y: tf.Tensor): { sum: tf.Tensor1D; dot: tf.Tensor1D } {
  if (hasNativeKernel('BowcnnChannelSums', x)) {
    const [sum, dot] = tf.engine().runKernel('BowcnnChannelSums', { x, y }, {}) as tf.Tensor1D[];
    return { sum, dot };
  }
  const axes = leadingAxes(x);
  return tf.tidy(() => ({ sum: tf.sum(y, axes) as tf.Tensor1D, dot: tf.sum(tf.mul(y, x), axes) as tf.Tensor1D }));
}

/** a * x + b (+ a2 * x2), with a, b, a2 `[C]` broadcast along the last axis. */
export function channelAffine(x: tf.Tensor, a: tf.Tensor1D, b: tf.Tensor1D, x2?: tf.Tensor, a2?: tf.Tensor1D): tf.Tensor {
  if (hasNativeKernel('BowcnnChannelAffine', x)) {
    const inputs: Record<string, tf.Tensor> = x2 && a2 ? { x, a, b, x2, a2 } : { x, a, b };
    return tf.engine().runKernel('BowcnnChannelAffine', inputs as tf.NamedTensorMap, {}) as tf.Tensor;
  }
  return tf.tidy(() => {
    const y = tf.add(tf.mul(x, a), b);
    return x2 && a2 ? tf.add(y, tf.mul(x2, a2)) : y;
  });
}
