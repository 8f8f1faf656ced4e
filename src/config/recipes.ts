/**
 * The schemas of recipes (pipelines/*.json, or a user's .json): a BoW pipeline, a CNN with its training
 * options, or a bownet (a fitted BoW recipe exported as a CNN and fine-tuned). Names become folder
 * names (models, checkpoints), so they are path-safe.
 */
import { z } from './schema.js';

const int = (min = 0) => z.number().int().min(min);

/** Letters, digits, '.', '_' and '-', starting with a letter or digit: safe as a folder name. */
export const SafeName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$/, {
  message: "must be 1-80 letters, digits, '.', '_' or '-', starting with a letter or digit (it names folders)",
});

export const AugmentSchema = z.strictObject({
  pad: int(0).default(2), // random crops of the original size from the image padded by `pad` (zeros)
  flip: z.boolean().default(true), // random horizontal flips, where the dataset allows mirrors
  jitter: z.number().min(0).default(0), // rotation up to `jitter` radians and scale 1 +- jitter
  erase: z.number().min(0).max(1).default(0), // random erasing (Zhong et al. 2020): the chance an image has a rectangle of noise
});

export const PredictSchema = z.strictObject({
  flip: z.boolean().default(false), // the mean over the image and its mirror, where the dataset allows mirrors
  shifts: int(0).max(8).default(0), // also the image moved this many pixels down, up, right and left (of the model's input)
});

export const TrainSchema = z.strictObject({
  epochs: int(1).default(5),
  /** at least this many optimisation steps: on a small training set, each epoch passes over the images as often as that takes */
  minSteps: int(0).default(0),
  batchSize: int(1).default(128),
  lr: z.number().positive().default(1e-3),
  optimizer: z.enum(['adam', 'sgd']).default('adam'),
  momentum: z.number().min(0).max(1).default(0.9), // sgd
  schedule: z.enum(['none', 'cosine', 'onecycle']).default('none'),
  weightDecay: z.number().min(0).default(0), // decoupled (AdamW / SGDW), on kernels only
  labelSmoothing: z.number().min(0).lt(1).default(0),
  patience: int(0).default(0), // early stopping on validation accuracy; 0 = off
  augment: AugmentSchema.optional(),
  maxSeconds: z.number().positive().optional(), // stop after the epoch that passes this
  targetAccuracy: z.number().gt(0).max(1).optional(), // stop once validation (or train) accuracy reaches it
  deviceData: z.boolean().default(false), // the whole training set on the device (GPUs)
});

export const InputSchema = z.strictObject({
  size: z
    .union([int(1).max(4096), z.tuple([int(1).max(4096), int(1).max(4096)])], {
      error: 'expected a side in pixels (a whole number from 1 to 4096) or [height, width]',
    })
    .optional(), // absent: the training images' own size
  channels: z.union([z.literal(1), z.literal(3)], { error: 'expected 1 (grey) or 3 (colour)' }).optional(), // absent: the images' own
});

const Activation = z.enum(['relu', 'tanh', 'sigmoid']);

export const LeNet5ConfigSchema = z.strictObject({
  variant: z.enum(['modern', 'classic']).default('modern'),
  activation: Activation.optional(), // default: the variant's (modern ReLU, classic tanh)
  lcn: z.boolean().default(false), // modern: local contrast normalisation of the input (a BowLCN layer)
  rotations: int(0).default(0), // modern: C1 max-pooled over this many rotations of each filter (0 or 1: a plain conv)
  padding: z.enum(['lenet', 'same', 'valid']).default('lenet'), // modern: zero padding of C1 and C3 ('lenet': same, then valid)
  downsample: z.enum(['maxpool', 'stride']).default('maxpool'), // modern: 2x2 max pools, or a stride of 2 in C1 and C3
  /** true: the training set's pixel mean and std; false: none; or given values */
  normalize: z.union([z.boolean(), z.strictObject({ mean: z.number(), std: z.number().positive() })]).default(true),
});

export const AlexNetConfigSchema = z.strictObject({
  widths: z.array(int(1)).min(1).max(3).default([32, 64, 128]), // one conv block per width (ablation: fewer)
  fc: z.array(int(1)).default([256, 128]), // hidden fully connected layers (ablation: drop one or both)
  dropout: z.number().min(0).lt(1).default(0.5),
  batchNorm: z.boolean().default(true), // false: each conv has a bias and no batch normalisation
});

