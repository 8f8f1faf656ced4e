/**
 * bowcnn's native kernels (native/bowcnn.cc), used by the wasm backend where the optional Node addon was
 * built at install (`npm run build:native`: node-gyp, the machine's g++, `-march=native`, OpenMP). Without
 * it, or with BOWCNN_NATIVE=0, everything runs in WebAssembly as before. Built for the CPU that built it:
 * a node_modules copied to another machine should rebuild (`npm run build:native`).
 *
 * Why: WebAssembly SIMD is 128 bits wide without fused multiply-add. On the 2-core machine the CNN
 * benchmark runs on, a register-only loop peaks at 15-18 GFLOP/s a core in wasm and at 156 in AVX-512
 * FMA (`npm run bench -- peak`). A LeNet-5 training step (batch 128) is 290 MFLOP of convolutions and
 * products; at wasm's 2-core peak (31.7) that alone is 9.1 ms of the 11.2 ms PyTorch's 11,400 img/s allow.
 *
 * The kernels read and write the wasm heap in place (the addon gets the heap's ArrayBuffer and byte
 * offsets): Conv2D, FusedConv2D (bias, ReLU or none), Conv2DBackpropInput and Conv2DBackpropFilter, for
 * float32 NHWC at stride 1 and dilation 1; BatchMatMul and _FusedMatMul (bias, ReLU or none); MaxPool and
 * MaxPoolGrad for 2x2 windows at stride 2; bowcnn's fused bias + ReLU, forward and backward. Everything
 * else falls through to the kernel they replace. Two kernels of their own: BowcnnConvReluPool and its
 * gradient (convolution + bias + ReLU + 2x2 max pool in one call each way; fused-ops.ts `convReluPool`,
 * used by the execution pass in passes/cnn.ts).
 */
import { settings } from '../core/settings.js';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import {
  backpropFilterArgs,
  heapOffset,
  overrideWasmKernel as override,
  pair,
  wasmMemory,
  type KernelArgs,
  type OrigKernel as Orig,
  type TensorInfo,
  type WasmModuleBackend,
} from './kernel-util.js';

