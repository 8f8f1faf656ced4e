/**
 * Runs a pipeline's stages over a batch, fusing what the stages say they can fuse. A stage that emits
 * word indices (hard coding: CodeEmitter) followed by one that pools indices (CodePooler) runs as one
 * step (soft and triangle codes likewise, pooled as they are made: CodeEmitter.codeSums): the indices `[N,H,W]` are counted into the region histograms, the same numbers as pooling the
 * one-hot maps, without materialising `[N,H,W,M]` (500 MB per batch of 256 at M = 1024 and 22x22
 * frames). The stages themselves never change; only the execution does.
 *
 * Dense SIFT chains run as one native pass where the kernels are in use (passes/sift.ts). A feature union
 * runs each branch as a chain of its own, in rows, and puts the rows side by side (stages/union.ts).
 *
 * runRows goes on from there in sparse rows (CSR, core/sparse.ts), one per image: a pooler that gives its
 * histograms as rows, then every stage that maps rows to rows (the kernel map), so that the classifier's
 * input is held as its nonzeros, not as N x D.
 */
import * as tf from '@tensorflow/tfjs';
import { csrFromDense, csrToDense, csrUnion, type Csr } from '../core/sparse.js';
import { isUnion, type UnionStage } from '../stages/union.js';
import { type CodeEmitter, type CodePooler, isCodeEmitter, isCodePooler, isRowMap, type Maps, type Stage } from '../stages/stage.js';
import { fusedSift } from './sift.js';
import { meanCosineDistance } from '../ops/distance.js';

/** Stages [from, to) applied to x; x stays the caller's, the result is new. */
export async function runStages(stages: readonly Stage[], x: Maps, from = 0, to = stages.length): Promise<Maps> {
  let m: Maps = x;
  const swap = (next: Maps) => {
    if (m !== x) m.dispose();
    m = next;
  };
  for (let i = from; i < to; i++) {
    const s = stages[i];
    const next = stages[i + 1];
    if (isUnion(s)) {
      swap(rowsToMaps(await unionRows(s, m)));
      continue;
    }
    const sift = fusedSift(stages, i, to, m);
    if (sift) {
      swap(sift.run(m));
      i += sift.length - 1;
      continue;
    }
    if (i + 1 < to && isCodeEmitter(s) && isCodePooler(next)) {
      const idx = s.wordIndices(m);
      if (idx) {
        const [n, h, w] = idx.shape;
        const data = (await idx.data()) as Int32Array; // an asynchronous read: webgpu has no fast synchronous one
        idx.dispose();
        swap(next.poolIndices(data, [n, h, w], s.words()));
        i++;
        continue;
      }
      const sums = await codeSums(s, next, m);
      if (sums && next.poolSums) {
        swap(next.poolSums(sums.hist, sums.shape));
        i++;
        continue;
      }
    }
    swap(s.apply(m));
  }
  return m === x ? (x.clone() as Maps) : m;
}

/** Soft or triangle codes of x pooled into the pooler's regions `[N, R, M]` (never `[N,H,W,M]`), or null. */
async function codeSums(
  s: CodeEmitter,
  pool: CodePooler,
  x: Maps,
): Promise<{ hist: Float32Array; shape: [number, number, number] } | null> {
  if (!s.codeSums || !pool.regions || !pool.op) return null;
  const [n, h, w] = x.shape;
  const regions = pool.regions(h, w);
  const hist = await s.codeSums(x, regions, pool.op);
  return hist ? { hist, shape: [n, regions.length, s.words()] } : null;
}

/** Rows `[N, D]` as the maps `[N,1,1,D]` that stages without a rows form take. */
export const rowsToMaps = (rows: Csr): Maps => tf.tensor4d(csrToDense(rows), [rows.n, 1, 1, rows.d]);

/** A union's branches over x, each run as its own chain (fused, in rows), side by side: union.apply's numbers. */
async function unionRows(u: UnionStage, x: Maps): Promise<Csr> {
  const parts: Csr[] = [];
  for (const b of u.branches()) parts.push(await runRows(b.stages, x));
  return csrUnion(
    parts,
    u.branches().map((b) => b.weight),
    u.l2,
  );
}

/**
 * Stages [from, to) applied to x, the result as sparse rows `[N, D]`: rows from the fused coding and pooling
 * where the stages allow, else the dense maps' nonzeros. The same numbers as runStages.
 */
