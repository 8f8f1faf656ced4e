/**
 * rotation-pooling: LeNet-5 whose first layer max-pools each filter's response over 8 rotations of the filter
 * (bowcnn/layers' BowRotationConv: the same parameters as a plain conv) against the plain LeNet-5, trained on the
 * same upright digits: accuracy against the rotation of the test images.
 */
import { join } from 'node:path';
import { compare } from '../eval/compare.js';
import { lineChart } from '../report/svg.js';
import { type Experiment, type Findings, pct, dataOf, contender } from './experiment.js';
import { cnnVariant } from './variants.js';

export const rotationPooling: Experiment = {
  name: 'rotation-pooling',
  title: 'Max pooling over rotated filters: learning invariance to rotation',
  claim:
    'Pooling over rotated copies of each filter (rather than over positions) builds invariance to rotation into a layer, as spatial pooling builds in invariance to small shifts.',
  defaults: { dataset: 'mnist', subset: 5000, testSubset: 1000 },
  async run(ctx): Promise<Findings> {
    const ds = await ctx.dataset();
    const names = ['lenet5-plain', 'lenet5-rot8'];
    const cs = [cnnVariant('lenet5', names[0], {}), cnnVariant('lenet5', names[1], { config: { rotations: 8 } })];
    const r = await compare(cs, ds, {
      out: join(ctx.out, 'run'),
      seed: ctx.seed,
      protocol: ctx.protocol,
      optionalSets: ctx.sets,
      robustness: true,
      robustnessImages: ds.test.n,
      robustnessKinds: ['rotate'],
      progress: ctx.progress,
      onStep: ctx.say,
    });
    for (const c of cs) c.dispose();
    const curve = (n: string) => r.robustness?.[n]?.rotate ?? [];
    const mean = (n: string) => curve(n).reduce((a, p) => a + p.accuracy, 0) / Math.max(1, curve(n).length);
    const params = (n: string) => contender(r, n)?.params ?? 0;
    const acc = (n: string) => contender(r, n)?.accuracy ?? 0;
    const c1 = (n: string) => curve(n).find((p) => p.amount === 40)?.distances.C1 ?? Number.NaN;
    return {
      measured: `mean accuracy over rotations of -60 to 60 degrees ${pct(mean(names[0]))} (plain) against ${pct(mean(names[1]))} (rotation-pooled C1), at 40 degrees ${pct(curve(names[0]).find((p) => p.amount === 40)?.accuracy ?? 0)} against ${pct(curve(names[1]).find((p) => p.amount === 40)?.accuracy ?? 0)}; C1's change at 40 degrees ${c1(names[0]).toFixed(3)} against ${c1(names[1]).toFixed(3)}; ${params(names[0])} and ${params(names[1])} parameters`,
      verdict:
        mean(names[1]) > mean(names[0]) + 0.01 && c1(names[1]) < c1(names[0])
          ? 'agrees'
          : mean(names[1]) > mean(names[0]) || c1(names[1]) < c1(names[0])
            ? 'partly'
            : 'disagrees',
      tables: [
        {
          title: 'Accuracy against the rotation of the test images',
          head: ['', ...curve(names[0]).map((p) => `${p.amount}°`), 'unrotated test accuracy', 'parameters'],
          rows: names.map((n) => [n, ...curve(n).map((p) => pct(p.accuracy, 1)), pct(acc(n)), params(n)]),
        },
      ],
      plots: [
        {
          title: 'accuracy against rotation',
          svg: lineChart(
            names.map((n) => ({ name: n, points: curve(n).map((p) => [p.amount, 100 * p.accuracy] as [number, number]) })),
            { title: 'Accuracy (%) against rotation (degrees)', xlabel: 'degrees', ylabel: 'accuracy (%)' },
          ),
        },
      ],
      notes: [
        "The verdict: agrees when the rotation-pooled network's mean accuracy over the sweep is over 1 point higher and its C1 changes less; partly when one of the two holds.",
        `Both LeNet-5 (modern), Adam 1e-3, 5 epochs on ${ds.train.n} upright digits (no rotation in training); the rotation-pooled C1 applies each of its 6 filters at 8 angles (45 degrees apart, bilinear resampling of the 5x5 kernel) and keeps the largest response, so it has a plain C1's 156 parameters.`,
        'Only the first layer pools over rotations; the layers above still see the digit rotated, so the invariance is partial. Some digits (6 and 9) are rotations of each other.',
        'A model with BowRotationConv needs bowcnn/layers (or bowcnn) to load.',
      ],
      figures: {
        robustness: r.robustness ?? {},
        params: Object.fromEntries(names.map((n) => [n, params(n)])),
        accuracy: Object.fromEntries(names.map((n) => [n, acc(n)])),
      },
      data: dataOf(ds),
    };
  },
};