interface Addon {
  conv(
    heap: ArrayBufferLike,
    x: number,
    w: number,
    bias: number,
    y: number,
    relu: number,
    wmode: number,
    N: number,
    H: number,
    W: number,
    Ci: number,
    KH: number,
    KW: number,
    Co: number,
    OH: number,
    OW: number,
    pt: number,
    pl: number,
  ): void;
  filterGrad(
    heap: ArrayBufferLike,
    x: number,
    dy: number,
    dw: number,
    N: number,
    H: number,
    W: number,
    Ci: number,
    KH: number,
    KW: number,
    Co: number,
    OH: number,
    OW: number,
    pt: number,
    pl: number,
  ): void;
  convReluPool(
    heap: ArrayBufferLike,
    x: number,
    w: number,
    bias: number,
    p: number,
    code: number,
    N: number,
    H: number,
    W: number,
    Ci: number,
    KH: number,
    KW: number,
    Co: number,
    OH: number,
    OW: number,
    pt: number,
    pl: number,
  ): void;
  convReluPoolGrad(
    heap: ArrayBufferLike,
    x: number,
    w: number,
    dp: number,
    code: number,
    dw: number,
    db: number,
    dx: number,
    N: number,
    H: number,
    W: number,
    Ci: number,
    KH: number,
    KW: number,
    Co: number,
    OH: number,
    OW: number,
    pt: number,
    pl: number,
  ): void;
  matmul(
    heap: ArrayBufferLike,
    a: number,
    b: number,
    bias: number,
    c: number,
    relu: number,
    batch: number,
    M: number,
    K: number,
    N: number,
    transposeA: number,
    transposeB: number,
    aBatched: number,
    bBatched: number,
  ): void;
  pool(heap: ArrayBufferLike, x: number, y: number, N: number, H: number, W: number, C: number, OH: number, OW: number): void;
  poolGrad(
    heap: ArrayBufferLike,
    x: number,
    dy: number,
    dx: number,
    N: number,
    H: number,
    W: number,
    C: number,
    OH: number,
    OW: number,
  ): void;
  biasRelu(heap: ArrayBufferLike, x: number, bias: number, y: number, rows: number, C: number): void;
  biasReluGrad(heap: ArrayBufferLike, dy: number, y: number, dx: number, db: number, rows: number, C: number): void;
  setThreads(n?: number): number;
  /** convReluPoolGrad's way: 0 the cheaper (default), 1 dense passes, 2 from the nonzeros; returns the previous */
  setPoolGradPath(mode: number): number;
  /** idx[p] (int32) = argmax_m x_p . k[:,m] + b[m], best[p] that score (offset -1: not written); x [P,D], k [D,M], b [M] */
  nearest(heap: ArrayBufferLike, x: number, k: number, b: number, idx: number, best: number, P: number, D: number, M: number): void;
  /** up to `passes` dual coordinate descent passes of the linear SVM for every class not done (src/learn/svm.ts); returns the classes not done */
  dcdPasses(
    indptr: Int32Array,
    indices: Int32Array,
    values: Float32Array,
    labels: Int32Array,
    Q: Float64Array,
    w: Float64Array,
    alpha: Float64Array,
    index: Int32Array,
    stat: Float64Array,
    n: number,
    d: number,
    K: number,
    C: number,
    eps: number,
    passes: number,
    maxIter: number,
  ): number;
  /**
   * soft (mode 1) or triangle (mode 2) codes of x [n h w, D] against the words (k [D,M] = 2c^T, b [M] = -||c||^2),
   * each position's code summed (op 0), averaged (1) or max-ed (2) into the regions it lies in (regions [R,4]:
   * r0, r1, c0, c1) -> out [n, R, M]; knn > 0: soft coding over the knn nearest words only (stages/coding.ts)
   */
  /**
   * Fisher vectors' statistics of x [n h w, D] under a GMM: its E-step's affine map over [x, x²] (a [2D,K], b [K]),
   * its means mu [K,D] and inverse deviations isd [K,D]; per image, region and component, over the positions in
   * the region whose posterior is at least minQ (and not 0), with d = (x - mu) isd: S0 = Σ q, U = Σ q d, V = Σ q d²
   * -> out [n, R, K, 1 + 2D] (encode/fisher.ts makes the Fisher vector from them)
   */
  fisherSums?(
    x: Float32Array,
    a: Float32Array,
    b: Float32Array,
    mu: Float32Array,
    isd: Float32Array,
    regions: Int32Array,
    out: Float32Array,
    n: number,
    h: number,
    w: number,
    D: number,
    K: number,
    R: number,
    minQ: number,
  ): void;
  codeSums(
    x: Float32Array,
    k: Float32Array,
    b: Float32Array,
    regions: Int32Array,
    out: Float32Array,
    n: number,
    h: number,
    w: number,
    D: number,
    M: number,
    R: number,
    mode: number,
    beta: number,
    knn: number,
    op: number,
  ): void;
  /** dense SIFT in one pass (passes/sift.ts): x [N,H,W,C], filters [n,n,C,T], binWeights [bins] -> out [N,FY,FX,bins^2 T] */
  denseSift(heap: ArrayBufferLike, x: number, filters: number, binWeights: number, out: number, ...geometry: number[]): void;
  /** [dense, sparse]: how many convReluPoolGrad calls took each way since the addon loaded */
  poolGradPaths(): [number, number];
  isa(): string;
  /** float32 lanes of the addon's vectors (16 AVX-512, 8 AVX2, 4 SSE) */
  vectorWidth(): number;
  /** seconds for n iterations of 12 multiply-adds on `threads` threads (the peak bench) */
  peak(n: number, threads: number): number;
}

let addon: Addon | null | undefined;
let loadError = '';
let enabled = true;

/** Turns the native kernels off and on (tests compare them with the wasm kernels they stand in front of). */
export function setNativeKernelsEnabled(on: boolean): void {
  enabled = on;
}

