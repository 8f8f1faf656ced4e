/**
 * The per-step inputs of a training step, named, so that a step recorded once on the GPU can be replayed
 * (backend/webgpu-replay.ts): everything a replayed step computes is fixed at recording, except the values
 * written into its feeds. Code that makes a tensor whose values change from one step to the next (the batch,
 * a dropout mask, the optimizer's learning rate and bias corrections) passes it through `feed`, with a
 * producer that gives the values of any later step; outside a recording, `feed` returns the tensor untouched.
 * Browser-safe: tfjs only.
 */
import { backend, getBackend, type Tensor } from '@tensorflow/tfjs';

/** The values of a feed at a training step (the step as the training loop counts them). */
export type Producer = (step: number) => Float32Array | Int32Array;

export interface FeedEntry {
  name: string;
  /** null: the caller of the replay gives the values (the batch) */
  producer: Producer | null;
}

export interface FeedRecording {
  /** the feeds made during the recording, by their tensors' data ids */
  feeds: Map<object, FeedEntry>;
  /** what runs after each replayed step (the optimizer counting its iterations) */
  after: Array<() => void>;
}

let active: FeedRecording | null = null;

/**
 * Marks `t` as a per-step input named `name`; `producer` gives its values at a later step. Returns `t`. On webgpu
 * the values go to the GPU here: tfjs-webgpu computes an op whose inputs are all small and on the host on the
 * host, and its result's upload would carry the feed's values without being the feed.
 */
export function feed<T extends Tensor>(name: string, t: T, producer: Producer | null = null): T {
  if (active) {
    for (const e of active.feeds.values()) if (e.name === name) throw new Error(`feed '${name}': two tensors of one step have this name`);
    active.feeds.set(t.dataId, { name, producer });
  }
  const be = t.size > 0 && getBackend() === 'webgpu' ? (backend() as unknown as { uploadToGPU?: (id: object) => void }) : null;
  be?.uploadToGPU?.(t.dataId);
  return t;
}

/** Runs `fn` after each replayed step (only when a step is being recorded; otherwise nothing). */
export function afterReplayedStep(fn: () => void): void {
  active?.after.push(fn);
}

/** Starts collecting feeds (backend/webgpu-replay.ts, around the step it records). */
export function beginFeeds(): FeedRecording {
  if (active) throw new Error('a step is already being recorded');
  active = { feeds: new Map(), after: [] };
  return active;
}

export function endFeeds(): FeedRecording {
  const r = active;
  active = null;
  if (!r) throw new Error('no step is being recorded');
  return r;
}
