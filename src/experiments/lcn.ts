/**
 * lcn: LeNet-5 with and without a local contrast normalisation layer on its input (`lcn`, bowcnn/layers' BowLCN),
 * trained on the same images, then tested on the test images with their contrast and brightness changed
 * (x -> a x + b, clipped to [0, 1]).
 */
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { Classifier } from '../core/classifier.js';
import type { Split } from '../core/data.js';
import { compare } from '../eval/compare.js';
import { lineChart } from '../report/svg.js';
import { type Experiment, type Findings, pct, dataOf, contender, fitted, splitAccuracy } from './experiment.js';
import { cnnVariant } from './variants.js';

const CONTRAST = [0.2, 0.4, 0.6, 0.8, 1];
const BRIGHTNESS = [-0.4, -0.2, 0, 0.2, 0.4];

function photometric(c: Classifier, test: Split, a: number, b: number): Promise<number> {
  return splitAccuracy(test, async (x) => {
    const xt = tf.tidy(() => tf.clipByValue(tf.add(tf.mul(x, a), b), 0, 1) as tf.Tensor4D);
    try {
      return await c.predict(xt);
    } finally {
      xt.dispose();
    }
  });
}

export const lcn: Experiment = {
  name: 'lcn',
  title: 'Local contrast normalisation under changes of brightness and contrast',
  claim:
    'Local contrast normalisation (subtract the local mean, divide by the local standard deviation) makes the features, and so the classifier, insensitive to the brightness and contrast of the input.',
  defaults: { dataset: 'mnist', subset: 5000, testSubset: 1000 },
  async run(ctx): Promise<Findings> {
    const ds = await ctx.dataset();
    const names = ['lenet5-plain', 'lenet5-lcn'];
    const cs = [cnnVariant('lenet5', names[0], {}), cnnVariant('lenet5', names[1], { config: { lcn: true } })];
    const out = join(ctx.out, 'run');
    const r = await compare(cs, ds, {
      out,
      seed: ctx.seed,
      protocol: ctx.protocol,
      optionalSets: ctx.sets,
      progress: ctx.progress,
      onStep: ctx.say,
    });
    for (const c of cs) c.dispose();
    const curves: Record<string, { contrast: number[]; brightness: number[] }> = {};
    for (const n of names) {
      const c = await fitted(out, n);
      ctx.say(`${n}: contrast and brightness sweeps`);
      curves[n] = { contrast: [], brightness: [] };
      for (const a of CONTRAST) curves[n].contrast.push(await photometric(c, ds.test, a, 0));
      for (const b of BRIGHTNESS) curves[n].brightness.push(await photometric(c, ds.test, 1, b));
      c.dispose();
    }
    const worst = (n: string) => Math.min(...curves[n].contrast, ...curves[n].brightness);
    const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
    const steadier =
      mean(curves['lenet5-lcn'].contrast) > mean(curves['lenet5-plain'].contrast) &&
      mean(curves['lenet5-lcn'].brightness) > mean(curves['lenet5-plain'].brightness);
    const acc = (n: string) => contender(r, n)?.accuracy ?? 0;
    return {
      measured: `test accuracy ${pct(acc(names[0]))} without LCN, ${pct(acc(names[1]))} with; the worst over the sweeps ${pct(worst(names[0]))} without, ${pct(worst(names[1]))} with; mean over the contrast sweep ${pct(mean(curves[names[0]].contrast))} against ${pct(mean(curves[names[1]].contrast))}, over the brightness sweep ${pct(mean(curves[names[0]].brightness))} against ${pct(mean(curves[names[1]].brightness))}`,
      verdict:
        steadier && worst(names[1]) > worst(names[0]) ? 'agrees' : steadier || worst(names[1]) > worst(names[0]) ? 'partly' : 'disagrees',
      tables: [
        {
          title: 'Accuracy with the contrast scaled (x -> a x)',
          head: ['', ...CONTRAST.map((a) => `a = ${a}`)],
          rows: names.map((n) => [n, ...curves[n].contrast.map((v) => pct(v, 1))]),
        },
        {
          title: 'Accuracy with the brightness shifted (x -> x + b, clipped)',
          head: ['', ...BRIGHTNESS.map((b) => `b = ${b}`)],
          rows: names.map((n) => [n, ...curves[n].brightness.map((v) => pct(v, 1))]),
        },
      ],
      plots: [
        {
          title: 'accuracy against contrast',
          svg: lineChart(
            names.map((n) => ({ name: n, points: CONTRAST.map((a, i) => [a, 100 * curves[n].contrast[i]] as [number, number]) })),
            { title: 'Accuracy (%) against the contrast factor a', xlabel: 'a', ylabel: 'accuracy (%)' },
          ),
        },
        {
          title: 'accuracy against brightness',
          svg: lineChart(
            names.map((n) => ({ name: n, points: BRIGHTNESS.map((b, i) => [b, 100 * curves[n].brightness[i]] as [number, number]) })),
            { title: 'Accuracy (%) against the brightness shift b', xlabel: 'b', ylabel: 'accuracy (%)' },
          ),
        },
      ],
      notes: [
        'The verdict: agrees when LCN raises the mean accuracy over both sweeps and the worst accuracy over them; partly when one of the two holds.',
        `LeNet-5 (modern) trained on ${ds.train.n} unmodified images, with or without BowLCN (9x9 Gaussian window, sigma 2) after the input normalisation; the sweeps run on ${ds.test.n} test images.`,
        'Clipping to [0, 1] loses information for large shifts (a bright background saturates the strokes): no layer can undo that.',
        'A model with LCN needs bowcnn/layers (or bowcnn) to load; plain tfjs does not know BowLCN.',
      ],
      figures: { contrast: CONTRAST, brightness: BRIGHTNESS, curves, accuracy: Object.fromEntries(names.map((n) => [n, acc(n)])) },
      data: dataOf(ds),
    };
  },
};
