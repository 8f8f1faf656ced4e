/**
 * alexnet-ablation: the course's AlexNet ablation (Zeiler and Fergus 2014, table 3) on alexnet-small. AlexNet's
 * layers 6 and 7 are its two hidden fully connected layers (fc1, fc2 here), layers 3 and 4 the convolutions
 * after the second pooling (conv3, the last conv block, here: alexnet-small has three conv blocks). Each
 * variant is trained from scratch with the same recipe, data and budget.
 */
import { join } from 'node:path';
import { compare } from '../eval/compare.js';
import { barChart } from '../report/svg.js';
import { type Experiment, type Findings, num, pct, dataOf } from './experiment.js';
import { readRecipe } from '../pipeline/recipes.js';
import { cnnVariant } from './variants.js';

/** The variants of the recipe's own widths and fully connected layers. */
function variants(): { name: string; removed: string; config: Record<string, unknown> }[] {
  const r = readRecipe('alexnet-small');
  const c = (r.kind === 'cnn' ? r.config : {}) as { widths?: number[]; fc?: number[] };
  const widths = c.widths ?? [32, 64, 128],
    fc = c.fc ?? [256, 128];
  return [
    { name: 'alexnet-full', removed: 'nothing', config: {} },
    { name: 'alexnet-no7', removed: 'layer 7 (fc2)', config: { fc: fc.slice(0, 1) } },
    { name: 'alexnet-no67', removed: 'layers 6 and 7 (fc1, fc2)', config: { fc: [] } },
    { name: 'alexnet-no3467', removed: 'layers 3, 4, 6 and 7 (conv3, fc1, fc2)', config: { widths: widths.slice(0, 2), fc: [] } },
  ];
}

export const alexnetAblation: Experiment = {
  name: 'alexnet-ablation',
  title: 'Removing layers from AlexNet: depth is key',
  claim:
    'Removing layer 7 or layers 6 and 7 of AlexNet costs little accuracy, though they hold most of its parameters; removing layers 3, 4, 6 and 7 costs a lot: depth is key.',
  defaults: { dataset: 'fashion-mnist', subset: 10000, testSubset: 2000 },
  async run(ctx): Promise<Findings> {
    const ds = await ctx.dataset();
    const epochs = 8;
    const VARIANTS = variants();
    const cs = VARIANTS.map((v) => cnnVariant('alexnet-small', v.name, { config: v.config, train: { epochs } }));
    const r = await compare(cs, ds, {
      out: join(ctx.out, 'run'),
      seed: ctx.seed,
      protocol: ctx.protocol,
      optionalSets: ctx.sets,
      progress: ctx.progress,
      onStep: ctx.say,
    });
    for (const c of cs) c.dispose();
    const full = r.contenders[0];
    const pv = (name: string) => r.pairs.find((m) => (m.a === full.name && m.b === name) || (m.b === full.name && m.a === name));
    const rows = r.contenders.map((c, i) => {
      const m = pv(c.name);
      return [
        VARIANTS[i].removed,
        pct(c.accuracy),
        `${pct(c.ci95[0])} – ${pct(c.ci95[1])}`,
        i === 0 ? '' : `${(100 * (c.accuracy - full.accuracy)).toFixed(2)}`,
        i === 0 || !m ? '' : m.p.toExponential(2),
        num(c.params),
      ];
    });
    const d = (i: number) => full.accuracy - r.contenders[i].accuracy;
    const agrees = d(1) < 0.01 && d(2) < 0.015 && d(3) > Math.max(d(1), d(2)) + 0.005;
    return {
      measured: `accuracy ${r.contenders.map((c, i) => `${pct(c.accuracy)} (${VARIANTS[i].removed} removed)`).join(', ')}; parameters ${r.contenders.map((c) => num(c.params)).join(' / ')}`,
      verdict: agrees ? 'agrees' : d(3) > Math.max(d(1), d(2)) ? 'partly' : 'disagrees',
      tables: [
        { title: 'The ablation', head: ['removed', 'accuracy', '95% CI', 'change (points)', 'McNemar p vs full', 'parameters'], rows },
      ],
      plots: [
        {
          title: 'accuracy per variant',
          svg: barChart(
            r.contenders.map((c, i) => ({ label: VARIANTS[i].removed, value: 100 * c.accuracy })),
            { title: 'Test accuracy (%)', unit: '%' },
          ),
        },
      ],
      notes: [
        'The verdict: agrees when removing layer 7 costs under 1 point, layers 6 and 7 under 1.5, and layers 3, 4, 6 and 7 at least 0.5 point more than either; partly when only the last holds.',
        `alexnet-small's recipe (BN, ReLU, dropout 0.5, flips, one-cycle 3e-3) for ${epochs} epochs each, on ${ds.train.n} training images; removing a layer removes its weights and its dropout.`,
        'AlexNet (Zeiler and Fergus 2014, ImageNet top-5 error): removing layer 7 changed the error little, layers 6 and 7 a little more, layers 3, 4, 6 and 7 a lot. Here the network is far smaller and the data far simpler, so the sizes of the effects differ.',
        'With few images and 8 epochs the fully connected layers (most of the parameters, under dropout) are the slowest to train, so a short budget can favour the smaller variants; `--subset 60000` (all of the training set) is the fairer test.',
      ],
      figures: Object.fromEntries(
        r.contenders.map((c, i) => [c.name, { removed: VARIANTS[i].removed, accuracy: c.accuracy, ci95: c.ci95, params: c.params }]),
      ),
      data: dataOf(ds),
    };
  },
};