/** Whether the native kernels are registered and turned on (the fused ones have no wasm kernel to fall back on). */
export function nativeKernelsActive(): boolean {
  return registered && enabled;
}

/** The addon, or null (not built, failed to load, or BOWCNN_NATIVE=0). */
export function nativeAddon(): Addon | null {
  if (addon !== undefined) return addon;
  addon = null;
  if (!settings().native) {
    loadError = 'turned off (native: false, BOWCNN_NATIVE=0)';
    return null;
  }
  try {
    const require = createRequire(import.meta.url);
    addon = require(fileURLToPath(new URL('../../native/build/Release/bowcnn_native.node', import.meta.url))) as Addon;
  } catch (e) {
    const err = e as Error & { code?: string };
    loadError =
      err.code === 'MODULE_NOT_FOUND'
        ? "the addon is not built: `npm run build:native` builds it where g++ and Node's headers are installed"
        : err.message.split('\n')[0];
  }
  return addon;
}

/** Why the addon is not in use ('' when it is). */
export function nativeUnavailableReason(): string {
  nativeAddon();
  return addon ? '' : loadError;
}

type Backend = WasmModuleBackend;

function heap(be: Backend): ArrayBufferLike {
  const m = wasmMemory(be);
  if (!m) throw new Error('native kernels: the wasm backend exposes no memory');
  return m.buffer;
}

const ptr = heapOffset;

/** The addon's geometry arguments: N,H,W,Ci, KH,KW,Co, OH,OW, pad top, pad left. */
type Geom = [number, number, number, number, number, number, number, number, number, number, number];
function geomOf(info: tf.backend_util.Conv2DInfo): Geom {
  return [
    info.batchSize,
    info.inHeight,
    info.inWidth,
    info.inChannels,
    info.filterHeight,
    info.filterWidth,
    info.outChannels,
    info.outHeight,
    info.outWidth,
    info.padInfo.top,
    info.padInfo.left,
  ];
}
const unit = (v: unknown) => {
  const [a, b] = pair((v ?? 1) as number | [number, number]);
  return a === 1 && b === 1;
};

/** Conv2D / FusedConv2D forward: y = act(conv(x, W) + bias), act in {linear, relu}. */
function convForward(a: KernelArgs, orig: Orig, fused: boolean): TensorInfo {
  const be = a.backend as Backend;
  const { x, filter, bias, preluActivationWeights } = a.inputs as Record<string, TensorInfo | undefined>;
  const { strides, pad, dataFormat, dilations, dimRoundingMode, activation } = a.attrs as unknown as tf.FusedConv2DAttrs;
  const act = fused ? activation : 'linear';
  if (
    !enabled ||
    !x ||
    !filter ||
    dataFormat === 'NCHW' ||
    !unit(strides) ||
    !unit(dilations) ||
    x.dtype !== 'float32' ||
    (act !== 'linear' && act !== 'relu') ||
    preluActivationWeights ||
    (bias && bias.shape.length !== 1)
  )
    return orig(a);
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filter.shape as [number, number, number, number],
    strides,
    dilations,
    pad,
    dimRoundingMode,
  );
  const { top, left } = info.padInfo;
  if (top < 0 || left < 0 || (bias && bias.shape[0] !== info.outChannels)) return orig(a);
  const y = be.makeOutput(info.outShape, 'float32');
  addon!.conv(heap(be), ptr(be, x), ptr(be, filter), bias ? ptr(be, bias) : -1, ptr(be, y), act === 'relu' ? 1 : 0, 0, ...geomOf(info));
  return y;
}

