/**
 * Replacements for tfjs-backend-webgpu 4.22 kernels that set the pace of CNN training on a GPU, and
 * bowcnn's fused training kernels (Adam, bias + ReLU: fewer dispatches; at the end of this file).
 *
 * Conv2DBackpropFilter
 * --------------------
 *   dW[kh,kw,ci,co] = sum_{n,oh,ow} x[n, oh*s + kh - pt, ow*s + kw - pl, ci] * dy[n, oh, ow, co]
 *
 * tfjs-webgpu runs one GPU thread per filter weight, and each thread loops over the whole batch:
 * LeNet-5's C1 at batch 2048 is 150 threads of 1.6M multiply-adds each, which leaves a GPU with
 * tens of thousands of lanes almost idle and makes a training step grow linearly with the batch.
 *
 * Here the batch is split into S chunks: a first pass writes partial sums `[S,KH,KW,Ci,Co]`, one
 * thread per (chunk, weight), and the backend's own Sum reduces the chunk axis. S is chosen so that
 * S x (weights) is about 2^17 threads (enough to fill an H100) and every chunk has >= 1 image.
 *
 * Sum and Mean over leading axes (batch-norm statistics, bias gradients)
 * ----------------------------------------------------------------------
 * tfjs-webgpu reduces the innermost axes only: a sum over [N,H,W] of `[N,H,W,C]` first transposes the
 * whole tensor to `[C,N*H*W]`, then gives each of the C outputs one workgroup (C = 6 workgroups for
 * LeNet's C1 bias). Here x is read as a `[R,C]` matrix in place: a first pass writes `[G,C]` partial
 * column sums (thread (g,c) adds rows g, g+G, ...; neighbouring threads read neighbouring columns),
 * with G x C about 2^16 threads, and the stock Sum reduces the small `[G,C]`.
 *
 * Uploads
 * -------
 * tfjs-webgpu copies every CPU-side tensor (a scalar learning rate, a batch of labels) to the GPU through
 * a staging buffer that it creates mapped and destroys after one use. On an H100 (Vulkan) a buffer
 * creation costs about a millisecond, and a training step makes dozens of uploads: it was most of the
 * ~60 ms a LeNet-5 step took outside its kernels (a CPU profile of the H100 run, bench/results). Here an
 * upload takes a buffer from tfjs's own pool and fills it with `queue.writeBuffer`. That is ordered
 * correctly: a pooled buffer is never referenced by commands not yet submitted (tfjs defers releasing
 * those), and writeBuffer runs after everything submitted before it.
 *
 * Checked against plain loops in tests/webgpu. `BOWCNN_WEBGPU_STOCK=1` keeps tfjs's kernels and uploads.
 */
import { settings } from '../core/settings.js';
import * as tf from '@tensorflow/tfjs';

import { backpropFilterArgs, runOn, type KernelBackend, type TensorInfo } from './kernel-util.js';

type Backend = KernelBackend & {
  runWebGPUProgram(program: object, inputs: TensorInfo[], dtype: string, uniforms?: { type: string; data: number[] }[]): TensorInfo;
  makeTensorInfo(shape: number[], dtype: string, values?: Float32Array): TensorInfo;
};

const TARGET_THREADS = 1 << 17;
const MAX_THREADS = 64 * 65535; // one dispatch dimension of 64-wide workgroups

/** Number of batch chunks for a filter of `weights` elements and a batch of `n` images. */
export function filterGradSplits(n: number, weights: number): { splits: number; perSplit: number } {
  const want = Math.max(1, Math.min(n, Math.ceil(TARGET_THREADS / weights), Math.floor(MAX_THREADS / weights)));
  const perSplit = Math.ceil(n / want);
  return { splits: Math.ceil(n / perSplit), perSplit };
}

/**
 * What tfjs-webgpu's runWebGPUProgram needs of a program, for one thread per output element: 64-wide
 * workgroups over the flattened output, `uniforms.size` = its element count, `main(index)` the body.
 */
