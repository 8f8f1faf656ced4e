/**
 * The Stage contract (docs/architecture.md): a JSON-configured tensor operation over `[N,H,W,C]` maps that can
 * describe itself as a CNN layer.
 *
 *   kind     its type ('coding'); what save and load rebuild it by (registered by defineStage)
 *   name     its place in a pipeline (defaults to its kind; two coding stages need two names)
 *   config   its JSON config with every default filled in: its identity in the feature cache
 *   clone    a new, unfitted stage of the same kind, with some config values changed
 *   toLayers how the export sees it: tfjs-layers layers as serialisable specs (class name, config,
 *            weights), which cnn/bownet instantiates; a stage never imports layer classes
 *
 * Stages are pure once fitted. A stage may also offer one side of a fused run (CodeEmitter,
 * CodePooler): the passes in passes/bow.ts ask for these, the pipeline never checks names.
 */
import * as tf from '@tensorflow/tfjs';
import type { LayerCard } from '../core/card.js';
import type { Maps, Picture } from '../core/classifier.js';
import { ConfigError } from '../core/errors.js';
import { didYouMean, listOf } from '../core/suggest.js';
import type { Csr } from '../core/sparse.js';
import { parseConfig, type z } from '../config/schema.js';

export type { Maps };

/** A tfjs-layers layer by class name and config (what model.json holds), with the weights to set. */
export interface LayerSpec {
  className: string;
  config: Record<string, unknown>;
  weights?: tf.Tensor[];
}

export interface Stage {
  readonly kind: string;
  readonly name: string;
  readonly config: Readonly<Record<string, unknown>>;
  clone(overrides?: Record<string, unknown>, name?: string): Stage;
  /** Fitted on labels (the classifier): the pipeline's features are what comes into it, and it is fitted last. */
  readonly supervised?: boolean;
  fit?(batches: AsyncIterable<Maps>, labels?: Int32Array): Promise<void>;
  /** The part of the config that fit depends on (cache key of the fitted state); default: all of it. */
  fitConfig?(): Record<string, unknown>;
  /** The part of the config that apply depends on (cache key of what comes after it); default: all of it. */
  applyConfig?(): Record<string, unknown>;
  /**
   * How many positions (descriptors) fit learns from: the pipeline streams about twice as many, from a seeded
   * subset of the training images. Default: 100,000.
   */
  fitSample?(): number;
  /**
   * A constraint between this stage's config and the stages before it (a shared geometry, a channel count
   * it was built for): a message saying what to set, or null. The pipeline asks each stage when it is made.
   */
  checkUpstream?(upstream: readonly Stage[]): string | null;
  apply(x: Maps): Maps;
  card(inShape: readonly number[]): LayerCard; // inShape: [H,W,C] of one image
  outShape(inShape: readonly number[]): number[];
  /** Fitted tensors (saved in weights.bin) and fitted state that is not a tensor (saved as JSON). */
  state?(): Record<string, tf.Tensor>;
  restore?(s: Record<string, tf.Tensor>): void;
  extraState?(): Record<string, unknown>;
  restoreExtra?(s: Record<string, unknown>): void | Promise<void>;
  toLayers?(inShape: readonly number[]): LayerSpec[];
  /** What the report can draw of it (the filter bank, the visual words). */
  pictures?(): Picture[] | Promise<Picture[]>;
  /** The course's ablation of this stage: config changes to fit against the pipeline as it is. */
  ablations?(): { change: string; overrides: Record<string, unknown> }[];
  dispose?(): void;
}

/** A pooling region of an h x w map: rows [r0, r1), columns [c0, c1). */
export type Region = [r0: number, r1: number, c0: number, c1: number];
export type PoolOp = 'sum' | 'mean' | 'max';

/** Hard assignment: the index of the nearest word at each position `[N,H,W]` int32, or null (other modes). */
export interface CodeEmitter extends Stage {
  wordIndices(x: Maps): tf.Tensor3D | null;
  words(): number;
  /**
   * Soft / triangle coding: each position's code pooled (op) into every region that holds it, `[N, R, M]`,
   * without the `[N,H,W,M]` codes; null where the stage cannot (hard coding: wordIndices).
   */
  codeSums?(x: Maps, regions: readonly Region[], op: PoolOp): Promise<Float32Array | null>;
}

/** Pools word indices straight into its output, the same numbers as pooling their one-hot maps. */
export interface CodePooler extends Stage {
  poolIndices(idx: Int32Array, shape: [number, number, number], words: number): Maps;
  /** The same as sparse rows (one per image, `[N, D]`), when the stage can give them. */
  poolIndicesRows?(idx: Int32Array, shape: [number, number, number], words: number): Csr;
  /** What codeSums needs: the pooling op and the regions of an h x w map. */
  readonly op?: PoolOp;
  regions?(h: number, w: number): Region[];
  /** Pooled codes `[N, R, M]` (the op applied) normalised to the stage's output, as maps or as sparse rows. */
  poolSums?(hist: Float32Array, shape: [number, number, number]): Maps;
  poolSumsRows?(hist: Float32Array, shape: [number, number, number]): Csr;
}

