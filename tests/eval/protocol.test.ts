// The validation protocol: the choice is made on a split of the training set only (shuffling the test labels
// changes nothing it chose), each candidate's validation accuracy is that of a plain fit-and-score on the same
// split, the best (first of equals) is what the refit takes; resumed and stopped fits are marked, and their
// times count every epoch.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { tf, useBackend } from '../../src/backend/index.js';
import { CnnClassifier } from '../../src/cnn/classifier.js';
import type { Dataset } from '../../src/core/data.js';
import { makeSplit } from '../../src/core/data.js';
import { dataset } from '../../src/data/registry.js';
import { compare } from '../../src/eval/compare.js';
import { fitAndEvaluate } from '../../src/eval/evaluate.js';
import { candidates, choose, validationSplit, withSettings } from '../../src/eval/protocol.js';
import { bowPipeline, readRecipe } from '../../src/pipeline/recipes.js';
import { fitSeconds } from '../../src/report/report.js';
import { argmax } from '../../src/core/scores.js';

let ds: Dataset;
const tmp = (p: string) => mkdtempSync(join(tmpdir(), `bowcnn-protocol-${p}-`));
const small = () => bowPipeline(readRecipe('bow-sift')).set('coding.words', 16).set('coding.sample', 3000);
const lenet = () => new CnnClassifier(readRecipe('lenet5') as never).set('train.epochs', 1).set('train.minSteps', 0);

beforeAll(async () => {
  await useBackend('wasm');
  ds = await dataset('mnist', { subset: 400, testSubset: 150, seed: 5 });
});

