/**
 * Stage 4: BoW pooling = global pooling of each of the M maps, and its extension, the spatial pyramid:
 * for each level L, the map is cut into L x L regions (rows floor(r H / L) .. floor((r+1) H / L) - 1) and
 * each region pooled. Output `[N,1,1,M * sum L^2]`, regions in order: level, then row, then column.
 *   op:          'sum' (a histogram), 'mean' or 'max'
 *   regionNorm:  per region: 'none' | 'l1' | 'l2' | 'power' (sign(x) sqrt|x|, Hellinger when x >= 0)
 *   norm:        on the whole vector afterwards: 'none' | 'l1' | 'l2'
 */
import * as tf from '@tensorflow/tfjs';
import type { LayerCard } from '../core/card.js';
import { PoolingSchema, type PoolingConfig } from '../config/stages.js';
import type { Csr } from '../core/sparse.js';
import { check4d, defineStage, type CodePooler, type Maps, type Region } from './stage.js';

export type { PoolingConfig };
export type PoolOp = 'sum' | 'mean' | 'max';
export type VecNorm = 'none' | 'l1' | 'l2' | 'power';

/**
 * sign(x) sqrt|x| with a bounded gradient: d/dx = 1 / (2 sqrt(|x| + 1e-4)) (at most 50) instead of
 * 1 / (2 sqrt|x|), which is infinite at 0 and turns into NaN (0 x inf) wherever a histogram bin is empty —
 * as it is for most bins once soft coding underflows (bownet fine-tuning with beta 50 diverged in its
 * second epoch on Fashion-MNIST). The value is exact. The encodings' signed square root (ops/normalize.ts) takes
 * the exact derivative above |x| = 1e-6 instead: each was measured in the training it serves.
 */
export const signedSqrt: (x: tf.Tensor) => tf.Tensor = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
  save([x]);
  return {
    value: tf.mul(tf.sign(x), tf.sqrt(tf.abs(x))),
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) =>
      tf.div(tf.mul(dy as tf.Tensor, 0.5), tf.sqrt(tf.add(tf.abs(saved[0]), 1e-4))),
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (x: tf.Tensor) => tf.Tensor;

export function vecNorm(x: tf.Tensor, how: VecNorm, axis = -1): tf.Tensor {
  return tf.tidy(() => {
    if (how === 'l1') return tf.div(x, tf.add(tf.sum(tf.abs(x), axis, true), 1e-12));
    if (how === 'l2') return tf.div(x, tf.add(tf.sqrt(tf.sum(tf.square(x), axis, true)), 1e-12));
    if (how === 'power') return signedSqrt(x);
    return x.clone();
  });
}

export function regionBounds(size: number, level: number): [number, number][] {
  return Array.from({ length: level }, (_, r) => [Math.floor((r * size) / level), Math.floor(((r + 1) * size) / level)]);
}

type PoolSettings = { op: PoolOp; pyramid: number[]; regionNorm: VecNorm; norm: 'none' | 'l1' | 'l2' };

/** The pooled (pyramid) histograms of `[N,H,W,M]` maps: `[N,1,1,M x regions]` (the stage's computation, also BowStage's). */
export function poolMaps(x: Maps, config: PoolSettings): Maps {
  return poolingOps(config).apply(x);
}

