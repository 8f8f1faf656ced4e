/**
 * Kernels that the tfjs 4.22 wasm backend lacks, composed from the wasm backend's own kernels.
 *
 * Conv2DBackpropFilter
 * --------------------
 * For a forward convolution y = conv(x, W) with x `[N,H,W,Ci]`, W `[KH,KW,Ci,Co]`, stride s, pads (pt, pl):
 *
 *   dW[kh,kw,ci,co] = sum_{n,oh,ow} x[n, oh*s + kh - pt, ow*s + kw - pl, ci] * dy[n, oh, ow, co]
 *
 * Read with ci as the batch axis and n as the channel axis, that is itself a convolution:
 *   input  x'  = transpose(x,  [3,1,2,0])  `[Ci,H,W,N]`
 *   filter dy' = transpose(dy, [1,2,0,3])  `[OH,OW,N,Co]`
 *   out        = conv(x', dy', stride 1, dilation s, pads (pt, pb'), (pl, pr'))  `[Ci,KH,KW,Co]`
 *   dW         = transpose(out, [1,2,0,3])  `[KH,KW,Ci,Co]`
 * The forward stride becomes the dilation of the gradient convolution. pb', pr' are chosen so the output
 * covers KH x KW; any excess row or column (a valid convolution whose stride leaves input rows unread)
 * is sliced away.
 *
 * At stride 1 with x smaller than dy and Ci >= 8, the roles swap (dy the input, x the filter: see
 * filterGradSwapped), because XNNPACK repacks a new filter on every call and x is the smaller one to pack.
 *
 * Dilated convolutions
 * --------------------
 * tfjs-core refuses gradients of conv2d with dilation > 1. A dilated convolution is an ordinary one with
 * a zero-inserted filter of size (K-1)*d+1, so `registerDilatedConvGradient` replaces the Conv2D gradient
 * with one that, for d > 1, differentiates through the zero-inserted filter (both for the input and the
 * filter gradient) and reads every d-th tap back. For d = 1 it is tfjs-core's own gradient. This is
 * backend-independent, so it serves cpu, wasm and webgpu alike.
 */
import * as tf from '@tensorflow/tfjs';

import { settings } from '../core/settings.js';
import { registerChannelKernels } from './channel-kernels.js';
import { registerFusedKernels } from './fused-kernels.js';
import { registerNativeKernels } from './native.js';
import { simdKernels } from './simd/index.js';
import {
  backpropFilterArgs,
  overrideWasmKernel as override,
  pair,
  runOn,
  type KernelArgs,
  type OrigKernel as Orig,
  type KernelBackend as Backend,
  type TensorInfo,
  type WasmHeapBackend as HeapBackend,
} from './kernel-util.js';

type Attrs = Record<string, unknown>;

// the wasmStock setting (BOWCNN_WASM_STOCK=1) keeps tfjs's own kernels and the composed filter gradient (for comparison)
const stock = () => settings().wasmStock;

function run(name: string, backend: Backend, inputs: Record<string, TensorInfo> | TensorInfo[], attrs: Attrs): TensorInfo {
  return runOn('wasm', name, backend, inputs, attrs);
}

/**
 * Conv2DBackpropFilter for the wasm backend (NHWC). Exported for tests. With one input channel (a first
 * layer: the composed convolution would run a [OH,OW] filter over a one-channel image, the shape
 * XNNPACK is slowest at) it is one pass of the SIMD kernel `convFilterC1` instead.
 */
