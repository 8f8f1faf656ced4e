/**
 * bowcnn train: a CNN recipe (pipelines/*.json of kind cnn or bownet; --epochs, --batch, --lr, --variant
 * and --set change its options) trained and scored on the test split, with the recipe's test-time flips
 * if any; or a saved model (a CNN or a bownet: --model DIR) trained on from its weights (fine-tuning), on
 * the dataset it was trained on unless --dataset says otherwise. With --out, a checkpoint is written each
 * epoch into DIR/checkpoint (a rerun resumes) and the model is saved in DIR/model.
 */
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { backendInfo } from '../backend/index.js';
import { UsageError } from '../core/errors.js';
import { fitAndEvaluate } from '../eval/evaluate.js';
import { accuracy, accuracyInterval } from '../eval/metrics.js';
import { argmax } from '../core/scores.js';
import { applySets, classifierFrom } from '../models/resolve.js';
import { load } from '../models/load.js';
import type { Classifier } from '../core/classifier.js';
import type { CnnClassifier } from '../cnn/classifier.js';
import { listRecipes, readRecipe } from '../pipeline/recipes.js';
import { speed } from '../report/report.js';
import { ensureDir } from '../core/atomic.js';
import { cnnRead, flips, loadDataset, shifts, testViews, savedRead, output, parseSets, say, startBackend } from './common.js';
import type { Values } from './spec.js';
import type { FolderOptions } from '../data/folder.js';

/** A saved model folder (its meta.json) rather than a recipe name or file. */
const isModelDir = (p: string) => existsSync(join(p, 'meta.json')) && statSync(p).isDirectory();

