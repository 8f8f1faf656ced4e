// The input rule against plain references and properties: area averaging keeps the mean and matches a
// plain block mean; MNIST's own test images come through the rule (nearly) unchanged; a drawing inverted,
// upscaled or made transparent comes back to the same input; Fashion-MNIST's framing fits the longer side.
import { describe, expect, it } from 'vitest';
import { dataset } from '../../src/data/registry.js';
import { applyRule, frameObject, framePhoto, framingOf, type RawImage, resizeArea, ruleFor } from '../../src/data/input-rule.js';

const native = async (name: string, n: number) => {
  const ds = await dataset(name, { testSubset: n, seed: 2 });
  return Array.from({ length: n }, (_, i) => ds.test.pixels.subarray(i * 784, (i + 1) * 784));
};
/** Plain loop: a 28x28 image upscaled k times (nearest), as 8-bit values, through `f`. */
const upscale = (px: Uint8Array, k: number, f: (v: number) => number[]) => {
  const side = 28 * k;
  const c = f(0).length;
  const out = new Uint8Array(side * side * c);
  for (let y = 0; y < side; y++)
    for (let x = 0; x < side; x++) out.set(f(px[Math.floor(y / k) * 28 + Math.floor(x / k)]), (y * side + x) * c);
  return { data: out, width: side, height: side, channels: c } as RawImage;
};
const meanAbs = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i] - b[i]);
  return s / a.length;
};

describe('the input rule', () => {
  it('area averaging: a plain block mean when the factor is whole, the mean kept for any factor', () => {
    const w = 12,
      h = 9;
    const src = Float32Array.from({ length: w * h }, (_, i) => ((i * 37) % 11) / 10);
    const out = resizeArea(src, w, h, 1, 4, 3);
    for (let y = 0; y < 3; y++)
      for (let x = 0; x < 4; x++) {
        let s = 0;
        for (let dy = 0; dy < 3; dy++) for (let dx = 0; dx < 3; dx++) s += src[(3 * y + dy) * w + 3 * x + dx];
        expect(out[y * 4 + x]).toBeCloseTo(s / 9, 6);
      }
    const mean = (a: Float32Array) => a.reduce((p, q) => p + q, 0) / a.length;
    expect(mean(resizeArea(src, w, h, 1, 5, 7))).toBeCloseTo(mean(src), 5);
  });

  it('frames by the dataset: MNIST digits, Fashion-MNIST objects, photos for the rest', () => {
    expect(framingOf('mnist')).toBe('digit');
    expect(framingOf('fashion-mnist')).toBe('object');
    expect(framingOf('FashionMNIST')).toBe('object');
    expect(framingOf('cifar10')).toBe('photo');
    expect(ruleFor({ dataset: 'cifar10', inShape: [32, 32, 3] })).toEqual({ framing: 'photo', height: 32, width: 32, channels: 3 });
  });

  it("MNIST's own test images come through nearly unchanged, and so do the same digits drawn black on white at 280x280 or black on transparent", async () => {
    const rule = ruleFor({ dataset: 'mnist', inShape: [28, 28, 1] });
    for (const px of await native('mnist', 20)) {
      const x = Float32Array.from(px, (v) => v / 255);
      const same = applyRule({ data: px, width: 28, height: 28, channels: 1 }, rule).pixels;
      expect(meanAbs(same, x)).toBeLessThan(0.06);
      const onWhite = applyRule(
        upscale(px, 10, (v) => [255 - v]),
        rule,
      );
      expect(onWhite.notes.join(' ')).toMatch(/inverted/);
      expect(meanAbs(onWhite.pixels, x)).toBeLessThan(0.08);
      const transparent = applyRule(
        upscale(px, 10, (v) => [0, 0, 0, v]),
        rule,
      );
      expect(transparent.notes.join(' ')).toMatch(/composited on white/);
      expect(meanAbs(transparent.pixels, onWhite.pixels)).toBeLessThan(0.02);
      expect(transparent.warnings).toEqual([]);
    }
  });

  it('a Fashion-MNIST image placed dark on a larger white canvas comes back to its own framing', async () => {
    const rule = ruleFor({ dataset: 'fashion-mnist', inShape: [28, 28, 1] });
    for (const px of await native('fashion-mnist', 20)) {
      const W = 90,
        H = 120;
      const canvas = new Uint8Array(W * H).fill(255);
      for (let y = 0; y < 56; y++) for (let x = 0; x < 56; x++) canvas[(30 + y) * W + 17 + x] = 255 - px[(y >> 1) * 28 + (x >> 1)];
      const r = applyRule({ data: canvas, width: W, height: H, channels: 1 }, rule);
      const x = Float32Array.from(px, (v) => v / 255);
      expect(meanAbs(r.pixels, x)).toBeLessThan(0.06);
    }
  });

  it('object framing fits the longer side and centres; photo framing covers and crops; warnings for colour and shape', () => {
    // a 4x2 bright bar on a dark 10x10 image: trimmed to 4x2, fitted to 8 wide, so 4 high, centred in 8x8
    const g = new Float32Array(100);
    for (let y = 3; y < 5; y++) for (let x = 2; x < 6; x++) g[y * 10 + x] = 1;
    const o = frameObject(g, 10, 10, 1, 8, 8);
    for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) expect(o[y * 8 + x]).toBe(y >= 2 && y < 6 ? 1 : 0);
    // an image of the target size is unchanged by photo framing
    const p = Float32Array.from({ length: 6 * 6 * 3 }, (_, i) => (i % 7) / 7);
    expect(Array.from(framePhoto(p, 6, 6, 3, 6, 6))).toEqual(Array.from(p));
    const colour: RawImage = {
      data: Uint8Array.from({ length: 40 * 10 * 3 }, (_, i) => (i % 3 === 0 ? 250 : 10)),
      width: 40,
      height: 10,
      channels: 3,
    };
    const w = applyRule(colour, ruleFor({ dataset: 'mnist', inShape: [28, 28, 1] })).warnings.join(' ');
    expect(w).toMatch(/colour image into a model trained on grey images/);
    expect(w).toMatch(/extreme aspect ratio \(10x40\)/);
  });
});
