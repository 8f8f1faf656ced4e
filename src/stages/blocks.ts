/**
 * HOG's cells inside blocks (Dalal and Triggs; OpenCV's HOGDescriptor): from orientation maps `[N,H,W,B]`, for
 * each block of `cells` x `cells` cells of `cellSize` pixels, placed every `stride` pixels, the histogram of
 * each of its cells. A block at (by, bx) covers pixels y0 = by * stride ... y0 + side - 1 (side = cells *
 * cellSize), the same for x, and pixel (i, j) of the block adds its orientation maps to cell (cy, cx) with
 *
 *   weight(i, j, cy, cx) = g(i) g(j) tri(i, cy) tri(j, cx),
 *   tri(i, c) = max(0, 1 - |(i + 1/2) / cellSize - 1/2 - c|)     (bilinear spatial binning)
 *   g(i) = exp(-(i - side/2)^2 / (2 sigma^2)), sigma = side / 4   (the Gaussian block window; 'none': 1)
 *
 * so a pixel is shared between the 2 x 2 nearest cell centres of its block, and only of its block: a cell
 * near the block's edge loses the share it would have had beyond. (OpenCV computes exactly these weights,
 * with the Gaussian's centre at side/2, not (side - 1)/2.)
 *
 * As a CNN layer this is one depthwise convolution, kernel side x side, stride `stride`, depth multiplier
 * cells^2, with those fixed weights: output channel b * cells^2 + (cx * cells + cy) is cell (cy, cx)'s bin b
 * (the depthwise order; OpenCV orders a block's values cell by cell, the same numbers permuted).
 */
import * as tf from '@tensorflow/tfjs';
import type { LayerCard } from '../core/card.js';
import { BlocksSchema } from '../config/stages.js';
import { check4d, defineStage, StageError, type Maps } from './stage.js';

export type { BlocksConfig } from '../config/stages.js';

/** The block geometry: side in pixels, stride, cells per block (cells^2), and the blocks that fit an h x w map. */
export function blockGeometry(cellSize: number, cells: number, stride: number | undefined, h: number, w: number) {
  const side = cellSize * cells;
  const st = stride ?? cellSize;
  return { side, stride: st, perBlock: cells * cells, blocksY: Math.floor((h - side) / st) + 1, blocksX: Math.floor((w - side) / st) + 1 };
}

/** The weights as plain numbers: `weights[i][j][cx * cells + cy]` for block pixel (i, j). */
export function blockWeights(cellSize: number, cells: number, sigma: number | 'auto' | 'none'): number[][][] {
  const side = cellSize * cells;
  const s = sigma === 'auto' ? side / 4 : sigma;
  const g = (i: number) => (s === 'none' ? 1 : Math.exp(-((i - side / 2) ** 2) / (2 * s * s)));
  const tri = (i: number, c: number) => Math.max(0, 1 - Math.abs((i + 0.5) / cellSize - 0.5 - c));
  return Array.from({ length: side }, (_, i) =>
    Array.from({ length: side }, (_, j) => {
      const out: number[] = [];
      for (let cx = 0; cx < cells; cx++) for (let cy = 0; cy < cells; cy++) out.push(g(i) * g(j) * tri(i, cy) * tri(j, cx));
      return out;
    }),
  );
}

/** The depthwise conv weights `[side, side, B, cells^2]`. */
export function blockFilter(cellSize: number, cells: number, sigma: number | 'auto' | 'none', bins: number): tf.Tensor4D {
  const w = blockWeights(cellSize, cells, sigma);
  const side = w.length,
    m = cells * cells;
  const f = new Float32Array(side * side * bins * m);
  for (let i = 0; i < side; i++)
    for (let j = 0; j < side; j++)
      for (let b = 0; b < bins; b++) for (let c = 0; c < m; c++) f[((i * side + j) * bins + b) * m + c] = w[i][j][c];
  return tf.tensor4d(f, [side, side, bins, m]);
}

export const blocks = defineStage('blocks', BlocksSchema, (config, name) => {
  const filters = new Map<number, tf.Tensor4D>();
  const filter = (bins: number) => {
    let f = filters.get(bins);
    if (!f) {
      f = tf.keep(blockFilter(config.cellSize, config.cells, config.sigma, bins));
      filters.set(bins, f);
    }
    return f;
  };
  const geometry = (h: number, w: number) => {
    const g = blockGeometry(config.cellSize, config.cells, config.stride, h, w);
    if (g.blocksY < 1 || g.blocksX < 1) throw new StageError(name, `a ${g.side}x${g.side} px block does not fit a ${h}x${w} map`);
    // as OpenCV's HOGDescriptor requires: the blocks tile the map exactly, no border row or column left out
    const left = [(h - g.side) % g.stride, (w - g.side) % g.stride];
    if (left[0] || left[1])
      throw new StageError(
        name,
        `${g.side}x${g.side} px blocks every ${g.stride} px do not tile a ${h}x${w} map (${left[0]} rows and ${left[1]} columns would be left out): choose cellSize, cells and stride so that the image side minus the block side is a multiple of the stride`,
      );
    return g;
  };
  return {
    apply(x: Maps): Maps {
      check4d(name, x);
      const g = geometry(x.shape[1], x.shape[2]);
      return tf.tidy(() => tf.depthwiseConv2d(x, filter(x.shape[3]), g.stride, 'valid'));
    },
    outShape: (s) => {
      const g = geometry(s[0], s[1]);
      return [g.blocksY, g.blocksX, (s[2] ?? 9) * g.perBlock];
    },
    card(s): LayerCard {
      const g = geometry(s[0], s[1]);
      const c = s[2] ?? 9;
      return {
        stage: name,
        classic: `HOG cells: ${config.cells}x${config.cells} cells of ${config.cellSize}x${config.cellSize} px per block, every ${g.stride} px${config.sigma === 'none' ? '' : ', Gaussian block window'}`,
        cnn: `depthwise conv ${g.side}x${g.side} /${g.stride}, ${c}->${c * g.perBlock} (fixed bilinear weights)`,
        kernel: [g.side, g.side],
        stride: g.stride,
        dilation: 1,
        mapsIn: c,
        mapsOut: c * g.perBlock,
        params: g.side * g.side * c * g.perBlock,
        origin: 'handcrafted',
        receptiveField: g.side,
        outShape: [g.blocksY, g.blocksX, c * g.perBlock],
        connections: g.blocksY * g.blocksX * c * g.perBlock * g.side * g.side,
      };
    },
    toLayers: (s) => {
      const g = geometry(s[0], s[1]);
      return [
        {
          className: 'DepthwiseConv2D',
          config: { kernelSize: g.side, strides: g.stride, depthMultiplier: g.perBlock, padding: 'valid', useBias: false, name },
          weights: [blockFilter(config.cellSize, config.cells, config.sigma, s[2] ?? 9)],
        },
      ];
    },
    pictures: () => {
      const w = blockWeights(config.cellSize, config.cells, config.sigma);
      const m = config.cells * config.cells;
      const data = Array.from({ length: m }, (_, c) => w.map((row) => row.map((v) => v[c])));
      const labels = Array.from({ length: m }, (_, c) => `cell (${c % config.cells}, ${Math.floor(c / config.cells)})`);
      return [{ kind: 'filters' as const, title: 'the block window of each cell (HOG, handcrafted)', data, labels }];
    },
    dispose: () => {
      for (const f of filters.values()) f.dispose();
      filters.clear();
    },
  };
});