/** Maps sparse rows to sparse rows, the same numbers as apply() on `[N,1,1,D]` (an element-wise map that keeps 0 at 0). */
export interface RowMap extends Stage {
  applyRows(x: Csr): Csr;
}

/**
 * A stage that makes virtual training examples (stages/shifts.ts): the pipeline fits its classifier on the
 * training images run through the stage and, in its place, through each of these stand-ins, labels repeated.
 */
export interface ViewStage extends Stage {
  trainingViews(): Stage[];
}
export const isViewStage = (s: Stage | undefined): s is ViewStage =>
  typeof (s as Partial<ViewStage> | undefined)?.trainingViews === 'function';

/** A classifier that fits on and scores sparse rows (`[N, D]`), the same as fit and apply on `[N,1,1,D]`. */
export interface RowClassifier extends Stage {
  fitRows(x: Csr, labels: Int32Array, opts?: { progress?: boolean }): Promise<void>;
  scoreRows(x: Csr): Float32Array;
}

export const isCodeEmitter = (s: Stage | undefined): s is CodeEmitter =>
  typeof (s as Partial<CodeEmitter> | undefined)?.wordIndices === 'function';
/**
 * One step of dense SIFT as passes/sift.ts needs it to run the chain gradient -> orientation -> cells ->
 * descriptor as one native pass: what the stage computes, in numbers (the stage's apply stays the reference).
 */
export type SiftPart =
  | { part: 'gradient'; orientations: number; padding: 'replicate' | 'reflect'; filters(channels: number): tf.Tensor4D }
  | { part: 'orientation'; mode: 'wta' | 'bilinear'; bins: number; signed: boolean; offset: 'none' | 'half' }
  | { part: 'cells'; size: number; window: 'box' | 'triangle'; padding: 'zero' | 'replicate' }
  | {
      part: 'descriptor';
      cellSize: number;
      step: number;
      bins: number;
      /** the bins' window weights `[bins]` (kept by the stage) */
      binWeights(): tf.Tensor1D;
      norm: 'sift' | 'rootsift' | 'l2' | 'none';
      contrastThreshold: number;
      /** the frame grid of an h x w map (a StageError when no frame fits, as apply says) */
      frames(h: number, w: number): { framesY: number; framesX: number };
    };

export interface SiftStage extends Stage {
  siftPart(): SiftPart;
}

/** Dense SIFT at several scales on one frame grid (stages/dsift.ts): each scale's chain and where its frames start. */
export interface MultiScaleSift extends Stage {
  siftScales(): { offset: number; stages: readonly Stage[] }[];
  siftGrid(h: number, w: number): { framesY: number; framesX: number };
}

export const isSiftStage = (s: Stage | undefined): s is SiftStage => typeof (s as Partial<SiftStage> | undefined)?.siftPart === 'function';
/** The nearest of the stages before a stage that is a dense SIFT step of this part (checkUpstream's usual question). */
export function lastSiftPart(upstream: readonly Stage[], part: SiftPart['part']): SiftStage | undefined {
  return upstream
    .filter(isSiftStage)
    .filter((u) => u.siftPart().part === part)
    .at(-1);
}

export const isMultiScaleSift = (s: Stage | undefined): s is MultiScaleSift =>
  typeof (s as Partial<MultiScaleSift> | undefined)?.siftScales === 'function';

export const isRowMap = (s: Stage | undefined): s is RowMap => typeof (s as Partial<RowMap> | undefined)?.applyRows === 'function';
export const isRowClassifier = (s: Stage | undefined): s is RowClassifier =>
  typeof (s as Partial<RowClassifier> | undefined)?.fitRows === 'function';
export const isCodePooler = (s: Stage | undefined): s is CodePooler =>
  typeof (s as Partial<CodePooler> | undefined)?.poolIndices === 'function';

export class StageError extends ConfigError {
  constructor(stage: string, message: string) {
    super(`stage '${stage}': ${message}`);
    this.name = 'StageError';
  }
}

export function check4d(stage: string, x: { shape: readonly number[] }, channels?: number): void {
  if (x.shape.length !== 4) throw new StageError(stage, `expects [N,H,W,C] maps, got shape [${x.shape.join(',')}]`);
  if (channels !== undefined && x.shape[3] !== channels) throw new StageError(stage, `expects ${channels} channels, got ${x.shape[3]}`);
}

export type StageFactory<I> = (cfg?: I, name?: string) => Stage;
export type AnyStageFactory = (config?: Record<string, unknown>, name?: string) => Stage;

/** A tfjs-layers class that a stage's toLayers names (registered with tfjs's serialisation). */
export type LayerClass = (new (...args: never[]) => tf.layers.Layer) & { className: string };

