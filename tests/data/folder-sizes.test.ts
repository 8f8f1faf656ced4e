// Folder datasets at their own size: keep / exact / short / long, grey or colour, train/ and test/ or a
// seeded stratified fraction, subsets chosen before decoding, decoding in bounded batches, and the header
// listing cache. Expected pixels come from the images' own bytes (written here with known values).
import { mkdirSync, mkdtempSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { decodeEntries, listSplits, parseFolderSize, readFolder, targetSize } from '../../src/data/folder.js';
import { dataset } from '../../src/data/registry.js';
import { folderOptions } from '../../src/cli/common.js';
import { subset, splitOff } from '../../src/data/split.js';

/** A w x h grey PNG whose pixel (y, x) is (7 y + 3 x + seed) mod 256. */
async function png(file: string, w: number, h: number, seed: number): Promise<void> {
  const px = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) px[y * w + x] = (7 * y + 3 * x + seed) % 256;
  writeFileSync(
    file,
    await sharp(px, { raw: { width: w, height: h, channels: 1 } })
      .png()
      .toBuffer(),
  );
}

async function tree(layout: Record<string, [number, number][]>): Promise<string> {
  const root = mkdtempSync(join(tmpdir(), 'bowcnn-sizes-'));
  let seed = 0;
  for (const [dir, sizes] of Object.entries(layout)) {
    mkdirSync(join(root, dir), { recursive: true });
    for (const [i, [w, h]] of sizes.entries()) await png(join(root, dir, `i${i}.png`), w, h, seed++);
  }
  return root;
}

