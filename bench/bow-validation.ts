// The classic recipes and their variants at full size, chosen on a validation split (never the test set):
// each dataset's 60,000 training images split 50,000 / 10,000 (stratified, seed 0), every candidate fitted on
// the 50,000 and scored on the 10,000, each in a process of its own (its time and peak memory its own, no
// cache shared). Then the candidate with the best validation accuracy is fitted on all 60,000 and scored once
// on the test set. BOWCNN_BENCH_CANDIDATES (names, comma-separated) and BOWCNN_BENCH_DATASETS choose;
// BOWCNN_BENCH_TEST=0 leaves the test run out, BOWCNN_BENCH_SUBSET=N runs on N training images (a smoke run).
import { spawnSync } from 'node:child_process';
import { useBackend } from '../src/backend/index.js';
import { argmax } from '../src/core/scores.js';
import { dataset } from '../src/data/registry.js';
import { accuracy } from '../src/eval/metrics.js';
import type { Pipeline } from '../src/pipeline/pipeline.js';
import { bowPipeline, parseRecipe, readRecipe, recipeStages } from '../src/pipeline/recipes.js';
import { table, withPeakMemory } from './util.js';

type Make = () => Pipeline;
const spm = () => bowPipeline(readRecipe('bow-sift-spm'));
const spmWith = (sets: [string, unknown][]) => () => sets.reduce((p, [k, v]) => p.set(k, v), spm());
const stagesAfter = (recipe: string, from: string) => {
  const all = recipeStages(recipe);
  return all.slice(all.findIndex((e) => e.kind === from));
};
const inline = (name: string, stages: unknown[]) => () => bowPipeline(parseRecipe({ kind: 'bow', name, stages }, `candidate ${name}`));

export const CANDIDATES: Record<string, { about: string; make: Make }> = {
  'bow-sift-spm': { about: 'the recipe: hard coding, 1,024 words, pyramid [1, 2], chi2 map', make: spm },
  soft5: {
    about: 'soft coding over the 5 nearest words (beta 10)',
    make: spmWith([
      ['coding.mode', 'soft'],
      ['coding.knn', 5],
    ]),
  },
  triangle: {
    about: 'triangle coding, Hellinger map (its histograms are dense: the chi2 map would triple them)',
    make: spmWith([
      ['coding.mode', 'triangle'],
      ['kernelmap.kind', 'hellinger'],
    ]),
  },
  pyramid124: { about: 'pyramid [1, 2, 4]', make: spmWith([['pooling.pyramid', [1, 2, 4]]]) },
  words2048: { about: '2,048 words', make: spmWith([['coding.words', 2048]]) },
  words4096: { about: '4,096 words', make: spmWith([['coding.words', 4096]]) },
  multiscale: {
    about: 'multi-scale dense SIFT, bins 2 and 4 (step 1, bilinear, triangle cells), one dictionary',
    make: inline('bow-sift-multiscale', [
      { kind: 'dsift', config: { sizes: [2, 4], step: 1, mode: 'bilinear', window: 'triangle' } },
      ...stagesAfter('bow-sift-spm', 'coding'),
      { kind: 'classifier', config: { kind: 'linear', C: 1 } },
    ]),
  },
  'bow-sift-soft': {
    about: 'the recipe bow-sift-soft: soft5 as a recipe of its own',
    make: () => bowPipeline(readRecipe('bow-sift-soft')),
  },
  'hog-svm': { about: 'HOG, linear SVM', make: () => bowPipeline(readRecipe('hog-svm')) },
  'hog+spm': { about: 'the union of HOG and bow-sift-spm, one linear SVM', make: () => union({}) },
  'hog+spm124': { about: 'HOG + bow-sift-spm with the pyramid [1, 2, 4] in its BoW branch', make: () => union({ pyramid: [1, 2, 4] }) },
  'deskew+hog+spm': { about: 'HOG + bow-sift-spm on deskewed images', make: () => union({ deskew: true }) },
  'deskew+hog+spm124': {
    about: 'HOG + bow-sift-spm on deskewed images, the pyramid [1, 2, 4] in its BoW branch',
    make: () => union({ deskew: true, pyramid: [1, 2, 4] }),
  },
  'hog-bow-svm': {
    about: 'the recipe hog-bow-svm: the union of HOG and bow-sift-soft',
    make: () => bowPipeline(readRecipe('hog-bow-svm')),
  },
  'deskew-hog-bow-svm': {
    about: 'the recipe deskew-hog-bow-svm: hog-bow-svm on deskewed images',
    make: () => bowPipeline(readRecipe('deskew-hog-bow-svm')),
  },
};

