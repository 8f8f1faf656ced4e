// Fisher vectors, VLAD and the GMM against VLFeat 0.9.21 (fixtures/vlfeat/encodings.json, made by
// fixtures/make/vlfeat-encodings.mjs from VLFeat's own dense SIFT descriptors of MNIST digits): each encoding
// with each flag, on VLFeat's GMM, to cosine >= 0.99999 and a largest difference <= 1e-4 of the largest value;
// our GMM's fit of the training descriptors at least vl_gmm's (the held-out comparison, at a scale where it
// means something, is the bench's); the posteriors against a plain float64 loop.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { tf, useBackend } from '../../src/backend/index.js';
import { fisherEncode } from '../../src/encode/fisher.js';
import { vladEncode } from '../../src/encode/vlad.js';
import { fitGmm, gmmLogLikelihood, gmmPosteriors } from '../../src/learn/gmm.js';
import { FIX } from '../helpers.js';

interface Fixture {
  dimension: number;
  components: number;
  perImage: number;
  trainDescriptors: string;
  heldoutDescriptors: string;
  testDescriptors: string;
  heldoutLogLikelihood: { rand: number; kmeans: number };
  trainLogLikelihood: { rand: number; kmeans: number };
  means: number[];
  variances: number[];
  priors: number[];
  [encoding: string]: unknown;
}
const F = JSON.parse(readFileSync(join(FIX, 'vlfeat', 'encodings.json'), 'utf8')) as Fixture;
const D = F.dimension,
  K = F.components;
const desc = (b64: string) => Float32Array.from(Buffer.from(b64, 'base64'), (q) => q / 512);
const train = desc(F.trainDescriptors),
  heldout = desc(F.heldoutDescriptors),
  test = desc(F.testDescriptors);
const gmm = { means: Float32Array.from(F.means), variances: Float32Array.from(F.variances), priors: Float32Array.from(F.priors) };
const image = (i: number) => test.subarray(i * F.perImage * D, (i + 1) * F.perImage * D);

function close(ours: Float32Array, theirs: number[]) {
  expect(ours.length).toBe(theirs.length);
  let dot = 0,
    a = 0,
    b = 0,
    maxDiff = 0,
    maxAbs = 0;
  for (let i = 0; i < ours.length; i++) {
    dot += ours[i] * theirs[i];
    a += ours[i] ** 2;
    b += theirs[i] ** 2;
    maxDiff = Math.max(maxDiff, Math.abs(ours[i] - theirs[i]));
    maxAbs = Math.max(maxAbs, Math.abs(theirs[i]));
  }
  expect(dot / Math.sqrt(a * b)).toBeGreaterThanOrEqual(0.99999);
  expect(maxDiff).toBeLessThanOrEqual(1e-4 * maxAbs);
}

beforeAll(async () => {
  await useBackend('wasm');
});