export function conv2DBackpropFilterWasm(args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs: Attrs }): TensorInfo {
  const { backend, x, dy, strides, info } = backpropFilterArgs(args, 'wasm');
  const [sH, sW] = pair(strides as number | [number, number]);
  const { top, left } = info.padInfo;
  const H = info.inHeight,
    W = info.inWidth,
    KH = info.filterHeight,
    KW = info.filterWidth;
  const OH = info.outHeight,
    OW = info.outWidth;
  const k = info.inChannels === 1 && !stock() ? simdKernels(backend) : null;
  // the kernel reads up to 12 bytes past dy's end (lanes past Co): only where the heap has them
  if (k && k.ptr(dy) + 4 * dy.shape.reduce((a, b) => a * b, 1) + 16 <= k.heapBytes()) {
    const Co = info.outChannels,
      Cop = Math.ceil(Co / 4) * 4,
      slots = KH * KW * Cop;
    const acc64 = k.scratch(12 * slots),
      acc32 = acc64 + 8 * slots;
    k.convFilterC1(k.ptr(x), k.ptr(dy), acc32, acc64, info.batchSize, H, W, OH, OW, Co, KH, KW, sH, sW, top, left);
    const sums = k.f64(acc64, slots);
    const dw = new Float32Array(KH * KW * Co);
    for (let t = 0; t < KH * KW; t++) for (let c = 0; c < Co; c++) dw[t * Co + c] = sums[t * Cop + c];
    const out = (backend as HeapBackend).makeOutput([KH, KW, 1, Co], 'float32');
    (backend as HeapBackend).typedArrayFromHeap(out).set(dw);
    return out;
  }
  if (
    !stock() &&
    sH === 1 &&
    sW === 1 &&
    info.inChannels >= 8 &&
    tf.util.sizeFromShape(x.shape) < tf.util.sizeFromShape(dy.shape) &&
    top <= KH - 1 &&
    left <= KW - 1
  ) {
    return filterGradSwapped(backend, x, dy, info);
  }
  // pads after the input so that the gradient convolution yields at least KH x KW outputs
  const bottom = Math.max(0, KH - 1 + (OH - 1) * sH + 1 - H - top);
  const right = Math.max(0, KW - 1 + (OW - 1) * sW + 1 - W - left);

  const xT = run('Transpose', backend, { x }, { perm: [3, 1, 2, 0] }); // [Ci,H,W,N]
  const dyT = run('Transpose', backend, { x: dy }, { perm: [1, 2, 0, 3] }); // [OH,OW,N,Co]
  const conv = run(
    'Conv2D',
    backend,
    { x: xT, filter: dyT },
    {
      strides: [1, 1],
      dilations: [sH, sW],
      dataFormat: 'NHWC',
      dimRoundingMode: undefined,
      pad: [
        [0, 0],
        [top, bottom],
        [left, right],
        [0, 0],
      ],
    },
  ); // [Ci,>=KH,>=KW,Co]
  backend.disposeData(xT.dataId);
  backend.disposeData(dyT.dataId);
  let cut = conv;
  if (conv.shape[1] !== KH || conv.shape[2] !== KW) {
    cut = run('Slice', backend, { x: conv }, { begin: [0, 0, 0, 0], size: [conv.shape[0], KH, KW, conv.shape[3]] });
    backend.disposeData(conv.dataId);
  }
  const out = run('Transpose', backend, { x: cut }, { perm: [1, 2, 0, 3] }); // [KH,KW,Ci,Co]
  backend.disposeData(cut.dataId);
  return out;
}

/**
 * The stride-1 filter gradient with the roles swapped, for x smaller than dy (more output than input
 * channels, as in every layer after the first): XNNPACK packs a convolution's filter anew whenever the
 * filter tensor is new, and in the composed form above the filter is dy, new every step (alexnet-small's
 * conv2: a fresh [14,14,128,32] filter cost 23 ms, the same one 9 ms). Here the filter is x:
 *   input  dy' = transpose(dy, [3,1,2,0])  `[Co,OH,OW,N]`
 *   filter x'  = transpose(x,  [1,2,0,3])  `[H,W,N,Ci]`
 *   out[co,i,j,ci] = sum_{r,c,n} dy[n, r + i - (KH-1-pt), c + j - (KW-1-pl), co] x[n,r,c,ci]
 *                  with pads (KH-1-pt, H-OH+pt) and (KW-1-pl, W-OW+pl): `[Co,KH,KW,Ci]`
 *   dW[kh,kw,ci,co] = out[co, KH-1-kh, KW-1-kw, ci]   (a reverse and a transpose of a filter-sized tensor)
 * Measured (batch 128, medians of 25 calls, three alternating runs): alexnet-small conv2 16->32 23-26 ->
 * 15-19 ms, conv3 32->64 15-17 -> 10-13 ms. Not for few input channels: Ci is the swapped product's
 * output width, and after a 'valid' forward conv a third of its input is padding (LeNet-5's C3, Ci = 6:
 * 5.4 -> 6.2-7.9 ms, slower), hence Ci >= 8.
 */