abstract class FlatProgram {
  workgroupSize: [number, number, number] = [64, 1, 1];
  size = true;
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  abstract variableNames: string[];
  abstract uniforms: string;
  abstract shaderKey: string;

  constructor(public outputShape: number[]) {
    this.dispatchLayout = { x: outputShape.map((_, i) => i) };
    this.dispatch = [Math.ceil(outputShape.reduce((a, b) => a * b, 1) / 64), 1, 1];
  }

  abstract getUserCode(): string;
}

class FilterGradSplitProgram extends FlatProgram {
  // output [S,KH,KW,Ci,Co]
  variableNames = ['x', 'dy'];
  uniforms =
    'pads : vec2<i32>, strides : vec2<i32>, batchSize : i32, outHeight : i32, outWidth : i32, inHeight : i32, inWidth : i32, perSplit : i32,';
  shaderKey = 'bowcnn_conv2DDerFilterSplit';

  getUserCode(): string {
    return `
    fn main(index : i32) {
      if (index < uniforms.size) {
        let coords = getCoordsFromIndex(index);
        let s = coords.x;
        let wR = coords.y;
        let wC = coords.z;
        let d1 = coords.w;
        let d2 = coords.u;
        let b0 = s * uniforms.perSplit;
        let b1 = min(b0 + uniforms.perSplit, uniforms.batchSize);
        var acc = 0.0;
        for (var b = b0; b < b1; b = b + 1) {
          for (var yR = 0; yR < uniforms.outHeight; yR = yR + 1) {
            let xR = wR + yR * uniforms.strides[0] - uniforms.pads[0];
            if (xR < 0 || xR >= uniforms.inHeight) { continue; }
            for (var yC = 0; yC < uniforms.outWidth; yC = yC + 1) {
              let xC = wC + yC * uniforms.strides[1] - uniforms.pads[1];
              if (xC < 0 || xC >= uniforms.inWidth) { continue; }
              acc = acc + getX(b, xR, xC, d1) * getDy(b, yR, yC, d2);
            }
          }
        }
        setOutputAtIndex(index, acc);
      }
    }`;
  }
}

function run(name: string, backend: Backend, inputs: Record<string, TensorInfo>, attrs: Record<string, unknown>): TensorInfo {
  return runOn('webgpu', name, backend, inputs, attrs);
}

/** Conv2DBackpropFilter for webgpu (NHWC), split over the batch. Exported for tests. */
export function conv2DBackpropFilterWebgpu(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: tf.KernelBackend;
  attrs: Record<string, unknown>;
}): TensorInfo {
  const a = backpropFilterArgs(args, 'bowcnn webgpu');
  const backend = a.backend as Backend,
    { x, dy, filterShape, info } = a;
  const weights = filterShape.reduce((a, b) => a * b, 1);
  const { splits, perSplit } = filterGradSplits(info.batchSize, weights);
  const program = new FilterGradSplitProgram([splits, ...filterShape]);
  const uniforms = [
    { type: 'int32', data: [info.padInfo.top, info.padInfo.left] },
    { type: 'int32', data: [info.strideHeight, info.strideWidth] },
    { type: 'int32', data: [info.batchSize] },
    { type: 'int32', data: [info.outHeight] },
    { type: 'int32', data: [info.outWidth] },
    { type: 'int32', data: [info.inHeight] },
    { type: 'int32', data: [info.inWidth] },
    { type: 'int32', data: [perSplit] },
  ];
  const partial = backend.runWebGPUProgram(program, [x, dy], 'float32', uniforms); // [S,KH,KW,Ci,Co]
  const out =
    splits === 1
      ? run('Reshape', backend, { x: partial }, { shape: filterShape }) // shares the data (one more reference)
      : run('Sum', backend, { x: partial }, { axis: [0], keepDims: false }); // [KH,KW,Ci,Co]
  backend.disposeData(partial.dataId);
  return out;
}

class ColumnPartialSumProgram extends FlatProgram {
  // output [G,C]
  variableNames = ['x'];
  uniforms = 'rows : i32, groups : i32, scale : f32,';
  shaderKey = 'bowcnn_columnPartialSum';