function poolingOps(config: PoolSettings) {
  const regions = config.pyramid.reduce((a, l) => a + l * l, 0);
  const finish = (parts: tf.Tensor[], n: number, m: number) => {
    const v = parts.length === 1 ? parts[0] : tf.concat(parts, 1);
    return tf.reshape(vecNorm(v, config.norm), [n, 1, 1, m * regions]) as tf.Tensor4D;
  };
  /** The pyramid's regions of an h x w map, level by level, row-major: [r0, r1, c0, c1], ends exclusive. */
  const regionsOf = (h: number, w: number): Region[] => {
    const out: Region[] = [];
    for (const L of config.pyramid)
      for (const [r0, r1] of regionBounds(h, L)) for (const [c0, c1] of regionBounds(w, L)) out.push([r0, r1, c0, c1]);
    return out;
  };
  /** A region's factor from the sums of its values' magnitudes (s1) and squares (s2): 'l1', 'l2', else 1. */
  const regionScale = (s1: number, s2: number) =>
    config.regionNorm === 'l1' ? 1 / (s1 + 1e-12) : config.regionNorm === 'l2' ? 1 / (Math.sqrt(s2) + 1e-12) : 1;
  /** A region's value normalised: the signed square root ('power'), else scaled. */
  const regionValue = (v: number, scale: number) => (config.regionNorm === 'power' ? Math.sign(v) * Math.sqrt(Math.abs(v)) : v * scale);
  /** The whole row's norm ('l1', 'l2') over values[from, to), in place: apply()'s last step, on the nonzeros. */
  const normaliseRow = (values: Float32Array, from: number, to: number) => {
    if (config.norm === 'none') return;
    let s = 0;
    for (let j = from; j < to; j++) s += config.norm === 'l1' ? Math.abs(values[j]) : values[j] * values[j];
    const scale = 1 / ((config.norm === 'l1' ? s : Math.sqrt(s)) + 1e-12);
    for (let j = from; j < to; j++) values[j] *= scale;
  };
  /** Each region's pooled codes `[n, R, m]` (op already applied) normalised as the config says: apply()'s output. */
  const poolSums = (hist: Float32Array, [n, R, m]: [number, number, number]): Maps =>
    tf.tidy(() => {
      const all = tf.tensor3d(hist, [n, R, m]);
      const parts = Array.from({ length: R }, (_, r) =>
        vecNorm(tf.reshape(tf.slice(all, [0, r, 0], [n, 1, m]), [n, m]), config.regionNorm),
      );
      return finish(parts, n, m);
    });
  return {
    /**
     * The same output as apply(oneHot(idx, M)) for hard-assignment codes, without building the one-hot
     * `[N,H,W,M]` maps: each region's histogram is counted from the word indices `[N,H,W]`.
     */
    poolIndices(idx: Int32Array, [n, h, w]: [number, number, number], m: number): Maps {
      const regionList = regionsOf(h, w);
      const R = regionList.length;
      const hist = new Float32Array(n * R * m);
      for (let b = 0; b < n; b++)
        regionList.forEach(([r0, r1, c0, c1], r) => {
          const o = (b * R + r) * m;
          for (let y = r0; y < r1; y++) for (let x = c0; x < c1; x++) hist[o + idx[(b * h + y) * w + x]]++;
          const area = (r1 - r0) * (c1 - c0);
          if (config.op === 'mean' && area > 0) for (let k = 0; k < m; k++) hist[o + k] /= area;
          if (config.op === 'max') for (let k = 0; k < m; k++) hist[o + k] = hist[o + k] > 0 ? 1 : 0;
        });
      return poolSums(hist, [n, R, m]);
    },
    regions: regionsOf,
    poolSums,
    /** poolSums' numbers as sparse rows: each region normalised on its nonzeros, at r M + k as in the dense output. */
    poolSumsRows(hist: Float32Array, [n, R, m]: [number, number, number]): Csr {
      const indptr = new Int32Array(n + 1);
      let nnz = 0;
      for (let i = 0; i < hist.length; i++) if (hist[i] !== 0) nnz++;
      const indices = new Int32Array(nnz),
        values = new Float32Array(nnz);
      let o = 0;
      for (let b = 0; b < n; b++) {
        const rowStart = o;
        for (let r = 0; r < R; r++) {
          const h = hist.subarray((b * R + r) * m, (b * R + r + 1) * m);
          let s1 = 0,
            s2 = 0;
          for (let k = 0; k < m; k++) {
            s1 += Math.abs(h[k]);
            s2 += h[k] * h[k];
          }
          const scale = regionScale(s1, s2);
          for (let k = 0; k < m; k++)
            if (h[k] !== 0) {
              indices[o] = r * m + k;
              values[o++] = regionValue(h[k], scale);
            }
        }
        normaliseRow(values, rowStart, o);
        indptr[b + 1] = o;
      }
      return { n, d: m * R, indptr, indices, values };
    },
    /**
     * poolIndices' numbers as sparse rows (what the classifier gets when the rest of the chain takes rows):
     * each region's histogram counted from the word indices of its positions, normalised on its nonzeros.
     * Row b's entries are region r's words k at r M + k, increasing, as in the dense `[N,1,1,M x regions]`.
     */
    poolIndicesRows(idx: Int32Array, [n, h, w]: [number, number, number], m: number): Csr {
      const regionList = regionsOf(h, w);
      const R = regionList.length;
      const count = new Int32Array(m);
      const touched = new Int32Array(h * w);
      // each position is counted once per level, and a region has at most m words
      const cap = n * Math.min(m * R, h * w * config.pyramid.length);
      const indices = new Int32Array(cap),
        values = new Float32Array(cap);
      const indptr = new Int32Array(n + 1);
      let o = 0;
      const vals = new Float64Array(Math.min(m, h * w));
      for (let b = 0; b < n; b++) {
        const rowStart = o;
        for (let r = 0; r < R; r++) {
          const [r0, r1, c0, c1] = regionList[r];
          let t = 0;
          for (let y = r0; y < r1; y++)
            for (let x = c0; x < c1; x++) {
              const k = idx[(b * h + y) * w + x];
              if (count[k]++ === 0) touched[t++] = k;
            }
          const words = touched.subarray(0, t).sort();
          const area = (r1 - r0) * (c1 - c0);
          let s1 = 0,
            s2 = 0;
          for (let j = 0; j < t; j++) {
            const c = count[words[j]];
            count[words[j]] = 0;
            const v = config.op === 'mean' ? c / area : config.op === 'max' ? 1 : c;
            vals[j] = v;
            s1 += v;
            s2 += v * v;
          }
          const scale = regionScale(s1, s2);
          for (let j = 0; j < t; j++) {
            indices[o] = r * m + words[j];
            values[o++] = regionValue(vals[j], scale);
          }
        }
        normaliseRow(values, rowStart, o);
        indptr[b + 1] = o;
      }
      return { n, d: m * R, indptr, indices: indices.slice(0, o), values: values.slice(0, o) };
    },
    apply(x: Maps): Maps {
      check4d('pooling', x);
      const [n, h, w, m] = x.shape;
      return tf.tidy(() => {
        const parts: tf.Tensor[] = [];
        for (const L of config.pyramid) {
          const rows = regionBounds(h, L),
            cols = regionBounds(w, L);
          for (const [r0, r1] of rows)
            for (const [c0, c1] of cols) {
              if (r1 <= r0 || c1 <= c0) {
                parts.push(tf.zeros([n, m]));
                continue;
              }
              const reg = L === 1 ? x : tf.slice(x, [0, r0, c0, 0], [n, r1 - r0, c1 - c0, m]);
              const p = config.op === 'max' ? tf.max(reg, [1, 2]) : config.op === 'mean' ? tf.mean(reg, [1, 2]) : tf.sum(reg, [1, 2]);
              parts.push(vecNorm(p, config.regionNorm));
            }
        }
        return finish(parts, n, m);
      });
    },
  };
}

