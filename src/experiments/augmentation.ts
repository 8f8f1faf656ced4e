/**
 * augmentation: LeNet-5 trained with no augmentation, random horizontal flips, random crops (2 px of zero
 * padding, then a crop of the original size) or random rotation and scaling (jitter), the same epochs and data:
 * test accuracy, and the robustness curves under translation, scaling and rotation.
 */
import { join } from 'node:path';
import { compare } from '../eval/compare.js';
import type { TransformKind } from '../eval/robustness.js';
import { lineChart } from '../report/svg.js';
import { type Experiment, type Findings, pct, dataOf, contender } from './experiment.js';
import { cnnVariant } from './variants.js';

const SETTINGS: { name: string; what: string; augment?: Record<string, unknown> }[] = [
  { name: 'lenet5-none', what: 'none' },
  { name: 'lenet5-flips', what: 'horizontal flips', augment: { pad: 0, flip: true, jitter: 0 } },
  { name: 'lenet5-crops', what: 'crops (pad 2)', augment: { pad: 2, flip: false, jitter: 0 } },
  { name: 'lenet5-jitter', what: 'rotation and scale jitter (0.2)', augment: { pad: 0, flip: false, jitter: 0.2 } },
];
const EPOCHS = 8;

export const augmentation: Experiment = {
  name: 'augmentation',
  title: 'Data augmentation: accuracy and robustness',
  claim:
    'Data augmentation (flips, crops, small rotations and scalings of the training images) reduces overfitting and makes the network robust to the transformations it was shown.',
  defaults: { dataset: 'fashion-mnist', subset: 10000, testSubset: 2000 },
  async run(ctx): Promise<Findings> {
    const ds = await ctx.dataset();
    const cs = SETTINGS.map((s) => cnnVariant('lenet5', s.name, { train: { epochs: EPOCHS, augment: s.augment } }));
    const r = await compare(cs, ds, {
      out: join(ctx.out, 'run'),
      seed: ctx.seed,
      protocol: ctx.protocol,
      optionalSets: ctx.sets,
      robustness: true,
      robustnessImages: Math.min(500, ds.test.n),
      progress: ctx.progress,
      onStep: ctx.say,
    });
    for (const c of cs) c.dispose();
    const rob = r.robustness ?? {};
    const kinds: TransformKind[] = ['translate-x', 'scale', 'rotate'];
    const meanAcc = (n: string, k: TransformKind) => {
      const pts = rob[n]?.[k] ?? [];
      return pts.reduce((a, p) => a + p.accuracy, 0) / Math.max(1, pts.length);
    };
    const acc = (n: string) => contender(r, n)?.accuracy ?? 0;
    const cropsHelpShift = meanAcc('lenet5-crops', 'translate-x') > meanAcc('lenet5-none', 'translate-x');
    const jitterHelps =
      meanAcc('lenet5-jitter', 'rotate') > meanAcc('lenet5-none', 'rotate') &&
      meanAcc('lenet5-jitter', 'scale') > meanAcc('lenet5-none', 'scale');
    const bestAug = Math.max(...SETTINGS.slice(1).map((s) => acc(s.name)));
    const trainAcc = (n: string) => {
      const e = contender(r, n)?.epochs ?? [];
      return e[e.length - 1]?.trainAccuracy ?? 0;
    };
    return {
      measured: `test accuracy ${SETTINGS.map((s) => `${pct(acc(s.name))} (${s.what})`).join(', ')}; mean accuracy over the shift sweep ${pct(meanAcc('lenet5-none', 'translate-x'))} without, ${pct(meanAcc('lenet5-crops', 'translate-x'))} with crops; over the rotation sweep ${pct(meanAcc('lenet5-none', 'rotate'))} without, ${pct(meanAcc('lenet5-jitter', 'rotate'))} with jitter`,
      verdict:
        cropsHelpShift && jitterHelps && bestAug >= acc('lenet5-none') ? 'agrees' : cropsHelpShift || jitterHelps ? 'partly' : 'disagrees',
      tables: [
        {
          title: 'Accuracy, the gap to training accuracy, and the mean accuracy over each robustness sweep',
          head: ['augmentation', 'test accuracy', 'train - test (points)', ...kinds.map((k) => `mean over ${k}`)],
          rows: SETTINGS.map((s) => [
            s.what,
            pct(acc(s.name)),
            (100 * (trainAcc(s.name) - acc(s.name))).toFixed(1),
            ...kinds.map((k) => pct(meanAcc(s.name, k))),
          ]),
        },
      ],
      plots: kinds.map((k) => ({
        title: `accuracy under ${k}`,
        svg: lineChart(
          SETTINGS.map((s) => ({
            name: s.what,
            points: (rob[s.name]?.[k] ?? []).map((p) => [p.amount, 100 * p.accuracy] as [number, number]),
          })),
          {
            title: `Accuracy (%) under ${k}`,
            xlabel: k === 'rotate' ? 'degrees' : k === 'scale' ? 'scale' : 'pixels',
            ylabel: 'accuracy (%)',
          },
        ),
      })),
      notes: [
        'The verdict: agrees when crops raise the mean accuracy over the shift sweep, jitter raises it over the rotation and scale sweeps, and some augmentation matches the test accuracy without; partly when one of the robustness gains holds.',
        `LeNet-5 (modern), Adam 1e-3, ${EPOCHS} epochs on ${ds.train.n} images for each; augmentation is drawn anew for every image of every epoch; the robustness sweeps use ${Math.min(500, ds.test.n)} test images.`,
        'Train accuracy is measured on the augmented images during the last epoch, so the gap is an upper bound of overfitting for the augmented runs.',
      ],
      figures: { accuracy: Object.fromEntries(SETTINGS.map((s) => [s.name, acc(s.name)])), robustness: rob },
      data: dataOf(ds),
    };
  },
};
