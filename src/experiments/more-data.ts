/**
 * more-data: the lecture's "More data for supervised training: 10^6 vs 10^3 images" and its "Deep vs shallow"
 * slide. The BoW chain (handcrafted filters, k-means words, an SVM) and LeNet-5 (every weight learned) are
 * compared at growing training-set sizes, each at every size chosen on a validation split of that size's
 * training images, with two seeds; the learning curves say where the CNN overtakes the chain.
 */
import { join } from 'node:path';
import { compare, type CompareResult } from '../eval/compare.js';
import { curveSeries } from '../report/report.js';
import { lineChart } from '../report/svg.js';
import { type Experiment, type Findings, dataOf, num, pct } from './experiment.js';

/** The sizes of the curve: 100, 300, 1,000, ... up to the training split's size. */
export function sizesUpTo(n: number, classes: number): number[] {
  const out: number[] = [];
  for (let e = 2; 10 ** e <= n * 10; e++)
    for (const m of [1, 3]) {
      const s = m * 10 ** e;
      if (s <= n && s >= 2 * classes) out.push(s);
    }
  return out.length && out[out.length - 1] !== n ? [...out, n] : out;
}

export const moreData: Experiment = {
  name: 'more-data',
  title: 'More data: where the end-to-end CNN overtakes the handcrafted BoW chain',
  claim:
    'More data for supervised training (10^6 vs 10^3 images): given data and compute, deep networks trained end to end win; with little data, the handcrafted chain (BoW: SIFT, k-means, SVM) holds up.',
  defaults: { dataset: 'mnist', subset: 10000, testSubset: 2000 },
  async run(ctx): Promise<Findings> {
    const ds = await ctx.dataset();
    const sizes = sizesUpTo(ds.train.n, ds.classes.length);
    const names = ['bow-sift', 'lenet5'];
    const r: CompareResult = await compare(names, ds, {
      out: join(ctx.out, 'run'),
      seed: ctx.seed,
      protocol: ctx.protocol,
      optionalSets: ctx.sets,
      seeds: 2,
      trainSizes: sizes,
      progress: ctx.progress,
      onStep: ctx.say,
    });
    const series = curveSeries(r);
    const at = (name: string, size: number) => series.find((s) => s.name === name)?.points.find((p) => p.size === size)?.mean ?? 0;
    const small = sizes[0],
      big = sizes[sizes.length - 1];
    const gapSmall = at('lenet5', small) - at('bow-sift', small);
    const gapBig = at('lenet5', big) - at('bow-sift', big);
    const cross = r.crossings.find((c) => c.above === 'lenet5');
    // the lecture's two halves: the chain holds up with little data (within a point, or ahead), the CNN wins with more
    const holdsUp = gapSmall <= 0.01;
    const cnnWins = gapBig > 0;
    const chance = 1 / ds.classes.length;
    const verdict =
      at('bow-sift', small) < 2 * chance && at('lenet5', small) < 2 * chance
        ? ('inconclusive' as const)
        : holdsUp && cnnWins
          ? ('agrees' as const)
          : holdsUp || cnnWins
            ? ('partly' as const)
            : ('disagrees' as const);
    const plot = lineChart(
      series.map((s) => ({
        name: s.name,
        points: s.points.map((p) => [p.size, 100 * p.mean] as [number, number]),
        band: s.points.map((p) => [100 * p.lo, 100 * p.hi] as [number, number]),
        marker: s.kind === 'bow' ? ('square' as const) : ('circle' as const),
      })),
      {
        title: 'Test accuracy against training images',
        xlabel: 'training images (log)',
        ylabel: 'accuracy (%)',
        xLog: true,
        width: 620,
        yMin: Math.max(0, Math.floor(Math.min(...series.flatMap((s) => s.points.map((p) => 100 * p.lo))) - 1)),
        yMax: Math.min(100, Math.ceil(Math.max(...series.flatMap((s) => s.points.map((p) => 100 * p.hi))) + 0.5)),
      },
    );
    return {
      measured: `with ${num(small)} training images bow-sift ${pct(at('bow-sift', small))}, LeNet-5 ${pct(at('lenet5', small))}; with ${num(big)}, bow-sift ${pct(at('bow-sift', big))}, LeNet-5 ${pct(at('lenet5', big))}${cross ? `; LeNet-5 overtakes between ${num(cross.between[0])} and ${num(cross.between[1])} images (about ${num(Math.round(cross.at))})` : ''}`,
      verdict,
      tables: [
        {
          title: 'Test accuracy (mean of 2 seeds) at each training-set size',
          head: ['classifier', ...sizes.map((s) => `${num(s)} images`)],
          rows: series.map((s) => [s.name, ...sizes.map((size) => pct(s.points.find((p) => p.size === size)?.mean ?? Number.NaN))]),
        },
        {
          title: 'Seconds per fit (the refit plus its validation search, mean of 2 seeds)',
          head: ['classifier', ...sizes.map((s) => `${num(s)} images`)],
          rows: series.map((s) => [s.name, ...sizes.map((size) => (s.points.find((p) => p.size === size)?.seconds ?? 0).toFixed(1))]),
        },
      ],
      plots: [{ title: 'accuracy against training images', svg: plot }],
      notes: [
        `The protocol: ${r.protocol.kind}; at each size, each classifier's settings (the SVM's C; LeNet-5's learning rate and epochs, with at least 2,000 steps) were chosen on a validation split of that size's training images, refitted on all of them, and scored once on the same ${num(ds.test.n)} test images.`,
        'The verdict: agrees when the BoW chain is within a point of LeNet-5 (or ahead) at the smallest size and LeNet-5 is ahead at the largest; partly when only one of the two holds.',
        ...r.curveSummary,
        `The lecture's 10^6 images are ImageNet's; here the curve stops at ${num(big)} images (--subset 60000 for all of ${ds.name}'s training set).`,
      ],
      figures: { sizes, curves: r.curves, crossings: r.crossings },
      data: dataOf(ds),
    };
  },
};
