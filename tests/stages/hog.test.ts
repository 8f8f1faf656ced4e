// HOG written with the classic chain's stages (gradient -> orientation -> blocks -> blocknorm -> flatten)
// against OpenCV's HOGDescriptor (opencv-wasm) as the oracle. opencv.js does not bind HOGDescriptor.compute,
// so each descriptor value is read through detectMultiScale: with the SVM detector set to the unit vector
// e_k (bias 0) and the window equal to the image, the one detection's weight is the descriptor's value k.
import { cv } from 'opencv-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { tf, useBackend } from '../../src/backend/index.js';
import { blocknorm } from '../../src/stages/blocknorm.js';
import { applyStages } from '../../src/stages/dsift.js';
import { blockWeights, blocks } from '../../src/stages/blocks.js';
import { flatten } from '../../src/stages/flatten.js';
import { gradient } from '../../src/stages/gradient.js';
import { orientation } from '../../src/stages/orientation.js';
import type { Stage } from '../../src/stages/stage.js';
import { exportBowNet } from '../../src/cnn/bownet.js';
import { argmaxRows, predictSplit } from '../../src/cnn/train.js';
import { dataset } from '../../src/data/registry.js';
import { Pipeline } from '../../src/pipeline/pipeline.js';
import { bowPipeline, readRecipe } from '../../src/pipeline/recipes.js';
import { onBackend } from '../helpers.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

interface Geometry {
  h: number;
  w: number;
  cell: number;
  cells: number;
  stride: number;
  bins: number;
  signed: boolean;
  sigma?: number;
}

function ourHog(g: Geometry): Stage[] {
  return [
    gradient({ difference: 'full', padding: 'reflect' }),
    orientation({ mode: 'bilinear', bins: g.bins, signed: g.signed, offset: 'half' }),
    blocks({ cellSize: g.cell, cells: g.cells, stride: g.stride, sigma: g.sigma ?? 'auto' }),
    blocknorm({ norm: 'l2hys' }),
    flatten(),
  ];
}

function run(stages: Stage[], px: Uint8Array, g: Geometry): Float32Array {
  return tf.tidy(
    () =>
      applyStages(
        stages,
        tf.tensor4d(
          Float32Array.from(px, (v) => v / 255),
          [1, g.h, g.w, 1],
        ),
      ).dataSync() as Float32Array,
  );
}

/** OpenCV's descriptor, value by value, in OpenCV's order (blocks column by column, cells likewise, then bins). */
function opencvHog(px: Uint8Array, g: Geometry): Float64Array {
  const hog = new cv.HOGDescriptor();
  hog.winSize = new cv.Size(g.w, g.h);
  hog.blockSize = new cv.Size(g.cell * g.cells, g.cell * g.cells);
  hog.blockStride = new cv.Size(g.stride, g.stride);
  hog.cellSize = new cv.Size(g.cell, g.cell);
  hog.nbins = g.bins;
  hog.signedGradient = g.signed;
  hog.gammaCorrection = false;
  hog.winSigma = g.sigma ?? -1;
  const img = cv.matFromArray(g.h, g.w, cv.CV_8UC1, Array.from(px));
  const nby = (g.h - g.cell * g.cells) / g.stride + 1,
    nbx = (g.w - g.cell * g.cells) / g.stride + 1;
  const D = nby * nbx * g.cells * g.cells * g.bins;
  const out = new Float64Array(D);
  const w = new Array(D + 1).fill(0);
  for (let k = 0; k < D; k++) {
    w[k] = 1;
    const det = cv.matFromArray(D + 1, 1, cv.CV_32F, w);
    hog.setSVMDetector(det);
    const loc = new cv.RectVector(),
      wts = new cv.DoubleVector();
    hog.detectMultiScale(img, loc, wts, -1, new cv.Size(g.stride, g.stride), new cv.Size(0, 0), 1.05, 0, false);
    if (loc.size() !== 1) throw new Error(`expected one window, got ${loc.size()}`);
    out[k] = wts.get(0);
    loc.delete();
    wts.delete();
    det.delete();
    w[k] = 0;
  }
  img.delete();
  hog.delete();
  return out;
}

/** Where OpenCV's value k sits in our flattened [BY, BX, B * cells^2] blocks (depthwise order b * cells^2 + cell). */
function ourIndex(k: number, g: Geometry): number {
  const m = g.cells * g.cells;
  const nby = (g.h - g.cell * g.cells) / g.stride + 1,
    nbx = (g.w - g.cell * g.cells) / g.stride + 1;
  const b = k % g.bins,
    c = Math.floor(k / g.bins) % m,
    blk = Math.floor(k / g.bins / m);
  const bx = Math.floor(blk / nby),
    by = blk % nby;
  return (by * nbx + bx) * g.bins * m + b * m + c;
}

function image(kind: 'noise' | 'shapes', h: number, w: number, seed: number): Uint8Array {
  let s = seed;
  const rnd = () => {
    s = (s * 16807) % 2147483647;
    return s / 2147483647;
  };
  const px = new Uint8Array(h * w);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      if (kind === 'noise') px[y * w + x] = Math.floor(rnd() * 256);
      else {
        // a disk, a bar and a gradient ramp, with flat areas (zero gradients) between
        const disk = (y - h * 0.4) ** 2 + (x - w * 0.6) ** 2 < (h * 0.22) ** 2 ? 200 : 0;
        const bar = x > w * 0.15 && x < w * 0.3 && y > h * 0.1 ? 120 : 0;
        px[y * w + x] = Math.min(255, disk + bar + (y > h * 0.75 ? Math.floor((x * 255) / w) : 0));
      }
    }
  return px;
}

