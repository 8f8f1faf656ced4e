/**
 * Stage kinds by name: what recipes name and what Pipeline.load rebuilds saved stages by. The classic
 * chain's stages are here; `registerStage` adds a kind of the user's own (before loading a pipeline
 * that holds one).
 */
import { ConfigError } from '../core/errors.js';
import { didYouMean, listOf } from '../core/suggest.js';
import { blocknorm } from '../stages/blocknorm.js';
import { bossanova } from '../stages/bossanova.js';
import { blocks } from '../stages/blocks.js';
import { cells } from '../stages/cells.js';
import { classifier } from '../stages/classifier.js';
import { coding } from '../stages/coding.js';
import { descriptor } from '../stages/descriptor.js';
import { deskew } from '../stages/deskew.js';
import { denseSift } from '../stages/dsift.js';
import { fisher } from '../stages/fisher.js';
import { flatten } from '../stages/flatten.js';
import { gradient } from '../stages/gradient.js';
import { kernelmap } from '../stages/kernelmap.js';
import { orientation } from '../stages/orientation.js';
import { pca } from '../stages/pca.js';
import { vlad } from '../stages/vlad.js';
import { pooling } from '../stages/pooling.js';
import type { Stage } from '../stages/stage.js';
import { makeUnion } from '../stages/union.js';

export type AnyStageFactory = (config?: Record<string, unknown>, name?: string) => Stage;

const KINDS = new Map<string, AnyStageFactory>([
  ['deskew', deskew as AnyStageFactory],
  ['gradient', gradient as AnyStageFactory],
  ['orientation', orientation as AnyStageFactory],
  ['cells', cells as AnyStageFactory],
  ['descriptor', descriptor as AnyStageFactory],
  ['dsift', denseSift as AnyStageFactory],
  ['blocks', blocks as AnyStageFactory],
  ['blocknorm', blocknorm as AnyStageFactory],
  ['flatten', flatten as AnyStageFactory],
  ['coding', coding as AnyStageFactory],
  ['pca', pca as AnyStageFactory],
  ['fisher', fisher as AnyStageFactory],
  ['vlad', vlad as AnyStageFactory],
  ['bossanova', bossanova as AnyStageFactory],
  ['pooling', pooling as AnyStageFactory],
  ['kernelmap', kernelmap as AnyStageFactory],
  ['classifier', classifier as AnyStageFactory],
  ['union', ((c, n) => union(c as never, n)) as AnyStageFactory],
]);

/** The feature-union stage (stages/union.ts), whose branches are made of registered kinds. */
export const union = makeUnion(makeStage);

/** Adds a stage kind (its factory takes the JSON config and the stage's name), so that recipes and load know it. */
export function registerStage(kind: string, factory: AnyStageFactory): void {
  if (!/^[a-z][\w-]*$/i.test(kind)) throw new ConfigError(`registerStage: '${kind}' is not a valid kind (letters, digits, - and _)`);
  KINDS.set(kind, factory);
}

export function stageKinds(): string[] {
  return [...KINDS.keys()];
}

/** A stage of a registered kind from its JSON config; `where` names the recipe or file in errors. */
export function makeStage(kind: string, config: Record<string, unknown> = {}, name?: string, where = ''): Stage {
  const f = KINDS.get(kind);
  if (!f) {
    const pre = where ? `${where}: ` : '';
    throw new ConfigError(
      `${pre}unknown stage kind '${kind}'${didYouMean(kind, stageKinds())}; known: ${listOf(stageKinds())} (a kind of your own: registerStage('${kind}', factory) first)`,
    );
  }
  try {
    return f(config, name ?? kind);
  } catch (e) {
    if (where && e instanceof ConfigError) throw new ConfigError(`${where}: ${e.message}`);
    throw e;
  }
}
