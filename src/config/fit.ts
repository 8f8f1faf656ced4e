/**
 * The options of `fit` (core/classifier.ts FitOptions), validated like every config: an unknown key or a bad
 * value is an error naming it (a CNN's `epochs` passed to fit is honoured, never silently ignored).
 */
import type { Split } from '../core/data.js';
import { z } from './schema.js';

const isSplit = (v: unknown): v is Split =>
  typeof v === 'object' && v !== null && (v as Split).pixels instanceof Uint8Array && (v as Split).labels instanceof Int32Array;

const common = {
  seed: z.number().int().optional(),
  cacheDir: z.string().optional(),
  checkpointDir: z.string().optional(),
  progress: z.boolean().optional(),
  maxSeconds: z.number().positive().optional(),
  validation: z.custom<Split>(isSplit, { message: 'a Split (pixels, labels, n, height, width, channels)' }).optional(),
  data: z
    .strictObject({
      dataset: z.string().optional(),
      classes: z.array(z.string()).readonly().optional(),
      inShape: z.tuple([z.number(), z.number(), z.number()]).optional(),
      flipSafe: z.boolean().optional(),
    })
    .optional(),
};

/** A CNN's fit: the common options, the recipe's training options that fit may change, and fine-tuning. */
export const CnnFitSchema = z.strictObject({
  ...common,
  /** continue training the current weights (a loaded or fitted model) instead of a new model */
  fineTune: z.boolean().optional(),
  epochs: z.number().int().min(1).optional(),
  lr: z.number().positive().optional(),
  batchSize: z.number().int().min(1).optional(),
});

/** A BoW pipeline's fit: the common options, its batch size and the images its dictionary learns from. */
export const PipelineFitSchema = z.strictObject({
  ...common,
  batchSize: z.number().int().min(1).optional(),
  codingImages: z.number().int().min(1).optional(),
});
