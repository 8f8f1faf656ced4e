/**
 * WebGPU in Node through Dawn (the `webgpu` npm package) and @tensorflow/tfjs-backend-webgpu.
 * Both are optional dependencies: when either is missing, an explicit 'webgpu' request fails with a
 * BackendError-shaped message and 'auto' moves on to wasm.
 *
 * Adapter choice: a hardware adapter first; a software adapter (lavapipe, SwiftShader, Mesa llvmpipe
 * through Dawn's OpenGL backend) only when `allowSoftware` is set, with a warning that it is slow.
 * Dawn's OpenGL(ES) backend needs `featureLevel: 'compatibility'`, so both levels are tried.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { settings } from '../core/settings.js';
import { registerWebgpuKernels, setWebgpuUploads } from './webgpu-kernels.js';

export interface WebgpuOptions {
  allowSoftware?: boolean; // accept a CPU (software) adapter; also set by BOWCNN_WEBGPU_SOFTWARE=1
  hardwareOnly?: boolean; // refuse a software adapter even when allowed ('auto' uses this)
  quiet?: boolean; // internal: no warnings while probing
  dawnFlags?: string[]; // passed to Dawn's create(), e.g. ['backend=vulkan']
}

interface AdapterLike {
  info?: { vendor?: string; architecture?: string; device?: string; description?: string; adapterType?: string; backendType?: string };
  isFallbackAdapter?: boolean;
}

let adapterDescription: string | null = null;
let gpuHandle: unknown = null;

/**
 * Whether a hardware adapter could exist: on Linux, Dawn needs the Vulkan loader (libvulkan.so.1). Without it
 * Dawn prints a warning from its C++ code when it probes, so 'auto' does not probe (a machine without the
 * loader has no GPU Dawn can use; an explicit 'webgpu' still tries, and says why it fails).
 */
export function hardwareAdapterPossible(env: Record<string, string | undefined> = process.env): boolean {
  if (process.platform !== 'linux') return true;
  const dirs = [
    ...(env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean),
    '/usr/lib/x86_64-linux-gnu',
    '/usr/lib/aarch64-linux-gnu',
    '/usr/lib64',
    '/usr/lib',
    '/lib/x86_64-linux-gnu',
    '/lib64',
    '/lib',
  ];
  return dirs.some((d) => existsSync(join(d, 'libvulkan.so.1')));
}

export function webgpuAdapterInfo(): string | null {
  return adapterDescription;
}

function describeAdapter(a: AdapterLike): { text: string; software: boolean } {
  const i = a.info ?? {};
  const text =
    [i.vendor, i.architecture, i.device, i.description, i.adapterType, i.backendType]
      .filter((s) => s && String(s).length > 0)
      .join(' / ') || 'unnamed adapter';
  const software = Boolean(a.isFallbackAdapter) || i.adapterType === 'cpu' || /llvmpipe|lavapipe|swiftshader|software/i.test(text);
  return { text, software };
}

export async function startWebgpu(opts: WebgpuOptions = {}): Promise<void> {
  // one Dawn instance per process: a second create() next to a live one can abort in Dawn's GL backend
  if (gpuHandle && adapterDescription && tf.findBackend('webgpu')) {
    if (!opts.hardwareOnly) {
      if (!(await tf.setBackend('webgpu'))) throw new Error('tf.setBackend("webgpu") returned false');
      await tf.ready();
    }
    return;
  }
  const allowSoftware = !opts.hardwareOnly && (opts.allowSoftware || settings().webgpuSoftware);
  let dawn: { create: (flags: string[]) => unknown; globals: Record<string, unknown> };
  try {
    dawn = (await import('webgpu' as string)) as typeof dawn;
  } catch (e) {
    throw new Error(`the optional package 'webgpu' (Dawn for Node) is not installed or does not load: ${(e as Error).message}`);
  }
  // Hardware first: Dawn's default backend (Vulkan on Linux). Software only when allowed: Dawn's
  // OpenGL backend over Mesa's llvmpipe, headless through EGL (EGL_PLATFORM=surfaceless), which Dawn
  // offers only at featureLevel 'compatibility'.
  const attempts: { flags: string[]; request: object[] }[] = [
    {
      flags: opts.dawnFlags ?? settings().dawnFlags,
      request: [{ powerPreference: 'high-performance' }, { featureLevel: 'compatibility' }],
    },
  ];
  if (allowSoftware) attempts.push({ flags: ['backend=opengl'], request: [{ featureLevel: 'compatibility' }] });
  let adapter: AdapterLike | null = null;
  let chosen: { text: string; software: boolean } | null = null;
  let gpu: { requestAdapter(o?: object): Promise<AdapterLike | null> } | null = null;
  let request: object = {};
  for (const at of attempts) {
    const g = dawn.create(at.flags) as { requestAdapter(o?: object): Promise<AdapterLike | null> };
    for (const t of at.request) {
      const a = await g.requestAdapter(t).catch(() => null);
      if (!a) continue;
      const d = describeAdapter(a);
      if (d.software && !allowSoftware) continue;
      adapter = a;
      chosen = d;
      gpu = g;
      request = t;
      break;
    }
    if (adapter) break;
  }
  if (!adapter || !chosen) {
    throw new Error(
      allowSoftware
        ? 'Dawn found no WebGPU adapter (check the Vulkan/GL driver)'
        : 'Dawn found no hardware WebGPU adapter; set BOWCNN_WEBGPU_SOFTWARE=1 to accept a software one (slow)',
    );
  }
  if (chosen.software && !opts.quiet) {
    process.stderr.write(`bowcnn: warning: WebGPU runs on a software adapter (${chosen.text}); it is slow\n`);
  }
  if (!gpu) throw new Error('Dawn gave an adapter but no GPU object');
  Object.assign(globalThis, dawn.globals);
  const nav = (globalThis as unknown as { navigator?: Record<string, unknown> }).navigator;
  if (nav) Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true });
  else Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  gpuHandle = gpu;
  try {
    await import('@tensorflow/tfjs-backend-webgpu' as string);
  } catch (e) {
    throw new Error(`the optional package '@tensorflow/tfjs-backend-webgpu' is not installed: ${(e as Error).message}`);
  }
  registerWebgpuKernels();
  tf.env().set('WEBGPU_USE_LOW_POWER_GPU', false);
  // tfjs-backend-webgpu asks navigator.gpu for its own adapter; steer it to the one chosen above
  const g = gpu as { requestAdapter(o?: object): Promise<AdapterLike | null> };
  const origRequest = g.requestAdapter.bind(g);
  g.requestAdapter = (o?: object) => origRequest({ ...(o ?? {}), ...request });
  if (!(await tf.setBackend('webgpu'))) throw new Error('tf.setBackend("webgpu") returned false');
  await tf.ready();
  if (!settings().webgpuStock) setWebgpuUploads(tf.findBackend('webgpu'), 'pooled');
  adapterDescription = chosen.text;
}

/** Drops the GPU reference so the Node process can exit. */
export function releaseWebgpu(): void {
  if (tf.getBackend() === 'webgpu') {
    try {
      tf.removeBackend('webgpu');
    } catch {
      /* already gone */
    }
  }
  gpuHandle = null;
  const nav = (globalThis as unknown as { navigator?: Record<string, unknown> }).navigator;
  if (nav && 'gpu' in nav) {
    try {
      delete nav.gpu;
    } catch {
      /* read-only */
    }
  }
}

export function webgpuHandle(): unknown {
  return gpuHandle;
}