/** dx of a stride-1 convolution: the "full" convolution of dy with the flipped filter, in/out swapped. */
function convBackpropInput(a: KernelArgs, orig: Orig): TensorInfo {
  const be = a.backend as Backend;
  const { dy, filter } = a.inputs as { dy: TensorInfo; filter: TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, inputShape } = a.attrs as unknown as tf.Conv2DBackpropInputAttrs;
  if (!enabled || dataFormat === 'NCHW' || !unit(strides) || dy.dtype !== 'float32') return orig(a);
  const info = tf.backend_util.computeConv2DInfo(
    inputShape,
    filter.shape as [number, number, number, number],
    strides,
    1,
    pad,
    dimRoundingMode,
  );
  const { top, left } = info.padInfo;
  const KH = info.filterHeight,
    KW = info.filterWidth;
  if (top < 0 || left < 0 || top > KH - 1 || left > KW - 1) return orig(a);
  const dx = be.makeOutput(inputShape, 'float32');
  // the op's input is dy [N,OH,OW,Co], its output dx [N,H,W,Ci]
  addon!.conv(
    heap(be),
    ptr(be, dy),
    ptr(be, filter),
    -1,
    ptr(be, dx),
    0,
    1,
    info.batchSize,
    info.outHeight,
    info.outWidth,
    info.outChannels,
    KH,
    KW,
    info.inChannels,
    info.inHeight,
    info.inWidth,
    KH - 1 - top,
    KW - 1 - left,
  );
  return dx;
}

function convBackpropFilter(a: KernelArgs, orig: Orig): TensorInfo {
  if (!enabled) return orig(a);
  const { backend, x, dy, strides, filterShape, info } = backpropFilterArgs(a, 'native');
  const be = backend as Backend;
  const { top, left } = info.padInfo;
  if (!unit(strides) || x.dtype !== 'float32' || top < 0 || left < 0) return orig(a);
  const dw = be.makeOutput(filterShape, 'float32');
  addon!.filterGrad(heap(be), ptr(be, x), ptr(be, dy), ptr(be, dw), ...geomOf(info));
  return dw;
}

/** The convolution geometry of a BowcnnConvReluPool call: stride 1, `pad` 'same', 'valid' or a number. */
function convReluPoolInfo(x: TensorInfo, filter: TensorInfo, pad: unknown) {
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filter.shape as [number, number, number, number],
    1,
    1,
    pad as 'same' | 'valid' | number,
  );
  return { info, geom: geomOf(info) };
}

/**
 * BowcnnConvReluPool {x [N,H,W,Ci], filter [KH,KW,Ci,Co], bias [Co]} attrs {pad} -> [p, code], both
 * [N,floor(OH/2),floor(OW/2),Co]: p = maxPool 2x2/2 of relu(conv(x, filter) + bias) at stride 1, in one pass
 * (no [N,OH,OW,Co] tensor is written); code (int32) says where each window's max was, for the gradient.
 */
function convReluPool(a: KernelArgs): TensorInfo[] {
  const be = a.backend as Backend;
  const { x, filter, bias } = a.inputs as Record<'x' | 'filter' | 'bias', TensorInfo>;
  const { info, geom } = convReluPoolInfo(x, filter, a.attrs.pad);
  const shape = [info.batchSize, Math.floor(info.outHeight / 2), Math.floor(info.outWidth / 2), info.outChannels];
  const p = be.makeOutput(shape, 'float32'),
    code = be.makeOutput(shape, 'int32');
  addon!.convReluPool(heap(be), ptr(be, x), ptr(be, filter), ptr(be, bias), ptr(be, p), ptr(be, code), ...geom);
  return [p, code];
}

/**
 * BowcnnConvReluPoolGrad {x, filter, dp, code} attrs {pad, needDx} -> [dfilter, dbias] and, with needDx,
 * dx: the gradients of BowcnnConvReluPool's p, in one call (the unpooled, ReLU-masked gradient goes
 * straight onto the convolution's grids and is never written as a tensor).
 */
