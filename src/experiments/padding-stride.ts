/**
 * padding-stride: what zero padding does to the map sizes through LeNet-5 (LeNet's own: C1 padded, C3 not; both
 * padded; neither), and a stride-2 convolution in place of each 2x2 max pool: accuracy, parameters and
 * multiply-adds, the same training for each.
 */
import { join } from 'node:path';
import { compare } from '../eval/compare.js';
import { barChart } from '../report/svg.js';
import { type Experiment, type Findings, num, pct, dataOf, contender } from './experiment.js';
import { cnnVariant } from './variants.js';

const VARIANTS: { name: string; what: string; config: Record<string, unknown> }[] = [
  { name: 'lenet5-lenet', what: "LeNet's padding (C1 same, C3 valid), max pools", config: {} },
  { name: 'lenet5-same', what: 'zero padding in C1 and C3, max pools', config: { padding: 'same' } },
  { name: 'lenet5-valid', what: 'no padding, max pools', config: { padding: 'valid' } },
  { name: 'lenet5-stride', what: "LeNet's padding, stride-2 convs instead of pools", config: { downsample: 'stride' } },
];

export const paddingStride: Experiment = {
  name: 'padding-stride',
  title: 'Zero padding and strided convolution',
  claim:
    'Zero padding keeps the maps from shrinking at every convolution (and lets border pixels count as much as the others); a convolution with stride 2 can replace a pooling layer, learning its downsampling at a lower cost.',
  defaults: { dataset: 'mnist', subset: 10000, testSubset: 2000 },
  async run(ctx): Promise<Findings> {
    const ds = await ctx.dataset();
    const cs = VARIANTS.map((v) => cnnVariant('lenet5', v.name, { config: v.config }));
    const shapes = cs.map((c) =>
      c
        .cards([ds.train.height, ds.train.width, ds.train.channels])
        .filter((k) => /^(C1|S2|C3|S4)$/.test(k.stage))
        .map((k) => `${k.stage} ${k.outShape?.join('x')}`),
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
    const get = (n: string) => contender(r, n);
    const lenet = get('lenet5-lenet'),
      stride = get('lenet5-stride');
    const cheaper = (stride?.flopsPerImage ?? Infinity) < (lenet?.flopsPerImage ?? 0);
    const close = Math.abs((stride?.accuracy ?? 0) - (lenet?.accuracy ?? 0)) < 0.01;
    return {
      measured: `maps after C3: ${VARIANTS.map((v, i) => `${shapes[i].find((s) => s.startsWith('C3')) ?? '?'} (${v.name.replace('lenet5-', '')})`).join(', ')}; accuracy ${r.contenders.map((c) => `${pct(c.accuracy)} (${c.name.replace('lenet5-', '')})`).join(', ')}; multiply-adds per image ${num(lenet?.flopsPerImage ?? 0)} with pools, ${num(stride?.flopsPerImage ?? 0)} with stride 2`,
      verdict: cheaper && close ? 'agrees' : cheaper ? 'partly' : 'disagrees',
      tables: [
        {
          title: 'Map sizes (H x W x maps) through the first layers',
          head: ['variant', 'C1', 'S2', 'C3', 'S4'],
          rows: VARIANTS.map((v, i) => [
            v.what,
            ...['C1', 'S2', 'C3', 'S4'].map((l) => shapes[i].find((s) => s.startsWith(`${l} `))?.slice(3) ?? '(none)'),
          ]),
        },
        {
          title: 'The same training for each',
          head: ['variant', 'accuracy', '95% CI', 'parameters', 'multiply-adds / image', 'training images/s'],
          rows: r.contenders.map((c, i) => [
            VARIANTS[i].what,
            pct(c.accuracy),
            `${pct(c.ci95[0])} – ${pct(c.ci95[1])}`,
            num(c.params),
            num(c.flopsPerImage ?? 0),
            num(Math.round(c.fit.trainImagesPerSec ?? 0)),
          ]),
        },
      ],
      plots: [
        {
          title: 'accuracy per variant',
          svg: barChart(
            r.contenders.map((c) => ({ label: c.name.replace('lenet5-', ''), value: 100 * c.accuracy })),
            { title: 'Test accuracy (%)', unit: '%' },
          ),
        },
      ],
      notes: [
        "The verdict: agrees when the stride-2 network needs fewer multiply-adds and is within 1 point of LeNet's accuracy; partly when only the first holds.",
        `LeNet-5 (modern: ReLU, inputs normalised), Adam 1e-3, 5 epochs on ${ds.train.n} images for each. The fully connected C5 reads whatever S4 (or C3 with stride) leaves, so padding changes its size: the parameter counts differ through C5 alone.`,
        'A stride-2 conv computes a quarter of the positions a stride-1 conv does, so it is also the cheaper way to downsample; a max pool adds no parameters but needs the full-resolution conv before it.',
        "Training speed is not the multiply-adds' ratio here: bowcnn's fused conv + ReLU + 2x2 max pool kernel serves the pooled form, while the strided convs run as plain XNNPACK convolutions.",
      ],
      figures: Object.fromEntries(
        r.contenders.map((c, i) => [
          c.name,
          { what: VARIANTS[i].what, maps: shapes[i], accuracy: c.accuracy, params: c.params, flopsPerImage: c.flopsPerImage },
        ]),
      ),
      data: dataOf(ds),
    };
  },
};
