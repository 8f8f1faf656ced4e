// What the page draws for Fisher vectors, VLAD and BossaNova, against the package's own encoders: the bars
// split each encoder's vector by word (their squares add up to it; a word that takes no descriptor has no
// bar), and the assignment map agrees with the GMM's posteriors and with VLAD's hard assignment.
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../src/backend/index.js';
import { bossanovaEncode } from '../../src/encode/bossanova.js';
import { fisherEncode } from '../../src/encode/fisher.js';
import { hardAssignments, vladEncode } from '../../src/encode/vlad.js';
import { type Gmm, gmmPosteriors } from '../../src/learn/gmm.js';
import { assignments, encodingBars } from '../../src/models/encoding-view.js';
import { randArray } from '../helpers.js';

beforeAll(async () => {
  await useBackend('wasm');
});

const [K, D, N] = [4, 5, 60];

/** A GMM whose component 3 lies far from every descriptor: it takes none of them. */
function gmm(): Gmm {
  const means = randArray(K * D, 2).map((v) => v * 0.5);
  for (let j = 0; j < D; j++) means[3 * D + j] = 50;
  const variances = randArray(K * D, 3).map((v) => 0.3 + Math.abs(v));
  return { means, variances, priors: Float32Array.from([0.3, 0.3, 0.3, 0.1]), components: K, dimension: D };
}

const sumSq = (v: ArrayLike<number>) => Array.from(v).reduce((a, b) => a + b * b, 0);

describe('the page view of the encodings', () => {
  it('Fisher: 2K bars whose squares add to the vector, none for a Gaussian that takes no descriptor; the map is the posteriors argmax', async () => {
    const g = gmm();
    const x = randArray(N * D, 4);
    const fv = await fisherEncode(x, g, { improved: false });
    const b = encodingBars('fisher', { components: K, pyramid: [1] }, fv);
    expect(b.values.length).toBe(2 * K);
    expect(sumSq(b.values)).toBeCloseTo(sumSq(fv), 3);
    expect(b.values[3]).toBe(0);
    expect(b.values[K + 3]).toBe(0);
    expect(Array.from(b.word)).toEqual([0, 1, 2, 3, 0, 1, 2, 3]);
    const { posteriors } = gmmPosteriors(g, x, N);
    const words = assignments('fisher', [g.means, g.variances, g.priors], x, D);
    for (let i = 0; i < N; i++) {
      const row = Array.from(posteriors.subarray(i * K, (i + 1) * K));
      expect(row[words[i]]).toBeCloseTo(Math.max(...row), 6);
    }
  });

  it('VLAD: a bar per centre, the norm of its residual sum; the map is the hard assignment', async () => {
    const g = gmm();
    const x = randArray(N * D, 5);
    const v = await vladEncode(x, g.means, { unnormalized: true, dimension: D });
    const b = encodingBars('vlad', { words: K, pyramid: [1] }, v);
    expect(sumSq(b.values)).toBeCloseTo(sumSq(v), 3);
    expect(b.values[3]).toBe(0);
    const hard = hardAssignments(x, N, D, g.means, K);
    const words = assignments('vlad', [g.means], x, D);
    for (let i = 0; i < N; i++) expect(hard[i * K + words[i]]).toBe(1);
  });

  it('BossaNova: B bins a word then the BoW term; only the first region of a pyramid', () => {
    const g = gmm();
    const x = randArray(N * D, 6);
    const o = { bins: 3, lambdaMin: 0, lambdaMax: 3, knn: 2, gamma: 0.5 };
    const one = bossanovaEncode(
      x,
      g.means,
      Float32Array.from({ length: K }, () => 1),
      D,
      o,
    );
    const twoRegions = Float32Array.from([...one, ...one.map((v) => v + 1)]);
    const b = encodingBars('bossanova', { words: K, bins: 3, pyramid: [1, 1] }, twoRegions);
    expect(Array.from(b.values)).toEqual(Array.from(one));
    expect(b.group).toBe(3);
    expect(Array.from(b.word)).toEqual([0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 0, 1, 2, 3]);
    // the BoW term counts each descriptor at its nearest word: the map's words
    const words = assignments('bossanova', [g.means], x, D);
    const counts = new Array(K).fill(0);
    for (const w of words) counts[w]++;
    const bow = Array.from(one.slice(K * 3));
    for (let k = 0; k < K; k++) expect(bow[k] > 0).toBe(counts[k] > 0);
  });

  it('refuses a vector that does not split into its regions and words', () => {
    expect(() => encodingBars('vlad', { words: 3, pyramid: [1, 2] }, new Float32Array(16))).toThrow(
      /16 values do not split into 5 regions/,
    );
  });
});
