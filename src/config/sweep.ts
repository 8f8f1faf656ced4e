/**
 * A sweep grid (`bowcnn sweep GRID.json`): pipelines x --set values x seeds x datasets, every combination
 * one job. Documented in docs/scale-out.md.
 *
 *   {
 *     "name": "quick",
 *     "datasets": ["mnist", { "name": "fashion-mnist", "subset": 5000 }],
 *     "subset": 2000, "testSubset": 1000,          defaults for the datasets (training / test images)
 *     "pipelines": ["bow-sift", "lenet5"],          recipe names, recipe .json files or pipeline modules
 *     "set": { "coding.words": [64, 256] },         each key's values; a key applies to the pipelines that have it
 *     "seeds": [0, 1],
 *     "retries": 2,                                 attempts after the first, on a queue
 *     "protocol": "validation", "validation": 0.1   grid points chosen on a validation split, the best scored on test
 *   }
 */
import { z } from './schema.js';

export const SweepDatasetSchema = z.union([
  z.string().min(1),
  z.strictObject({
    name: z.string().min(1),
    subset: z.number().int().positive().optional(),
    testSubset: z.number().int().positive().optional(),
  }),
]);

export const SweepGridSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$/, { message: 'letters, digits, . _ - (a folder name)' }),
  about: z.string().optional(),
  datasets: z.array(SweepDatasetSchema).min(1),
  subset: z.number().int().positive().optional(),
  testSubset: z.number().int().positive().optional(),
  /** the seed of the datasets' subsets (kept fixed across the grid's seeds, so that every job sees the same images) */
  dataSeed: z.number().int().nonnegative().default(0),
  pipelines: z.array(z.string().min(1)).min(1),
  set: z
    .record(z.string().regex(/^[^.]+\..+$/, { message: "a key is 'stage.option' or 'train.option'" }), z.array(z.unknown()).min(1))
    .default({}),
  seeds: z.array(z.number().int().nonnegative()).min(1).default([0]),
  retries: z.number().int().nonnegative().default(2),
  /**
   * validation: every grid point is fitted on the training set less a stratified validation split and scored
   * on that split; per dataset and pipeline, the point with the best mean validation accuracy over the seeds is
   * refitted on the whole training set and scored on the test set, once per seed. fixed: every grid point is
   * scored on the test set (a table to explore, not a fair choice).
   */
  protocol: z.enum(['validation', 'fixed']).default('validation'),
  /** the validation split: a fraction of the training set (< 1) or a count of images */
  validation: z.number().positive().default(0.1),
});

export type SweepGrid = z.output<typeof SweepGridSchema>;
export type SweepDataset = z.output<typeof SweepDatasetSchema>;
