/**
 * mlp-scalability: an MLP on raw pixels has a first layer of (pixels x units) weights, so its size grows with
 * the image's area; a convolution's weights do not depend on the image size, and the BoW chain (convolutions,
 * then global pooling) has the same parameters at every size. Counted from each classifier's layer cards at
 * 28x28, 32x32, 64x64 and 224x224.
 */
import { lineChart } from '../report/svg.js';
import { classifierFrom } from '../models/resolve.js';
import { type Experiment, type Findings, num } from './experiment.js';

const SIDES = [28, 32, 64, 224];

export const mlpScalability: Experiment = {
  name: 'mlp-scalability',
  title: 'Parameters against image size: MLP, LeNet-5, the BoW chain',
  claim:
    'An MLP on raw pixels does not scale to larger images: every pixel is connected to every hidden unit, so the number of weights grows with the image size. Convolutions share their weights across positions.',
  defaults: { dataset: 'mnist' },
  async run(): Promise<Findings> {
    const names = ['mlp', 'lenet5', 'bow-sift', 'bow-sift-spm'];
    const counts: Record<string, number[]> = {};
    const firstLayer: Record<string, number[]> = {};
    for (const n of names) {
      const c = await classifierFrom(n);
      counts[n] = SIDES.map((s) => c.cards([s, s, 1]).reduce((a, k) => a + k.params, 0));
      firstLayer[n] = SIDES.map((s) => c.cards([s, s, 1]).find((k) => k.params > 0)?.params ?? 0);
      c.dispose();
    }
    const growth = (n: string) => counts[n][counts[n].length - 1] / counts[n][0];
    const mlpGrowth = growth('mlp');
    const bowFixed = names.filter((n) => n.startsWith('bow')).every((n) => growth(n) === 1);
    const area = (SIDES[SIDES.length - 1] / SIDES[0]) ** 2;
    return {
      measured: `from 28x28 to 224x224 the MLP grows ${mlpGrowth.toFixed(1)}x (${num(counts.mlp[0])} to ${num(counts.mlp[3])} weights; the image's area grows ${area}x), LeNet-5 ${growth('lenet5').toFixed(1)}x (its fully connected C5 reads the last maps), the BoW chains ${bowFixed ? 'not at all' : 'somewhat'}`,
      verdict: mlpGrowth > 20 && bowFixed ? 'agrees' : 'partly',
      tables: [
        {
          title: 'Parameters (every weight, the handcrafted filters of the BoW chain included)',
          head: ['classifier', ...SIDES.map((s) => `${s}x${s}`), 'first layer at 28x28', 'first layer at 224x224'],
          rows: names.map((n) => [n, ...counts[n].map(num), num(firstLayer[n][0]), num(firstLayer[n][3])]),
        },
      ],
      plots: [
        {
          title: 'parameters (log10) against image side',
          svg: lineChart(
            names.map((n) => ({ name: n, points: SIDES.map((s, i) => [s, Math.log10(counts[n][i])] as [number, number]) })),
            { title: 'Parameters (log10) against image side', xlabel: 'image side (px)', ylabel: 'log10 parameters', yMin: 3 },
          ),
        },
      ],
      notes: [
        'The MLP is the `mlp` recipe (300 and 100 hidden units): its first layer has side^2 x 300 weights.',
        "LeNet-5 (modern variant) keeps its convolutions' weights at every size, but its C5 is a fully connected layer over S4's maps, whose area grows with the image: a network that ends in global pooling, as the BoW chain does, would not grow at all.",
        'bow-sift: 256 words x 128 dims + a linear SVM over 256 bins; bow-sift-spm: 1,024 words and a [1, 2] pyramid with the chi2 map. Neither depends on the image size.',
      ],
      figures: { sides: SIDES, parameters: counts, firstLayer },
    };
  },
};
