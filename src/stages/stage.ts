/**
 * The Stage interface (see DESIGN.md): a named, JSON-configured tensor operation over `[N,H,W,C]` maps
 * that can describe itself as a CNN layer. Stages are pure once fitted; their config is their identity.
 */
import type * as tf from '@tensorflow/tfjs';
import type { LayerCard } from '../pipeline/card.js';

export type Maps = tf.Tensor4D;   // [N,H,W,C], float32

export interface Stage {
  readonly name: string;
  readonly config: Readonly<Record<string, unknown>>;
  fit?(batches: AsyncIterable<Maps>, labels?: Int32Array): Promise<void>;
  /** The part of the config that fit depends on (cache key of the fitted state); default: all of it. */
  fitConfig?(): Record<string, unknown>;
  apply(x: Maps): Maps;
  card(inShape: readonly number[]): LayerCard;   // inShape: [H,W,C] of one image
  outShape(inShape: readonly number[]): number[];
  state?(): Record<string, tf.Tensor>;
  restore?(s: Record<string, tf.Tensor>): void;
}

export class StageError extends Error {
  constructor(stage: string, message: string) { super(`stage '${stage}': ${message}`); this.name = 'StageError'; }
}

export function check4d(stage: string, x: { shape: readonly number[] }, channels?: number): void {
  if (x.shape.length !== 4) throw new StageError(stage, `expects [N,H,W,C] maps, got shape [${x.shape.join(',')}]`);
  if (channels !== undefined && x.shape[3] !== channels) throw new StageError(stage, `expects ${channels} channels, got ${x.shape[3]}`);
}