beforeAll(async () => {
  await useBackend('wasm');
});

describe('HOG from the chain stages', () => {
  const cases: Geometry[] = [
    { h: 28, w: 28, cell: 4, cells: 2, stride: 4, bins: 9, signed: false },
    { h: 32, w: 24, cell: 8, cells: 2, stride: 8, bins: 9, signed: false },
    { h: 28, w: 28, cell: 7, cells: 2, stride: 7, bins: 9, signed: false },
    { h: 24, w: 24, cell: 4, cells: 3, stride: 4, bins: 12, signed: true, sigma: 3.5 },
  ];
  for (const g of cases)
    it(`equals OpenCV's HOGDescriptor: ${g.h}x${g.w}, cell ${g.cell}, ${g.cells}x${g.cells} cells a block, stride ${g.stride}, ${g.bins} ${g.signed ? 'signed' : 'unsigned'} bins`, () => {
      for (const kind of ['noise', 'shapes'] as const) {
        const px = image(kind, g.h, g.w, 7 + g.cell);
        const ours = run(ourHog(g), px, g);
        const ref = opencvHog(px, g);
        expect(ours.length).toBe(ref.length);
        let worst = 0;
        for (let k = 0; k < ref.length; k++) worst = Math.max(worst, Math.abs(ours[ourIndex(k, g)] - ref[k]));
        // OpenCV's angles come from its fast atan2 (about 1e-6 rad here); the rest is float rounding
        expect(worst).toBeLessThan(1e-5);
        expect(Math.max(...ref)).toBeGreaterThan(0.05); // a real descriptor, not all zeros
      }
    });

  it('the block window is bilinear within the block and Gaussian, as a plain formula says', () => {
    const w = blockWeights(4, 2, 'none');
    // pixel 0 of an 8-pixel block: cell centre 0 at 1.5, so its share of cell 0 is 1 - |0.5/4 - 0.5| = 0.625
    expect(w[0][0][0]).toBeCloseTo(0.625 * 0.625, 12);
    expect(w[3][5][0]).toBeCloseTo((1 - Math.abs(3.5 / 4 - 0.5)) * (1 - Math.abs(5.5 / 4 - 0.5)), 12);
    // interior pixels give all of themselves to the block's cells; edge pixels lose the share beyond the block
    const total = (i: number, j: number) => w[i][j].reduce((a, b) => a + b, 0);
    expect(total(3, 4)).toBeCloseTo(1, 12);
    expect(total(0, 4)).toBeCloseTo(0.625, 12);
    const g = blockWeights(4, 2, 2);
    expect(g[4][4][3] / w[4][4][3]).toBeCloseTo(1, 12); // the Gaussian's centre is at side/2 = 4
    expect(g[0][4][0] / w[0][4][0]).toBeCloseTo(Math.exp(-16 / 8), 12);
  });

  it('the cpu backend gives the same descriptor (the wasm depthwise conv and mirror pad against tfjs reference kernels)', async () => {
    const g = cases[0];
    const px = image('shapes', g.h, g.w, 3);
    const onWasm = run(ourHog(g), px, g);
    const onCpu = await onBackend('cpu', () => run(ourHog(g), px, g));
    let worst = 0;
    for (let i = 0; i < onWasm.length; i++) worst = Math.max(worst, Math.abs(onWasm[i] - onCpu[i]));
    expect(worst).toBeLessThan(1e-5);
  });

  it("refuses blocks that do not tile the map, as OpenCV's HOGDescriptor does", () => {
    // 5 px cells: 10 px blocks every 4 px leave (28 - 10) mod 4 = 2 rows and columns out
    expect(() => blocks({ cellSize: 5, cells: 2, stride: 4 }).outShape([28, 28, 9])).toThrow(
      /do not tile a 28x28 map \(2 rows and 2 columns/,
    );
    expect(blocks({ cellSize: 7, cells: 2 }).outShape([28, 28, 9])).toEqual([3, 3, 36]);
  });

  it('refuses a block larger than the image, naming the stage', () => {
    const s = blocks({ cellSize: 8, cells: 2 });
    expect(() => s.outShape([12, 12, 9])).toThrow(/stage 'blocks'.*16x16 px block does not fit a 12x12 map/);
  });
});

describe('the hog-svm recipe', () => {
  it('fits, saves and loads, and its export as a CNN gives its predictions (scores within 1e-4)', async () => {
    const ds = await dataset('mnist', { subset: 600, testSubset: 300, seed: 1 });
    const p = bowPipeline(readRecipe('hog-svm'));
    await p.fit(ds.train, { progress: false, data: { dataset: 'mnist', classes: ds.classes } });
    const a = await p.scoreSplit(ds.test, { progress: false });
    const pa = argmaxRows(a, 10);
    let right = 0;
    for (let i = 0; i < ds.test.n; i++) if (pa[i] === ds.test.labels[i]) right++;
    expect(right / ds.test.n).toBeGreaterThan(0.8); // 600 digits: well above chance (10%)
    const m = exportBowNet(p);
    const b = await predictSplit(m, ds.test, 100);
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
    expect(worst).toBeLessThan(1e-4);
    m.dispose();
    const dir = mkdtempSync(join(tmpdir(), 'bowcnn-hog-'));
    try {
      await p.save(dir);
      const back = await Pipeline.load(dir);
      const c = await back.scoreSplit(ds.test, { progress: false });
      expect(Array.from(c)).toEqual(Array.from(a));
      back.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    p.dispose();
  });
});
