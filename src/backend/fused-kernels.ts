/**
 * Fused kernels for training on the wasm backend: each replaces a chain of tfjs-core ops (one dispatch
 * and one pass over memory each) by one pass. The SIMD kernels do the work where WebAssembly SIMD is
 * available; plain loops otherwise (and for the few values past the last whole SIMD row).
 *
 *   BowcnnBiasRelu      {x [..., C], bias [C]} -> y = max(x + bias, 0)
 *                       (tfjs-core: Add, then Relu; a convolution with bias and ReLU is not fused while
 *                       gradients are recorded)
 *   BowcnnBiasReluGrad  {dy, y} -> [dx = y > 0 ? dy : 0, dbias[c] = sum of dx over all but the last axis]
 *                       (tfjs-core: Step, Cast, Multiply for ReLU's gradient, then Sum for the bias's)
 *   BowcnnAdam          {x, g, m, v} attrs {lr, beta1, beta2, epsilon, c1, c2} -> [x', m', v']: one step of
 *                       tfjs-core's Adam (which is 14 ops per variable; c1 = 1 - beta1^t, c2 = 1 - beta2^t)
 *   BowcnnSoftmaxXent   {logits [B,K], labels [B,K]} attrs {labelSmoothing} -> [loss (scalar), dloss/dlogits [B,K]]:
 *                       the mean softmax cross-entropy and its gradient in one pass (tfjs-core's
 *                       losses.softmaxCrossEntropy is about 25 kernels forward and backward)
 *
 * The channel kernels view a [rows, C] tensor as rows of L = lcm(C, 4) values, so that channels line up
 * with float32x4 lanes for any C (C = 6: rows of 12, the bias tiled twice), and fold the L sums back to C.
 */
import * as tf from '@tensorflow/tfjs';

import { simdKernels } from './simd/index.js';
import type { TensorInfo, WasmHeapBackend as HeapBackend } from './kernel-util.js';

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs: Record<string, unknown> };

/** lcm(C, 4) */
const laneRow = (C: number) => (C % 4 === 0 ? C : C % 2 === 0 ? 2 * C : 4 * C);

function biasRelu(a: KernelArgs): TensorInfo {
  const backend = a.backend as HeapBackend;
  const { x, bias } = a.inputs as { x: TensorInfo; bias: TensorInfo };
  const C = x.shape[x.shape.length - 1],
    n = tf.util.sizeFromShape(x.shape);
  const out = backend.makeOutput(x.shape, 'float32');
  const k = simdKernels(backend);
  const L = laneRow(C),
    rows = k ? Math.floor(n / L) : 0;
  if (k && rows > 0) {
    const bp = k.scratch(L * 4); // may grow the heap: views are taken after it
    const tiled = k.f32(bp, L),
      b = backend.typedArrayFromHeap(bias);
    for (let j = 0; j < L; j++) tiled[j] = b[j % C];
    k.biasRelu(k.ptr(x), bp, k.ptr(out), rows, L);
  }
  const xv = backend.typedArrayFromHeap(x),
    b = backend.typedArrayFromHeap(bias),
    o = backend.typedArrayFromHeap(out);
  for (let i = rows * L; i < n; i++) o[i] = Math.max(xv[i] + b[i % C], 0);
  return out;
}

function biasReluGrad(a: KernelArgs): TensorInfo[] {
  const backend = a.backend as HeapBackend;
  const { dy, y } = a.inputs as { dy: TensorInfo; y: TensorInfo };
  const C = y.shape[y.shape.length - 1],
    n = tf.util.sizeFromShape(y.shape);
  const dx = backend.makeOutput(y.shape, 'float32'),
    db = backend.makeOutput([C], 'float32');
  const sums = new Float64Array(C);
  const k = simdKernels(backend);
  const L = laneRow(C),
    rows = k ? Math.floor(n / L) : 0;
  if (k && rows > 0) {
    const acc32 = k.scratch(L * 4 + 16 + L * 8),
      acc64 = acc32 + ((L * 4 + 15) & ~15);
    k.reluGradSum(k.ptr(dy), k.ptr(y), k.ptr(dx), rows, L, acc32, acc64);
    const s = k.f64(acc64, L);
    for (let j = 0; j < L; j++) sums[j % C] += s[j];
  }
  const g = backend.typedArrayFromHeap(dy),
    yv = backend.typedArrayFromHeap(y),
    o = backend.typedArrayFromHeap(dx);
  for (let i = rows * L; i < n; i++) {
    const v = yv[i] > 0 ? g[i] : 0;
    o[i] = v;
    sums[i % C] += v;
  }
  backend.typedArrayFromHeap(db).set(sums);
  return [dx, db];
}

