/** Helpers shared by the kernels bowcnn registers on the wasm and webgpu backends. */
import * as tf from '@tensorflow/tfjs';

export type TensorInfo = tf.TensorInfo;
export type KernelBackend = tf.KernelBackend & { disposeData(dataId: object): void };

/**
 * The wasm backend's heap access: an output allocated on the heap, and a view of a tensor's data
 * (an Int32Array for int32 tensors, which only Tile handles; allocate before taking views, since a heap
 * that grows invalidates earlier ones).
 */
export type WasmHeapBackend = KernelBackend & {
  makeOutput(shape: number[], dtype: string): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): Float32Array;
  readSync(id: object): Float32Array;
};

/** The wasm backend's Emscripten module as bowcnn's kernels reach into it: its memory and each tensor's offset. */
export type WasmModuleBackend = WasmHeapBackend & {
  wasm: { wasmMemory?: { buffer: ArrayBufferLike }; asm?: { memory?: { buffer: ArrayBufferLike } } };
  dataIdMap: { get(id: object): { memoryOffset: number } | undefined };
};

/** The wasm backend's memory (its buffer changes when the heap grows: read it after allocating). */
export function wasmMemory(be: WasmModuleBackend): { buffer: ArrayBufferLike } | undefined {
  return be.wasm?.wasmMemory ?? be.wasm?.asm?.memory;
}

/** The heap offset (bytes) of a tensor's data on the wasm backend. */
export function heapOffset(be: WasmModuleBackend, t: TensorInfo): number {
  const d = be.dataIdMap.get(t.dataId);
  if (!d) throw new Error('a tensor that is not on this wasm backend');
  return d.memoryOffset;
}

/** [v, v] for a number, else the pair itself (strides, dilations). */
export function pair(v: number | [number, number]): [number, number] {
  return typeof v === 'number' ? [v, v] : v;
}

/** Whether the active backend has bowcnn's kernel `name` for a float32 tensor x (else callers compose tf ops). */
export function hasNativeKernel(name: string, x: tf.Tensor): boolean {
  return x.dtype === 'float32' && tf.getKernel(name, tf.getBackend()) !== undefined;
}

/** Calls another kernel of the same backend directly (inside a kernel function: no engine bookkeeping). */
export function runOn(
  backendName: string,
  name: string,
  backend: tf.KernelBackend,
  inputs: Record<string, TensorInfo> | TensorInfo[],
  attrs: Record<string, unknown>,
): TensorInfo {
  const k = tf.getKernel(name, backendName);
  if (!k) throw new Error(`the ${backendName} backend has no ${name} kernel`);
  return k.kernelFunc({ inputs: inputs as tf.NamedTensorInfoMap, backend, attrs: attrs as never }) as TensorInfo;
}

/** The inputs of a Conv2DBackpropFilter call (NHWC only) and the geometry tfjs derives from them. */
export function backpropFilterArgs(
  args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs: Record<string, unknown> },
  who: string,
) {
  const backend = args.backend as KernelBackend;
  const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = args.attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  if (dataFormat === 'NCHW') throw new Error(`Conv2DBackpropFilter (${who}): only NHWC is supported`);
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filterShape,
    strides,
    1,
    pad,
    dimRoundingMode,
  );
  return { backend, x, dy, strides, filterShape, info };
}

export type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs: Record<string, unknown> };
export type OrigKernel = (a: KernelArgs) => TensorInfo;

/** Replaces the wasm kernel `name` with `f`, which gets the kernel it replaces to fall back on. */
export function overrideWasmKernel(name: string, f: (a: KernelArgs, orig: OrigKernel) => TensorInfo): void {
  const k = tf.getKernel(name, 'wasm');
  if (!k) return;
  const orig = k.kernelFunc as unknown as OrigKernel;
  tf.unregisterKernel(name, 'wasm');
  tf.registerKernel({
    kernelName: name,
    backendName: 'wasm',
    setupFunc: k.setupFunc,
    disposeFunc: k.disposeFunc,
    kernelFunc: ((a: KernelArgs) => f(a, orig)) as unknown as tf.KernelFunc,
  });
}
