/** Scores `[N,K]` (row-major) to labels. */

/** Row-wise argmax (the first maximum wins). */
export function argmax(scores: ArrayLike<number>, k: number): Int32Array {
  const n = scores.length / k;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let b = 0;
    for (let c = 1; c < k; c++) if (scores[i * k + c] > scores[i * k + b]) b = c;
    out[i] = b;
  }
  return out;
}