  getUserCode(): string {
    return `
    fn main(index : i32) {
      if (index < uniforms.size) {
        let coords = getCoordsFromIndex(index);
        var acc = 0.0;
        for (var r = coords[0]; r < uniforms.rows; r = r + uniforms.groups) {
          acc = acc + getX(r, coords[1]);
        }
        setOutputAtIndex(index, acc * uniforms.scale);
      }
    }`;
  }
}

/** Partial-sum group count for reducing R rows of C columns. */
export function columnSumGroups(rows: number, cols: number): number {
  return Math.max(1, Math.min(Math.floor(rows / 16), Math.ceil(65536 / cols), 4096));
}

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs: Record<string, unknown> };

function leadingReduce(kind: 'Sum' | 'Mean', stock: tf.KernelFunc, stockSum: tf.KernelFunc) {
  return (args: KernelArgs): TensorInfo => {
    const backend = args.backend as Backend;
    const { x } = args.inputs as { x: TensorInfo };
    const { axis, keepDims } = args.attrs as { axis: number | number[]; keepDims: boolean };
    const axes = tf.util.parseAxisParam(axis, x.shape).sort((a, b) => a - b);
    const k = axes.length;
    const leading = k > 0 && k < x.shape.length && axes.every((a, i) => a === i);
    const rows = x.shape.slice(0, k).reduce((a, b) => a * b, 1);
    const cols = x.shape.slice(k).reduce((a, b) => a * b, 1);
    // only where the stock path is poor: float data, many rows, few columns
    if (!leading || x.dtype !== 'float32' || rows < 1024 || cols > 4096) return stock(args as never) as TensorInfo;
    const groups = columnSumGroups(rows, cols);
    const x2 = run('Reshape', backend, { x }, { shape: [rows, cols] });
    const partial = backend.runWebGPUProgram(new ColumnPartialSumProgram([groups, cols]), [x2], 'float32', [
      { type: 'int32', data: [rows] },
      { type: 'int32', data: [groups] },
      { type: 'float32', data: [kind === 'Mean' ? 1 / rows : 1] },
    ]);
    backend.disposeData(x2.dataId);
    const summed = stockSum({ inputs: { x: partial }, backend, attrs: { axis: [0], keepDims: false } } as never) as TensorInfo; // [C]
    backend.disposeData(partial.dataId);
    const outShape = keepDims ? [...x.shape.slice(0, k).map(() => 1), ...x.shape.slice(k)] : x.shape.slice(k);
    const out = run('Reshape', backend, { x: summed }, { shape: outShape });
    backend.disposeData(summed.dataId);
    return out;
  };
}

let stockKernels: Map<string, tf.KernelConfig> | null = null;

/** 'split' (default): bowcnn's kernels above; 'stock': tfjs-backend-webgpu's own (for comparisons). */
export function setWebgpuKernels(kind: 'split' | 'stock'): void {
  const names = ['Conv2DBackpropFilter', 'Sum', 'Mean'];
  if (!stockKernels) {
    stockKernels = new Map();
    for (const n of names) {
      const k = tf.getKernel(n, 'webgpu');
      if (!k) throw new Error(`webgpu backend has no ${n} kernel`);
      stockKernels.set(n, k);
    }
  }
  const stock = stockKernels;
  for (const n of names) tf.unregisterKernel(n, 'webgpu');
  if (kind === 'stock') {
    for (const n of names) tf.registerKernel(stock.get(n)!);
    return;
  }
  tf.registerKernel({
    kernelName: 'Conv2DBackpropFilter',
    backendName: 'webgpu',
    kernelFunc: conv2DBackpropFilterWebgpu as unknown as tf.KernelFunc,
  });
  for (const n of ['Sum', 'Mean'] as const) {
    tf.registerKernel({
      kernelName: n,
      backendName: 'webgpu',
      kernelFunc: leadingReduce(n, stock.get(n)!.kernelFunc, stock.get('Sum')!.kernelFunc) as unknown as tf.KernelFunc,
    });
  }
}