function filterGradSwapped(backend: Backend, x: TensorInfo, dy: TensorInfo, info: tf.backend_util.Conv2DInfo): TensorInfo {
  const { top, left } = info.padInfo;
  const H = info.inHeight,
    W = info.inWidth,
    KH = info.filterHeight,
    KW = info.filterWidth,
    OH = info.outHeight,
    OW = info.outWidth;
  const dyT = run('Transpose', backend, { x: dy }, { perm: [3, 1, 2, 0] }); // [Co,OH,OW,N]
  const xT = run('Transpose', backend, { x }, { perm: [1, 2, 0, 3] }); // [H,W,N,Ci]
  const conv = run(
    'Conv2D',
    backend,
    { x: dyT, filter: xT },
    {
      strides: [1, 1],
      dilations: [1, 1],
      dataFormat: 'NHWC',
      dimRoundingMode: undefined,
      pad: [
        [0, 0],
        [KH - 1 - top, H - OH + top],
        [KW - 1 - left, W - OW + left],
        [0, 0],
      ],
    },
  ); // [Co,KH,KW,Ci]
  free(backend, dyT, xT);
  const flipped = run('Reverse', backend, { x: conv }, { dims: [1, 2] });
  free(backend, conv);
  const out = run('Transpose', backend, { x: flipped }, { perm: [1, 2, 3, 0] }); // [KH,KW,Ci,Co]
  free(backend, flipped);
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Faster replacements for three wasm kernels that training uses and that tfjs 4.22 implements as plain
// loops or with slow transposed access (measured on a LeNet-5 step, batch 128, one thread):
//   Conv2DBackpropInput  64 ms (C3)  -> a stride-1 "full" convolution with the flipped, transposed filter (18 ms)
//   MaxPoolGrad          21 ms (S2)  -> one first-max pass in JavaScript over the wasm heap
//   BatchMatMul with a transposed operand: 9 ms -> explicit Transpose, then the untransposed product (1 ms)
//   Tile (batch-norm gradients) 190 ms -> block copies over the wasm heap (~2 ms)
//   Sum / Mean over leading axes (batch-norm statistics) 200 ms -> one float64-accumulating pass
// Each falls back to the original kernel outside the cases it covers.
// ---------------------------------------------------------------------------------------------------

function free(backend: Backend, ...infos: TensorInfo[]): void {
  for (const i of infos) backend.disposeData(i.dataId);
}

/**
 * Identity without a copy: the output shares the input's heap block (a reference count, as the cpu
 * backend and wasm's own Reshape do). tfjs-core clones every tensor a gradient saves through Identity,
 * and wasm's kernel copied each one (~16 ms of an alexnet-small training step). Tensors are immutable:
 * no wasm kernel writes into its inputs, and variables swap blocks on assign.
 */
function identityShared(a: KernelArgs): TensorInfo {
  const x = a.inputs.x as TensorInfo;
  (a.backend as Backend & { incRef(id: object): void }).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

/** ReLU's gradient in one pass (the SIMD kernel; plain loop without it): dx = x > 0 ? dy : 0. */
function reluGradWasm(a: KernelArgs): TensorInfo {
  const backend = a.backend as HeapBackend;
  const { dy, x } = a.inputs as { dy: TensorInfo; x: TensorInfo };
  const out = backend.makeOutput(x.shape, 'float32');
  const n = x.shape.reduce((p, q) => p * q, 1);
  const k = simdKernels(backend);
  if (k) k.reluGrad(k.ptr(dy), k.ptr(x), k.ptr(out), n);
  else {
    const g = backend.typedArrayFromHeap(dy),
      xv = backend.typedArrayFromHeap(x),
      o = backend.typedArrayFromHeap(out);
    for (let i = 0; i < n; i++) o[i] = xv[i] > 0 ? g[i] : 0;
  }
  return out;
}

/** dx of a stride-1 conv: dx = conv(dy, rot180(W) with in/out swapped), padded "full" minus the forward pads. */
function conv2DBackpropInputFast(a: KernelArgs, orig: Orig): TensorInfo {
  const backend = a.backend as Backend;
  const { dy, filter } = a.inputs as { dy: TensorInfo; filter: TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, inputShape } = a.attrs as unknown as tf.Conv2DBackpropInputAttrs;
  const [sH, sW] = pair(strides as number | [number, number]);
  if (sH !== 1 || sW !== 1 || dataFormat === 'NCHW') return orig(a);
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
  if (top > KH - 1 || left > KW - 1) return orig(a);
  const padT = KH - 1 - top,
    padL = KW - 1 - left;
  const padB = info.inHeight - info.outHeight - padT + KH - 1;
  const padR = info.inWidth - info.outWidth - padL + KW - 1;
  if (padB < 0 || padR < 0) return orig(a);
  const flipped = run('Reverse', backend, { x: filter }, { dims: [0, 1] });
  const wT = run('Transpose', backend, { x: flipped }, { perm: [0, 1, 3, 2] }); // [KH,KW,Co,Ci]
  free(backend, flipped);
  const dx = run(
    'Conv2D',
    backend,
    { x: dy, filter: wT },
    {
      strides: [1, 1],
      dilations: [1, 1],
      dataFormat: 'NHWC',
      dimRoundingMode: undefined,
      pad: [
        [0, 0],
        [padT, padB],
        [padL, padR],
        [0, 0],
      ],
    },
  );
  free(backend, wT);
  return dx;
}

/**
 * MaxPoolGrad as one pass in JavaScript over the wasm heap: for each output, find the first maximum of
 * its window (TensorFlow's rule) and add dy there. Overlapping windows add up, as the gradient must.
 * (The wasm backend's own MaxPoolWithArgmax cannot serve: it returns index 0 for windows whose values
 * are all <= 0.)
 */
function maxPoolGradFast(a: KernelArgs, orig: Orig): TensorInfo {
  const backend = a.backend as HeapBackend;
  const { dy, input } = a.inputs as { dy: TensorInfo; input: TensorInfo };
  const { filterSize, strides, pad, dimRoundingMode } = a.attrs as unknown as tf.MaxPoolGradAttrs;
  if (typeof backend.typedArrayFromHeap !== 'function') return orig(a);
  const info = tf.backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    filterSize,
    strides,
    1,
    pad,
    dimRoundingMode,
  );
  const {
    batchSize: N,
    inHeight: H,
    inWidth: W,
    inChannels: C,
    outHeight: OH,
    outWidth: OW,
    filterHeight: KH,
    filterWidth: KW,
    strideHeight: sH,
    strideWidth: sW,
  } = info;
  const { top, left } = info.padInfo;
  const out = backend.makeOutput(input.shape, 'float32');
  const x = backend.typedArrayFromHeap(input),
    g = backend.typedArrayFromHeap(dy),
    dx = backend.typedArrayFromHeap(out);
  if (KH === 2 && KW === 2 && sH === 2 && sW === 2 && top === 0 && left === 0 && 2 * OH <= H && 2 * OW <= W) {
    const k = C >= 4 ? simdKernels(backend) : null;
    if (k) {
      if (2 * OH < H || 2 * OW < W) dx.fill(0); // rows / columns no window covers
      k.maxPoolGrad2x2(k.ptr(input), k.ptr(dy), k.ptr(out), N, H, W, C, OH, OW);
    } else {
      maxPoolGrad2x2(x, g, dx, N, H, W, C, OH, OW);
    }
    return out;
  }
  dx.fill(0);
  for (let n = 0; n < N; n++) {
    for (let oy = 0; oy < OH; oy++) {
      const y0 = Math.max(0, oy * sH - top),
        y1 = Math.min(H, oy * sH - top + KH);
      for (let ox = 0; ox < OW; ox++) {
        const x0 = Math.max(0, ox * sW - left),
          x1 = Math.min(W, ox * sW - left + KW);
        const go = ((n * OH + oy) * OW + ox) * C;
        for (let c = 0; c < C; c++) {
          let best = -Infinity,
            at = -1;
          for (let iy = y0; iy < y1; iy++) {
            let p = ((n * H + iy) * W + x0) * C + c;
            for (let ix = x0; ix < x1; ix++, p += C) {
              const v = x[p];
              if (v > best || at < 0) {
                best = v;
                at = p;
              }
            }
          }
          if (at >= 0) dx[at] += g[go + c];
        }
      }
    }
  }
  return out;
}

/**
 * The common case, 2x2 windows at stride 2 without padding: windows do not overlap, so each input gets
 * either its window's dy (at the window's first maximum, in row-major order) or 0, written once, with
 * the channel loop innermost (contiguous in NHWC). Rows and columns that no window covers get 0.
 */
function maxPoolGrad2x2(
  x: Float32Array,
  g: Float32Array,
  dx: Float32Array,
  N: number,
  H: number,
  W: number,
  C: number,
  OH: number,
  OW: number,
): void {
  if (2 * OH < H || 2 * OW < W) dx.fill(0);
  const row = W * C;
  for (let n = 0; n < N; n++) {
    for (let oy = 0; oy < OH; oy++) {
      let go = (n * OH + oy) * OW * C;
      for (let ox = 0; ox < OW; ox++, go += C) {
        const p0 = ((n * H + 2 * oy) * W + 2 * ox) * C,
          p2 = p0 + row;
        for (let c = 0; c < C; c++) {
          const a = p0 + c,
            b = a + C,
            d = p2 + c,
            e = d + C;
          const va = x[a],
            vb = x[b],
            vd = x[d],
            ve = x[e];
          let best = va,
            at = 0;
          if (vb > best) {
            best = vb;
            at = 1;
          }
          if (vd > best) {
            best = vd;
            at = 2;
          }
          if (ve > best) at = 3;
          const v = g[go + c];
          dx[a] = at === 0 ? v : 0;
          dx[b] = at === 1 ? v : 0;
          dx[d] = at === 2 ? v : 0;
          dx[e] = at === 3 ? v : 0;
        }
      }
    }
  }
}

function batchMatMulFast(a: KernelArgs, orig: Orig): TensorInfo {
  const backend = a.backend as Backend;
  const { a: A, b: B } = a.inputs as { a: TensorInfo; b: TensorInfo };
  const { transposeA, transposeB } = a.attrs as unknown as tf.BatchMatMulAttrs;
  if (!transposeA && !transposeB) return orig(a);
  const perm = (t: TensorInfo) => {
    const p = t.shape.map((_, i) => i);
    const n = p.length;
    [p[n - 2], p[n - 1]] = [p[n - 1], p[n - 2]];
    return p;
  };
  const At = transposeA ? run('Transpose', backend, { x: A }, { perm: perm(A) }) : A;
  const Bt = transposeB ? run('Transpose', backend, { x: B }, { perm: perm(B) }) : B;
  const out = orig({
    ...a,
    inputs: { a: At, b: Bt } as unknown as tf.NamedTensorInfoMap,
    attrs: { ...a.attrs, transposeA: false, transposeB: false },
  });
  if (transposeA) free(backend, At);
  if (transposeB) free(backend, Bt);
  return out;
}

/**
 * DepthwiseConv2dNativeBackpropInput (missing on wasm): a depthwise conv with filter f `[k,k,C,M]` is a
 * full conv with the block-diagonal filter W[a,b,c,c*M+m] = f[a,b,c,m]; its input gradient is that conv's
 * Conv2DBackpropInput. C times the arithmetic of a direct kernel, exact for any stride, padding and M.
 */
function depthwiseBackpropInputWasm(a: KernelArgs): TensorInfo {
  const backend = a.backend as HeapBackend;
  const { dy, filter } = a.inputs as { dy: TensorInfo; filter: TensorInfo };
  const { strides, dilations, pad, dimRoundingMode, inputShape } = a.attrs as unknown as tf.DepthwiseConv2dNativeBackpropInputAttrs;
  const [dH, dW] = pair((dilations ?? 1) as number | [number, number]);
  if (dH !== 1 || dW !== 1) throw new Error('DepthwiseConv2dNativeBackpropInput (wasm): dilation > 1 is not supported');
  const [k1, k2, C, M] = filter.shape;
  const f = backend.readSync(filter.dataId) as Float32Array;
  const full = new Float32Array(k1 * k2 * C * C * M);
  for (let i = 0; i < k1 * k2; i++)
    for (let c = 0; c < C; c++)
      for (let m = 0; m < M; m++) {
        full[(i * C + c) * C * M + c * M + m] = f[(i * C + c) * M + m];
      }
  const W = backend.makeOutput([k1, k2, C, C * M], 'float32');
  backend.typedArrayFromHeap(W).set(full);
  const dx = run('Conv2DBackpropInput', backend, { dy, filter: W }, { strides, pad, dimRoundingMode, inputShape, dataFormat: 'NHWC' });
  free(backend, W);
  return dx;
}

/** DepthwiseConv2dNativeBackpropFilter (missing on wasm), one pass in JavaScript over the wasm heap. */
function depthwiseBackpropFilterWasm(a: KernelArgs): TensorInfo {
  const backend = a.backend as HeapBackend;
  const { x, dy } = a.inputs as { x: TensorInfo; dy: TensorInfo };
  const { strides, dilations, pad, dimRoundingMode, filterShape } = a.attrs as unknown as tf.DepthwiseConv2dNativeBackpropFilterAttrs;
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filterShape,
    strides,
    dilations,
    pad,
    dimRoundingMode,
    true,
  );
  const {
    batchSize: N,
    inHeight: H,
    inWidth: W,
    inChannels: C,
    outHeight: OH,
    outWidth: OW,
    filterHeight: KH,
    filterWidth: KW,
    strideHeight: sH,
    strideWidth: sW,
    dilationHeight: dH,
    dilationWidth: dW,
  } = info;
  const M = info.outChannels / C;
  const { top, left } = info.padInfo;
  const out = backend.makeOutput(filterShape, 'float32');
  const xv = backend.typedArrayFromHeap(x),
    gv = backend.typedArrayFromHeap(dy),
    ov = backend.typedArrayFromHeap(out);
  const acc = new Float64Array(KH * KW * C * M);
  for (let n = 0; n < N; n++)
    for (let i = 0; i < OH; i++)
      for (let j = 0; j < OW; j++) {
        const go = ((n * OH + i) * OW + j) * C * M;
        for (let a2 = 0; a2 < KH; a2++) {
          const yy = i * sH + a2 * dH - top;
          if (yy < 0 || yy >= H) continue;
          for (let b2 = 0; b2 < KW; b2++) {
            const xx = j * sW + b2 * dW - left;
            if (xx < 0 || xx >= W) continue;
            const xo = ((n * H + yy) * W + xx) * C,
              fo = (a2 * KW + b2) * C * M;
            for (let c = 0; c < C; c++) {
              const v = xv[xo + c];
              for (let m = 0; m < M; m++) acc[fo + c * M + m] += v * gv[go + c * M + m];
            }
          }
        }
      }
  ov.set(acc);
  return out;
}

