/**
 * What the teaching page draws for the encodings beyond the bag of words (the fisher, vlad and bossanova
 * stages), from a stage's output vector and the descriptors it encoded. Browser-safe plain loops.
 *
 * Each encoding is drawn as the two things its layers compute:
 *   - the assignment map: each descriptor frame coloured by its word. For a Fisher vector the word is the
 *     Gaussian of highest posterior (the argmax of the 1x1 conv over [x, x²] before its softmax); for VLAD
 *     and BossaNova, the nearest centre;
 *   - the pooled vector, as one bar per word of the pyramid's first region (the whole image when the pyramid
 *     starts at 1), in the stage's layout:
 *       fisher     |u_k| for each Gaussian k (the mean gradients), then |v_k| (the variance gradients)
 *       vlad       |v_k|, the norm of centre k's sum of residuals
 *       bossanova  word m's B distance bins side by side (M·B bars), then the BoW term (M bars)
 */

export type EncodingKind = 'fisher' | 'vlad' | 'bossanova';

export const ENCODING_KINDS: readonly string[] = ['fisher', 'vlad', 'bossanova'];

export interface EncodingBars {
  /** the bar heights */
  values: Float32Array;
  /** the word (Gaussian, centre) of each bar, for its colour */
  word: Int32Array;
  /** bars per group (a separator is drawn between groups); 0: none */
  group: number;
  /** what the bars are, for the note under them */
  what: string;
}

/** The words K (Gaussians, centres) of an encoding stage, from its config. */
export function wordsOf(kind: EncodingKind, config: Record<string, unknown>): number {
  return Number(kind === 'fisher' ? config.components : config.words);
}

const regionsOf = (config: Record<string, unknown>) => ((config.pyramid as number[] | undefined) ?? [1]).reduce((a, l) => a + l * l, 0);

const norm = (v: Float32Array, from: number, n: number) => {
  let s = 0;
  for (let i = from; i < from + n; i++) s += v[i] * v[i];
  return Math.sqrt(s);
};

/** The bars of an encoding's output `v` (one image's vector, `[R·per]`) for its first region. */
export function encodingBars(kind: EncodingKind, config: Record<string, unknown>, v: Float32Array): EncodingBars {
  const K = wordsOf(kind, config);
  const R = regionsOf(config);
  const per = v.length / R;
  if (!(K >= 1) || !Number.isInteger(per)) throw new RangeError(`${kind}: ${v.length} values do not split into ${R} regions of ${K} words`);
  const first = (config.pyramid as number[] | undefined)?.[0] === 1 || !config.pyramid ? 'the whole image' : 'the first pyramid region';
  if (kind === 'fisher') {
    const D = per / (2 * K);
    const values = new Float32Array(2 * K);
    for (let k = 0; k < K; k++) {
      values[k] = norm(v, k * D, D);
      values[K + k] = norm(v, K * D + k * D, D);
    }
    return {
      values,
      word: Int32Array.from({ length: 2 * K }, (_, i) => i % K),
      group: K,
      what: `Fisher vector of ${first}: |u_k| (mean gradients) then |v_k| (variance gradients) for each of ${K} Gaussians (${2 * K}x${D} values)`,
    };
  }
  if (kind === 'vlad') {
    const D = per / K;
    return {
      values: Float32Array.from({ length: K }, (_, k) => norm(v, k * D, D)),
      word: Int32Array.from({ length: K }, (_, k) => k),
      group: 0,
      what: `VLAD of ${first}: |v_k|, the norm of each of ${K} centres' residual sums (${K}x${D} values)${
        config.normalizeComponents === false ? '' : '; each block is L2-normalised, so a bar says whether its centre took descriptors'
      }`,
    };
  }
  const B = per / K - 1;
  return {
    values: v.slice(0, per),
    word: Int32Array.from({ length: per }, (_, i) => (i < K * B ? Math.floor(i / B) : i - K * B)),
    group: B,
    what: `BossaNova of ${first}: for each of ${K} words, ${B} bins of descriptor-to-word distances, then the BoW term`,
  };
}

/**
 * Each frame's word: `x` is `[P, D]` descriptors. Fisher: `weights` = [means `[K,D]`, variances `[K,D]`,
 * priors `[K]`], the Gaussian of highest log posterior; vlad and bossanova: `weights[0]` = centres `[K,D]`,
 * the nearest.
 */
export function assignments(kind: EncodingKind, weights: Float32Array[], x: Float32Array, d: number): Int32Array {
  const p = x.length / d;
  const [c, variances, priors] = weights;
  const K = c.length / d;
  const out = new Int32Array(p);
  for (let i = 0; i < p; i++) {
    let best = -Infinity;
    for (let k = 0; k < K; k++) {
      let s = 0;
      if (kind === 'fisher') {
        s = priors[k] > 1e-6 ? Math.log(priors[k]) : -1e30;
        for (let j = 0; j < d; j++) {
          const s2 = variances[k * d + j];
          s -= 0.5 * (Math.log(s2) + (x[i * d + j] - c[k * d + j]) ** 2 / s2);
        }
      } else for (let j = 0; j < d; j++) s -= (x[i * d + j] - c[k * d + j]) ** 2;
      if (s > best) {
        best = s;
        out[i] = k;
      }
    }
  }
  return out;
}
