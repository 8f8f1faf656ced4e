/**
 * The schemas of the classic chain's stage configs. Each is a strict object with its defaults: what a
 * stage factory accepts is `z.input`, what the stage keeps (its identity in the feature cache) is
 * `z.output`, with every default filled in.
 */
import { z } from './schema.js';

const int = (min = 0) => z.number().int().min(min);
const positive = () => z.number().positive();

export const GradientSchema = z.strictObject({
  sigma: z.number().min(0).default(0), // Gaussian pre-smoothing in pixels, folded into the filters; 0 = none
  orientations: int(1).default(8),
  // 'half': [-1/2, 0, 1/2] (VLFeat's SIFT); 'full': [-1, 0, 1] (Dalal and Triggs' HOG, OpenCV's)
  difference: z.enum(['half', 'full']).default('half'),
  // 'replicate': edge pixels repeated (VLFeat); 'reflect': mirrored without the edge (OpenCV's BORDER_REFLECT_101)
  padding: z.enum(['replicate', 'reflect']).default('replicate'),
});

export const OrientationSchema = z.strictObject({
  mode: z.enum(['wta', 'bilinear']).default('wta'),
  bins: int(1).default(8), // orientation maps out
  signed: z.boolean().default(true), // bins over 360 degrees (SIFT); false: over 180 (HOG: g and -g in one bin)
  // where bin k is centred: 'none' at k bin widths (SIFT, VLFeat), 'half' at k + 1/2 (HOG, OpenCV)
  offset: z.enum(['none', 'half']).default('none'),
});

export const BlocksSchema = z.strictObject({
  cellSize: int(1).default(8), // pixels
  cells: int(1).default(2), // cells per block side
  stride: int(1).optional(), // block stride in pixels; default: one cell
  sigma: z.union([z.number().positive(), z.literal('auto'), z.literal('none')]).default('auto'), // Gaussian block window; 'auto': block side / 4 (OpenCV's)
});

export const BlockNormSchema = z.strictObject({
  norm: z.enum(['l2hys', 'l2', 'l1sqrt']).default('l2hys'),
  threshold: positive().default(0.2), // L2-Hys clipping
  // the first divisor is |v| + D * epsilon for a block of D values: OpenCV's 0.1 on 0-255 intensities, here on 0-1
  epsilon: z
    .number()
    .min(0)
    .default(0.1 / 255),
});

export const DeskewSchema = z.strictObject({
  centre: z.boolean().default(true), // also move the centre of mass to the image centre
});

export const FlattenSchema = z.strictObject({});

export const CellsSchema = z.strictObject({
  size: int(1).default(4), // cell (bin) size in pixels
  window: z.enum(['box', 'triangle']).default('box'),
  padding: z.enum(['zero', 'replicate']).default('zero'),
});

export const DescriptorSchema = z.strictObject({
  cellSize: int(1).default(4), // must equal the cells stage's size
  step: int(1).default(2),
  bins: int(1).default(4),
  window: z.enum(['flat', 'gaussian']).default('flat'),
  windowSize: positive().default(2), // VLFeat's Gaussian window, in bins
  norm: z.enum(['sift', 'rootsift', 'l2', 'none']).default('sift'),
  contrastThreshold: z.number().min(0).default(0),
});

export const DenseSiftSchema = z
  .strictObject({
    size: int(1).optional(), // one cell size...
    sizes: z.array(int(1)).min(1).optional(), // ...or several: multi-scale (vl_phow)
    step: int(1).default(2),
    mode: z.enum(['wta', 'bilinear']).default('wta'),
    window: z.enum(['box', 'triangle']).default('box'),
    padding: z.enum(['zero', 'replicate']).default('zero'),
    sigma: z.union([z.number().min(0), z.literal('phow')]).optional(), // default: 'phow' for several sizes, else 0
    norm: z.enum(['sift', 'rootsift', 'l2', 'none']).default('sift'),
    gaussianWindow: z.boolean().default(false),
    windowSize: positive().default(2), // VLFeat's Gaussian window, in bins (vl_phow: 1.5)
    contrastThreshold: z.number().min(0).default(0),
    // vl_phow's colour variants: SIFT on each channel of the image in that space, the descriptors concatenated
    // (128 x 3); the contrast threshold on channel 1 (gray, opponent), the mean of the three (rgb), V (hsv)
    color: z.enum(['gray', 'rgb', 'hsv', 'opponent']).default('gray'),
  })
  .refine((c) => c.size === undefined || c.sizes === undefined, { message: "give 'size' or 'sizes', not both" })
  .transform(({ size, sizes, sigma, ...rest }) => {
    const all = sizes ?? [size ?? 4];
    return { sizes: all, ...rest, sigma: sigma ?? (all.length > 1 ? ('phow' as const) : 0) };
  });

