/**
 * dropout-test-time: a network trained with dropout, used at test time in the lecture's two ways.
 *   1. weight scaling: one pass with every unit on and its outgoing weights scaled by the keep probability
 *      (what tfjs's inverted dropout computes with dropout off: it scaled by 1/keep during training instead);
 *   2. averaging: T passes, each with a new dropout mask (a sampled thinner network), the class probabilities
 *      averaged.
 * The conv part runs once (dropout sits only in the fully connected head); the head's T passes use the fitted
 * weights with masks drawn here. Accuracy and time for T = 1 to 64, against one weight-scaled pass.
 */
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { CnnClassifier } from '../cnn/classifier.js';
import type { Split } from '../core/data.js';
import { compare } from '../eval/compare.js';
import { lineChart } from '../report/svg.js';
import { type Experiment, type Findings, pct, dataOf, fitted, splitAccuracy } from './experiment.js';
import { cnnVariant } from './variants.js';

const SAMPLES = [1, 4, 16, 64];

interface Head {
  dense: { kernel: tf.Tensor2D; bias: tf.Tensor1D; relu: boolean; dropAfter: number }[];
  body: tf.LayersModel; // input -> the input of the first dense layer
}

export function headOf(model: tf.LayersModel): Head {
  const layers = model.layers;
  const first = layers.findIndex((l) => l.getClassName() === 'Dense');
  const body = tf.model({ inputs: model.inputs, outputs: layers[first - 1].output as tf.SymbolicTensor });
  const dense: Head['dense'] = [];
  for (let i = first; i < layers.length; i++) {
    const l = layers[i];
    if (l.getClassName() === 'Dense') {
      const [kernel, bias] = l.getWeights() as [tf.Tensor2D, tf.Tensor1D];
      dense.push({ kernel, bias, relu: (l.getConfig() as { activation?: string }).activation === 'relu', dropAfter: 0 });
    } else if (l.getClassName() === 'Dropout' && dense.length) dense[dense.length - 1].dropAfter = (l.getConfig() as { rate: number }).rate;
  }
  return { dense, body };
}

/** Mean class probabilities `[n, classes]` over `samples` dropout masks (0: no masks, the weight-scaled pass). */
export function headProbs(h: Head, features: tf.Tensor2D, samples: number, seed: number): tf.Tensor2D {
  return tf.tidy(() => {
    const one = (s: number | null) => {
      let x: tf.Tensor2D = features;
      h.dense.forEach((d, i) => {
        x = tf.add(tf.matMul(x, d.kernel), d.bias);
        if (d.relu) x = tf.relu(x);
        if (s !== null && d.dropAfter > 0) {
          const keep = 1 - d.dropAfter;
          const mask = tf.cast(tf.less(tf.randomUniform(x.shape, 0, 1, 'float32', seed + 1000 * s + i), keep), 'float32');
          x = tf.div(tf.mul(x, mask), keep);
        }
      });
      return tf.softmax(x);
    };
    if (samples === 0) return one(null) as tf.Tensor2D;
    let sum = one(0);
    for (let s = 1; s < samples; s++) sum = tf.add(sum, one(s));
    return tf.div(sum, samples) as tf.Tensor2D;
  });
}

async function evaluate(h: Head, test: Split, samples: number, seed: number): Promise<{ accuracy: number; seconds: number }> {
  const t0 = performance.now();
  const accuracy = await splitAccuracy(test, async (x, start) => {
    const pred = tf.tidy(() => tf.argMax(headProbs(h, h.body.predict(x) as tf.Tensor2D, samples, seed + start), 1));
    try {
      return (await pred.data()) as Int32Array;
    } finally {
      pred.dispose();
    }
  });
  return { accuracy, seconds: (performance.now() - t0) / 1000 };
}

export const dropoutTestTime: Experiment = {
  name: 'dropout-test-time',
  title: 'Dropout at test time: weight scaling against averaging sampled networks',
  claim:
    'At test time a network trained with dropout can (1) use all units with their weights scaled by the keep probability, a cheap approximation of (2) averaging the predictions of many sampled thinned networks.',
  defaults: { dataset: 'fashion-mnist', subset: 10000, testSubset: 2000 },
  async run(ctx): Promise<Findings> {
    const ds = await ctx.dataset();
    const c = cnnVariant('alexnet-small', 'alexnet-dropout', { train: { epochs: 8 } });
    const out = join(ctx.out, 'run');
    await compare([c], ds, {
      out,
      seed: ctx.seed,
      protocol: ctx.protocol,
      optionalSets: ctx.sets,
      progress: ctx.progress,
      onStep: ctx.say,
    });
    c.dispose();
    const model = (await fitted(out, 'alexnet-dropout')) as CnnClassifier;
    const h = headOf(model.model!);
    const scaled = await evaluate(h, ds.test, 0, ctx.seed);
    const sampled = [];
    for (const t of SAMPLES) {
      ctx.say(`averaging ${t} sampled networks`);
      sampled.push({ samples: t, ...(await evaluate(h, ds.test, t, ctx.seed)) });
    }
    model.dispose();
    const best = sampled[sampled.length - 1];
    const gap = best.accuracy - scaled.accuracy;
    return {
      measured: `weight scaling ${pct(scaled.accuracy)} in ${scaled.seconds.toFixed(2)} s; averaging ${sampled.map((s) => `${s.samples}: ${pct(s.accuracy)}`).join(', ')} (64 samples ${(best.seconds / scaled.seconds).toFixed(1)}x the time)`,
      verdict: Math.abs(gap) <= 0.01 && sampled[0].accuracy <= scaled.accuracy ? 'agrees' : 'partly',
      tables: [
        {
          title: `Test accuracy and time (${ds.test.n} images)`,
          head: ['test-time rule', 'accuracy', 'seconds'],
          rows: [
            ['weight scaling (one pass)', pct(scaled.accuracy), scaled.seconds.toFixed(2)],
            ...sampled.map((s) => [
              `average of ${s.samples} sampled network${s.samples === 1 ? '' : 's'}`,
              pct(s.accuracy),
              s.seconds.toFixed(2),
            ]),
          ],
        },
      ],
      plots: [
        {
          title: 'accuracy against the number of sampled networks',
          svg: lineChart(
            [
              {
                name: 'averaging T sampled networks',
                points: sampled.map((s) => [Math.log2(s.samples), 100 * s.accuracy] as [number, number]),
              },
              {
                name: 'weight scaling',
                points: sampled.map((s) => [Math.log2(s.samples), 100 * scaled.accuracy] as [number, number]),
                dash: true,
              },
            ],
            { title: 'Test accuracy (%) against log2 T', xlabel: 'log2 sampled networks', ylabel: 'accuracy (%)' },
          ),
        },
      ],
      notes: [
        'The verdict: agrees when averaging 64 sampled networks is within 1 point of weight scaling and one sampled network does no better than weight scaling.',
        "alexnet-small's recipe (dropout 0.5 after each hidden fully connected layer) for 8 epochs; the test-time flips of the recipe are not used here, so both rules see one view (the accuracy the comparison prints while fitting includes the flips, and can differ from the weight-scaled figure here).",
        'Only the head is sampled: the conv layers have no dropout, so their output is computed once per image and shared by all T samples (the time is the whole evaluation).',
      ],
      figures: { weightScaling: scaled, averaging: sampled },
      data: dataOf(ds),
    };
  },
};