function adam(a: KernelArgs): TensorInfo[] {
  const backend = a.backend as HeapBackend;
  const { x, g, m, v } = a.inputs as Record<'x' | 'g' | 'm' | 'v', TensorInfo>;
  const { lr, beta1, beta2, epsilon, c1, c2 } = a.attrs as Record<'lr' | 'beta1' | 'beta2' | 'epsilon' | 'c1' | 'c2', number>;
  const n = tf.util.sizeFromShape(x.shape);
  const ox = backend.makeOutput(x.shape, 'float32'),
    om = backend.makeOutput(x.shape, 'float32'),
    ov = backend.makeOutput(x.shape, 'float32');
  const k = simdKernels(backend);
  if (k) {
    k.adam(k.ptr(x), k.ptr(g), k.ptr(m), k.ptr(v), k.ptr(ox), k.ptr(om), k.ptr(ov), n, lr, beta1, beta2, epsilon, c1, c2);
    return [ox, om, ov];
  }
  const f = Math.fround;
  const [xv, gv, mv, vv, oxv, omv, ovv] = [x, g, m, v, ox, om, ov].map((t) => backend.typedArrayFromHeap(t));
  const b1 = f(beta1),
    b2 = f(beta2),
    a1 = f(1 - b1),
    a2 = f(1 - b2),
    e = f(epsilon),
    r = f(lr),
    k1 = f(c1),
    k2 = f(c2);
  for (let i = 0; i < n; i++) {
    const gi = gv[i];
    const mi = f(f(mv[i] * b1) + f(gi * a1));
    const vi = f(f(vv[i] * b2) + f(f(gi * gi) * a2));
    omv[i] = mi;
    ovv[i] = vi;
    oxv[i] = f(xv[i] - f(r * f(f(mi / k1) / f(f(Math.sqrt(f(vi / k2))) + e))));
  }
  return [ox, om, ov];
}

/**
 * Per row i, with y = labels * (1 - s) + s / K (label smoothing s) and lse = log sum_k exp(z_k):
 *   loss_i = lse * sum_k y_k - sum_k y_k z_k,   d loss / d z_k = (softmax(z)_k * sum_k y_k - y_k) / B
 * and the loss is the mean over rows (tfjs-core's reduction for unweighted losses). float64 sums.
 */
function softmaxXent(a: KernelArgs): TensorInfo[] {
  const backend = a.backend as HeapBackend;
  const { logits, labels } = a.inputs as { logits: TensorInfo; labels: TensorInfo };
  const s = Number((a.attrs as { labelSmoothing?: number }).labelSmoothing ?? 0);
  const [B, K] = logits.shape;
  const loss = backend.makeOutput([], 'float32'),
    grad = backend.makeOutput([B, K], 'float32');
  const z = backend.typedArrayFromHeap(logits),
    lab = backend.typedArrayFromHeap(labels);
  const g = backend.typedArrayFromHeap(grad);
  const e = new Float64Array(K),
    y = new Float64Array(K);
  let total = 0;
  for (let i = 0; i < B; i++) {
    const o = i * K;
    let m = -Infinity;
    for (let k = 0; k < K; k++) m = Math.max(m, z[o + k]);
    let sum = 0,
      sy = 0,
      syz = 0;
    for (let k = 0; k < K; k++) {
      e[k] = Math.exp(z[o + k] - m);
      sum += e[k];
      y[k] = lab[o + k] * (1 - s) + s / K;
      sy += y[k];
      syz += y[k] * z[o + k];
    }
    total += (m + Math.log(sum)) * sy - syz;
    for (let k = 0; k < K; k++) g[o + k] = ((e[k] / sum) * sy - y[k]) / B;
  }
  backend.typedArrayFromHeap(loss)[0] = total / B;
  return [loss, grad];
}

let registered = false;
/** Registers the fused kernels on the wasm backend, once. */
export function registerFusedKernels(): void {
  if (registered) return;
  registered = true;
  tf.registerKernel({ kernelName: 'BowcnnBiasRelu', backendName: 'wasm', kernelFunc: biasRelu as unknown as tf.KernelFunc });
  tf.registerKernel({ kernelName: 'BowcnnBiasReluGrad', backendName: 'wasm', kernelFunc: biasReluGrad as unknown as tf.KernelFunc });
  tf.registerKernel({ kernelName: 'BowcnnAdam', backendName: 'wasm', kernelFunc: adam as unknown as tf.KernelFunc });
  tf.registerKernel({ kernelName: 'BowcnnSoftmaxXent', backendName: 'wasm', kernelFunc: softmaxXent as unknown as tf.KernelFunc });
}