describe('the validation protocol', () => {
  it('candidates are every combination, first key slowest; the validation split is stratified and disjoint', () => {
    expect(candidates({ a: [1, 2], b: ['x', 'y'] })).toEqual([
      { a: 1, b: 'x' },
      { a: 1, b: 'y' },
      { a: 2, b: 'x' },
      { a: 2, b: 'y' },
    ]);
    expect(candidates({})).toEqual([{}]);
    const { fit, held } = validationSplit(ds.train, 0.1, 0);
    expect(fit.n + held.n).toBe(400);
    expect(held.n).toBe(40);
    const count = (labels: Int32Array, c: number) => labels.filter((l) => l === c).length;
    for (let c = 0; c < 10; c++) expect(Math.abs(count(held.labels, c) - count(ds.train.labels, c) / 10)).toBeLessThanOrEqual(1);
  });

  it("each candidate's validation accuracy is a plain fit on the rest scored on the split; the first best is chosen", async () => {
    const c = small();
    const space = { 'classifier.C': [0.001, 1, 1000] };
    const rec = await choose(c, ds.train, space, { validation: 0.2, seed: 1, progress: false });
    const { fit, held } = validationSplit(ds.train, 0.2, 1);
    expect(rec.fitImages).toBe(fit.n);
    expect(rec.validationImages).toBe(held.n);
    for (const [i, cand] of rec.candidates.entries()) {
      const k = c.set('classifier.C', space['classifier.C'][i]);
      await k.fit(fit, { seed: 1, progress: false });
      const pred = argmax(await k.scoreSplit(held), 10);
      const acc = pred.reduce((a, p, j) => a + (p === held.labels[j] ? 1 : 0), 0) / held.n;
      expect(cand.validationAccuracy).toBeCloseTo(acc, 12);
      k.dispose();
    }
    const best = Math.max(...rec.candidates.map((x) => x.validationAccuracy));
    expect(rec.chosen).toEqual(rec.candidates.find((x) => x.validationAccuracy === best)?.settings);
    c.dispose();
  }, 120_000);

  it('the choice does not change when the test labels are shuffled (they are never read while choosing)', async () => {
    const perm = Array.from(ds.test.labels).reverse();
    const shuffled: Dataset = {
      ...ds,
      test: makeSplit(ds.test.pixels, Int32Array.from(perm), ds.test.height, ds.test.width, ds.test.channels),
      fingerprint: `${ds.fingerprint}-shuffled`,
    };
    const run = async (d: Dataset) =>
      compare([small(), lenet()], d, {
        out: join(tmp('shuffle'), 'run'),
        progress: false,
        protocol: { kind: 'validation', validation: 0.25 },
      });
    const a = await run(ds);
    const b = await run(shuffled);
    for (let i = 0; i < 2; i++) {
      const pa = a.contenders[i].protocol!,
        pb = b.contenders[i].protocol!;
      expect(pa.candidates.length).toBeGreaterThan(1);
      expect(pb.chosen).toEqual(pa.chosen);
      expect(pb.candidates.map((x) => x.validationAccuracy)).toEqual(pa.candidates.map((x) => x.validationAccuracy));
    }
    // the test scores do change: the labels scored against are not the same
    expect(b.contenders[0].accuracy).not.toBe(a.contenders[0].accuracy);
    expect(a.verdict).toMatch(/^at 400 training images, under the validation protocol, /);
  }, 300_000);

  it("a rerun reads each search's finished candidates back (their part file) and does not fit them again", async () => {
    const out = join(tmp('rerun'), 'run');
    const steps: string[] = [];
    const a = await compare([small()], ds, { out, progress: false, protocol: { kind: 'validation', validation: 0.25 } });
    const file = join(out, 'parts', 'bow-sift.search.json');
    const part = JSON.parse(readFileSync(file, 'utf8')) as { candidates: unknown[]; record: unknown };
    expect(part.candidates).toHaveLength(3);
    expect(part.record).toEqual(a.contenders[0].protocol);
    // a search cut short after its first candidate: the rerun fits only the other two
    writeFileSync(file, JSON.stringify({ ...part, candidates: part.candidates.slice(0, 1), record: undefined }));
    const b = await compare([small()], ds, {
      out,
      progress: false,
      protocol: { kind: 'validation', validation: 0.25 },
      onStep: (m) => steps.push(m),
    });
    expect(steps.filter((m) => /candidate \d\/3/.test(m)).map((m) => /candidate (\d)/.exec(m)![1])).toEqual(['2', '3']);
    expect(b.contenders[0].protocol!.candidates).toEqual(
      a.contenders[0].protocol!.candidates.map((c, i) => (i === 0 ? c : expect.anything())),
    );
    expect(b.contenders[0].protocol!.chosen).toEqual(a.contenders[0].protocol!.chosen);
  }, 120_000);

  it('candidates that differ only in test-time views share one fit, and score as separate fits with those views', async () => {
    const c = lenet()
      .set('train.epochs', 2)
      .searching({ 'train.lr': [0.001, 0.003], 'predict.shifts': [0, 1, 2] });
    const steps: string[] = [];
    const rec = await choose(c, ds.train, c.searchSpace(), { validation: 0.25, seed: 0, progress: false, onStep: (m) => steps.push(m) });
    // two fits (one per learning rate), six candidates
    expect(steps.filter((m) => / on \d+ images/.test(m))).toHaveLength(2);
    expect(rec.candidates.map((x) => x.fitOf ?? null)).toEqual([null, 0, 0, null, 3, 3]);
    expect(rec.candidates.map((x) => x.fitSeconds > 0)).toEqual([true, false, false, true, false, false]);
    // the reference: each candidate fitted on its own (training is deterministic for a seed) and scored
    const { fit, held } = validationSplit(ds.train, 0.25, 0);
    const accs: number[] = [];
    for (const settings of rec.candidates.map((x) => x.settings)) {
      let k = c;
      for (const [p, v] of Object.entries(settings)) k = k.set(p, v);
      await k.fit(fit, { seed: 0, progress: false, validation: held });
      const pred = argmax(await k.scoreSplit(held), 10);
      accs.push(pred.reduce((a, q, j) => a + (q === held.labels[j] ? 1 : 0), 0) / held.n);
      k.dispose();
    }
    expect(rec.candidates.map((x) => x.validationAccuracy)).toEqual(accs);
    // the views do change the scores (else sharing could not be told from refitting)
    expect(new Set(accs.slice(0, 3)).size + new Set(accs.slice(3)).size).toBeGreaterThan(2);
    c.dispose();
  }, 180_000);

  it('a search resumed after its first candidate reads that fit back from its checkpoint for the others; no tensor is left', async () => {
    const c = lenet()
      .set('train.epochs', 2)
      .searching({ 'predict.shifts': [0, 1, 2] });
    const dir = tmp('views');
    const opts = { validation: 0.25, seed: 0, progress: false, checkpointDir: (i: number) => join(dir, `c${i}`) };
    const before = tf.memory().numTensors;
    const whole = await choose(c, ds.train, c.searchSpace(), opts);
    expect(tf.memory().numTensors).toBe(before);
    const steps: string[] = [];
    const resumed = await choose(c, ds.train, c.searchSpace(), {
      ...opts,
      done: whole.candidates.slice(0, 1),
      onStep: (m) => steps.push(m),
    });
    expect(tf.memory().numTensors).toBe(before);
    // candidate 2 refits (reading candidate 1's finished checkpoint), candidate 3 scores that model
    expect(resumed.candidates.map((x) => x.fitOf ?? null)).toEqual([null, 0, 0]);
    expect(resumed.candidates.map((x) => x.validationAccuracy)).toEqual(whole.candidates.map((x) => x.validationAccuracy));
    expect(steps).toHaveLength(2);
    c.dispose();
  }, 120_000);

  it("a set('predict.*') copy borrows a fitted model: dropping the copies (as withSettings does) leaves it to its owner", async () => {
    const n0 = tf.memory().numTensors;
    const c = lenet();
    await c.fit(ds.train, { seed: 0, progress: false });
    const before = await c.scoreSplit(ds.test);
    const next = withSettings(c, { 'predict.shifts': 1, 'train.epochs': 2 });
    expect(await c.scoreSplit(ds.test)).toEqual(before);
    const copy = c.set('predict.shifts', 1);
    copy.dispose();
    expect(await c.scoreSplit(ds.test)).toEqual(before);
    next.dispose();
    c.dispose();
    expect(tf.memory().numTensors).toBe(n0);
  }, 60_000);

  it('refuses to search test-time views with early stopping (the best epoch is scored without them)', async () => {
    const c = lenet()
      .set('train.patience', 1)
      .searching({ 'predict.shifts': [0, 1] });
    await expect(choose(c, ds.train, c.searchSpace(), { validation: 0.25, seed: 0, progress: false })).rejects.toThrow(
      /'predict\.shifts'.*train\.patience/,
    );
    // patience among the searched settings is early stopping too
    const d = lenet().searching({ 'train.patience': [0, 1], 'predict.shifts': [0, 1] });
    await expect(choose(d, ds.train, d.searchSpace(), { validation: 0.25, seed: 0, progress: false })).rejects.toThrow(/train\.patience/);
  });

  it('with early stopping, the refit takes the epochs of the best validation accuracy', async () => {
    const c = new CnnClassifier(readRecipe('lenet5') as never).set('train.epochs', 4).set('train.minSteps', 0).set('train.patience', 1);
    const rec = await choose(c, ds.train, {}, { validation: 0.25, seed: 0, progress: false });
    expect(rec.candidates).toHaveLength(1);
    const curve = rec.candidates[0].curve!;
    const bestAt = curve.reduce((b, p, i) => (p.accuracy > curve[b].accuracy ? i : b), 0);
    expect(rec.chosen).toEqual({ 'train.epochs': bestAt + 1, 'train.patience': 0 });
    expect(rec.candidates[0].validationAccuracy).toBe(curve[bestAt].accuracy);
  }, 120_000);
});

