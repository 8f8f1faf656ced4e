/**
 * The BossaNova vector of one set of descriptors (Avila et al., CVIU 2013), by plain loops: the reference the
 * bossanova stage and its layer are checked against (ops/bossanova.ts states the definition and its choices).
 * x `[N,D]`, centres `[M,D]`, sigmas `[M]`; returns `[M·(B+1)]`: the distance histograms word by word, then the
 * BoW term weighted by γ, after the signed square root and L2 normalisation.
 */
export interface BossaNovaOptions {
  bins: number;
  lambdaMin: number;
  lambdaMax: number;
  knn: number;
  gamma: number;
}

export function bossanovaEncode(
  x: Float32Array,
  centres: Float32Array,
  sigmas: Float32Array,
  d: number,
  o: BossaNovaOptions,
): Float32Array {
  const n = x.length / d,
    m = centres.length / d,
    B = o.bins;
  const out = new Float64Array(m * (B + 1));
  const dist = new Float64Array(m);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < m; c++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += (x[i * d + j] - centres[c * d + j]) ** 2;
      dist[c] = Math.sqrt(s);
    }
    const sorted = Array.from(dist).sort((a, b) => a - b);
    const kth = sorted[Math.min(o.knn, m) - 1];
    let nearest = 0;
    for (let c = 1; c < m; c++) if (dist[c] < dist[nearest]) nearest = c;
    out[m * B + nearest] += o.gamma / n;
    for (let c = 0; c < m; c++) {
      if (dist[c] > kth) continue;
      const lo = o.lambdaMin * sigmas[c],
        hi = o.lambdaMax * sigmas[c];
      const b = Math.floor((dist[c] - lo) / ((hi - lo) / B));
      if (b >= 0 && b < B) out[c * B + b] += 1 / n;
    }
  }
  let norm = 0;
  for (let t = 0; t < out.length; t++) {
    out[t] = Math.sign(out[t]) * Math.sqrt(Math.abs(out[t]));
    norm += out[t] ** 2;
  }
  const r = new Float32Array(out.length);
  for (let t = 0; t < out.length; t++) r[t] = out[t] / Math.max(Math.sqrt(norm), 1e-12);
  return r;
}