export const pooling = defineStage<typeof PoolingSchema, CodePooler>(
  'pooling',
  PoolingSchema,
  (config, name) => {
    const ops = poolingOps(config);
    const regions = config.pyramid.reduce((a, l) => a + l * l, 0);
    return {
      poolIndices: ops.poolIndices,
      poolIndicesRows: ops.poolIndicesRows,
      op: config.op,
      regions: ops.regions,
      poolSums: ops.poolSums,
      poolSumsRows: ops.poolSumsRows,
      apply: (x: Maps): Maps => ops.apply(x),
      outShape: (s) => [1, 1, (s[2] ?? 0) * regions],
      card(s): LayerCard {
        const m = s[2] ?? 0;
        const pyr = config.pyramid.length === 1 && config.pyramid[0] === 1 ? 'global' : `pyramid [${config.pyramid.join(', ')}]`;
        return {
          stage: name,
          classic: `BoW ${config.op} pooling, ${pyr}`,
          cnn: `global ${config.op} pooling over ${regions} region${regions > 1 ? 's' : ''}`,
          mapsIn: m,
          mapsOut: m * regions,
          params: 0,
          origin: 'none',
          receptiveField: Math.max(s[0], s[1]),
          kernel: [s[0], s[1]],
          stride: 1,
          outShape: [1, 1, m * regions],
          connections: s[0] * s[1] * m,
        };
      },
      toLayers: () => [{ className: 'BowStage', config: { stage: 'pooling', stageConfig: { ...config }, name } }],
      ablations: () => [
        ...(config.op !== 'max' ? [{ change: `${config.op} -> max pooling`, overrides: { op: 'max' } }] : []),
        ...(regions > 1 ? [{ change: 'no pyramid (global pooling only)', overrides: { pyramid: [1] } }] : []),
      ],
    };
  },
  { parameterFree: true },
);