export const CodingSchema = z.strictObject({
  words: int(1).default(256),
  mode: z.enum(['hard', 'soft', 'triangle']).default('hard'),
  beta: positive().default(10), // soft coding's softmax temperature
  knn: int(0).default(0), // soft coding over the knn nearest words only, the others 0 (localised soft assignment); 0: all words
  sample: int(1).default(100_000), // descriptors k-means learns from
  seed: int().default(0),
  // k-means: 'lloyd' (full batch) or 'minibatch' (scikit-learn's MiniBatchKMeans, `batch` points a step)
  kmeans: z.enum(['lloyd', 'minibatch']).default('lloyd'),
  batch: int(1).default(4096),
  maxIter: int(1).default(30), // lloyd: iterations; minibatch: passes over the sample
  tol: z.number().min(0).default(1e-4), // lloyd: relative decrease of the inertia
});

export const PoolingSchema = z.strictObject({
  op: z.enum(['sum', 'mean', 'max']).default('sum'),
  pyramid: z.array(int(1)).min(1).default([1]),
  regionNorm: z.enum(['none', 'l1', 'l2', 'power']).default('none'),
  norm: z.enum(['none', 'l1', 'l2']).default('none'),
});

export const KernelMapSchema = z.strictObject({
  kind: z.enum(['hellinger', 'chi2']).default('chi2'),
  order: int(0).default(1),
  period: positive().optional(), // default VLFeat's for chi2: 5.86 sqrt(order) + 3.65
});

export const ClassifierSchema = z.strictObject({
  kind: z.enum(['linear', 'libsvm']).default('linear'),
  solver: z.enum(['dcd', 'adam']).default('dcd'),
  eps: positive().default(0.1), // dcd: stopping tolerance on the projected gradient
  maxIter: int(1).default(300),
  C: positive().default(1),
  classes: int(0).default(0), // 0: from the labels
  batch: int(1).default(8192), // adam
  maxEpochs: int(1).default(200),
  tol: z.number().min(0).default(1e-4),
  lr: positive().default(0.01),
  seed: int().default(0),
  kernel: z.enum(['rbf', 'linear', 'chi2']).default('rbf'), // libsvm
  gamma: z.number().min(0).default(0), // libsvm rbf; 0 = 1 / D
});

/** A stage as recipes give it: kind, optional name, config. */
export const StageEntry = z.strictObject({
  kind: z.string().min(1),
  name: z.string().min(1).optional(),
  config: z.record(z.string(), z.unknown()).default({}),
});

export const UnionBranchSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$/, { message: "must be 1-40 letters, digits, '_' or '-'" }),
  stages: z.array(StageEntry).min(1), // from the pipeline's input (images) to this branch's features
  weight: positive().default(1), // the branch's share: its rows are scaled to this L2 norm (norm 'l2')
});

export const UnionSchema = z
  .strictObject({
    branches: z.array(UnionBranchSchema).min(2),
    // 'l2': each branch's row scaled to unit L2 norm, then by its weight, so that no branch outweighs another by its size
    norm: z.enum(['l2', 'none']).default('l2'),
  })
  .superRefine((c, ctx) => {
    const names = c.branches.map((b) => b.name);
    const dup = names.find((n, i) => names.indexOf(n) !== i);
    if (dup) ctx.addIssue({ code: 'custom', message: `two branches are named '${dup}' (give one another name)`, path: ['branches'] });
  });

export type GradientConfig = z.input<typeof GradientSchema>;
export type OrientationConfig = z.input<typeof OrientationSchema>;
export type CellsConfig = z.input<typeof CellsSchema>;
export type BlocksConfig = z.input<typeof BlocksSchema>;
export type BlockNormConfig = z.input<typeof BlockNormSchema>;
export type DescriptorConfig = z.input<typeof DescriptorSchema>;
export type DenseSiftConfig = z.input<typeof DenseSiftSchema>;
export type CodingConfig = z.input<typeof CodingSchema>;
export type PoolingConfig = z.input<typeof PoolingSchema>;
export type KernelMapConfig = z.input<typeof KernelMapSchema>;
export type ClassifierConfig = z.input<typeof ClassifierSchema>;
export type UnionConfig = z.input<typeof UnionSchema>;
export type DeskewConfig = z.input<typeof DeskewSchema>;