/**
 * Tile by block copies over the wasm heap (tfjs 4.22's wasm Tile takes 190 ms to broadcast a [1,1,1,32]
 * batch-norm scale to [128,28,28,32]; this takes ~2 ms). Axes are tiled from the last to the first:
 * each step repeats, for every outer index, the already tiled inner block `reps[axis]` times.
 */
function tileFast(a: KernelArgs, orig: Orig): TensorInfo {
  const backend = a.backend as HeapBackend;
  const { x } = a.inputs as { x: TensorInfo };
  const { reps } = a.attrs as unknown as tf.TileAttrs;
  if (typeof backend.typedArrayFromHeap !== 'function' || (x.dtype !== 'float32' && x.dtype !== 'int32')) return orig(a);
  const inShape = x.shape,
    rank = inShape.length;
  const outShape = inShape.map((d, i) => d * reps[i]);
  let buf: Float32Array | Int32Array = backend.typedArrayFromHeap(x).slice();
  let inner = 1; // size of the already tiled trailing block
  for (let axis = rank - 1; axis >= 0; axis--) {
    const block = inShape[axis] * inner;
    const outer = inShape.slice(0, axis).reduce((p, d) => p * d, 1);
    const r = reps[axis];
    if (r !== 1) {
      const next: Float32Array | Int32Array = new (buf.constructor as Float32ArrayConstructor)(outer * block * r);
      for (let o = 0; o < outer; o++) {
        const src = buf.subarray(o * block, (o + 1) * block);
        for (let k = 0; k < r; k++) next.set(src, (o * r + k) * block);
      }
      buf = next;
    }
    inner = outShape[axis] * inner;
  }
  const out = backend.makeOutput(outShape, x.dtype);
  backend.typedArrayFromHeap(out).set(buf);
  return out;
}

