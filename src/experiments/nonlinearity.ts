/**
 * nonlinearity: the same LeNet-5 (modern geometry: max pooling, inputs normalised), the same initial weights'
 * distribution, data, optimiser and number of epochs, with ReLU, tanh or the logistic sigmoid as its hidden
 * activation: the training loss per epoch and the final test accuracy.
 */
import { join } from 'node:path';
import { compare } from '../eval/compare.js';
import { lineChart } from '../report/svg.js';
import { type Experiment, type Findings, pct, dataOf, contender } from './experiment.js';
import { cnnVariant } from './variants.js';

const ACTS = ['relu', 'tanh', 'sigmoid'] as const;
const TRAIN = { optimizer: 'sgd', lr: 0.01, momentum: 0.9, epochs: 6, batchSize: 64 };

export const nonlinearity: Experiment = {
  name: 'nonlinearity',
  title: 'ReLU, tanh and sigmoid in the same network',
  claim:
    'ReLU makes learning faster than saturating nonlinearities (tanh, sigmoid): the network reaches a given training loss in fewer epochs.',
  defaults: { dataset: 'mnist', subset: 10000, testSubset: 2000 },
  async run(ctx): Promise<Findings> {
    const ds = await ctx.dataset();
    const cs = ACTS.map((a) => cnnVariant('lenet5', `lenet5-${a}`, { config: { activation: a }, train: TRAIN }));
    const r = await compare(cs, ds, {
      out: join(ctx.out, 'run'),
      seed: ctx.seed,
      protocol: ctx.protocol,
      optionalSets: ctx.sets,
      progress: ctx.progress,
      onStep: ctx.say,
    });
    for (const c of cs) c.dispose();
    const loss = Object.fromEntries(r.contenders.map((c) => [c.name, (c.epochs ?? []).map((e) => e.loss)]));
    const target = 0.15; // the training loss each is timed to reach
    const reach = (n: string) => {
      const i = loss[n].findIndex((l) => l <= target);
      return i < 0 ? null : i + 1;
    };
    const first = Object.fromEntries(ACTS.map((a) => [a, reach(`lenet5-${a}`)]));
    const finalLoss = (n: string) => loss[n][loss[n].length - 1] ?? Number.NaN;
    const fastest = ACTS.reduce(
      (best, a) => (finalLoss(`lenet5-${a}`) < finalLoss(`lenet5-${best}`) ? a : best),
      'relu' as (typeof ACTS)[number],
    );
    const acc = (n: string) => contender(r, n)?.accuracy ?? 0;
    return {
      measured: `${ACTS.filter((a) => finalLoss(`lenet5-${a}`) > 0.9 * Math.log(ds.classes.length))
        .map((a) => `${a} has not left chance (its loss stays near ln ${ds.classes.length}); `)
        .join(
          '',
        )}after ${TRAIN.epochs} epochs of SGD the training loss is ${ACTS.map((a) => `${finalLoss(`lenet5-${a}`).toFixed(3)} (${a})`).join(', ')}; loss <= ${target} first at epoch ${ACTS.map((a) => `${first[a] ?? 'never'} (${a})`).join(', ')}; test accuracy ${ACTS.map((a) => `${pct(acc(`lenet5-${a}`))} (${a})`).join(', ')}`,
      verdict:
        fastest === 'relu' && (first.relu ?? 99) <= (first.tanh ?? 99) && (first.relu ?? 99) <= (first.sigmoid ?? 99)
          ? 'agrees'
          : 'disagrees',
      tables: [
        {
          title: 'Training loss per epoch',
          head: ['activation', ...loss[`lenet5-${ACTS[0]}`].map((_, i) => `epoch ${i + 1}`), 'test accuracy', '95% CI'],
          rows: r.contenders.map((c) => [
            c.name,
            ...loss[c.name].map((l) => l.toFixed(4)),
            pct(c.accuracy),
            `${pct(c.ci95[0])} – ${pct(c.ci95[1])}`,
          ]),
        },
      ],
      plots: [
        {
          title: 'training loss per epoch',
          svg: lineChart(
            r.contenders.map((c) => ({ name: c.name, points: loss[c.name].map((l, i) => [i + 1, l] as [number, number]) })),
            { title: 'Training loss per epoch (same net, data and SGD)', xlabel: 'epoch', ylabel: 'cross-entropy' },
          ),
        },
      ],
      notes: [
        'The verdict: agrees when ReLU ends with the lowest training loss and reaches the loss 0.15 no later than tanh and sigmoid.',
        `LeNet-5's modern geometry with each activation; SGD with momentum ${TRAIN.momentum}, learning rate ${TRAIN.lr}, batch ${TRAIN.batchSize}, ${TRAIN.epochs} epochs, Glorot initialisation, the same seed for all three.`,
        'Krizhevsky et al. (2012) report a 4-layer CNN with ReLU reaching 25% training error on CIFAR-10 six times faster than with tanh; this is the same comparison on MNIST.',
      ],
      figures: {
        loss,
        firstEpochBelow: { target, ...first },
        accuracy: Object.fromEntries(r.contenders.map((c) => [c.name, c.accuracy])),
        train: TRAIN,
      },
      data: dataOf(ds),
    };
  },
};
