/**
 * Every built-in stage kind, known by name: importing a stage's file registers its kind (defineStage), and
 * this module imports them all, so that recipes and load find each one. `registerStage` adds a kind of the
 * user's own (stages/stage.ts); a stage defined with defineStage registers itself.
 */
import '../stages/deskew.js';
import '../stages/gradient.js';
import '../stages/orientation.js';
import '../stages/cells.js';
import '../stages/descriptor.js';
import '../stages/dsift.js';
import '../stages/blocks.js';
import '../stages/blocknorm.js';
import '../stages/flatten.js';
import '../stages/coding.js';
import '../stages/pca.js';
import '../stages/fisher.js';
import '../stages/vlad.js';
import '../stages/bossanova.js';
import '../stages/pooling.js';
import '../stages/kernelmap.js';
import '../stages/classifier.js';
export { union } from '../stages/union.js';
export { makeStage, registerStage, stageKinds, type AnyStageFactory } from '../stages/stage.js';