/**
 * Sum and Mean over leading axes (batch-norm statistics: [N,H,W,C] over N,H,W) in one pass over the
 * wasm heap with float64 accumulators, instead of the wasm kernels' transpose-then-reduce
 * (200 ms -> a few ms; a ones[1,M] x X[M,C] product took 27 ms).
 */
function reduceLeading(mean: boolean) {
  return (a: KernelArgs, orig: Orig): TensorInfo => {
    const backend = a.backend as HeapBackend;
    const { x } = a.inputs as { x: TensorInfo };
    const { axis, keepDims } = a.attrs as unknown as tf.SumAttrs;
    const rank = x.shape.length;
    const axes = (Array.isArray(axis) ? axis : [axis]).map((v) => (v < 0 ? v + rank : v)).sort((p, q) => p - q);
    const leading = axes.length > 0 && axes.length < rank && axes.every((v, i) => v === i);
    if (!leading || x.dtype !== 'float32' || typeof backend.typedArrayFromHeap !== 'function') return orig(a);
    const M = x.shape.slice(0, axes.length).reduce((p, d) => p * d, 1);
    const C = x.shape.slice(axes.length).reduce((p, d) => p * d, 1);
    // few channels (a conv bias gradient over 6 maps): the wasm kernel beats a JS loop over short rows
    if (M < 64 || C < 16) return orig(a);
    const outShape = keepDims ? x.shape.map((d, i) => (i < axes.length ? 1 : d)) : x.shape.slice(axes.length);
    const acc = new Float64Array(C);
    const v = backend.typedArrayFromHeap(x) as Float32Array;
    for (let m = 0; m < M; m++) {
      const o = m * C;
      for (let c = 0; c < C; c++) acc[c] += v[o + c];
    }
    const out = backend.makeOutput(outShape, 'float32');
    const ov = backend.typedArrayFromHeap(out) as Float32Array;
    for (let c = 0; c < C; c++) ov[c] = mean ? acc[c] / M : acc[c];
    return out;
  };
}

