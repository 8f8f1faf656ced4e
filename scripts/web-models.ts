/**
 * `npm run web:models`: the teaching page's default models, fitted on all of MNIST's training images with
 * seed 0 and saved into web/models/ as bowcnn saves them (the page reads them through `bowcnn serve` or
 * `npm run build:web`): bow-sift with a 2-level pyramid (bow-sift-pyramid: the page then shows the pyramid's
 * regions in the pooled histogram) and LeNet-5.
 */
import { join, resolve } from 'node:path';
import { useBackend } from '../src/backend/index.js';
import { dataset } from '../src/data/registry.js';
import { argmax } from '../src/core/scores.js';
import { accuracy } from '../src/eval/metrics.js';
import { Pipeline } from '../src/pipeline/pipeline.js';
import { applySets, classifierFrom } from '../src/models/resolve.js';

const OUT = resolve(import.meta.dirname, '..', 'web', 'models');
const info = await useBackend('wasm');
const ds = await dataset('mnist', { seed: 0 });
console.log(`web:models on ${info.name}: MNIST ${ds.train.n} training, ${ds.test.n} test images`);
const MODELS: [string, Record<string, unknown>, string][] = [
  ['bow-sift', { 'pooling.pyramid': [1, 2] }, 'bow-sift-pyramid'],
  ['lenet5', {}, 'lenet5'],
];
for (const [recipe, sets, name] of MODELS) {
  let c = applySets([await classifierFrom(recipe)], sets)[0];
  if (c instanceof Pipeline && c.name !== name) c = c.renamed(name);
  const rep = await c.fit(ds.train, { seed: 0, progress: true, data: { dataset: 'mnist', classes: ds.classes } });
  const acc = accuracy(argmax(await c.scoreSplit(ds.test), ds.classes.length), ds.test.labels);
  await c.save(join(OUT, name));
  console.log(`${name}: fitted in ${rep.seconds.toFixed(1)} s, test accuracy ${(100 * acc).toFixed(2)}%, saved to ${join(OUT, name)}`);
  c.dispose();
}
