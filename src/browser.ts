/**
 * bowcnn's browser entry (`bowcnn/browser`, and `bowcnn` under a bundler's "browser" condition): the parts
 * that need nothing but `@tensorflow/tfjs`. The classic chain's parameter-free stages, the layers of
 * `bowcnn/layers`, the CNN architectures, cards, the robustness transforms and distances, and the page's
 * tapped models. Fitting (k-means, the SVM), files, the native addon and the Node backends stay behind the
 * Node entry; a fitted BoW pipeline reaches a browser as its bownet (`bowcnn export`, or `bowcnn serve`).
 */
export * from './layers.js';
export type { LayerCard, Origin } from './core/card.js';
export { growField } from './core/card.js';
export { argmax } from './core/scores.js';
export { defineStage, type Stage, type LayerSpec, type StageFactory } from './stages/stage.js';
export { gradient, filterBank, orientedKernels, phowSigma } from './stages/gradient.js';
export { orientation } from './stages/orientation.js';
export { cells, cellFilter } from './stages/cells.js';
export { blocks, blockFilter, blockWeights } from './stages/blocks.js';
export { blocknorm } from './stages/blocknorm.js';
export { flatten } from './stages/flatten.js';
export { descriptor, frameGeometry } from './stages/descriptor.js';
export { denseSift, denseSiftStages, applyStages, chainCards } from './stages/dsift.js';
export { pooling } from './stages/pooling.js';
export { kernelmap } from './stages/kernelmap.js';
export { deskew } from './stages/deskew.js';
export { lenet5 } from './cnn/lenet5.js';
export { alexnetSmall, augment } from './cnn/alexnet.js';
export { mlp } from './cnn/mlp.js';
export { cardsFromModel } from './cnn/cards.js';
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
export { SWEEPS, transformBatch, transformRow, poseRow, poseBatch, type Pose, type TransformKind } from './ops/transform.js';
export { cosineDistances, meanCosineDistance } from './ops/distance.js';
export { localContrastNorm, rotationPoolConv } from './ops/invariance.js';
export {
  TappedModel,
  decodeSamples,
  type ChainOutput,
  type PageChain,
  type PageManifest,
  type PageSamples,
  type PageStage,
} from './models/tapped.js';
