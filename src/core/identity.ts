/**
 * Identities: what makes two computations "the same", for every cache and resumable run in bowcnn (the
 * feature cache's prefix keys, fitted dictionaries, sweep jobs and their shards, a contender's saved
 * result and search, a CNN's checkpoints). One place, so that one rule holds everywhere:
 *
 *   - a JSON-able value's identity is the SHA-256 of its canonical JSON: object keys sorted, so that the
 *     same config written in another key order is the same computation;
 *   - data's identity hashes the bytes themselves (pixels, labels, weights), never a file name or a date.
 */
import { createHash } from 'node:crypto';
import type { Split } from './data.js';

/** JSON with every object's keys sorted (arrays keep their order); undefined values are left out, as JSON does. */
export function canonicalJson(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => {
    if (x === null || typeof x !== 'object' || Array.isArray(x) || ArrayBuffer.isView(x)) return x;
    const o = x as Record<string, unknown>;
    return Object.fromEntries(
      Object.keys(o)
        .sort()
        .map((k) => [k, o[k]]),
    );
  });
}

/** The identity of a JSON-able value: the SHA-256 (hex) of its canonical JSON, cut to `length` characters. */
export function identity(v: unknown, length = 64): string {
  return createHash('sha256').update(canonicalJson(v)).digest('hex').slice(0, length);
}

/** The identity of bytes (a tensor's float32 data, a file's content). */
export function bytesIdentity(data: Uint8Array | string, length = 64): string {
  return createHash('sha256').update(data).digest('hex').slice(0, length);
}

/** The identity of a float or int array's bytes. */
export function arrayIdentity(a: Float32Array | Int32Array, length = 64): string {
  return bytesIdentity(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), length);
}

/**
 * A dataset's identity: its name, what was drawn from it (`extra`: subset sizes, seeds), and every split's
 * shape, pixels and labels.
 */
export function dataIdentity(parts: { name: string; splits: Split[]; extra?: unknown }): string {
  const h = createHash('sha256');
  h.update(parts.name);
  h.update(canonicalJson(parts.extra ?? null));
  for (const s of parts.splits) {
    h.update(`${s.n}x${s.height}x${s.width}x${s.channels}`);
    h.update(s.pixels);
    h.update(new Uint8Array(s.labels.buffer, s.labels.byteOffset, s.labels.byteLength));
  }
  return h.digest('hex').slice(0, 16);
}