interface TensorData {
  values: ArrayLike<number> | null;
  resource: unknown;
  shape: number[];
  dtype: string;
}
interface WebgpuBackendLike {
  tensorMap: { get(id: object): TensorData | undefined };
  bufferManager: { acquireBuffer(size: number, usage: number): unknown };
  device: { queue: { writeBuffer(b: unknown, offset: number, data: ArrayBufferView, dataOffset?: number, size?: number): void } };
  uploadToGPU(dataId: object): void;
}

/** Pooled-buffer uploads on a tfjs webgpu backend instance ('stock' puts tfjs's method back). */
export function setWebgpuUploads(backend: unknown, kind: 'pooled' | 'stock'): void {
  const be = backend as WebgpuBackendLike;
  const proto = Object.getPrototypeOf(be) as WebgpuBackendLike;
  if (kind === 'stock') {
    delete (be as Partial<WebgpuBackendLike>).uploadToGPU;
    return;
  }
  const usage = (globalThis as unknown as { GPUBufferUsage: Record<string, number> }).GPUBufferUsage;
  const flags = usage.STORAGE | usage.COPY_SRC | usage.COPY_DST;
  be.uploadToGPU = (dataId: object): void => {
    const td = be.tensorMap.get(dataId);
    if (!td || td.resource != null || !td.values || !(td.dtype === 'float32' || td.dtype === 'int32' || td.dtype === 'bool')) {
      proto.uploadToGPU.call(be, dataId);
      return;
    }
    const n = tf.util.sizeFromShape(td.shape);
    if (n === 0) {
      proto.uploadToGPU.call(be, dataId);
      return;
    }
    const v = td.values;
    const data =
      td.dtype === 'float32' ? (v instanceof Float32Array ? v : Float32Array.from(v)) : v instanceof Int32Array ? v : Int32Array.from(v);
    const buffer = be.bufferManager.acquireBuffer(4 * n, flags);
    be.device.queue.writeBuffer(buffer, 0, data, 0, n);
    td.values = null; // as tfjs does: once uploaded, the values live on the GPU only
    td.resource = buffer;
  };
}

// ---------------------------------------------------------------------------------------------------
// bowcnn's fused training kernels (see fused-kernels.ts for wasm): fewer dispatches per step. On a GPU a
// small kernel costs its dispatch, not its arithmetic: tfjs-core's Adam is 14 dispatches per variable,
// here 3 (first moment, second moment, update; a tfjs-webgpu program has one output); bias + ReLU is 1
// forward, and backward 1 for the masked gradient plus the bias's column Sum.
// ---------------------------------------------------------------------------------------------------

class AdamMomentProgram extends FlatProgram {
  // m' = beta m + (1 - beta) g, or with g^2 (square = 1)
  variableNames = ['m', 'g'];
  uniforms = 'beta : f32, square : i32,';
  shaderKey = 'bowcnn_adamMoment';
  getUserCode(): string {
    return `
    fn main(index : i32) {
      if (index < uniforms.size) {
        var g = getGByOutputIndex(index);
        if (uniforms.square == 1) { g = g * g; }
        setOutputAtIndex(index, getMByOutputIndex(index) * uniforms.beta + g * (1.0 - uniforms.beta));
      }
    }`;
  }
}

class AdamUpdateProgram extends FlatProgram {
  // x' = x - lr (m' / c1) / (sqrt(v' / c2) + eps), with [lr, c1, c2] = hyper: a tensor, so that the step's
  // uniforms are the same at every step (backend/webgpu-replay.ts)
  variableNames = ['x', 'm', 'v', 'hyper'];
  uniforms = 'eps : f32,';
  shaderKey = 'bowcnn_adamUpdateHyper';
  getUserCode(): string {
    return `
    fn main(index : i32) {
      if (index < uniforms.size) {
        let m = getMByOutputIndex(index) / getHyper(1);
        let v = getVByOutputIndex(index) / getHyper(2);
        setOutputAtIndex(index, getXByOutputIndex(index) - getHyper(0) * (m / (sqrt(v) + uniforms.eps)));
      }
    }`;
  }
}