export async function runRows(stages: readonly Stage[], x: Maps, from = 0, to = stages.length): Promise<Csr> {
  let i = from;
  let m: Maps = x;
  let rows: Csr | null = null;
  const swap = (next: Maps) => {
    if (m !== x) m.dispose();
    m = next;
  };
  for (; i < to; i++) {
    const s = stages[i];
    const next = stages[i + 1];
    if (rows) {
      if (isRowMap(s)) rows = s.applyRows(rows);
      else {
        // a stage without a rows form: back to dense maps for the rest
        swap(rowsToMaps(rows));
        rows = null;
        swap(s.apply(m));
      }
      continue;
    }
    if (isUnion(s)) {
      rows = await unionRows(s, m);
      if (m !== x) m.dispose();
      m = x;
      continue;
    }
    const sift = fusedSift(stages, i, to, m);
    if (sift) {
      swap(sift.run(m));
      i += sift.length - 1;
      continue;
    }
    if (i + 1 < to && isCodeEmitter(s) && isCodePooler(next) && next.poolIndicesRows) {
      const idx = s.wordIndices(m);
      if (idx) {
        const [n, h, w] = idx.shape;
        const data = (await idx.data()) as Int32Array;
        idx.dispose();
        rows = next.poolIndicesRows(data, [n, h, w], s.words());
        if (m !== x) m.dispose();
        m = x;
        i++;
        continue;
      }
    }
    if (i + 1 < to && isCodeEmitter(s) && isCodePooler(next) && next.poolSumsRows) {
      const sums = await codeSums(s, next, m);
      if (sums) {
        rows = next.poolSumsRows(sums.hist, sums.shape);
        if (m !== x) m.dispose();
        m = x;
        i++;
        continue;
      }
    }
    swap(s.apply(m));
  }
  if (rows) return rows;
  const n = m.shape[0];
  const out = csrFromDense((await m.data()) as Float32Array, n, n ? m.size / n : 0);
  if (m !== x) m.dispose();
  return out;
}

/**
 * For each stage, the mean cosine distance between its outputs for images a and for images b (robustness:
 * the same images transformed), stage by stage without holding every output. Hard coding's one-hot maps are
 * never built: the cosine of two one-hot maps of P positions is the share of positions given the same word,
 * and the pooling after it counts the indices (as runStages does), the same numbers as on the maps. Also
 * returns the last stage's output for b (the classifier's scores).
 */
export async function stageDistances(
  stages: readonly Stage[],
  a: Maps,
  b: Maps,
): Promise<{ distances: Record<string, number>; last: Float32Array }> {
  const out: Record<string, number> = {};
  let ma: Maps = a,
    mb: Maps = b;
  const swap = (na: Maps, nb: Maps) => {
    if (ma !== a) ma.dispose();
    if (mb !== b) mb.dispose();
    ma = na;
    mb = nb;
  };
  for (let i = 0; i < stages.length; i++) {
    const s = stages[i],
      next = stages[i + 1];
    if (isUnion(s)) {
      // the union's output from its branches' fused rows (a branch's one-hot codes are never built)
      swap(rowsToMaps(await unionRows(s, ma)), rowsToMaps(await unionRows(s, mb)));
      out[s.name] = await meanCosineDistance(ma, mb);
      continue;
    }
    const sift = fusedSift(stages, i, stages.length, ma);
    if (sift) {
      // the chain's inner maps for their distances (each pair disposed once measured), its output in one pass
      let ia: Maps = ma,
        ib: Maps = mb;
      for (let j = i; j < i + sift.length - 1; j++) {
        const na = stages[j].apply(ia),
          nb = stages[j].apply(ib);
        if (ia !== ma) tf.dispose([ia, ib]);
        ia = na;
        ib = nb;
        out[stages[j].name] = await meanCosineDistance(ia, ib);
      }
      if (ia !== ma) tf.dispose([ia, ib]);
      swap(sift.run(ma), sift.run(mb));
      i += sift.length - 1;
      out[stages[i].name] = await meanCosineDistance(ma, mb);
      continue;
    }
    if (isCodeEmitter(s) && isCodePooler(next)) {
      const ia = s.wordIndices(ma),
        ib = s.wordIndices(mb);
      if (ia && ib) {
        const [n, h, w] = ia.shape;
        const va = (await ia.data()) as Int32Array,
          vb = (await ib.data()) as Int32Array;
        tf.dispose([ia, ib]);
        let same = 0;
        for (let p = 0; p < va.length; p++) if (va[p] === vb[p]) same++;
        out[s.name] = 1 - same / Math.max(1, n * h * w);
        swap(next.poolIndices(va, [n, h, w], s.words()), next.poolIndices(vb, [n, h, w], s.words()));
        out[next.name] = await meanCosineDistance(ma, mb);
        i++;
        continue;
      }
      tf.dispose([ia, ib].filter((t): t is tf.Tensor3D => t !== null));
    }
    swap(s.apply(ma), s.apply(mb));
    out[s.name] = await meanCosineDistance(ma, mb);
  }
  const last = (await mb.data()) as Float32Array;
  swap(a, b);
  return { distances: out, last };
}

/** Each stage's output in order, the whole maps (no fusion): what robustness and the teaching page look at. */
export function stageOutputs(stages: readonly Stage[], x: Maps): Record<string, tf.Tensor> {
  const out: Record<string, tf.Tensor> = {};
  let m: Maps = x;
  for (const s of stages) {
    m = s.apply(m);
    out[s.name] = m;
  }
  return out;
}