function convReluPoolGrad(a: KernelArgs): TensorInfo[] {
  const be = a.backend as Backend;
  const { x, filter, dp, code } = a.inputs as Record<'x' | 'filter' | 'dp' | 'code', TensorInfo>;
  const { geom } = convReluPoolInfo(x, filter, a.attrs.pad);
  const dw = be.makeOutput(filter.shape, 'float32'),
    db = be.makeOutput([filter.shape[3]], 'float32');
  const dx = a.attrs.needDx ? be.makeOutput(x.shape, 'float32') : null;
  addon!.convReluPoolGrad(
    heap(be),
    ptr(be, x),
    ptr(be, filter),
    ptr(be, dp),
    ptr(be, code),
    ptr(be, dw),
    ptr(be, db),
    dx ? ptr(be, dx) : -1,
    ...geom,
  );
  return dx ? [dw, db, dx] : [dw, db];
}

/** BatchMatMul / _FusedMatMul (bias of N values or none; ReLU or none), batch axes equal or one of them 1. */
function matMul(a: KernelArgs, orig: Orig, fused: boolean): TensorInfo {
  const be = a.backend as Backend;
  const { a: A, b: B, bias, preluActivationWeights } = a.inputs as Record<string, TensorInfo | undefined>;
  const { transposeA, transposeB, activation } = a.attrs as unknown as tf.BatchMatMulAttrs & { activation?: string };
  const act = fused ? activation : 'linear';
  if (
    !enabled ||
    !A ||
    !B ||
    A.dtype !== 'float32' ||
    B.dtype !== 'float32' ||
    A.shape.length < 2 ||
    B.shape.length < 2 ||
    (act !== 'linear' && act !== 'relu') ||
    preluActivationWeights
  )
    return orig(a);
  const ra = A.shape.length,
    rb = B.shape.length;
  const M = transposeA ? A.shape[ra - 1] : A.shape[ra - 2],
    K = transposeA ? A.shape[ra - 2] : A.shape[ra - 1];
  const N = transposeB ? B.shape[rb - 2] : B.shape[rb - 1],
    KB = transposeB ? B.shape[rb - 1] : B.shape[rb - 2];
  const outerA = A.shape.slice(0, -2),
    outerB = B.shape.slice(0, -2);
  const ba = tf.util.sizeFromShape(outerA),
    bb = tf.util.sizeFromShape(outerB);
  if (
    K !== KB ||
    (ba !== bb && ba !== 1 && bb !== 1) ||
    (bias &&
      (bias.dtype !== 'float32' ||
        tf.util.sizeFromShape(bias.shape) !== N ||
        (bias.shape.length > 1 && bias.shape[bias.shape.length - 1] !== N)))
  )
    return orig(a);
  const outer = tf.backend_util.assertAndGetBroadcastShape(outerA, outerB);
  const batch = Math.max(ba, bb);
  if (tf.util.sizeFromShape(outer) !== batch) return orig(a);
  const c = be.makeOutput([...outer, M, N], 'float32');
  addon!.matmul(
    heap(be),
    ptr(be, A),
    ptr(be, B),
    bias ? ptr(be, bias) : -1,
    ptr(be, c),
    act === 'relu' ? 1 : 0,
    batch,
    M,
    K,
    N,
    transposeA ? 1 : 0,
    transposeB ? 1 : 0,
    ba === batch ? 1 : 0,
    bb === batch ? 1 : 0,
  );
  return c;
}

/** The geometry of a 2x2, stride-2 max pool without padding (NHWC), or null for any other pool. */
function pool2x2(a: KernelArgs, x: TensorInfo) {
  const { filterSize, strides, pad, dimRoundingMode, dataFormat } = a.attrs as unknown as tf.MaxPoolAttrs & { dataFormat?: string };
  if (x.dtype !== 'float32' || x.shape.length !== 4 || (dataFormat && dataFormat !== 'NHWC')) return null;
  const info = tf.backend_util.computePool2DInfo(x.shape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode);
  const ok =
    info.filterHeight === 2 &&
    info.filterWidth === 2 &&
    info.strideHeight === 2 &&
    info.strideWidth === 2 &&
    info.padInfo.top === 0 &&
    info.padInfo.left === 0 &&
    2 * info.outHeight <= info.inHeight &&
    2 * info.outWidth <= info.inWidth;
  return ok ? info : null;
}