let wasmRegistered = false;
/** Registers the missing wasm kernels and the faster replacements, once. Safe to call again. */
export function registerWasmKernels(): void {
  if (wasmRegistered) return;
  registerChannelKernels();
  if (!tf.getKernel('Conv2DBackpropFilter', 'wasm')) {
    tf.registerKernel({
      kernelName: 'Conv2DBackpropFilter',
      backendName: 'wasm',
      kernelFunc: conv2DBackpropFilterWasm as unknown as tf.KernelFunc,
    });
  }
  if (!tf.getKernel('DepthwiseConv2dNativeBackpropInput', 'wasm')) {
    tf.registerKernel({
      kernelName: 'DepthwiseConv2dNativeBackpropInput',
      backendName: 'wasm',
      kernelFunc: depthwiseBackpropInputWasm as unknown as tf.KernelFunc,
    });
  }
  if (!tf.getKernel('DepthwiseConv2dNativeBackpropFilter', 'wasm')) {
    tf.registerKernel({
      kernelName: 'DepthwiseConv2dNativeBackpropFilter',
      backendName: 'wasm',
      kernelFunc: depthwiseBackpropFilterWasm as unknown as tf.KernelFunc,
    });
  }
  if (!stock()) {
    override('Conv2DBackpropInput', conv2DBackpropInputFast);
    override('MaxPoolGrad', maxPoolGradFast);
    override('BatchMatMul', batchMatMulFast);
    override('Tile', tileFast);
    override('Sum', reduceLeading(false));
    override('Mean', reduceLeading(true));
    override('Identity', identityShared);
    tf.registerKernel({ kernelName: 'BowcnnReluGrad', backendName: 'wasm', kernelFunc: reluGradWasm as unknown as tf.KernelFunc });
    if (settings().wasmFused) registerFusedKernels(); // off: tfjs-core's ops (for comparison)
    registerNativeKernels(); // the native convolutions in front of all of the above, where the addon is built
  }
  wasmRegistered = true;
}

