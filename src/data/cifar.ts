/**
 * CIFAR-10 binary version: each record is 1 label byte then 3072 pixel bytes,
 * 1024 red, 1024 green, 1024 blue, each 32x32 row-major. We store `[N,32,32,3]` channels-last.
 */
import { readFileSync } from 'node:fs';
import { DataError, makeSplit, type Split } from '../core/data.js';

export const CIFAR_RECORD = 3073;
export const CIFAR10_CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

export function parseCifar(bytes: Uint8Array, file: string): { pixels: Uint8Array; labels: Int32Array } {
  if (bytes.length === 0) throw new DataError(file, 'is empty');
  if (bytes.length % CIFAR_RECORD !== 0) {
    throw new DataError(file, `size ${bytes.length} is not a multiple of the CIFAR-10 record size ${CIFAR_RECORD}`);
  }
  const n = bytes.length / CIFAR_RECORD;
  const pixels = new Uint8Array(n * 3072);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const r = i * CIFAR_RECORD;
    const lab = bytes[r];
    if (lab > 9) throw new DataError(file, `record ${i} has label ${lab} (expected 0..9)`);
    labels[i] = lab;
    const o = i * 3072;
    for (let p = 0; p < 1024; p++) {
      pixels[o + p * 3] = bytes[r + 1 + p];
      pixels[o + p * 3 + 1] = bytes[r + 1 + 1024 + p];
      pixels[o + p * 3 + 2] = bytes[r + 1 + 2048 + p];
    }
  }
  return { pixels, labels };
}

/** Reads and concatenates CIFAR-10 binary batch files. */
export function readCifarFiles(files: string[]): Split {
  const parts = files.map((f) => {
    let b: Buffer;
    try {
      b = readFileSync(f);
    } catch (e) {
      throw new DataError(f, `cannot be read (${(e as NodeJS.ErrnoException).code ?? e})`);
    }
    return parseCifar(new Uint8Array(b.buffer, b.byteOffset, b.byteLength), f);
  });
  const n = parts.reduce((a, p) => a + p.labels.length, 0);
  const pixels = new Uint8Array(n * 3072);
  const labels = new Int32Array(n);
  let k = 0;
  for (const p of parts) {
    pixels.set(p.pixels, k * 3072);
    labels.set(p.labels, k);
    k += p.labels.length;
  }
  return makeSplit(pixels, labels, 32, 32, 3);
}
