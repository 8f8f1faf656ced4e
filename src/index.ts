/** bowcnn's public API (the Node entry). `bowcnn/layers` holds the few layers a saved bownet needs in plain tfjs. */
export {
  useBackend,
  backendInfo,
  BackendError,
  BACKENDS,
  type BackendName,
  type BackendInfo,
  type BackendOptions,
} from './backend/index.js';
export { releaseWebgpu } from './backend/webgpu.js';
export { ENV_VARIABLES, settings, type Settings } from './core/settings.js';
export { BowcnnError, ConfigError, UsageError, ModelError, FitError, IoError, Interrupted } from './core/errors.js';
export { requestStop, clearStop, checkpoint } from './core/interrupt.js';
export type { Classifier, DataInfo, FitOptions, FitReport, EpochRecord, Picture, Ablation, Maps } from './core/classifier.js';
export type { LayerCard } from './core/card.js';
export { dataset, locate, DATASETS, resolveDatasetName, type DatasetOptions } from './data/registry.js';
export { fetchDataset, REMOTE, FetchError } from './data/fetch.js';
export { readIdx, readIdxPair, parseIdx } from './data/idx.js';
export { readCifarFiles, parseCifar } from './data/cifar.js';
export { readFolder } from './data/folder.js';
export {
  applyRule,
  ruleFor,
  framingOf,
  frameDigit,
  frameObject,
  framePhoto,
  resizeArea,
  type InputRule,
  type RawImage,
  type RuleResult,
  type Framing,
} from './data/input-rule.js';

export { batchTensor, batches, subset, splitOff, stratifiedIndices, fingerprint } from './data/split.js';
export { DataError, DatasetMissingError, type Dataset, type Split } from './core/data.js';
export { defineStage, type Stage, type LayerSpec, type StageFactory } from './stages/stage.js';
export { gradient, filterBank, orientedKernels, phowSigma } from './stages/gradient.js';
export { orientation } from './stages/orientation.js';
export { cells, cellFilter } from './stages/cells.js';
export { blocks, blockFilter, blockWeights } from './stages/blocks.js';
export { blocknorm } from './stages/blocknorm.js';
export { flatten } from './stages/flatten.js';
export { descriptor, frameGeometry } from './stages/descriptor.js';
export { denseSift, denseSiftStages, applyStages, chainCards } from './stages/dsift.js';
export { coding, type CodingStage } from './stages/coding.js';
export { pooling } from './stages/pooling.js';
export { kernelmap } from './stages/kernelmap.js';
export { deskew } from './stages/deskew.js';
export { shifts, shiftCopy, shiftOffsets, drawOffset } from './stages/shifts.js';
export { isUnion, type UnionStage, type UnionBranch } from './stages/union.js';
export { classifier, type ClassifierStage } from './stages/classifier.js';
export { kmeans } from './learn/kmeans.js';
export { fitGmm, gmmPosteriors, gmmLogLikelihood, type Gmm, type GmmFit, type GmmOptions } from './learn/gmm.js';
export { fisherEncode, type FisherOptions, type GmmLike } from './encode/fisher.js';
export { vladEncode, type VladOptions } from './encode/vlad.js';
export { bossanovaEncode, type BossaNovaOptions } from './encode/bossanova.js';
export { pca } from './stages/pca.js';
export { fisher } from './stages/fisher.js';
export { vlad } from './stages/vlad.js';
export { bossanova } from './stages/bossanova.js';
export { Pipeline, pipeline, PipelineError } from './pipeline/pipeline.js';
export { makeStage, registerStage, stageKinds, union } from './pipeline/registry.js';
export {
  readRecipe,
  parseRecipe,
  recipeStages,
  bowPipeline,
  listRecipes,
  pipelineFromModule,
  type Recipe,
  type BowRecipe,
  type CnnRecipe,
  type BowNetRecipe,
} from './pipeline/recipes.js';
export { lenet5 } from './cnn/lenet5.js';
export { alexnetSmall, augment } from './cnn/alexnet.js';
export { ZOO } from './cnn/zoo.js';
export { Adam, adam } from './cnn/adam.js';
export { trainModel, predictSplit, accuracyOf, type TrainOptions, type TrainReport } from './cnn/train.js';
export { exportBowNet, setTrainable } from './cnn/bownet.js';
export { CnnClassifier } from './cnn/classifier.js';
export { saveModel, loadModel } from './cnn/io.js';
export { execute } from './passes/cnn.js';
export { load } from './models/load.js';
export { classifierFrom, applySets } from './models/resolve.js';
export { compare, type CompareResult, type CompareOptions } from './eval/compare.js';
export { fitAndEvaluate, type ContenderResult } from './eval/evaluate.js';
export { robustness, transformBatch } from './eval/robustness.js';
export { ablation } from './eval/ablation.js';
export * as metrics from './eval/metrics.js';
export { argmax } from './core/scores.js';
export { writeReport, markdown, html } from './report/report.js';
export { EXPERIMENTS, experiment, runExperiment } from './experiments/registry.js';
export type { Experiment, ExperimentResult, Findings } from './experiments/experiment.js';