describe('honest fit figures', () => {
  it('a fit stopped by --max-seconds is marked with its epochs; a resumed fit counts every epoch and is marked resumed', async () => {
    const dir = join(tmp('resume'), 'cp');
    const recipe = () => new CnnClassifier(readRecipe('lenet5') as never).set('train.epochs', 3).set('train.minSteps', 0);
    const first = await fitAndEvaluate(recipe(), ds, { checkpointDir: dir, maxSeconds: 1e-6, progress: false, timingImages: 0 });
    expect(first.fit.stopped).toEqual({ reason: 'max-seconds', epochs: 1, planned: 3 });
    expect(fitSeconds(first.fit)).toMatch(/stopped by --max-seconds after 1 of 3 epochs/);
    const epoch1 = first.epochs![0].seconds;
    const again = await fitAndEvaluate(recipe(), ds, { checkpointDir: dir, progress: false, timingImages: 0 });
    expect(again.fit.resumedFromEpoch).toBe(0);
    expect(again.fit.stopped).toBeUndefined();
    expect(again.epochs).toHaveLength(3);
    // the time of the epoch made in the first run is part of the resumed fit's
    const later = again.epochs!.slice(1).reduce((a, e) => a + e.seconds, 0);
    expect(again.fit.seconds).toBeGreaterThanOrEqual(epoch1 + later);
    expect(fitSeconds(again.fit)).toMatch(/resumed after epoch 1; every epoch's time counted/);
  }, 120_000);
});
