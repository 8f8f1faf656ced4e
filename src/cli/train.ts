/**
 * `bowcnn train --model lenet5|alexnet-small|bownet|RECIPE.json [--variant modern|classic] --dataset mnist
 *   [--subset N] [--epochs E] [--batch B] [--lr LR] [--backend B] [--out DIR] [--json]`
 * Trains a CNN recipe (pipelines/*.json of kind cnn or bownet; --epochs, --batch and --lr override its
 * training options, --variant LeNet-5's) and prints test accuracy (with the recipe's test-time flips, if
 * any, as compare reports it), training and inference images/s. With --out, a checkpoint is written each
 * epoch into DIR/checkpoint and a rerun resumes from it; the model is saved in DIR/model.
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { backendInfo, useBackend, type BackendName } from '../backend/index.js';
import { CnnClassifier } from '../cnn/classifier.js';
import { dataset } from '../data/registry.js';
import { accuracy, argmax } from '../eval/metrics.js';
import { listRecipes, readRecipe, type BowNetRecipe, type CnnRecipe } from '../pipeline/recipes.js';
import { common, num, out, parse, parseArgs, UsageError } from './args.js';

function cnnRecipe(name: string): CnnRecipe | BowNetRecipe {
  let r;
  try { r = readRecipe(name); } catch (e) { throw new UsageError(`train: ${(e as Error).message}`); }
  if (r.kind === 'bow') {
    const cnns = listRecipes().filter((n) => { try { return readRecipe(n).kind !== 'bow'; } catch { return false; } });
    throw new UsageError(`train: '${name}' is a BoW pipeline (use compare); CNN recipes: ${cnns.join(', ')}`);
  }
  return r;
}

export async function trainCommand(argv: string[]): Promise<void> {
  const { values } = parse(() => parseArgs({ args: argv, options: {
    ...common,
    model: { type: 'string', default: 'lenet5' },
    variant: { type: 'string' },
    dataset: { type: 'string', default: 'mnist' },
    subset: { type: 'string' },
    epochs: { type: 'string' },
    batch: { type: 'string' },
    lr: { type: 'string' },
    out: { type: 'string' },
  }, allowPositionals: false, strict: true }));
  const base = cnnRecipe(values.model);
  if (values.variant !== undefined) {
    if (base.kind !== 'cnn' || base.model !== 'lenet5') throw new UsageError('--variant is for lenet5');
    if (values.variant !== 'modern' && values.variant !== 'classic') throw new UsageError('--variant is modern or classic');
  }
  const overrides = Object.fromEntries(Object.entries({
    epochs: num(values.epochs, 'epochs'), batchSize: num(values.batch, 'batch'), lr: num(values.lr, 'lr'),
  }).filter(([, v]) => v !== undefined));
  const recipe = {
    ...base, train: { ...base.train, ...overrides },
    ...(base.kind === 'cnn' && values.variant ? { config: { ...base.config, variant: values.variant } } : {}),
  } as CnnRecipe | BowNetRecipe;
  const label = values.variant ? `${recipe.name}-${values.variant}` : recipe.name;
  const info = await useBackend(values.backend as BackendName);
  const seed = num(values.seed, 'seed', 0) as number;
  const ds = await dataset(values.dataset, { subset: num(values.subset, 'subset'), seed, dir: values['data-dir'] });
  const dir = values.out ? resolve(values.out) : null;
  if (dir) mkdirSync(dir, { recursive: true });
  if (!values.json) console.error(`bowcnn: ${label} on ${ds.name} (${ds.train.n} train / ${ds.test.n} test, from ${ds.source}) on ${info.name}: ${info.device}`);
  const clf = new CnnClassifier(recipe, ds);
  const fit = await clf.fit(ds.train, { seed, checkpointDir: dir ? join(dir, 'checkpoint') : undefined, progress: !values.json });
  const t = performance.now();
  const scores = await clf.scores(ds.test);
  const inferPerSec = ds.test.n / ((performance.now() - t) / 1000);
  const acc = accuracy(argmax(scores, scores.length / ds.test.n), ds.test.labels);
  const flips = clf.predictOptions.flip;
  if (dir) await clf.save(join(dir, 'model'));
  const result = {
    model: label, dataset: ds.name, train: ds.train.n, test: ds.test.n, epochs: fit.epochs.length,
    testAccuracy: acc, testTimeFlips: flips, trainImagesPerSec: fit.imagesPerSec, inferenceImagesPerSec: inferPerSec,
    resumedFromEpoch: fit.resumedFromEpoch, backend: backendInfo(), memory: tf.memory().numBytes,
  };
  out(values.json, result, () => {
    console.log(`test accuracy      ${(acc * 100).toFixed(2)}%  (${ds.test.n} images${flips ? ', with test-time flips as the recipe says' : ''})`);
    console.log(`training           ${fit.imagesPerSec.toFixed(0)} images/s over ${fit.epochs.length} epoch(s)${fit.resumedFromEpoch !== null ? ` (resumed after epoch ${fit.resumedFromEpoch + 1})` : ''}`);
    console.log(`inference          ${inferPerSec.toFixed(0)} images/s${flips ? ' (two passes per image)' : ''}`);
    console.log(`backend            ${info.name} (${info.device}; ${info.threads} thread${info.threads === 1 ? '' : 's'})`);
  });
}