/** Zero-inserts a filter `[KH,KW,Ci,Co]` to `[(KH-1)dH+1,(KW-1)dW+1,Ci,Co]`. */
export function dilateFilter(f: tf.Tensor4D, dH: number, dW: number): tf.Tensor4D {
  return tf.tidy(() => {
    const [KH, KW, Ci, Co] = f.shape;
    // [KH,1,KW,1,Ci,Co] padded to [KH,dH,KW,dW,...], reshaped and cut to the dilated size
    const e = f.reshape([KH, 1, KW, 1, Ci, Co]).pad([
      [0, 0],
      [0, dH - 1],
      [0, 0],
      [0, dW - 1],
      [0, 0],
      [0, 0],
    ]);
    const full = e.reshape([KH * dH, KW * dW, Ci, Co]);
    return full.slice([0, 0, 0, 0], [(KH - 1) * dH + 1, (KW - 1) * dW + 1, Ci, Co]) as tf.Tensor4D;
  });
}

/** dW of a conv2d `[KH,KW,Ci,Co]`, through whatever Conv2DBackpropFilter the active backend has. */
export function conv2dFilterGrad(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  filterShape: [number, number, number, number],
  strides: number | [number, number],
  pad: unknown,
): tf.Tensor4D {
  return tf
    .engine()
    .runKernel(
      'Conv2DBackpropFilter',
      { x, dy } as unknown as tf.NamedTensorMap,
      { strides, pad, dataFormat: 'NHWC', filterShape } as unknown as tf.NamedAttrMap,
    ) as tf.Tensor4D;
}

