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
 *
 * A pipeline's stages compile into one plan (compilePlan: union, fused SIFT, encode-and-pool, plain stage
 * steps) that runStages and runRows execute with one walker, and stageDistances walks step by step.
 */
import * as tf from '@tensorflow/tfjs';
import { csrFromDense, csrToDense, csrUnion, type Csr } from '../core/sparse.js';
import { isUnion, type UnionStage } from '../stages/union.js';
import { type CodeEmitter, type CodePooler, isCodeEmitter, isCodePooler, isRowMap, type Maps, type Stage } from '../stages/stage.js';
import { fusedSift } from './sift.js';
import { meanCosineDistance } from '../ops/distance.js';

/**
 * One step of an execution plan: what runs at stages [at, at + length). A plan is compiled once per run from
 * what the stages say they offer (never from their names), and the maps, rows and distances modes all walk it.
 */
export type Step =
  | { kind: 'union'; at: number; length: 1; union: UnionStage }
  | { kind: 'sift'; at: number; length: number; run: (x: Maps) => Maps }
  | { kind: 'code-pool'; at: number; length: 2; emitter: CodeEmitter; pooler: CodePooler }
  | { kind: 'stage'; at: number; length: 1; stage: Stage };

/**
 * The plan of stages [from, to) for inputs like x (its backend decides whether the native SIFT pass runs): a
 * union's branches each as a fused chain of their own; a dense SIFT chain as one native pass; a coding stage
 * that emits word indices or code sums followed by a pooler that takes them, as one encode-and-pool step;
 * any other stage as itself.
 */
