// How fast can this machine multiply and add, from WebAssembly and from native code, and what does that
// allow a LeNet-5 training step? A roofline bound, not a model: the step's multiply-adds (convolutions,
// both gradients, dense layers) divided by each peak is the least time a step can take on that
// instruction set, before pooling, ReLU, the loss, the optimizer and dispatch.
//   wasm:   a register-only loop of 8 independent f32x4.mul + f32x4.add (WebAssembly SIMD has no fused
//           multiply-add), compiled with wabt, on 1 and on 2 worker threads;
//   native: the addon's loop of 12 independent multiply-adds on its widest vectors (fused where the
//           machine has FMA), on 1 and 2 OpenMP threads.
import { Worker } from 'node:worker_threads';
import wabtInit from 'wabt';
import { nativeAddon } from '../src/backend/native.js';
import { table } from './util.js';

const K = 8; // accumulators: 2K + 1 v128 registers stay within x86's 16 xmm (12 spilled: half the rate)
function peakWat(): string {
  const locals = Array.from({ length: K }, (_, i) => `(local $a${i} v128) (local $c${i} v128)`).join(' ');
  const init = Array.from({ length: K }, (_, i) => `(local.set $c${i} (f32x4.splat (f32.const ${1 - i * 1e-6})))`).join('\n');
  const body = Array.from(
    { length: K },
    (_, i) => `(local.set $a${i} (f32x4.add (local.get $a${i}) (f32x4.mul (local.get $x) (local.get $c${i}))))`,
  ).join('\n');
  const sum = Array.from({ length: K }, (_, i) => `(local.get $a${i})`).reduce((s, t) => `(f32x4.add ${s} ${t})`);
  return `(module (func (export "peak") (param $n i32) (result f32) (local $x v128) ${locals}
    (local.set $x (f32x4.splat (f32.const 1e-7))) ${init}
    (block $done (loop $l (br_if $done (i32.eqz (local.get $n))) ${body}
      (local.set $n (i32.sub (local.get $n) (i32.const 1))) (br $l)))
    (f32x4.extract_lane 0 ${sum})))`;
}

// a worker that instantiates the module, warms it up (so that it runs optimised code) and times n iterations
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const inst = new WebAssembly.Instance(new WebAssembly.Module(workerData.bytes), {});
for (let i = 0; i < 20; i++) inst.exports.peak(100000);
let best = Infinity;
for (let r = 0; r < 3; r++) { const t0 = performance.now(); inst.exports.peak(workerData.n); best = Math.min(best, performance.now() - t0); }
parentPort.postMessage(best / 1000);`;

async function wasmPeak(bytes: Uint8Array, threads: number): Promise<number> {
  const n = 2e7;
  const secs = await Promise.all(
    Array.from(
      { length: threads },
      () =>
        new Promise<number>((res, rej) => {
          const w = new Worker(WORKER, { eval: true, workerData: { bytes, n } });
          w.on('message', (s: number) => {
            res(s);
            void w.terminate();
          });
          w.on('error', rej);
        }),
    ),
  );
  return secs.reduce((a, s) => a + (2 * 4 * K * n) / s / 1e9, 0); // GFLOP/s summed over threads
}

function nativePeak(threads: number): number | null {
  const addon = nativeAddon();
  if (!addon) return null;
  const n = 2e7;
  addon.peak(1e5, threads);
  let best = Infinity;
  for (let r = 0; r < 3; r++) best = Math.min(best, addon.peak(n, threads));
  return (2 * 12 * addon.vectorWidth() * n * threads) / best / 1e9;
}

// LeNet-5 modern on 28x28 (src/cnn/lenet5.ts): multiply-adds per image
const LENET = [
  { layer: 'C1 5x5x1x6 same', fwd: 28 * 28 * 6 * 25, first: true },
  { layer: 'C3 5x5x6x16 valid', fwd: 10 * 10 * 16 * 150 },
  { layer: 'C5 400x120', fwd: 400 * 120 },
  { layer: 'F6 120x84', fwd: 120 * 84 },
  { layer: 'output 84x10', fwd: 84 * 10 },
];

export async function run(): Promise<Record<string, unknown>> {
  const wabt = await wabtInit();
  const mod = wabt.parseWat('peak.wat', peakWat(), { simd: true });
  const bytes = new Uint8Array(mod.toBinary({}).buffer);
  const peaks = {
    'wasm SIMD, 1 thread': await wasmPeak(bytes, 1),
    'wasm SIMD, 2 threads': await wasmPeak(bytes, 2),
    [`native ${nativeAddon()?.isa() ?? '(not built)'}, 1 thread`]: nativePeak(1),
    [`native ${nativeAddon()?.isa() ?? '(not built)'}, 2 threads`]: nativePeak(2),
  };
  // training: forward + filter gradients (= forward) + input gradients (all but the first layer)
  const macs = LENET.reduce((s, l) => s + 2 * l.fwd + (l.first ? 0 : l.fwd), 0);
  const stepFlop = 2 * macs * 128;
  const pytorch = 11_400; // the PyTorch 1.13 figure on this machine's CPU, 2 threads
  const rows = Object.entries(peaks).map(([what, g]) => ({
    what,
    'GFLOP/s': g === null ? '-' : +g.toFixed(1),
    'LeNet-5 step at this peak (ms)': g === null ? '-' : +(stepFlop / g / 1e6).toFixed(2),
    'img/s bound': g === null ? '-' : Math.round(128 / (stepFlop / g / 1e9)),
  }));
  table(rows);
  const pytorchGflops = (stepFlop * pytorch) / 128 / 1e9;
  console.log(
    `LeNet-5 training: ${((2 * macs) / 1e6).toFixed(3)} MFLOP an image, ${(stepFlop / 1e6).toFixed(0)} MFLOP a step of 128;` +
      ` PyTorch's ${pytorch.toLocaleString('en')} img/s sustain ${pytorchGflops.toFixed(1)} GFLOP/s of it.`,
  );
  return { lenetMflopPerImage: (2 * macs) / 1e6, stepMflop: stepFlop / 1e6, pytorchImgPerS: pytorch, pytorchGflops, rows };
}
