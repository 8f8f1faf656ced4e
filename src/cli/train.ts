/**
 * `bowcnn train --model lenet5 [--variant modern|classic] --dataset mnist [--subset N] [--epochs E]
 *   [--batch B] [--lr LR] [--backend B] [--out DIR] [--json]`
 * Trains a CNN and prints test accuracy, training and inference images/s. With --out, a checkpoint is
 * written each epoch into DIR/checkpoint and a rerun resumes from it; the model is saved in DIR/model.
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { backendInfo, useBackend, type BackendName } from '../backend/index.js';
import { lenet5 } from '../cnn/lenet5.js';
import { accuracyOf, trainModel } from '../cnn/train.js';
import { dataset } from '../data/registry.js';
import { saveModel } from '../cnn/io.js';
import { common, num, out, parse, parseArgs, UsageError } from './args.js';

export async function trainCommand(argv: string[]): Promise<void> {
  const { values } = parse(() => parseArgs({ args: argv, options: {
    ...common,
    model: { type: 'string', default: 'lenet5' },
    variant: { type: 'string', default: 'modern' },
    dataset: { type: 'string', default: 'mnist' },
    subset: { type: 'string' },
    epochs: { type: 'string' },
    batch: { type: 'string' },
    lr: { type: 'string' },
    out: { type: 'string' },
  }, allowPositionals: false, strict: true }));
  if (values.model !== 'lenet5') throw new UsageError(`train: unknown model '${values.model}' (lenet5)`);
  if (values.variant !== 'modern' && values.variant !== 'classic') throw new UsageError('--variant is modern or classic');
  const info = await useBackend(values.backend as BackendName);
  const seed = num(values.seed, 'seed', 0) as number;
  const ds = await dataset(values.dataset, { subset: num(values.subset, 'subset'), seed, dir: values['data-dir'] });
  const model = lenet5({ variant: values.variant, inputShape: [ds.train.height, ds.train.width, ds.train.channels], classes: ds.classes.length, seed });
  const dir = values.out ? resolve(values.out) : null;
  if (dir) mkdirSync(dir, { recursive: true });
  if (!values.json) console.error(`bowcnn: ${ds.name} (${ds.train.n} train / ${ds.test.n} test, from ${ds.source}) on ${info.name}: ${info.device}`);
  const fit = await trainModel(model, ds.train, {
    epochs: num(values.epochs, 'epochs', 1), batchSize: num(values.batch, 'batch', 128), lr: num(values.lr, 'lr', 1e-3),
    seed, checkpointDir: dir ? join(dir, 'checkpoint') : undefined, label: `lenet5-${values.variant}`,
  });
  const t = performance.now();
  const accuracy = await accuracyOf(model, ds.test);
  const inferPerSec = ds.test.n / ((performance.now() - t) / 1000);
  if (dir) await saveModel(model, join(dir, 'model'), { dataset: ds.name, classes: ds.classes, fingerprint: ds.fingerprint });
  const result = {
    model: `lenet5-${values.variant}`, dataset: ds.name, train: ds.train.n, test: ds.test.n, epochs: fit.epochs.length,
    testAccuracy: accuracy, trainImagesPerSec: fit.imagesPerSec, inferenceImagesPerSec: inferPerSec,
    resumedFromEpoch: fit.resumedFromEpoch, backend: backendInfo(), memory: tf.memory().numBytes,
  };
  out(values.json, result, () => {
    console.log(`test accuracy      ${(accuracy * 100).toFixed(2)}%  (${ds.test.n} images)`);
    console.log(`training           ${fit.imagesPerSec.toFixed(0)} images/s over ${fit.epochs.length} epoch(s)${fit.resumedFromEpoch !== null ? ` (resumed after epoch ${fit.resumedFromEpoch + 1})` : ''}`);
    console.log(`inference          ${inferPerSec.toFixed(0)} images/s`);
    console.log(`backend            ${info.name} (${info.device}; ${info.threads} thread${info.threads === 1 ? '' : 's'})`);
  });
}