describe('encodings against VLFeat 0.9.21', () => {
  it('the GMM posteriors (a 1x1 conv over [x, x²], then a softmax) are a plain float64 loop', () => {
    const n = 40;
    const { posteriors } = gmmPosteriors({ ...gmm, components: K, dimension: D }, test, n);
    for (let i = 0; i < n; i += 7) {
      const logp = Array.from({ length: K }, (_, k) => {
        let s = Math.log(gmm.priors[k]) - (D / 2) * Math.log(2 * Math.PI);
        for (let j = 0; j < D; j++) {
          const v = gmm.variances[k * D + j];
          s -= 0.5 * (Math.log(v) + (test[i * D + j] - gmm.means[k * D + j]) ** 2 / v);
        }
        return s;
      });
      const m = Math.max(...logp);
      const z = logp.reduce((a, l) => a + Math.exp(l - m), 0);
      for (let k = 0; k < K; k++) expect(posteriors[i * K + k]).toBeCloseTo(Math.exp(logp[k] - m) / z, 4);
    }
  });

  for (const [name, opts] of [
    ['fisher', {}],
    ['fisherImproved', { improved: true }],
    ['fisherFastImproved', { fast: true, improved: true }],
  ] as const)
    it(`fisherEncode ${JSON.stringify(opts)} is vl_fisher_encode's (${name})`, async () => {
      const want = F[name] as number[][];
      for (let i = 0; i < want.length; i++) close(await fisherEncode(image(i), gmm, opts), want[i]);
      // the same from tensors
      const x = tf.tensor2d(image(0), [F.perImage, D]);
      const g = { means: tf.tensor2d(gmm.means, [K, D]), variances: tf.tensor2d(gmm.variances, [K, D]), priors: tf.tensor1d(gmm.priors) };
      close(await fisherEncode(x, g, opts), want[0]);
      tf.dispose([x, g.means, g.variances, g.priors]);
    });

  for (const [name, opts] of [
    ['vlad', {}],
    ['vladComponents', { normalizeComponents: true }],
    ['vladSqrtComponents', { squareRoot: true, normalizeComponents: true }],
    ['vladMass', { normalizeMass: true }],
    ['vladUnnormalized', { unnormalized: true }],
  ] as const)
    it(`vladEncode ${JSON.stringify(opts)}, hard assignments, is vl_vlad_encode's (${name})`, async () => {
      const want = F[name] as number[][];
      for (let i = 0; i < want.length; i++) close(await vladEncode(image(i), gmm.means, { ...opts, dimension: D }), want[i]);
    });

  it("vladEncode with given soft assignments (the GMM posteriors) is vl_vlad_encode's", async () => {
    const want = F.vladSoft as number[][];
    for (let i = 0; i < want.length; i++) {
      const { posteriors } = gmmPosteriors({ ...gmm, components: K, dimension: D }, image(i), F.perImage);
      close(
        await vladEncode(image(i), gmm.means, { assignments: posteriors, squareRoot: true, normalizeComponents: true, dimension: D }),
        want[i],
      );
    }
  });

  it('fitGmm fits the training descriptors at least as well as vl_gmm (random and k-means initialisation), and EM never lowers the likelihood', async () => {
    const lls: number[] = [];
    const g = await fitGmm(train, { components: K, dimension: D, seed: 0, restarts: 1, onIter: (it) => lls.push(it.logLikelihood) });
    for (let i = 1; i < lls.length; i++) expect(lls[i]).toBeGreaterThanOrEqual(lls[i - 1] - 1e-6 * Math.abs(lls[i - 1]));
    expect(g.logLikelihood).toBeCloseTo(lls[lls.length - 1], 6);
    // our log-likelihood of VLFeat's own GMM is VLFeat's (the same formula): the comparison is like for like
    const theirs = gmmLogLikelihood({ ...gmm, components: K, dimension: D }, train, train.length / D);
    expect(Math.abs(theirs - F.trainLogLikelihood.rand) / Math.abs(F.trainLogLikelihood.rand)).toBeLessThan(1e-5);
    const unseen = gmmLogLikelihood({ ...gmm, components: K, dimension: D }, heldout, heldout.length / D);
    expect(Math.abs(unseen - F.heldoutLogLikelihood.rand) / Math.abs(F.heldoutLogLikelihood.rand)).toBeLessThan(1e-5);
    const best = await fitGmm(train, { components: K, dimension: D, seed: 0 });
    expect(best.logLikelihood).toBeGreaterThanOrEqual(Math.max(F.trainLogLikelihood.rand, F.trainLogLikelihood.kmeans));
    // a proper mixture: priors sum to 1, every variance at or above the floor
    expect(best.priors.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    expect(Math.min(...best.variances)).toBeGreaterThanOrEqual(Math.fround(1e-4));
  }, 120_000);

  it('fisherEncode given the same GMM object again, after its values changed in place, encodes with the new values', async () => {
    const g = { means: Float32Array.from(gmm.means), variances: Float32Array.from(gmm.variances), priors: Float32Array.from(gmm.priors) };
    await fisherEncode(image(0), g, { improved: true });
    for (let i = 0; i < g.means.length; i++) g.means[i] += 0.01 * Math.sin(i);
    const again = await fisherEncode(image(0), g, { improved: true });
    const fresh = await fisherEncode(
      image(0),
      { means: Float32Array.from(g.means), variances: g.variances, priors: g.priors },
      { improved: true },
    );
    expect(Array.from(again)).toEqual(Array.from(fresh));
    const before = await fisherEncode(image(0), gmm, { improved: true });
    expect(Array.from(again)).not.toEqual(Array.from(before));
  });
});
