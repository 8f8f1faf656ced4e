// Feature union: the rows side by side against a plain loop; a union of two recipes is each recipe's
// features, L2-normalised and weighted, side by side (the recipes fitted alone are the reference), with the
// dictionary the recipe alone learns; the fused rows equal the stage's tensor apply(); save and load give
// the same scores; and the configs a union refuses say why.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { tf, useBackend } from '../../src/backend/index.js';
import type { Dataset } from '../../src/core/data.js';
import { ConfigError } from '../../src/core/errors.js';
import { csrFromDense, csrToDense, csrUnion } from '../../src/core/sparse.js';
import { dataset } from '../../src/data/registry.js';
import { batchTensor } from '../../src/data/split.js';
import { Pipeline, PipelineError } from '../../src/pipeline/pipeline.js';
import { bowPipeline, parseRecipe, readRecipe, recipeStages } from '../../src/pipeline/recipes.js';
import { union } from '../../src/pipeline/registry.js';
import { applySets } from '../../src/models/resolve.js';
import { checkNames } from '../../src/eval/compare.js';
import type { CodingStage } from '../../src/stages/coding.js';
import { gradient } from '../../src/stages/gradient.js';
import { coding } from '../../src/stages/coding.js';
import { isUnion, type UnionStage } from '../../src/stages/union.js';
import { maxAbsDiff, randArray } from '../helpers.js';

const quiet = { progress: false, batchSize: 128 } as const;
/** bow-sift's stages with a small dictionary (fast on a few hundred images) */
const smallBow = () =>
  recipeStages('bow-sift').map((e) => (e.kind === 'coding' ? { ...e, config: { ...e.config, words: 24, sample: 4000 } } : e));
const unionRecipe = (extra: Record<string, unknown> = {}) => ({
  kind: 'bow',
  name: 'hog-bow-small',
  stages: [
    {
      kind: 'union',
      config: {
        branches: [
          { recipe: 'hog-svm', weight: 2 },
          { name: 'bow', stages: smallBow() },
        ],
        ...extra,
      },
    },
    { kind: 'classifier', config: { kind: 'linear', C: 1 } },
  ],
});

let ds: Dataset;
beforeAll(async () => {
  await useBackend('wasm');
  ds = await dataset('mnist', { subset: 300, testSubset: 100, seed: 3 });
});

describe('csrUnion', () => {
  it('puts blocks side by side, each row scaled to unit L2 norm and then by its weight, as a plain loop does', () => {
    const n = 5,
      da = 7,
      db = 4;
    const a = randArray(n * da, 1).map((v) => (v > 0.3 ? v : 0));
    const b = randArray(n * db, 2).map((v) => Math.max(v, 0));
    a.fill(0, 2 * da, 3 * da); // a zero row stays zero
    const w = [0.5, 3];
    const want = new Float32Array(n * (da + db));
    for (let r = 0; r < n; r++) {
      for (const [blk, d, off, wt] of [
        [a, da, 0, w[0]],
        [b, db, da, w[1]],
      ] as const) {
        let s = 0;
        for (let j = 0; j < d; j++) s += blk[r * d + j] ** 2;
        for (let j = 0; j < d; j++) want[r * (da + db) + off + j] = s > 0 ? (blk[r * d + j] / Math.sqrt(s)) * wt : 0;
      }
    }
    const got = csrUnion([csrFromDense(a, n, da), csrFromDense(b, n, db)], w, true);
    expect(got.d).toBe(da + db);
    expect(maxAbsDiff(csrToDense(got), want)).toBeLessThan(1e-6);
    const raw = csrUnion([csrFromDense(a, n, da), csrFromDense(b, n, db)], [1, 1], false);
    expect(maxAbsDiff(csrToDense(raw).subarray(0, da), a.subarray(0, da))).toBe(0);
    expect(() => csrUnion([csrFromDense(a, n, da), csrFromDense(b, 2, 2 * db)], w, true)).toThrow(/rows/);
  });
});