export async function trainCommand(v: Values): Promise<void> {
  const given = String(v.model);
  const saved = isModelDir(resolve(given));
  // a saved model (a CNN or a bownet) is trained on from its weights: fine-tuning
  const base = saved ? await load(resolve(given)) : await classifierFrom(given);
  if (base.kind !== 'cnn') {
    base.dispose();
    if (saved)
      throw new UsageError(
        `${given} is a fitted BoW pipeline: it is not trained by backpropagation. Export it as a CNN first (bowcnn export --model ${given} --out DIR --coding soft), then bowcnn train --model DIR`,
      );
    const cnns = listRecipes().filter((n) => readRecipe(n).kind !== 'bow');
    throw new UsageError(`'${v.model}' is a BoW pipeline (use compare); CNN recipes: ${cnns.join(', ')}`);
  }
  if (saved && v.variant !== undefined)
    throw new UsageError(`--variant builds a new model; ${given} is a trained one (fine-tuned as it is)`);
  const sets: Record<string, unknown> = {
    ...(v.epochs !== undefined ? { 'train.epochs': v.epochs, 'train.minSteps': 0 } : {}),
    ...(v.batch !== undefined ? { 'train.batchSize': v.batch } : {}),
    ...(v.lr !== undefined ? { 'train.lr': v.lr } : {}),
    ...(v.variant !== undefined ? { 'config.variant': v.variant } : {}),
    ...parseSets(v.set as string[] | undefined),
  };
  const label = v.variant ? `${base.name}-${v.variant}` : base.name;
  let clf: Classifier;
  if (saved) {
    const bad = Object.keys(sets).find((k) => !k.startsWith('train.'));
    if (bad) throw new UsageError(`--set ${bad}: fine-tuning a saved model changes its training options (train.*) only`);
    clf = (base as CnnClassifier).withTraining(sets);
  } else [clf] = applySets([base], sets); // --variant on a model without one: its config refuses the key
  const info = await startBackend(v);
  const dir = v.out ? resolve(String(v.out)) : null;
  if (dir) ensureDir(dir);
  const dsName = v.dataset !== undefined ? String(v.dataset) : saved ? clf.data?.dataset : 'mnist';
  if (!dsName || dsName === 'unnamed') throw new UsageError(`${given} does not say which dataset it was trained on: give --dataset NAME`);
  // fine-tuning reads a folder as the saved model's training images were read; a new model, at the size and in the
  // channels its recipe declares; each unless told otherwise
  let folder: FolderOptions | undefined;
  if (saved) folder = clf.data ? savedRead(clf.data) : undefined;
  else {
    const r = cnnRead(dsName, [clf], v);
    if (r.note) say(v, r.note);
    folder = r.folder;
  }
  const ds = await loadDataset(dsName, v, folder ? { folder } : {});
  say(
    v,
    `${saved ? `fine-tuning ${given} (${label})` : label} on ${ds.name} (${ds.train.n} train / ${ds.test.n} test, from ${ds.source}) on ${info.name}: ${info.device}`,
  );
  try {
    const r = await fitAndEvaluate(clf, ds, {
      seed: v.seed as number,
      checkpointDir: dir ? join(dir, 'checkpoint') : undefined,
      progress: !v.json,
      ...(saved ? { fit: { fineTune: true } } : {}),
    });
    if (dir) await clf.save(join(dir, 'model'));
    const testTimeFlips = flips(clf);
    const views = testViews(clf);
    // a bownet recipe: the same test images scored by the model fine-tuning started from (the BoW pipeline as a
    // CNN), so that what backpropagation gained is read off one run
    const startScores = await (clf as CnnClassifier).scoreSplitBeforeFineTune(ds.test);
    const startPred = startScores && argmax(startScores, ds.classes.length);
    const before = startPred && {
      accuracy: accuracy(startPred, ds.test.labels),
      ci95: accuracyInterval(Array.from(startPred, (p, i) => (p === ds.test.labels[i] ? 1 : 0))),
    };
    const result = {
      model: label,
      dataset: ds.name,
      train: ds.train.n,
      test: ds.test.n,
      epochs: r.epochs?.length ?? 0,
      testAccuracy: r.accuracy,
      ci95: r.ci95,
      beforeFineTune: before,
      testTimeFlips,
      testTimeShifts: shifts(clf),
      trainImagesPerSec: r.fit.trainImagesPerSec,
      cached: r.fit.cached,
      resumedFromEpoch: r.fit.resumedFromEpoch ?? null,
      inferenceImagesPerSec: r.inferImagesPerSec,
      backend: backendInfo(),
      // bytes still held by tensors after training and scoring (0 growth across runs means no leak), and the
      // process's peak resident memory (kilobytes from the OS, given in bytes)
      tensorBytes: tf.memory().numBytes,
      peakResidentBytes: process.resourceUsage().maxRSS * 1024,
      saved: dir ? join(dir, 'model') : null,
    };
    output(v.json, result, () => {
      console.log(
        `test accuracy      ${(r.accuracy * 100).toFixed(2)}% [${(100 * r.ci95[0]).toFixed(2)}, ${(100 * r.ci95[1]).toFixed(2)}]  (${ds.test.n} images${views.count > 1 ? `, with ${views.words} as the recipe says` : ''})`,
      );
      if (before)
        console.log(
          `before fine-tuning ${(before.accuracy * 100).toFixed(2)}% [${(100 * before.ci95[0]).toFixed(2)}, ${(100 * before.ci95[1]).toFixed(2)}]  (the same images, scored by the BoW pipeline exported as a CNN, where training started: ${(100 * Math.abs(r.accuracy - before.accuracy)).toFixed(2)} points ${r.accuracy >= before.accuracy ? 'gained' : 'lost'})`,
        );
      const resumed = r.fit.resumedFromEpoch ?? null;
      const n = r.epochs?.length ?? 0;
      if (r.fit.cached) console.log(`training           cached: all ${n} epoch(s) were in the checkpoint`);
      else
        console.log(
          `training           ${speed(r.fit)} images/s over ${n} epoch(s)${resumed !== null ? ` (resumed after epoch ${resumed + 1})` : ''}`,
        );
      console.log(
        `inference          ${Math.round(r.inferImagesPerSec).toLocaleString('en-US')} images/s${views.count > 1 ? ` (${views.count} passes per image)` : ''}`,
      );
      console.log(`backend            ${info.name} (${info.device}; ${info.threads} thread${info.threads === 1 ? '' : 's'})`);
      if (dir) console.log(`saved              ${join(dir, 'model')}  (bowcnn eval --model ${join(dir, 'model')})`);
    });
  } finally {
    clf.dispose();
  }
}