export function compilePlan(stages: readonly Stage[], x: Maps, from = 0, to = stages.length): Step[] {
  const plan: Step[] = [];
  for (let i = from; i < to; ) {
    const s = stages[i];
    const next = stages[i + 1];
    const sift = isUnion(s) ? null : fusedSift(stages, i, to, x);
    let step: Step;
    if (isUnion(s)) step = { kind: 'union', at: i, length: 1, union: s };
    else if (sift) step = { kind: 'sift', at: i, length: sift.length, run: sift.run };
    else if (i + 1 < to && isCodeEmitter(s) && isCodePooler(next)) step = { kind: 'code-pool', at: i, length: 2, emitter: s, pooler: next };
    else step = { kind: 'stage', at: i, length: 1, stage: s };
    plan.push(step);
    i += step.length;
  }
  return plan;
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

/** Hard coding's word indices of x, read back (`[N,H,W]` and its shape), or null where the stage codes softly. */
async function indicesOf(s: CodeEmitter, x: Maps): Promise<{ idx: Int32Array; shape: [number, number, number] } | null> {
  const t = s.wordIndices(x);
  if (!t) return null;
  const [n, h, w] = t.shape;
  const idx = (await t.data()) as Int32Array; // an asynchronous read: webgpu has no fast synchronous one
  t.dispose();
  return { idx, shape: [n, h, w] };
}

/**
 * Walks a plan over x: the one executor of the maps and rows modes. Its state is dense maps or sparse rows
 * (one per image, `[N, D]`): a union and an encode-and-pool step with a rows form give rows (with `preferRows`,
 * or where no dense fused form exists), a stage that maps rows to rows keeps them, any other stage takes dense
 * maps. The same numbers either way; x stays the caller's.
 */
async function execute(plan: readonly Step[], x: Maps, preferRows: boolean): Promise<{ maps: Maps | null; rows: Csr | null }> {
  let m: Maps = x;
  let rows: Csr | null = null;
  const swap = (next: Maps) => {
    if (m !== x) m.dispose();
    m = next;
  };
  const toRows = (r: Csr) => {
    if (m !== x) m.dispose();
    m = x;
    rows = r;
  };
  const dense = (): Maps => {
    if (rows) {
      swap(rowsToMaps(rows));
      rows = null;
    }
    return m;
  };
  for (const step of plan) {
    if (step.kind === 'stage') {
      const s = step.stage;
      if (rows && isRowMap(s)) rows = s.applyRows(rows);
      else swap(s.apply(dense()));
      continue;
    }
    if (step.kind === 'union') {
      toRows(await unionRows(step.union, dense()));
      continue;
    }
    if (step.kind === 'sift') {
      swap(step.run(dense()));
      continue;
    }
    const { emitter: e, pooler: p } = step;
    const input = dense();
    const ind = await indicesOf(e, input);
    if (ind) {
      if (p.poolIndicesRows && (preferRows || !p.poolIndices)) toRows(p.poolIndicesRows(ind.idx, ind.shape, e.words()));
      else swap(p.poolIndices(ind.idx, ind.shape, e.words()));
      continue;
    }
    const sums = p.poolSums || p.poolSumsRows ? await codeSums(e, p, input) : null;
    if (sums && p.poolSumsRows && (preferRows || !p.poolSums)) toRows(p.poolSumsRows(sums.hist, sums.shape));
    else if (sums && p.poolSums) swap(p.poolSums(sums.hist, sums.shape));
    else {
      // neither side fused: the two stages' own apply
      const codes = e.apply(input);
      const pooled = p.apply(codes);
      codes.dispose();
      swap(pooled);
    }
  }
  return { maps: rows ? null : m === x ? (x.clone() as Maps) : m, rows };
}

/** Stages [from, to) applied to x; x stays the caller's, the result is new. */
export async function runStages(stages: readonly Stage[], x: Maps, from = 0, to = stages.length): Promise<Maps> {
  const { maps, rows } = await execute(compilePlan(stages, x, from, to), x, false);
  return maps ?? rowsToMaps(rows as Csr);
}

/**
 * Stages [from, to) applied to x, the result as sparse rows `[N, D]`: rows from the fused coding and pooling
 * where the stages allow, else the dense maps' nonzeros. The same numbers as runStages.
 */
export async function runRows(stages: readonly Stage[], x: Maps, from = 0, to = stages.length): Promise<Csr> {
  const { maps, rows } = await execute(compilePlan(stages, x, from, to), x, true);
  if (rows) return rows;
  const m = maps as Maps;
  const n = m.shape[0];
  const out = csrFromDense((await m.data()) as Float32Array, n, n ? m.size / n : 0);
  m.dispose();
  return out;
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
  const plain = async (s: Stage) => {
    swap(s.apply(ma), s.apply(mb));
    out[s.name] = await meanCosineDistance(ma, mb);
  };
  for (const step of compilePlan(stages, a)) {
    if (step.kind === 'stage') await plain(step.stage);
    else if (step.kind === 'union') {
      // the union's output from its branches' fused rows (a branch's one-hot codes are never built)
      swap(rowsToMaps(await unionRows(step.union, ma)), rowsToMaps(await unionRows(step.union, mb)));
      out[step.union.name] = await meanCosineDistance(ma, mb);
    } else if (step.kind === 'sift') {
      // the chain's inner maps for their distances (each pair disposed once measured), its output in one pass
      let ia: Maps = ma,
        ib: Maps = mb;
      for (let j = step.at; j < step.at + step.length - 1; j++) {
        const na = stages[j].apply(ia),
          nb = stages[j].apply(ib);
        if (ia !== ma) tf.dispose([ia, ib]);
        ia = na;
        ib = nb;
        out[stages[j].name] = await meanCosineDistance(ia, ib);
      }
      if (ia !== ma) tf.dispose([ia, ib]);
      swap(step.run(ma), step.run(mb));
      out[stages[step.at + step.length - 1].name] = await meanCosineDistance(ma, mb);
    } else {
      const { emitter: e, pooler: p } = step;
      const ia = await indicesOf(e, ma),
        ib = await indicesOf(e, mb);
      if (ia && ib) {
        let same = 0;
        for (let q = 0; q < ia.idx.length; q++) if (ia.idx[q] === ib.idx[q]) same++;
        out[e.name] = 1 - same / Math.max(1, ia.idx.length);
        swap(p.poolIndices(ia.idx, ia.shape, e.words()), p.poolIndices(ib.idx, ib.shape, e.words()));
        out[p.name] = await meanCosineDistance(ma, mb);
      } else {
        await plain(e);
        await plain(p);
      }
    }
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