let gradRegistered = false;
/** Replaces tfjs-core's Conv2D gradient with one that also handles dilation > 1 (see the header). */
export function registerDilatedConvGradient(): void {
  if (gradRegistered) return;
  tf.registerGradient({
    kernelName: 'Conv2D',
    inputsToSave: ['x', 'filter'],
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
      const [x4, f4] = saved as [tf.Tensor4D, tf.Tensor4D];
      const dy4 = dy as tf.Tensor4D;
      const a = attrs as unknown as tf.Conv2DAttrs;
      const [dH, dW] = pair((a.dilations ?? 1) as number | [number, number]);
      const strides = a.strides as [number, number];
      const pad = a.pad as 'same' | 'valid';
      if (dH === 1 && dW === 1) {
        return {
          x: () => tf.conv2dTranspose(dy4, f4, x4.shape as [number, number, number, number], strides, pad),
          filter: () => conv2dFilterGrad(x4, dy4, f4.shape, strides, pad),
        } as unknown as Record<string, () => tf.Tensor>;
      }
      return {
        x: () =>
          tf.tidy(() => tf.conv2dTranspose(dy4, dilateFilter(f4, dH, dW), x4.shape as [number, number, number, number], strides, pad)),
        filter: () =>
          tf.tidy(() => {
            const [KH, KW, Ci, Co] = f4.shape;
            const big: [number, number, number, number] = [(KH - 1) * dH + 1, (KW - 1) * dW + 1, Ci, Co];
            const g = conv2dFilterGrad(x4, dy4, big, strides, pad);
            return tf.stridedSlice(g, [0, 0, 0, 0], big, [dH, dW, 1, 1]);
          }),
      } as unknown as Record<string, () => tf.Tensor>;
    },
  });
  gradRegistered = true;
}
