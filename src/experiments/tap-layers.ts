/**
 * tap-layers: "tapping off features at each layer". A linear SVM (the library's own, LIBLINEAR's dual coordinate
 * descent) is trained on each layer's output, flattened and L2-normalised per image, for a trained LeNet-5 and a
 * fitted BoW chain (bow-sift): test accuracy against depth, for both on one plot.
 */
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { Classifier } from '../core/classifier.js';
import type { Split } from '../core/data.js';
import { argmax } from '../core/scores.js';
import { csrFromDense, csrTimes } from '../core/sparse.js';
import { batchTensor } from '../data/split.js';
import { compare } from '../eval/compare.js';
import { accuracy } from '../eval/metrics.js';
import { linearSvm } from '../learn/svm.js';
import { lineChart } from '../report/svg.js';
import { type Experiment, type Findings, pct, dataOf, fitted } from './experiment.js';

/** Each layer's output for a split, flattened and L2-normalised per image: layer -> `[n * d]`, with d. */
async function layerFeatures(c: Classifier, s: Split, n: number): Promise<Map<string, { x: Float32Array; d: number }>> {
  const out = new Map<string, { x: Float32Array; d: number }>();
  for (let i = 0; i < n; i += 200) {
    const x = batchTensor(s, i, Math.min(n, i + 200));
    const reps = await c.representations(x);
    for (const [name, t] of Object.entries(reps)) {
      const m = x.shape[0];
      const d = t.size / m;
      if (!out.has(name)) out.set(name, { x: new Float32Array(n * d), d });
      const v = (await t.data()) as Float32Array;
      const dst = out.get(name)!.x;
      for (let r = 0; r < m; r++) {
        let norm = 0;
        for (let q = 0; q < d; q++) norm += v[r * d + q] ** 2;
        const k = norm > 0 ? 1 / Math.sqrt(norm) : 0;
        for (let q = 0; q < d; q++) dst[(i + r) * d + q] = v[r * d + q] * k;
      }
    }
    tf.dispose([x, ...Object.values(reps)]);
  }
  return out;
}

async function tap(c: Classifier, train: Split, test: Split, nTrain: number, nTest: number, classes: number, say: (m: string) => void) {
  const tr = await layerFeatures(c, train, nTrain);
  const te = await layerFeatures(c, test, nTest);
  const rows: { layer: string; dims: number; accuracy: number }[] = [];
  for (const [name, { x, d }] of tr) {
    say(`${c.name}: a linear SVM on ${name} (${d} dims)`);
    const m = await linearSvm(csrFromDense(x, nTrain, d), train.labels.slice(0, nTrain), classes, {
      C: 1,
      eps: 0.1,
      maxIter: 200,
      seed: 0,
    });
    const scores = csrTimes(csrFromDense(te.get(name)!.x, nTest, d), m.W, m.b, classes);
    rows.push({ layer: name, dims: d, accuracy: accuracy(argmax(scores, classes), test.labels.subarray(0, nTest)) });
  }
  return rows;
}

export const tapLayers: Experiment = {
  name: 'tap-layers',
  title: 'Tapping off features at each layer: a linear SVM per layer',
  claim:
    "Features taken off a trained network's higher layers are more discriminative: a linear classifier on them does better the deeper the layer. The BoW chain, read as layers, shows the same.",
  defaults: { dataset: 'mnist', subset: 2000, testSubset: 1000 },
  async run(ctx): Promise<Findings> {
    const ds = await ctx.dataset();
    const out = join(ctx.out, 'run');
    await compare(['lenet5', 'bow-sift'], ds, {
      out,
      seed: ctx.seed,
      protocol: ctx.protocol,
      optionalSets: ctx.sets,
      progress: ctx.progress,
      onStep: ctx.say,
    });
    const classes = ds.classes.length;
    const result: Record<string, { layer: string; dims: number; accuracy: number }[]> = {};
    for (const name of ['lenet5', 'bow-sift']) {
      const c = await fitted(out, name);
      result[name] = await tap(c, ds.train, ds.test, ds.train.n, ds.test.n, classes, ctx.say);
      c.dispose();
    }
    // the hidden layers: all but the classifier's own output
    const hidden = (n: string) => result[n].slice(0, -1);
    const peak = (n: string) => hidden(n).reduce((b, x) => (x.accuracy > b.accuracy ? x : b), hidden(n)[0]);
    const rise = (n: string) => peak(n).accuracy - hidden(n)[0].accuracy;
    const rises = (n: string) => rise(n) > 0.01 && peak(n) !== hidden(n)[0];
    return {
      measured:
        Object.entries(result)
          .map(([n, r]) => `${n}: ${r.map((x) => `${x.layer} ${pct(x.accuracy, 1)}`).join(', ')}`)
          .join('; ') +
        `; each peaks at ${Object.keys(result)
          .map((n) => `${peak(n).layer} (${n}, +${(100 * rise(n)).toFixed(1)} points over its first layer)`)
          .join(' and ')}`,
      verdict: rises('lenet5') && rises('bow-sift') ? 'agrees' : rises('lenet5') || rises('bow-sift') ? 'partly' : 'disagrees',
      tables: Object.entries(result).map(([n, r]) => ({
        title: `${n}: a linear SVM on each layer`,
        head: ['depth', 'layer', 'dimensions', 'test accuracy'],
        rows: r.map((x, i) => [i + 1, x.layer, x.dims, pct(x.accuracy)]),
      })),
      plots: [
        {
          title: 'accuracy against depth',
          svg: lineChart(
            Object.entries(result).map(([n, r]) => ({ name: n, points: r.map((x, i) => [i + 1, 100 * x.accuracy] as [number, number]) })),
            { title: 'Linear SVM test accuracy (%) on each layer', xlabel: 'layer (1 = first)', ylabel: 'accuracy (%)' },
          ),
        },
      ],
      notes: [
        `Both trained on the same ${ds.train.n} images; each SVM (C = 1, squared hinge, one-vs-rest) on the same images' layer outputs, flattened and L2-normalised per image, and scored on ${ds.test.n} test images.`,
        "The last row of each is the classifier's own output (10 scores): an SVM trained on those scores, which can differ from the classifier's own argmax.",
        'The verdict: agrees when, for both, the best hidden layer is deeper than the first and beats it by more than 1 point; the curve need not rise all the way (the last layers of a network trained on few images can fall back).',
      ],
      figures: result,
      data: dataOf(ds),
    };
  },
};