/** The union of HOG and bow-sift-spm, with a deskew stage first and another pyramid in its BoW branch where asked. */
function union(o: { deskew?: boolean; pyramid?: number[] }): Pipeline {
  const bow = recipeStages('bow-sift-spm');
  const pool = bow.find((e) => e.kind === 'pooling');
  if (o.pyramid && pool) pool.config = { ...pool.config, pyramid: o.pyramid };
  const stages = [
    ...(o.deskew ? [{ kind: 'deskew' }] : []),
    {
      kind: 'union',
      config: {
        branches: [
          { recipe: 'hog-svm', name: 'hog' },
          { name: 'bow', stages: bow },
        ],
      },
    },
    { kind: 'classifier', config: { kind: 'linear', C: 1 } },
  ];
  return inline(`${o.deskew ? 'deskew-' : ''}hog-spm${o.pyramid ? o.pyramid.join('') : ''}-svm`, stages)();
}

/** One candidate on one dataset, in this process: validation (or, with test, the full training set and the test set). */
async function one(name: string, dsName: string, test: boolean): Promise<Record<string, unknown>> {
  await useBackend('wasm');
  const subset = process.env.BOWCNN_BENCH_SUBSET ? Number(process.env.BOWCNN_BENCH_SUBSET) : undefined; // a smoke run
  const ds = await dataset(dsName, test ? { subset } : { subset, validation: subset ? Math.round(subset / 6) : 10000 });
  const train = ds.train,
    held = test ? ds.test : ds.validation;
  if (!held) throw new Error('no validation split');
  const p = CANDIDATES[name].make();
  const { value, peakRssMB } = await withPeakMemory(async () => {
    const t0 = performance.now();
    const fit = await p.fit(train, { batchSize: 256 });
    const t1 = performance.now();
    const acc = accuracy(argmax(await p.scoreSplit(held), ds.classes.length), held.labels);
    return { fit, acc, fitSec: (t1 - t0) / 1000, scoreSec: (performance.now() - t1) / 1000 };
  });
  p.dispose();
  return {
    dataset: dsName,
    candidate: name,
    split: test ? `test (${train.n} / ${held.n})` : `validation (${train.n} / ${held.n})`,
    accuracy: +(100 * value.acc).toFixed(2),
    fitSec: +value.fitSec.toFixed(1),
    scoreSec: +value.scoreSec.toFixed(1),
    totalSec: +(value.fitSec + value.scoreSec).toFixed(1),
    peakRssMB: Math.round(peakRssMB),
  };
}

function child(name: string, dsName: string, test: boolean): Record<string, unknown> {
  const p = spawnSync(process.execPath, ['--import', 'tsx', import.meta.filename], {
    env: { ...process.env, BOWCNN_BENCH_ONE: `${name}|${dsName}|${test ? 'test' : 'validation'}` },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 1 << 24,
  });
  if (p.status !== 0) return { dataset: dsName, candidate: name, accuracy: `failed (exit ${p.status ?? p.signal})` };
  return JSON.parse(p.stdout.trim().split('\n').at(-1) ?? '{}');
}

export async function run(): Promise<Record<string, unknown>> {
  const names = (process.env.BOWCNN_BENCH_CANDIDATES ?? Object.keys(CANDIDATES).join(',')).split(',');
  for (const n of names) if (!CANDIDATES[n]) throw new Error(`unknown candidate '${n}'; known: ${Object.keys(CANDIDATES).join(', ')}`);
  const datasets = (process.env.BOWCNN_BENCH_DATASETS ?? 'mnist,fashion-mnist').split(',');
  const rows: Record<string, unknown>[] = [];
  const chosen: Record<string, unknown>[] = [];
  for (const dsName of datasets) {
    const mine: Record<string, unknown>[] = [];
    for (const n of names) {
      const row = { ...child(n, dsName, false), about: CANDIDATES[n].about };
      console.log(JSON.stringify(row));
      mine.push(row);
    }
    rows.push(...mine);
    const best = mine.filter((r) => typeof r.accuracy === 'number').sort((a, b) => (b.accuracy as number) - (a.accuracy as number))[0];
    if (best && process.env.BOWCNN_BENCH_TEST !== '0') {
      const t = child(best.candidate as string, dsName, true);
      console.log(JSON.stringify(t));
      chosen.push(t);
    }
  }
  table(rows.map(({ about: _a, ...r }) => r));
  if (chosen.length) table(chosen);
  return { rows, chosen };
}

if (process.env.BOWCNN_BENCH_ONE) {
  const [name, dsName, what] = process.env.BOWCNN_BENCH_ONE.split('|');
  const row = await one(name, dsName, what === 'test');
  console.log(JSON.stringify(row));
  process.exit(0);
}