/**
 * How a kind becomes layers besides its toLayers: `parameterFree` kinds run inside the generic BowStage
 * layer (bowcnn/layers) by kind and config, so a saved bownet holding one loads wherever the kind is
 * registered; `layers` are the kind's own layer classes, registered with tfjs's serialisation here.
 */
export interface KindOptions {
  parameterFree?: boolean;
  layers?: readonly LayerClass[];
  /** its config's schema (defineStage gives it): what the documentation's options tables are made from */
  schema?: z.ZodType;
}

interface Kind {
  factory: AnyStageFactory;
  parameterFree: boolean;
  layers: readonly LayerClass[];
  schema?: z.ZodType;
}

/**
 * Stage kinds by name: what recipes name and what load rebuilds saved stages by. Each kind registers
 * itself where it is defined (defineStage), as tfjs-layers registers each class under its definition;
 * pipeline/registry.ts imports every module of this folder so that they are all known.
 */
const KINDS = new Map<string, Kind>();

/** Adds a stage kind (its factory takes the JSON config and the stage's name), so that recipes, load and export know it. */
export function registerStage(kind: string, factory: AnyStageFactory, opts: KindOptions = {}): void {
  if (!/^[a-z][\w-]*$/i.test(kind)) throw new ConfigError(`registerStage: '${kind}' is not a valid kind (letters, digits, - and _)`);
  for (const c of opts.layers ?? []) {
    if (typeof c.className !== 'string' || !c.className)
      throw new ConfigError(`registerStage: a layer class of kind '${kind}' has no static className (tfjs serialises layers by it)`);
    tf.serialization.registerClass(c as unknown as tf.serialization.SerializableConstructor<tf.serialization.Serializable>);
  }
  KINDS.set(kind, { factory, parameterFree: opts.parameterFree ?? false, layers: opts.layers ?? [], schema: opts.schema });
}

/** A registered kind's config schema, where it was defined with one (defineStage). */
export function stageSchema(kind: string): z.ZodType | undefined {
  return KINDS.get(kind)?.schema;
}

export function stageKinds(): string[] {
  return [...KINDS.keys()];
}

/** The class names of every registered kind's own layers. */
export function stageLayerClassNames(): string[] {
  return [...KINDS.values()].flatMap((k) => k.layers.map((c) => c.className));
}

/** A stage of a parameter-free kind (what BowStage runs), or null where the kind is not registered as one. */
export function parameterFreeStage(kind: string, config: Record<string, unknown>): Stage | null {
  const k = KINDS.get(kind);
  return k?.parameterFree ? k.factory(config) : null;
}

export function parameterFreeKinds(): string[] {
  return [...KINDS.entries()].filter(([, k]) => k.parameterFree).map(([n]) => n);
}

/** A stage of a registered kind from its JSON config; `where` names the recipe or file in errors. */
export function makeStage(kind: string, config: Record<string, unknown> = {}, name?: string, where = ''): Stage {
  const k = KINDS.get(kind);
  if (!k) {
    const pre = where ? `${where}: ` : '';
    throw new ConfigError(
      `${pre}unknown stage kind '${kind}'${didYouMean(kind, stageKinds())}; known: ${listOf(stageKinds())} (a kind of your own: define it with defineStage, or registerStage('${kind}', factory), first)`,
    );
  }
  try {
    return k.factory(config, name ?? kind);
  } catch (e) {
    if (where && e instanceof ConfigError) throw new ConfigError(`${where}: ${e.message}`);
    throw e;
  }
}

/** What a stage is besides kind, name, config and clone (which defineStage adds). */
export type StageBody<S extends Stage = Stage> = Omit<S, 'kind' | 'name' | 'config' | 'clone'>;

/**
 * A stage factory: parses the config against the kind's schema (an unknown key or a bad value is a
 * ConfigError naming the stage), builds the stage, and gives it kind, name, config and clone. The kind
 * registers itself (with `opts`: how it becomes layers), so that recipes, load and export know it.
 */
export function defineStage<Sch extends z.ZodType, S extends Stage = Stage>(
  kind: string,
  schema: Sch,
  build: (config: z.output<Sch>, name: string) => StageBody<S>,
  opts: KindOptions = {},
): (cfg?: z.input<Sch>, name?: string) => S {
  const factory = (cfg?: z.input<Sch>, name: string = kind): S => {
    const config = parseConfig(schema, cfg ?? {}, name === kind ? `stage '${kind}'` : `stage '${name}' (${kind})`) as z.output<Sch>;
    const body = build(config, name);
    const stage = Object.assign(body, {
      kind,
      name,
      config: Object.freeze({ ...(config as Record<string, unknown>) }),
      clone: (overrides: Record<string, unknown> = {}, n: string = name) =>
        factory({ ...(config as object), ...overrides } as z.input<Sch>, n),
    }) as unknown as S;
    return stage;
  };
  registerStage(kind, factory as AnyStageFactory, { ...opts, schema });
  return factory;
}
