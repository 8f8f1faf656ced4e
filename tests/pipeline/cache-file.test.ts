// The cache file format (pipeline/cache.ts): arrays written and read back in pieces (as a body over Node's
// 2 GiB limit is), checked against the whole body hashed and written in one go, and damaged files refused.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { IoError } from '../../src/core/errors.js';
import { CacheError, readArrays, writeArrays, type NamedArray } from '../../src/pipeline/cache.js';

const arrays = (): NamedArray[] => [
  { name: 'features', shape: [5, 7], data: Float32Array.from({ length: 35 }, (_, i) => Math.sin(i) * 1e3) },
  { name: 'labels', shape: [5], data: Int32Array.from([3, -1, 4, 1, 5]) },
  { name: 'empty', shape: [0, 4], data: new Float32Array(0) },
  { name: 'scale', shape: [1], data: Float32Array.from([0.25]) },
  // a view into a larger buffer, from its fourth float on: its bytes are the view's, not the buffer's
  { name: 'view', shape: [2, 5], data: new Float32Array(Float32Array.from({ length: 16 }, (_, i) => i - 3.5).buffer, 12, 10) },
];

describe('cache files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bowcnn-cache-file-'));

  it('written and read in pieces of 7 bytes: the same arrays, and the file that one piece writes', () => {
    const a = arrays();
    const small = join(dir, 'small.bin'),
      whole = join(dir, 'whole.bin');
    writeArrays(small, a, 7);
    writeArrays(whole, a);
    expect(readFileSync(small).equals(readFileSync(whole))).toBe(true);
    for (const f of [small, whole])
      for (const chunk of [7, 1 << 30]) {
        const back = readArrays(f, chunk);
        expect(back.map((b) => [b.name, b.shape, b.data.constructor.name])).toEqual(
          a.map((b) => [b.name, b.shape, b.data.constructor.name]),
        );
        back.forEach((b, i) => expect(Array.from(b.data)).toEqual(Array.from(a[i].data)));
      }
  });

  it("records the SHA-256 of the whole body, and the body is the arrays' bytes in order", () => {
    const a = arrays();
    const f = join(dir, 'hash.bin');
    writeArrays(f, a, 5);
    const buf = readFileSync(f);
    const hl = buf.readUInt32LE(4);
    const header = JSON.parse(buf.toString('utf8', 8, 8 + hl));
    const body = Buffer.concat(a.map((x) => Buffer.from(x.data.buffer, x.data.byteOffset, x.data.byteLength)));
    expect(buf.subarray(8 + hl).equals(body)).toBe(true);
    expect(header.sha256).toBe(createHash('sha256').update(body).digest('hex'));
  });

  it('refuses a damaged body, a truncated file and a foreign file, naming the file', () => {
    const f = join(dir, 'damaged.bin');
    writeArrays(f, arrays());
    const good = readFileSync(f);
    const flipped = Buffer.from(good);
    flipped[flipped.length - 3] ^= 1;
    writeFileSync(f, flipped);
    expect(() => readArrays(f, 7)).toThrow(CacheError);
    expect(() => readArrays(f, 7)).toThrow(/damaged\.bin: checksum mismatch/);
    writeFileSync(f, good.subarray(0, good.length - 4));
    expect(() => readArrays(f, 7)).toThrow(/truncated: \d+ body bytes, expected \d+/);
    writeFileSync(f, good.subarray(0, 10));
    expect(() => readArrays(f, 7)).toThrow(/truncated header/);
    writeFileSync(f, Buffer.from('not a cache at all'));
    expect(() => readArrays(f, 7)).toThrow(/not a bowcnn cache file/);
  });

  it('names the file when reading it fails (a folder in its place)', () => {
    expect(() => readArrays(dir, 7)).toThrow(IoError);
    expect(() => readArrays(dir, 7)).toThrow(dir);
  });
});