describe('a union of two recipes', () => {
  it('is the recipes fitted alone, their features normalised, weighted and side by side; fused rows = apply(); save/load keep the scores', async () => {
    const p = bowPipeline(parseRecipe(unionRecipe(), 'test'));
    await p.fit(ds.train, quiet);
    const u = p.stages[0] as UnionStage;
    expect(isUnion(u)).toBe(true);
    expect(u.branches().map((b) => b.name)).toEqual(['hog-svm', 'bow']);

    // the reference: each branch as a pipeline of its own (a classifier after it), fitted on the same split
    const hogAlone = bowPipeline(readRecipe('hog-svm'));
    const bowAlone = new Pipeline(
      [
        ...smallBow().map((e) => Pipeline.fromJSON({ stages: [e] }).stages[0]),
        ...Pipeline.fromJSON({ stages: [{ kind: 'classifier' }] }).stages,
      ],
      'bow',
    );
    await hogAlone.fit(ds.train, quiet);
    await bowAlone.fit(ds.train, quiet);
    const mine = (u.branches()[1].stages.find((s) => s.kind === 'coding') as CodingStage).centres();
    const alone = (bowAlone.get('coding') as CodingStage).centres();
    expect(mine && alone).toBeTruthy();
    expect(maxAbsDiff(await mine!.data(), await alone!.data())).toBe(0);

    const rows = (await p.features(ds.test, quiet)).rows;
    const ref = csrUnion([(await hogAlone.features(ds.test, quiet)).rows, (await bowAlone.features(ds.test, quiet)).rows], [2, 1], true);
    expect(rows.d).toBe(ref.d);
    expect(rows.d).toBe(p.stages[0].outShape([28, 28, 1])[2]);
    expect(maxAbsDiff(csrToDense(rows), csrToDense(ref))).toBeLessThan(1e-6);
    // the branches' rows have unit norm times their weight
    const dense = csrToDense(rows);
    const dh = (await hogAlone.features(ds.test, quiet)).rows.d;
    let s = 0;
    for (let j = 0; j < dh; j++) s += dense[j] ** 2;
    expect(Math.sqrt(s)).toBeCloseTo(2, 5);

    // the stage's tensor path (every stage's apply, unfused) against the fused rows
    const x = batchTensor(ds.test, 0, 20);
    const y = u.apply(x);
    expect(y.shape).toEqual([20, 1, 1, rows.d]);
    expect(maxAbsDiff(await y.data(), dense.subarray(0, 20 * rows.d))).toBeLessThan(1e-5);

    const dir = mkdtempSync(join(tmpdir(), 'bowcnn-union-'));
    await p.save(dir);
    const back = await Pipeline.load(dir);
    expect(maxAbsDiff(await back.scoreSplit(ds.test, quiet), await p.scoreSplit(ds.test, quiet))).toBe(0);
    expect(back.cards([28, 28, 1])[0].classic).toMatch(/feature union: hog-svm .* \+ bow /);
    expect(() => back.stages[0].toLayers?.([28, 28, 1])).toThrow(/not exported/);
    tf.dispose([x, y]);
    for (const q of [p, hogAlone, bowAlone, back]) q.dispose();
  }, 120_000);

  it('is the hog-bow-svm recipe: hog-svm and bow-sift-soft up to their features', () => {
    const r = readRecipe('hog-bow-svm');
    if (r.kind !== 'bow') throw new Error('not a bow recipe');
    const branches = (r.stages[0].config as { branches: { name: string; stages: unknown[] }[] }).branches;
    expect(branches.map((b) => b.name)).toEqual(['hog', 'bow']);
    expect(branches[0].stages).toEqual(recipeStages('hog-svm'));
    expect(branches[1].stages).toEqual(recipeStages('bow-sift-soft'));
    expect(branches.flatMap((b) => b.stages as { kind: string }[]).some((e) => e.kind === 'classifier')).toBe(false);
  });
});

describe('union configs it refuses', () => {
  const at = (cfg: Record<string, unknown>) => () => parseRecipe(unionRecipe(cfg), 'recipe test.json');
  it('says what is wrong and where', () => {
    expect(at({ branches: [{ name: 'a', stages: smallBow() }] })).toThrow(/branches.*2/s);
    expect(
      at({
        branches: [
          { name: 'a', stages: smallBow() },
          { name: 'a', stages: smallBow() },
        ],
      }),
    ).toThrow(/two branches are named 'a'/);
    expect(at({ branches: [{ recipe: 'hog-svn' }, { name: 'b', stages: smallBow() }] })).toThrow(/recipe test.json.*branch 1.*hog-svm/s);
    expect(
      at({
        branches: [
          { recipe: 'hog-svm', stages: [] },
          { name: 'b', stages: smallBow() },
        ],
      }),
    ).toThrow(/'recipe' or 'stages'/);
    expect(at({ branches: [{ recipe: 'lenet5' }, { name: 'b', stages: smallBow() }] })).toThrow(/cnn recipe/);
    expect(
      at({
        branches: [
          { name: 'a', stages: [{ kind: 'classifier' }] },
          { name: 'b', stages: smallBow() },
        ],
      }),
    ).toThrow(/fitted on labels/);
    expect(
      at({
        branches: [
          { name: 'a', stages: [{ kind: 'gradnet' }] },
          { name: 'b', stages: smallBow() },
        ],
      }),
    ).toThrow(/branch 'a'.*unknown stage kind 'gradnet'/s);
    expect(at({ norm: 'l3' })).toThrow(/norm/);
    expect(() => union({ branches: [] })).toThrow(ConfigError);
  });

  it("says where a --set that names a branch's stage is, and refuses to compare a pipeline without a classifier", () => {
    const p = bowPipeline(readRecipe('hog-bow-svm'));
    expect(() => applySets([p], { 'coding.knn': 5 })).toThrow(/stage 'coding' is inside stage 'union' branch 'bow'/);
    expect(() => applySets([p], { 'union.nrom': 'none' })).toThrow(/did you mean 'norm'/);
    expect(() => checkNames([new Pipeline([gradient()], 'nocls')])).toThrow(/'nocls' ends without a classifier/);
    expect(() => checkNames([p])).not.toThrow();
    p.dispose();
  });

  it('refuses a union after a fitted stage (its branches are fitted on its input)', () => {
    const u = union({
      branches: [
        { name: 'a', stages: [{ kind: 'flatten' }] },
        { name: 'b', stages: [{ kind: 'flatten' }] },
      ],
    });
    expect(() => new Pipeline([gradient(), coding({ words: 4 }), u], 'p')).toThrow(PipelineError);
    expect(() => new Pipeline([gradient(), coding({ words: 4 }), u], 'p')).toThrow(/after stage 'coding'/);
    expect(() => new Pipeline([gradient(), u], 'p')).not.toThrow();
  });
});
