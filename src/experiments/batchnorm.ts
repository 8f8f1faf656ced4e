/**
 * batchnorm: alexnet-small with and without batch normalisation (without it each conv has a bias), the same
 * data and epochs, trained by SGD at three constant learning rates: the training loss per epoch at the middle rate,
 * and the test accuracy at each rate.
 */
import { join } from 'node:path';
import { compare } from '../eval/compare.js';
import { lineChart } from '../report/svg.js';
import { type Experiment, type Findings, pct, dataOf, contender } from './experiment.js';
import { cnnVariant } from './variants.js';

const RATES = [0.01, 0.05, 0.2];
// plain SGD with momentum at a constant rate: the setting in which Ioffe and Szegedy (2015) show the effect
const SGD = { optimizer: 'sgd', momentum: 0.9, schedule: 'none' };
const EPOCHS = 5;

export const batchnorm: Experiment = {
  name: 'batchnorm',
  title: 'Batch normalisation: faster training, less sensitive to the learning rate',
  claim:
    'Batch normalisation lets a network train faster and with higher learning rates, and makes it less sensitive to the choice of the learning rate.',
  defaults: { dataset: 'fashion-mnist', subset: 10000, testSubset: 2000 },
  async run(ctx): Promise<Findings> {
    const ds = await ctx.dataset();
    const cs = RATES.flatMap((lr) =>
      [true, false].map((bn) =>
        cnnVariant('alexnet-small', `${bn ? 'bn' : 'no-bn'}-lr${lr}`, { config: { batchNorm: bn }, train: { ...SGD, lr, epochs: EPOCHS } }),
      ),
    );
    const r = await compare(cs, ds, {
      out: join(ctx.out, 'run'),
      seed: ctx.seed,
      protocol: ctx.protocol,
      optionalSets: ctx.sets,
      progress: ctx.progress,
      onStep: ctx.say,
    });
    for (const c of cs) c.dispose();
    const get = (bn: boolean, lr: number) => contender(r, `${bn ? 'bn' : 'no-bn'}-lr${lr}`);
    const acc = (bn: boolean) => RATES.map((lr) => get(bn, lr)?.accuracy ?? 0);
    const spread = (v: number[]) => Math.max(...v) - Math.min(...v);
    const mid = RATES[1];
    const loss = (bn: boolean) => (get(bn, mid)?.epochs ?? []).map((e) => e.loss);
    const [withBn, without] = [acc(true), acc(false)];
    const fasterLoss = loss(true).every((l, i) => l <= (loss(false)[i] ?? Infinity));
    const lessSensitive = spread(withBn) < spread(without);
    const bestWith = Math.max(...withBn),
      bestWithout = Math.max(...without);
    return {
      measured: `test accuracy with BN ${withBn.map((a) => pct(a)).join(' / ')} and without ${without.map((a) => pct(a)).join(' / ')} at learning rates ${RATES.join(' / ')} (spread ${pct(spread(withBn))} against ${pct(spread(without))}); at ${mid} the training loss with BN is ${fasterLoss ? 'lower at every epoch' : 'not lower at every epoch'}`,
      verdict: fasterLoss && lessSensitive && bestWith >= bestWithout ? 'agrees' : fasterLoss || lessSensitive ? 'partly' : 'disagrees',
      tables: [
        {
          title: 'Test accuracy at each learning rate (SGD, momentum 0.9, constant rate)',
          head: ['', ...RATES.map((lr) => `lr ${lr}`), 'spread'],
          rows: [
            ['with batch norm', ...withBn.map((a) => pct(a)), pct(spread(withBn))],
            ['without', ...without.map((a) => pct(a)), pct(spread(without))],
          ],
        },
        {
          title: `Training loss per epoch at lr ${mid}`,
          head: ['', ...loss(true).map((_, i) => `epoch ${i + 1}`)],
          rows: [
            ['with batch norm', ...loss(true).map((l) => l.toFixed(4))],
            ['without', ...loss(false).map((l) => l.toFixed(4))],
          ],
        },
      ],
      plots: [
        {
          title: 'training loss per epoch',
          svg: lineChart(
            [
              { name: 'with batch norm', points: loss(true).map((l, i) => [i + 1, l] as [number, number]) },
              { name: 'without', points: loss(false).map((l, i) => [i + 1, l] as [number, number]), dash: true },
            ],
            { title: `Training loss per epoch (lr ${mid})`, xlabel: 'epoch', ylabel: 'loss' },
          ),
        },
        {
          title: 'accuracy against the learning rate',
          svg: lineChart(
            [
              { name: 'with batch norm', points: RATES.map((lr, i) => [Math.log10(lr), 100 * withBn[i]] as [number, number]) },
              { name: 'without', points: RATES.map((lr, i) => [Math.log10(lr), 100 * without[i]] as [number, number]), dash: true },
            ],
            { title: 'Test accuracy (%) against log10 learning rate', xlabel: 'log10 learning rate', ylabel: 'accuracy (%)' },
          ),
        },
      ],
      notes: [
        'The verdict: agrees when with BN the training loss is lower at every epoch, the accuracy varies less across the rates and the best accuracy is at least as high; partly when one of the first two holds.',
        `alexnet-small (dropout 0.5, label smoothing, flips) trained by SGD with momentum 0.9 at a constant rate for ${EPOCHS} epochs on ${ds.train.n} images; the loss is the training loss with label smoothing, averaged over each epoch.`,
        "Batch normalisation's moving statistics (momentum 0.99) are what the test set sees: after a few hundred steps they still carry some of their initial values, which can cost the BN network test accuracy that its training loss does not show.",
        "Without batch normalisation each conv layer gets a bias (what BN's beta was), so the two differ only by the normalisation.",
      ],
      figures: { rates: RATES, accuracyWithBn: withBn, accuracyWithout: without, lossWithBn: loss(true), lossWithout: loss(false) },
      data: dataOf(ds),
    };
  },
};
