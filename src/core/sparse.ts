/**
 * Rows of features in compressed sparse row form (CSR): what BoW histograms and their kernel maps are (most
 * bins of a pooled histogram are empty), so that their memory grows with the nonzeros, not with N x D, and the
 * linear SVM visits only the nonzeros. Row i's entries are indices[indptr[i] .. indptr[i+1]) (increasing) and
 * the values beside them.
 */
export interface Csr {
  n: number;
  d: number;
  indptr: Int32Array; // [n + 1]
  indices: Int32Array; // [nnz], increasing within a row
  values: Float32Array; // [nnz]
}

/** The nonzeros of dense rows `[n, d]` (row-major). */
export function csrFromDense(x: ArrayLike<number>, n: number, d: number): Csr {
  let nnz = 0;
  for (let i = 0; i < n * d; i++) if (x[i] !== 0) nnz++;
  const indptr = new Int32Array(n + 1),
    indices = new Int32Array(nnz),
    values = new Float32Array(nnz);
  let o = 0;
  for (let r = 0; r < n; r++) {
    for (let j = 0; j < d; j++) {
      const v = x[r * d + j];
      if (v !== 0) {
        indices[o] = j;
        values[o++] = v;
      }
    }
    indptr[r + 1] = o;
  }
  return { n, d, indptr, indices, values };
}

/** The rows as a dense `[n, d]` array. */
export function csrToDense(m: Csr): Float32Array {
  const out = new Float32Array(m.n * m.d);
  for (let r = 0; r < m.n; r++) for (let k = m.indptr[r]; k < m.indptr[r + 1]; k++) out[r * m.d + m.indices[k]] = m.values[k];
  return out;
}

/** Row blocks stacked (all of the same width). */
export function csrConcat(parts: Csr[]): Csr {
  if (parts.length === 1) return parts[0];
  const n = parts.reduce((a, p) => a + p.n, 0),
    nnz = parts.reduce((a, p) => a + p.indptr[p.n], 0);
  const d = parts[0]?.d ?? 0;
  const indptr = new Int32Array(n + 1),
    indices = new Int32Array(nnz),
    values = new Float32Array(nnz);
  let r0 = 0,
    o = 0;
  for (const p of parts) {
    if (p.d !== d) throw new Error(`csrConcat: rows of ${p.d} and ${d} values`);
    for (let r = 0; r < p.n; r++) indptr[r0 + r + 1] = o + p.indptr[r + 1];
    indices.set(p.indices.subarray(0, p.indptr[p.n]), o);
    values.set(p.values.subarray(0, p.indptr[p.n]), o);
    o += p.indptr[p.n];
    r0 += p.n;
  }
  return { n, d, indptr, indices, values };
}

/** scores[i][k] = rows[i] . W[:,k] + b[k], W `[d, K]` row-major: the linear classifier on sparse rows. */
export function csrTimes(m: Csr, W: Float32Array, b: Float32Array, K: number): Float32Array {
  const out = new Float32Array(m.n * K);
  for (let r = 0; r < m.n; r++) {
    const o = r * K;
    for (let k = 0; k < K; k++) out[o + k] = b[k];
    for (let t = m.indptr[r]; t < m.indptr[r + 1]; t++) {
      const v = m.values[t],
        w = m.indices[t] * K;
      for (let k = 0; k < K; k++) out[o + k] += v * W[w + k];
    }
  }
  return out;
}

/** Rows [from, to) as their own block (views of the same arrays where they can be). */
export function csrRows(m: Csr, from: number, to: number): Csr {
  const a = m.indptr[from],
    e = m.indptr[to];
  const indptr = new Int32Array(to - from + 1);
  for (let r = from; r <= to; r++) indptr[r - from] = m.indptr[r] - a;
  return { n: to - from, d: m.d, indptr, indices: m.indices.subarray(a, e), values: m.values.subarray(a, e) };
}

/**
 * Blocks of rows of the same images side by side (`[n, d1 + d2 + ...]`): a feature union. With l2, each
 * block's row is scaled to unit L2 norm first (a zero row stays zero); then block b's values are multiplied
 * by weights[b].
 */
export function csrUnion(parts: readonly Csr[], weights: readonly number[], l2: boolean): Csr {
  const n = parts[0]?.n ?? 0;
  for (const p of parts) if (p.n !== n) throw new Error(`csrUnion: blocks of ${p.n} and ${n} rows`);
  const nnz = parts.reduce((a, p) => a + p.indptr[p.n], 0);
  const d = parts.reduce((a, p) => a + p.d, 0);
  const indptr = new Int32Array(n + 1),
    indices = new Int32Array(nnz),
    values = new Float32Array(nnz);
  let o = 0;
  for (let r = 0; r < n; r++) {
    let off = 0;
    for (let b = 0; b < parts.length; b++) {
      const p = parts[b];
      const a = p.indptr[r],
        e = p.indptr[r + 1];
      let scale = weights[b] ?? 1;
      if (l2) {
        let s = 0;
        for (let k = a; k < e; k++) s += p.values[k] * p.values[k];
        scale = s > 0 ? scale / Math.sqrt(s) : 0;
      }
      for (let k = a; k < e; k++) {
        indices[o] = off + p.indices[k];
        values[o++] = p.values[k] * scale;
      }
      off += p.d;
    }
    indptr[r + 1] = o;
  }
  return { n, d, indptr, indices, values };
}