export const MLPConfigSchema = z.strictObject({
  hidden: z.array(int(1)).default([300, 100]), // hidden layer widths (LeCun et al. 1998's 300-100 MLP)
  activation: Activation.default('relu'),
  /** as LeNet-5's: true for the training set's pixel mean and std */
  normalize: z.union([z.boolean(), z.strictObject({ mean: z.number(), std: z.number().positive() })]).default(true),
});

export const VggConfigSchema = z.strictObject({
  widths: z.array(int(1)).min(1).max(4).default([32, 64, 128]), // one block per width, each ending in a 2x2 max pool
  convs: int(1).default(2), // 3x3 conv + BN + ReLU per block
  head: z.enum(['gap', 'fc']).default('fc'), // global average pooling, or flatten + one hidden fully connected layer
  fc: int(1).default(128),
  dropout: z.number().min(0).lt(1).default(0.3),
});

export const MODEL_CONFIGS = {
  lenet5: LeNet5ConfigSchema,
  'alexnet-small': AlexNetConfigSchema,
  mlp: MLPConfigSchema,
  vgg: VggConfigSchema,
} as const;
export type ModelName = keyof typeof MODEL_CONFIGS;

/**
 * The settings the validation protocol chooses among (eval/protocol.ts): each path as `--set` takes it
 * ('classifier.C', 'train.lr'), with the values to try; every combination is one candidate, tried in order
 * (the first of equals wins). A path fixed by `--set` is taken out of the search.
 */
export const SearchSchema = z.record(
  z.string().regex(/^[^.]+\..+$/, { message: "a search key is 'stage.option' or 'train.option', as --set takes it" }),
  z.array(z.unknown()).min(1),
);

const Common = { name: SafeName, about: z.string().optional(), search: SearchSchema.optional() };

export const StageEntrySchema = z.strictObject({
  kind: z.string().min(1),
  name: SafeName.optional(),
  config: z.record(z.string(), z.unknown()).default({}),
});

export const BowRecipeSchema = z.strictObject({
  kind: z.literal('bow'),
  ...Common,
  stages: z.array(StageEntrySchema).min(1),
});

export const CnnRecipeSchema = z.strictObject({
  kind: z.literal('cnn'),
  ...Common,
  model: z.enum(Object.keys(MODEL_CONFIGS) as [ModelName, ...ModelName[]]),
  config: z.record(z.string(), z.unknown()).default({}), // checked against MODEL_CONFIGS[model]
  /**
   * The images the model takes: a side (square) or [height, width], and 1 (grey) or 3 (colour) channels.
   * Absent: the training images' own size and channels. Images of another size are framed to it (cnn/input.ts).
   */
  input: InputSchema.optional(),
  train: TrainSchema.default(TrainSchema.parse({})),
  /**
   * How a trained model scores an image: the mean of its logits over test-time views. flip: the image and its
   * mirror, where the dataset allows mirrors; shifts: also the image moved this many pixels left, right, up and
   * down (5 views, 10 with flips). Settings that a search may try on one trained model (no refit).
   */
  predict: PredictSchema.default({ flip: false, shifts: 0 }),
});

export const BowNetRecipeSchema = z.strictObject({
  kind: z.literal('bownet'),
  ...Common,
  from: z.string().min(1), // the BoW recipe fitted first
  coding: z.enum(['hard', 'soft']).optional(), // 'soft' for fine-tuning (default: the pipeline's own mode)
  beta: z.number().positive().optional(),
  trainable: z
    .strictObject({
      handcrafted: z.boolean().default(false),
      unsupervised: z.boolean().default(true),
      supervised: z.boolean().default(true),
    })
    .default({ handcrafted: false, unsupervised: true, supervised: true }),
  train: TrainSchema.default(TrainSchema.parse({})),
});

export const RecipeSchema = z.discriminatedUnion('kind', [BowRecipeSchema, CnnRecipeSchema, BowNetRecipeSchema]);

export type SearchSpace = z.output<typeof SearchSchema>;
export type TrainSettings = z.output<typeof TrainSchema>;
export type TrainConfig = z.input<typeof TrainSchema>;
export type BowRecipe = z.output<typeof BowRecipeSchema>;
export type CnnRecipe = z.output<typeof CnnRecipeSchema>;
export type BowNetRecipe = z.output<typeof BowNetRecipeSchema>;
export type Recipe = z.output<typeof RecipeSchema>;
export type LeNet5Settings = z.output<typeof LeNet5ConfigSchema>;
export type AlexNetSettings = z.output<typeof AlexNetConfigSchema>;
export type MLPSettings = z.output<typeof MLPConfigSchema>;
export type VggSettings = z.output<typeof VggConfigSchema>;
