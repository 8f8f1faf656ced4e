/**
 * Runs a pipeline's stages over a batch, fusing what the stages say they can fuse. A stage that emits
 * word indices (hard coding: CodeEmitter) followed by one that pools indices (CodePooler) runs as one
 * step: the indices `[N,H,W]` are counted into the region histograms, the same numbers as pooling the
 * one-hot maps, without materialising `[N,H,W,M]` (500 MB per batch of 256 at M = 1024 and 22x22
 * frames). The stages themselves never change; only the execution does.
 *
 * Dense SIFT chains run as one native pass where the kernels are in use (passes/sift.ts).
 *
 * runRows goes on from there in sparse rows (CSR, core/sparse.ts), one per image: a pooler that gives its
 * histograms as rows, then every stage that maps rows to rows (the kernel map), so that the classifier's
 * input is held as its nonzeros, not as N x D.
 */
import * as tf from '@tensorflow/tfjs';
import { csrFromDense, csrToDense, type Csr } from '../core/sparse.js';
import { isCodeEmitter, isCodePooler, isRowMap, type Maps, type Stage } from '../stages/stage.js';
import { fusedSift } from './sift.js';

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
    }
    swap(s.apply(m));
  }
  return m === x ? (x.clone() as Maps) : m;
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
        const n: number = rows.n,
          d: number = rows.d;
        swap(tf.tensor4d(csrToDense(rows), [n, 1, 1, d]));
        rows = null;
        swap(s.apply(m));
      }
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
    swap(s.apply(m));
  }
  if (rows) return rows;
  const n = m.shape[0];
  const out = csrFromDense((await m.data()) as Float32Array, n, n ? m.size / n : 0);
  if (m !== x) m.dispose();
  return out;
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