function maxPool(a: KernelArgs, orig: Orig): TensorInfo {
  const be = a.backend as Backend;
  const x = a.inputs.x as TensorInfo;
  const info = enabled ? pool2x2(a, x) : null;
  if (!info) return orig(a);
  const y = be.makeOutput(info.outShape, 'float32');
  addon!.pool(
    heap(be),
    ptr(be, x),
    ptr(be, y),
    info.batchSize,
    info.inHeight,
    info.inWidth,
    info.inChannels,
    info.outHeight,
    info.outWidth,
  );
  return y;
}

function maxPoolGrad(a: KernelArgs, orig: Orig): TensorInfo {
  const be = a.backend as Backend;
  const { dy, input } = a.inputs as { dy: TensorInfo; input: TensorInfo };
  const info = enabled ? pool2x2(a, input) : null;
  // vectors along the channels: fewer (LeNet-5's S2 has 6) stay with the wasm SIMD kernel, faster there
  if (!info || info.inChannels % addon!.vectorWidth() !== 0) return orig(a);
  const dx = be.makeOutput(input.shape, 'float32');
  addon!.poolGrad(
    heap(be),
    ptr(be, input),
    ptr(be, dy),
    ptr(be, dx),
    info.batchSize,
    info.inHeight,
    info.inWidth,
    info.inChannels,
    info.outHeight,
    info.outWidth,
  );
  return dx;
}

function biasRelu(a: KernelArgs, orig: Orig): TensorInfo {
  const be = a.backend as Backend;
  const { x, bias } = a.inputs as { x: TensorInfo; bias: TensorInfo };
  if (!enabled) return orig(a);
  const C = x.shape[x.shape.length - 1];
  const y = be.makeOutput(x.shape, 'float32');
  addon!.biasRelu(heap(be), ptr(be, x), ptr(be, bias), ptr(be, y), tf.util.sizeFromShape(x.shape) / C, C);
  return y;
}

function biasReluGrad(a: KernelArgs, orig: Orig): TensorInfo[] {
  const be = a.backend as Backend;
  const { dy, y } = a.inputs as { dy: TensorInfo; y: TensorInfo };
  if (!enabled) return orig(a) as unknown as TensorInfo[];
  const C = y.shape[y.shape.length - 1];
  const dx = be.makeOutput(y.shape, 'float32'),
    db = be.makeOutput([C], 'float32');
  addon!.biasReluGrad(heap(be), ptr(be, dy), ptr(be, y), ptr(be, dx), ptr(be, db), tf.util.sizeFromShape(y.shape) / C, C);
  return [dx, db];
}

/**
 * BowcnnNearest {x [..., D], kernel [D,M], bias [M]} -> [idx int32 [...], best float32 [...]]: for each row of x
 * the word m with the largest x . kernel[:,m] + bias[m] (the nearest centre, for kernel = 2c^T and bias = -||c||^2),
 * and that score, without the [rows, M] score matrix (native/bowcnn.cc, `nearest`).
 */
function nearestWord(a: KernelArgs): TensorInfo[] {
  const be = a.backend as Backend;
  const { x, kernel, bias } = a.inputs as Record<'x' | 'kernel' | 'bias', TensorInfo>;
  const D = x.shape[x.shape.length - 1],
    M = kernel.shape[1];
  if (kernel.shape[0] !== D || tf.util.sizeFromShape(bias.shape) !== M)
    throw new Error(`BowcnnNearest: x [...,${D}], kernel [${kernel.shape}], bias [${bias.shape}]`);
  const rows = x.shape.slice(0, -1);
  const idx = be.makeOutput(rows, 'int32'),
    best = be.makeOutput(rows, 'float32');
  addon!.nearest(heap(be), ptr(be, x), ptr(be, kernel), ptr(be, bias), ptr(be, idx), ptr(be, best), tf.util.sizeFromShape(rows), D, M);
  return [idx, best];
}

