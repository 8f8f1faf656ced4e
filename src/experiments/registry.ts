/** The course's experiments by name (`bowcnn experiment --list`), and running one into a folder. */
import * as tf from '@tensorflow/tfjs';
import { resolve } from 'node:path';
import { UsageError } from '../core/errors.js';
import { didYouMean, listOf } from '../core/suggest.js';
import { dataset } from '../data/registry.js';
import { pkgVersion, protocolOf } from '../eval/compare.js';
import type { ProtocolKind, ProtocolOptions } from '../eval/protocol.js';
import { alexnetAblation } from './alexnet-ablation.js';
import { augmentation } from './augmentation.js';
import { batchnorm } from './batchnorm.js';
import { dropoutTestTime } from './dropout-test-time.js';
import type { Experiment, ExperimentResult } from './experiment.js';
import { lcn } from './lcn.js';
import { lenet5Counts } from './lenet5-counts.js';
import { mlpScalability } from './mlp-scalability.js';
import { mlpStability } from './mlp-stability.js';
import { moreData } from './more-data.js';
import { encodings } from './encodings.js';
import { nonlinearity } from './nonlinearity.js';
import { paddingStride } from './padding-stride.js';
import { rotationPooling } from './rotation-pooling.js';
import { writeExperiment } from './report.js';
import { tapLayers } from './tap-layers.js';

export const EXPERIMENTS: Experiment[] = [
  mlpScalability,
  mlpStability,
  lenet5Counts,
  nonlinearity,
  alexnetAblation,
  tapLayers,
  dropoutTestTime,
  batchnorm,
  augmentation,
  paddingStride,
  lcn,
  rotationPooling,
  moreData,
  encodings,
];

export function experiment(name: string): Experiment {
  const e = EXPERIMENTS.find((x) => x.name === name);
  if (!e) {
    const names = EXPERIMENTS.map((x) => x.name);
    throw new UsageError(`unknown experiment '${name}'${didYouMean(name, names)}; known: ${listOf(names)}`);
  }
  return e;
}

export interface RunOptions {
  dataset?: string;
  subset?: number;
  testSubset?: number;
  dataDir?: string;
  out?: string;
  seed?: number;
  /** the protocol of the comparisons inside (default: validation, on 10% of the training set) */
  protocol?: ProtocolKind | ProtocolOptions;
  /** settings for every classifier that has them ('train.epochs' -> 2) */
  sets?: Record<string, unknown>;
  progress?: boolean;
  command?: string[];
  say?: (m: string) => void;
}

/** Runs an experiment and writes its results.json, report.md and report.html into `out` (default runs/experiments/NAME). */
export async function runExperiment(
  e: Experiment,
  o: RunOptions = {},
): Promise<{ result: ExperimentResult; files: ReturnType<typeof writeExperiment> }> {
  const out = resolve(o.out ?? `runs/experiments/${e.name}`);
  const seed = o.seed ?? 0;
  const t0 = performance.now();
  const findings = await e.run({
    dataset: () =>
      dataset(o.dataset ?? e.defaults.dataset, {
        subset: o.subset ?? e.defaults.subset,
        testSubset: o.testSubset ?? e.defaults.testSubset,
        seed,
        dir: o.dataDir,
      }),
    out,
    seed,
    protocol: protocolOf(o.protocol),
    sets: o.sets ?? {},
    progress: o.progress ?? false,
    say: o.say ?? (() => {}),
  });
  const result: ExperimentResult = {
    experiment: e.name,
    title: e.title,
    claim: e.claim,
    ...findings,
    seed,
    seconds: (performance.now() - t0) / 1000,
    date: new Date().toISOString(),
    command: o.command,
    versions: { bowcnn: pkgVersion(), node: process.version, tfjs: tf.version.tfjs },
  };
  return { result, files: writeExperiment(result, out) };
}
