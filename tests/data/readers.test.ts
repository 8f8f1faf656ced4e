// IDX, CIFAR-10 and folder readers against values recomputed from the formulas in
// fixtures/make/data-fixtures.mjs, and every malformed file named in the issue.
import { copyFileSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCifarFiles } from '../../src/data/cifar.js';
import { readFolder } from '../../src/data/folder.js';
import { readIdx, readIdxPair } from '../../src/data/idx.js';
import { DataError } from '../../src/core/data.js';
import { FIX } from '../helpers.js';

const D = join(FIX, 'data');
const idx = (f: string) => join(D, 'idx', f);

function expectDataError(f: () => unknown, file: string, pattern: RegExp) {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(DataError);
    expect((e as DataError).file).toBe(file);
    expect((e as DataError).message).toContain(file);
    expect((e as DataError).problem).toMatch(pattern);
    return;
  }
  throw new Error('no error thrown');
}
async function expectDataErrorAsync(f: () => Promise<unknown>, file: string, pattern: RegExp) {
  await f().then(
    () => {
      throw new Error('no error thrown');
    },
    (e) => {
      expect(e).toBeInstanceOf(DataError);
      expect((e as DataError).file).toBe(file);
      expect((e as DataError).problem).toMatch(pattern);
    },
  );
}

describe('IDX', () => {
  for (const gz of ['', '.gz']) {
    it(`reads images and labels${gz ? ' (gzipped)' : ''}`, () => {
      const s = readIdxPair(idx(`images-idx3-ubyte${gz}`), idx(`labels-idx1-ubyte${gz}`));
      expect([s.n, s.height, s.width, s.channels]).toEqual([6, 4, 5, 1]);
      for (let n = 0; n < 6; n++) {
        expect(s.labels[n]).toBe(n % 3);
        for (let r = 0; r < 4; r++) for (let c = 0; c < 5; c++) expect(s.pixels[n * 20 + r * 5 + c]).toBe((n * 40 + r * 5 + c * 3) % 256);
      }
    });
  }
  it('rejects a truncated file', () =>
    expectDataError(
      () => readIdx(idx('truncated-images-idx3-ubyte')),
      idx('truncated-images-idx3-ubyte'),
      /truncated: its IDX header implies 136 bytes, the file has 129/,
    ));
  it('rejects a wrong magic number', () =>
    expectDataError(() => readIdx(idx('bad-magic-idx3-ubyte')), idx('bad-magic-idx3-ubyte'), /data type 0x9|magic/));
  it('rejects a label count that differs from the image count', () =>
    expectDataError(
      () => readIdxPair(idx('images-idx3-ubyte'), idx('five-labels-idx1-ubyte')),
      idx('five-labels-idx1-ubyte'),
      /5 labels for 6 images/,
    ));
  it('rejects a .gz that is not gzip', () =>
    expectDataError(() => readIdx(idx('not-gzip-idx3-ubyte.gz')), idx('not-gzip-idx3-ubyte.gz'), /not gzip/));
  it('rejects a corrupt gzip', () =>
    expectDataError(() => readIdx(idx('corrupt-gzip-idx3-ubyte.gz')), idx('corrupt-gzip-idx3-ubyte.gz'), /corrupt or truncated/));
  it('rejects a missing file', () => expectDataError(() => readIdx(idx('nope')), idx('nope'), /cannot be read \(no such file or folder\)/));
});

describe('CIFAR-10 binary', () => {
  it('reads records into [N,32,32,3] channels-last', () => {
    const s = readCifarFiles([join(D, 'cifar', 'data_batch_1.bin')]);
    expect([s.n, s.height, s.width, s.channels]).toEqual([3, 32, 32, 3]);
    for (let r = 0; r < 3; r++) {
      expect(s.labels[r]).toBe(r % 10);
      for (const p of [0, 1, 517, 1023])
        for (let ch = 0; ch < 3; ch++) {
          expect(s.pixels[r * 3072 + p * 3 + ch]).toBe((r * 7 + ch * 1024 + p) % 256);
        }
    }
  });
  it('rejects a file whose size is not a multiple of 3073', () => {
    const f = join(D, 'cifar-bad', 'data_batch_1.bin');
    expectDataError(() => readCifarFiles([f]), f, /6246 is not a multiple of .* 3073/);
  });
});

describe('class-per-folder', () => {
  it('reads sorted class names, resizes, gray and RGB', async () => {
    const rgb = await readFolder(join(D, 'folder', 'good'), { size: [4, 3], channels: 3 });
    expect(rgb.classes).toEqual(['bright', 'dark']);
    expect(rgb.test).toBeNull();
    expect([rgb.train.n, rgb.train.height, rgb.train.width, rgb.train.channels]).toEqual([6, 4, 3, 3]);
    expect(Array.from(rgb.train.labels)).toEqual([0, 0, 0, 1, 1, 1]);
    // flat images stay flat through resizing: every pixel of b1.png is 201, of d2.png 22
    expect(rgb.train.pixels.subarray(36, 72).every((v) => v === 201)).toBe(true);
    expect(rgb.train.pixels.subarray(5 * 36, 6 * 36).every((v) => v === 22)).toBe(true);
    const gray = await readFolder(join(D, 'folder', 'good'), { size: [8, 6], channels: 1 });
    expect(gray.train.channels).toBe(1);
    expect(gray.train.pixels[0]).toBe(200);
  });
  it('reads each image by the input rule: transparency on white, the aspect ratio kept (covered and centre-cropped)', async () => {
    const { encodePng } = await import('../../src/report/png.js');
    const root = mkdtempSync(join(tmpdir(), 'bowcnn-rule-'));
    for (const c of ['a', 'b']) mkdirSync(join(root, c));
    // a transparent image: white once composited, not black
    writeFileSync(join(root, 'a', 'clear.png'), encodePng(new Uint8Array(6 * 6 * 4), 6, 6, 4));
    // 8 wide, 4 high: a dark left half and a bright right half, the middle two columns grey
    const wide = Uint8Array.from({ length: 32 }, (_, i) => (i % 8 < 3 ? 0 : i % 8 < 5 ? 128 : 255));
    writeFileSync(join(root, 'b', 'wide.png'), encodePng(wide, 4, 8, 1));
    const f = await readFolder(root, { size: [4, 4], channels: 1 });
    expect(Array.from(f.train.pixels.subarray(0, 16)).every((v) => v === 255)).toBe(true);
    // covering 4x4 from 8x4 takes the middle 4 columns (x 2..5), unstretched
    const row = Array.from(f.train.pixels.subarray(16, 20));
    expect(row).toEqual([0, 128, 128, 255]);
  });
  it('names a non-image file', () =>
    expectDataErrorAsync(
      () => readFolder(join(D, 'folder', 'nonimage')),
      join(D, 'folder', 'nonimage', 'a', 'notes.txt'),
      /not an image that can be decoded/,
    ));
  it('names a class folder with no images', () =>
    expectDataErrorAsync(() => readFolder(join(D, 'folder', 'empty-class')), join(D, 'folder', 'empty-class', 'b'), /no image files/));
  it('names an unreadable file (a dangling link)', async () => {
    const root = mkdtempSync(join(tmpdir(), 'bowcnn-folder-'));
    mkdirSync(join(root, 'a'));
    copyFileSync(join(D, 'folder', 'good', 'dark', 'd0.png'), join(root, 'a', 'ok.png'));
    symlinkSync(join(root, 'missing.png'), join(root, 'a', 'gone.png'));
    await expectDataErrorAsync(() => readFolder(root), join(root, 'a', 'gone.png'), /cannot be read/);
  });
});