class BiasReluProgram extends FlatProgram {
  // y = max(x + b[c], 0), c the last axis
  variableNames = ['x', 'b'];
  uniforms = 'channels : i32,';
  shaderKey = 'bowcnn_biasRelu';
  getUserCode(): string {
    return `
    fn main(index : i32) {
      if (index < uniforms.size) {
        setOutputAtIndex(index, max(getXByOutputIndex(index) + getB(index % uniforms.channels), 0.0));
      }
    }`;
  }
}

class ReluMaskProgram extends FlatProgram {
  // dx = y > 0 ? dy : 0
  variableNames = ['dy', 'y'];
  uniforms = '';
  shaderKey = 'bowcnn_reluMask';
  getUserCode(): string {
    return `
    fn main(index : i32) {
      if (index < uniforms.size) {
        setOutputAtIndex(index, select(0.0, getDyByOutputIndex(index), getYByOutputIndex(index) > 0.0));
      }
    }`;
  }
}

function adamWebgpu(args: KernelArgs): TensorInfo[] {
  const backend = args.backend as Backend;
  const { x, g, m, v, hyper } = args.inputs as Record<'x' | 'g' | 'm' | 'v', TensorInfo> & { hyper?: TensorInfo };
  const { lr, beta1, beta2, epsilon, c1, c2 } = args.attrs as Record<'lr' | 'beta1' | 'beta2' | 'epsilon' | 'c1' | 'c2', number>;
  const f = (data: number) => ({ type: 'float32', data: [data] });
  const nm = backend.runWebGPUProgram(new AdamMomentProgram(x.shape), [m, g], 'float32', [f(beta1), { type: 'int32', data: [0] }]);
  const nv = backend.runWebGPUProgram(new AdamMomentProgram(x.shape), [v, g], 'float32', [f(beta2), { type: 'int32', data: [1] }]);
  // [lr, c1, c2] as a tensor (cnn/adam.ts passes one); made here when a caller gives only the attributes
  const h = hyper ?? backend.makeTensorInfo([3], 'float32', Float32Array.of(lr, c1, c2));
  const nx = backend.runWebGPUProgram(new AdamUpdateProgram(x.shape), [x, nm, nv, h], 'float32', [f(epsilon)]);
  if (!hyper) backend.disposeData(h.dataId);
  return [nx, nm, nv];
}

function biasReluWebgpu(args: KernelArgs): TensorInfo {
  const backend = args.backend as Backend;
  const { x, bias } = args.inputs as { x: TensorInfo; bias: TensorInfo };
  return backend.runWebGPUProgram(new BiasReluProgram(x.shape), [x, bias], 'float32', [
    { type: 'int32', data: [x.shape[x.shape.length - 1]] },
  ]);
}

function biasReluGradWebgpu(args: KernelArgs): TensorInfo[] {
  const backend = args.backend as Backend;
  const { dy, y } = args.inputs as { dy: TensorInfo; y: TensorInfo };
  const dx = backend.runWebGPUProgram(new ReluMaskProgram(y.shape), [dy, y], 'float32');
  const db = run('Sum', backend, { x: dx }, { axis: y.shape.slice(0, -1).map((_, i) => i), keepDims: false });
  return [dx, db];
}

let registered = false;
export function registerWebgpuKernels(): void {
  if (registered || settings().webgpuStock) return;
  setWebgpuKernels('split');
  if (settings().webgpuFused) {
    // =0: tfjs-core's ops (for comparison)
    tf.registerKernel({ kernelName: 'BowcnnAdam', backendName: 'webgpu', kernelFunc: adamWebgpu as unknown as tf.KernelFunc });
    tf.registerKernel({ kernelName: 'BowcnnBiasRelu', backendName: 'webgpu', kernelFunc: biasReluWebgpu as unknown as tf.KernelFunc });
    tf.registerKernel({
      kernelName: 'BowcnnBiasReluGrad',
      backendName: 'webgpu',
      kernelFunc: biasReluGradWebgpu as unknown as tf.KernelFunc,
    });
  }
  registered = true;
}