/** What BowcnnDenseSift computes (passes/sift.ts). */
export interface DenseSiftAttrs {
  mode: 'wta' | 'bilinear';
  cellSize: number;
  window: 'box' | 'triangle';
  padding: 'zero' | 'replicate';
  step: number;
  bins: number;
  norm: 'none' | 'l2' | 'sift' | 'rootsift';
  /** first cell row and column of frame (0, 0) */
  offset: number;
  framesY: number;
  framesX: number;
  contrastThreshold: number;
}

/**
 * BowcnnDenseSift {x [N,H,W,C], filters [n,n,C,T], binWeights [bins]} -> descriptors [N,FY,FX,bins^2 T]: the
 * gradient, orientation, cells and descriptor stages in one pass (native/bowcnn.cc, `denseSift`).
 */
function denseSiftKernel(a: KernelArgs): TensorInfo {
  const be = a.backend as Backend;
  const { x, filters, binWeights } = a.inputs as Record<'x' | 'filters' | 'binWeights', TensorInfo>;
  const o = a.attrs as unknown as DenseSiftAttrs;
  const [N, H, W, C] = x.shape;
  const [n, , , T] = filters.shape;
  const out = be.makeOutput([N, o.framesY, o.framesX, o.bins * o.bins * T], 'float32');
  const norms = { none: 0, l2: 1, sift: 2, rootsift: 3 } as const;
  addon!.denseSift(
    heap(be),
    ptr(be, x),
    ptr(be, filters),
    ptr(be, binWeights),
    ptr(be, out),
    N,
    H,
    W,
    C,
    n,
    T,
    o.mode === 'wta' ? 0 : 1,
    o.cellSize,
    o.window === 'box' ? 0 : 1,
    o.padding === 'zero' ? 0 : 1,
    o.step,
    o.bins,
    norms[o.norm],
    o.offset,
    o.framesY,
    o.framesX,
    o.contrastThreshold,
  );
  return out;
}

let registered = false;
/**
 * Puts the native kernels in front of the wasm backend's convolution kernels (call after those are
 * registered). Returns whether they are in use.
 */
export function registerNativeKernels(): boolean {
  if (registered) return true;
  if (!nativeAddon()) return false;
  override('Conv2D', (a, orig) => convForward(a, orig, false));
  override('FusedConv2D', (a, orig) => convForward(a, orig, true));
  override('Conv2DBackpropInput', convBackpropInput);
  override('Conv2DBackpropFilter', convBackpropFilter);
  override('BatchMatMul', (a, orig) => matMul(a, orig, false));
  override('_FusedMatMul', (a, orig) => matMul(a, orig, true));
  override('MaxPool', maxPool);
  override('MaxPoolGrad', maxPoolGrad);
  override('BowcnnBiasRelu', biasRelu);
  override('BowcnnBiasReluGrad', biasReluGrad as unknown as (a: KernelArgs, orig: Orig) => TensorInfo);
  tf.registerKernel({ kernelName: 'BowcnnConvReluPool', backendName: 'wasm', kernelFunc: convReluPool as unknown as tf.KernelFunc });
  tf.registerKernel({
    kernelName: 'BowcnnConvReluPoolGrad',
    backendName: 'wasm',
    kernelFunc: convReluPoolGrad as unknown as tf.KernelFunc,
  });
  tf.registerKernel({ kernelName: 'BowcnnNearest', backendName: 'wasm', kernelFunc: nearestWord as unknown as tf.KernelFunc });
  tf.registerKernel({ kernelName: 'BowcnnDenseSift', backendName: 'wasm', kernelFunc: denseSiftKernel as unknown as tf.KernelFunc });
  registered = true;
  return true;
}

/** The instruction set the addon was built for ('AVX-512', 'AVX2', 'SSE'), or null when not in use. */
export function nativeIsa(): string | null {
  return registered ? addon!.isa() : null;
}

/** The native kernels' thread count (OpenMP), set to the wasm backend's. */
export function setNativeThreads(n: number): void {
  nativeAddon()?.setThreads(n);
}
