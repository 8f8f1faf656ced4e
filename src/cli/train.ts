/**
 * bowcnn train: a CNN recipe (pipelines/*.json of kind cnn or bownet; --epochs, --batch, --lr, --variant
 * and --set change its options) trained and scored on the test split, with the recipe's test-time flips
 * if any. With --out, a checkpoint is written each epoch into DIR/checkpoint (a rerun resumes) and the
 * model is saved in DIR/model.
 */
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { backendInfo } from '../backend/index.js';
import { UsageError } from '../core/errors.js';
import { fitAndEvaluate } from '../eval/evaluate.js';
import { applySets, classifierFrom } from '../models/resolve.js';
import { listRecipes, readRecipe } from '../pipeline/recipes.js';
import { speed } from '../report/report.js';
import { ensureDir } from '../core/atomic.js';
import { flips, loadDataset, output, parseSets, say, startBackend } from './common.js';
import type { Values } from './spec.js';

export async function trainCommand(v: Values): Promise<void> {
  const base = await classifierFrom(String(v.model));
  if (base.kind !== 'cnn') {
    const cnns = listRecipes().filter((n) => readRecipe(n).kind !== 'bow');
    throw new UsageError(`'${v.model}' is a BoW pipeline (use compare); CNN recipes: ${cnns.join(', ')}`);
  }
  const sets: Record<string, unknown> = {
    ...(v.epochs !== undefined ? { 'train.epochs': v.epochs, 'train.minSteps': 0 } : {}),
    ...(v.batch !== undefined ? { 'train.batchSize': v.batch } : {}),
    ...(v.lr !== undefined ? { 'train.lr': v.lr } : {}),
    ...(v.variant !== undefined ? { 'config.variant': v.variant } : {}),
    ...parseSets(v.set as string[] | undefined),
  };
  const label = v.variant ? `${base.name}-${v.variant}` : base.name;
  const [clf] = applySets([base], sets); // --variant on a model without one: its config refuses the key
  const info = await startBackend(v);
  const dir = v.out ? resolve(String(v.out)) : null;
  if (dir) ensureDir(dir);
  const ds = await loadDataset(String(v.dataset), v);
  say(v, `${label} on ${ds.name} (${ds.train.n} train / ${ds.test.n} test, from ${ds.source}) on ${info.name}: ${info.device}`);
  try {
    const r = await fitAndEvaluate(clf, ds, {
      seed: v.seed as number,
      checkpointDir: dir ? join(dir, 'checkpoint') : undefined,
      progress: !v.json,
    });
    if (dir) await clf.save(join(dir, 'model'));
    const testTimeFlips = flips(clf);
    const result = {
      model: label,
      dataset: ds.name,
      train: ds.train.n,
      test: ds.test.n,
      epochs: r.epochs?.length ?? 0,
      testAccuracy: r.accuracy,
      ci95: r.ci95,
      testTimeFlips,
      trainImagesPerSec: r.fit.trainImagesPerSec,
      cached: r.fit.cached,
      resumedFromEpoch: r.fit.resumedFromEpoch ?? null,
      inferenceImagesPerSec: r.inferImagesPerSec,
      backend: backendInfo(),
      memory: tf.memory().numBytes,
      saved: dir ? join(dir, 'model') : null,
    };
    output(v.json, result, () => {
      console.log(
        `test accuracy      ${(r.accuracy * 100).toFixed(2)}% [${(100 * r.ci95[0]).toFixed(2)}, ${(100 * r.ci95[1]).toFixed(2)}]  (${ds.test.n} images${testTimeFlips ? ', with test-time flips as the recipe says' : ''})`,
      );
      const resumed = r.fit.resumedFromEpoch ?? null;
      const n = r.epochs?.length ?? 0;
      if (r.fit.cached) console.log(`training           cached: all ${n} epoch(s) were in the checkpoint`);
      else
        console.log(
          `training           ${speed(r.fit)} images/s over ${n} epoch(s)${resumed !== null ? ` (resumed after epoch ${resumed + 1})` : ''}`,
        );
      console.log(`inference          ${r.inferImagesPerSec.toFixed(0)} images/s${testTimeFlips ? ' (two passes per image)' : ''}`);
      console.log(`backend            ${info.name} (${info.device}; ${info.threads} thread${info.threads === 1 ? '' : 's'})`);
      if (dir) console.log(`saved              ${join(dir, 'model')}  (bowcnn eval --model ${join(dir, 'model')})`);
    });
  } finally {
    clf.dispose();
  }
}