describe('folder datasets at their own size', () => {
  it('parses --image-size and refuses what it cannot read, naming it', () => {
    expect(parseFolderSize('keep')).toBe('keep');
    expect(parseFolderSize('256')).toEqual([256, 256]);
    expect(parseFolderSize('240x320')).toEqual([240, 320]);
    expect(parseFolderSize('short:200')).toEqual({ short: 200 });
    expect(parseFolderSize('long:300')).toEqual({ long: 300 });
    expect(() => parseFolderSize('big')).toThrow(/image size 'big': expected keep, N/);
    expect(() => parseFolderSize('0x5')).toThrow(/image size '0x5'/);
    expect(() => parseFolderSize('kep')).toThrow(/image size 'kep' \(did you mean 'keep'\?\)/);
    expect(() => parseFolderSize('shrot:128')).toThrow(/'shrot:128' \(did you mean 'short:128'\?\)/);
    expect(() => folderOptions('mnist', { 'image-size': 'keep' })).toThrow(/--image-size is for folder: datasets/);
    expect(() => folderOptions('folder:x', { 'test-fraction': 1.5 })).toThrow(/--test-fraction 1.5: a fraction/);
    expect(folderOptions('folder:x', { 'image-size': '20x10', channels: '1' })).toEqual({ size: [20, 10], channels: 1 });
  });

  it('keep: each image unchanged, its pixels its own bytes; train/ and test/ kept as they are', async () => {
    const root = await tree({
      'train/a': [
        [12, 9],
        [12, 9],
      ],
      'train/b': [[12, 9]],
      'test/a': [[12, 9]],
      'test/b': [[12, 9]],
    });
    const ds = await dataset(`folder:${root}`, { folder: { size: 'keep', channels: 1, listingCache: false } });
    expect([ds.train.n, ds.test.n, ds.train.height, ds.train.width, ds.train.channels]).toEqual([3, 2, 9, 12, 1]);
    // train/a/i0.png was written with seed 0: pixel (y, x) = 7y + 3x
    for (const [y, x] of [
      [0, 0],
      [4, 7],
      [8, 11],
    ])
      expect(ds.train.pixels[y * 12 + x]).toBe((7 * y + 3 * x) % 256);
    expect(Array.from(ds.train.labels)).toEqual([0, 0, 1]);
  });

  it('keep refuses images of two sizes, naming one of each and the ways out', async () => {
    const root = await tree({ a: [[12, 9]], b: [[10, 9]] });
    await expect(readFolder(root, { size: 'keep', listingCache: false })).rejects.toThrow(
      /b\/i0\.png: is 10x9 \(width x height\), and .*a\/i0\.png is 12x9: --image-size keep needs one size .* short:N .* long:N/,
    );
  });

  it('long:N keeps the whole image, padded by repeating its edges; short:N is the centre N x N', async () => {
    const root = await tree({ a: [[20, 10]] });
    const [long] = [(await readFolder(root, { size: { long: 10 }, channels: 1, listingCache: false })).train];
    expect([long.height, long.width]).toEqual([10, 10]);
    // scaled by 1/2 to 10x5, placed in rows 2..6, the rows above and below copies of its first and last rows
    const row = (r: number) => Array.from(long.pixels.subarray(r * 10, r * 10 + 10));
    expect(row(0)).toEqual(row(2));
    expect(row(1)).toEqual(row(2));
    expect(row(9)).toEqual(row(6));
    expect(row(8)).toEqual(row(6));
    expect(row(3)).not.toEqual(row(2)); // the image itself changes down its rows (7 per source row)
    const short = (await readFolder(root, { size: { short: 10 }, channels: 1, listingCache: false })).train;
    const exact = (await readFolder(root, { size: [10, 10], channels: 1, listingCache: false })).train;
    expect([short.height, short.width]).toEqual([10, 10]);
    expect(Array.from(short.pixels)).toEqual(Array.from(exact.pixels));
  });

  it('a single pool: the test fraction drawn and the subsets chosen before decoding are the draws made on decoded splits', async () => {
    const sizes: [number, number][] = Array.from({ length: 10 }, () => [8, 8]);
    const root = await tree({ a: sizes, b: sizes, c: sizes });
    const opts = { folder: { size: [8, 8] as [number, number], channels: 1 as const, testFraction: 0.3, listingCache: false as const } };
    const picked = await dataset(`folder:${root}`, { ...opts, subset: 9, testSubset: 6, seed: 5 });
    // the reference: everything decoded, then split and subset as splitOff and subset do
    const whole = await readFolder(root, opts.folder);
    const s = splitOff(whole.train, 0.3, 5 + 3);
    const train = subset(s.kept, 9, 5),
      test = subset(s.held, 6, 6);
    expect(Array.from(picked.train.pixels)).toEqual(Array.from(train.pixels));
    expect(Array.from(picked.test.pixels)).toEqual(Array.from(test.pixels));
    expect(Array.from(picked.train.labels)).toEqual(Array.from(train.labels));
  });

  it('decodes in batches of at most `batch` images', async () => {
    const root = await tree({ a: Array.from({ length: 7 }, () => [6, 6] as [number, number]), b: [[6, 6]] });
    const l = listSplits(root);
    const sizes: number[] = [];
    const split = await decodeEntries(l.train, 6, 6, 1, { batch: 3, onBatch: (n) => sizes.push(n) });
    expect(split.n).toBe(8);
    expect(sizes).toEqual([3, 3, 2]);
  });

  it('keep reads the headers once: a second listing comes from the cache, a changed file makes a new one', async () => {
    const root = await tree({ a: [[12, 9]], b: [[12, 9]] });
    const cache = mkdtempSync(join(tmpdir(), 'bowcnn-listing-'));
    const l = listSplits(root);
    expect(await targetSize(l.train, 'keep', cache)).toEqual([9, 12]);
    const files = readdirSync(cache);
    expect(files).toHaveLength(1);
    // the cached listing is what the second run reads: make it say another size and see it come back
    writeFileSync(
      join(cache, files[0]),
      JSON.stringify([
        [5, 6],
        [5, 6],
      ]),
    );
    expect(await targetSize(listSplits(root).train, 'keep', cache)).toEqual([5, 6]);
    // touching an image changes its modification time: a new listing, read from the headers
    utimesSync(join(root, 'a', 'i0.png'), new Date(), new Date(Date.now() + 5000));
    expect(await targetSize(listSplits(root).train, 'keep', cache)).toEqual([9, 12]);
    expect(readdirSync(cache)).toHaveLength(2);
  });
});
