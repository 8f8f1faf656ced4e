// Multi-scale dense SIFT (the dsift stage with sizes 4, 6, 8, 10: PHOW) against vl_phow's computation in
// VLFeat 0.9.21 (fixtures/vlfeat/phow.json, made by fixtures/make/vlfeat-phow.mjs with VLFeat's C API), in
// each colour mode. Every frame the stage gives is one of vl_phow's at that scale (the same centre); per
// scale, the descriptors agree to cosine >= 0.98, and the frames the contrast threshold zeroes are the same.
// The stage keeps the largest size's frame grid (docs/stages.md): a smaller size's frames beyond it, which
// vl_phow also gives, are not compared.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { tf, useBackend } from '../../src/backend/index.js';
import { colourMaps, denseSift } from '../../src/stages/dsift.js';
import { FIX } from '../helpers.js';

interface Scale {
  size: number;
  frames: [number, number, number][];
  descriptors: number[][];
}
interface Mode {
  step: number;
  contrastThreshold: number;
  windowSize: number;
  images: { height: number; width: number; scales: Scale[] }[];
}
const F = JSON.parse(readFileSync(join(FIX, 'vlfeat', 'phow.json'), 'utf8')) as {
  images: { height: number; width: number; channels: number; pixels: number[] }[];
  modes: Record<'gray' | 'rgb' | 'hsv' | 'opponent', Mode>;
};
const SIZES = [4, 6, 8, 10];

beforeAll(async () => {
  await useBackend('wasm');
});

describe('PHOW = vl_phow (VLFeat 0.9.21), sizes 4 6 8 10', () => {
  for (const color of ['gray', 'rgb', 'hsv', 'opponent'] as const) {
    for (const [n, image] of F.images.entries())
      it(`${color}, image ${n + 1} (${image.height}x${image.width}): the same frames, each scale's descriptors to cosine >= 0.98, the same frames zeroed`, () => {
        const m = F.modes[color];
        const { height: H, width: W } = image;
        const stage = denseSift({
          sizes: SIZES,
          step: m.step,
          color,
          mode: 'bilinear',
          window: 'triangle',
          padding: 'replicate',
          gaussianWindow: true,
          windowSize: m.windowSize,
          contrastThreshold: m.contrastThreshold,
        });
        const D = color === 'gray' ? 128 : 384;
        const x = tf.tensor4d(image.pixels, [1, H, W, 3]);
        const y = stage.apply(x);
        const [, fy, fxs, d] = y.shape;
        expect(d).toBe(D);
        const fx = fxs / SIZES.length;
        const ours = y.dataSync() as Float32Array;
        tf.dispose([x, y]);
        const maxSize = Math.max(...SIZES);
        for (const [k, size] of SIZES.entries()) {
          const theirs = m.images[n].scales[k];
          expect(theirs.size).toBe(size);
          const at = new Map(theirs.frames.map((f, i) => [`${Number(f[0])},${Number(f[1])}`, i]));
          let dot = 0,
            na = 0,
            nb = 0,
            zeroedHere = 0,
            disagree = 0,
            zeroedThere = 0;
          for (let i = 0; i < fy; i++)
            for (let j = 0; j < fx; j++) {
              // the frame centre, 0-based: 1.5 maxSize + step * index (vl_phow's alignment of every scale)
              const key = `${1.5 * maxSize + m.step * j},${1.5 * maxSize + m.step * i}`;
              const idx = at.get(key);
              expect(idx, `${color} size ${size}: frame (${key}) is one of vl_phow's`).toBeDefined();
              const ref = theirs.descriptors[idx as number];
              const o = ((i * fx + j) * SIZES.length + k) * D;
              let sa = 0,
                sb = 0;
              for (let t = 0; t < D; t++) {
                dot += ours[o + t] * ref[t];
                na += ours[o + t] ** 2;
                nb += ref[t] ** 2;
                sa += ours[o + t];
                sb += ref[t];
              }
              if (sa === 0) zeroedHere++;
              if (sb === 0) zeroedThere++;
              if ((sa === 0) !== (sb === 0)) disagree++;
            }
          expect(zeroedHere).toBe(zeroedThere);
          expect(disagree, 'frames zeroed by one side only').toBe(0);
          expect(dot / Math.sqrt(na * nb), `${color} size ${size}`).toBeGreaterThanOrEqual(0.98);
        }
        stage.dispose?.();
      });
  }

  it('colour spaces: opponent is the 1x1 conv of its formulas, hsv is rgb2hsv, checked on chosen pixels', () => {
    const px = [
      [0.8, 0.2, 0.1],
      [0.1, 0.9, 0.4],
      [0.3, 0.3, 0.3],
      [0.2, 0.4, 0.9],
      [0, 0, 0],
    ];
    const x = tf.tensor4d(px.flat(), [1, 1, px.length, 3]);
    const opp = colourMaps(x, 'opponent').dataSync();
    const hsv = colourMaps(x, 'hsv').dataSync();
    px.forEach(([r, g, b], i) => {
      const mu = 0.3 * r + 0.59 * g + 0.11 * b;
      expect(opp[3 * i]).toBeCloseTo(mu, 6);
      expect(opp[3 * i + 1]).toBeCloseTo((r - g) / Math.SQRT2 + 0.01 * mu, 6);
      expect(opp[3 * i + 2]).toBeCloseTo((r + g - 2 * b) / Math.sqrt(6) + 0.01 * mu, 6);
      const v = Math.max(r, g, b),
        dd = v - Math.min(r, g, b);
      let h = 0;
      if (dd > 0) {
        if (r === v) h = (g - b) / dd;
        if (g === v) h = 2 + (b - r) / dd;
        if (b === v) h = 4 + (r - g) / dd;
        h /= 6;
        if (h < 0) h += 1;
      }
      expect(hsv[3 * i]).toBeCloseTo(h, 6);
      expect(hsv[3 * i + 1]).toBeCloseTo(v > 0 ? dd / v : 0, 6);
      expect(hsv[3 * i + 2]).toBeCloseTo(v, 6);
    });
    x.dispose();
  });
});
