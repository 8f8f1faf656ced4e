/**
 * Named recipes under pipelines/ (JSON): `bow` recipes are Pipelines, `cnn` recipes name a model and its
 * training options. A recipe can also be a path to a .json file of the same shape, or a .js/.ts module
 * whose default export is a Pipeline or a function returning one.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Pipeline, PipelineError } from './pipeline.js';

export const RECIPE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'pipelines');

export interface BowRecipe { kind: 'bow'; name: string; about?: string; stages: { name: string; config: Record<string, unknown> }[] }
export interface CnnRecipe {
  kind: 'cnn'; name: string; about?: string; model: string; config: Record<string, unknown>; train: Record<string, unknown>;
  /** flip: test-time flips where the dataset allows them (see cnn/train PredictOptions) */
  predict?: { flip?: boolean };
}
export interface BowNetRecipe { kind: 'bownet'; name: string; about?: string; from: string; coding?: 'hard' | 'soft'; beta?: number; trainable?: Record<string, boolean>; train: Record<string, unknown> }
export type Recipe = BowRecipe | CnnRecipe | BowNetRecipe;

export function listRecipes(): string[] {
  return existsSync(RECIPE_DIR) ? readdirSync(RECIPE_DIR).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)).sort() : [];
}

export function readRecipe(nameOrPath: string): Recipe {
  const file = nameOrPath.endsWith('.json') ? resolve(nameOrPath) : join(RECIPE_DIR, `${nameOrPath}.json`);
  if (!existsSync(file)) throw new PipelineError(`no recipe '${nameOrPath}' (known: ${listRecipes().join(', ')}; or give a path to a .json, .js or .ts file)`);
  let r: Recipe;
  try { r = JSON.parse(readFileSync(file, 'utf8')) as Recipe; } catch (e) { throw new PipelineError(`${file}: not valid JSON (${(e as Error).message})`); }
  if (r.kind !== 'bow' && r.kind !== 'cnn' && r.kind !== 'bownet') throw new PipelineError(`${file}: "kind" must be "bow", "cnn" or "bownet"`);
  return r;
}

export function bowPipeline(r: Recipe): Pipeline {
  if (r.kind !== 'bow') throw new PipelineError(`recipe '${r.name}' is a ${r.kind} recipe, not a BoW pipeline`);
  return Pipeline.fromJSON({ name: r.name, stages: r.stages });
}

/** A pipeline from a module path (.js/.ts): its default export, a Pipeline or a function returning one. */
export async function pipelineFromModule(path: string): Promise<Pipeline> {
  const mod = (await import(pathToFileURL(resolve(path)).href)) as { default?: unknown };
  const v = typeof mod.default === 'function' ? await (mod.default as () => unknown)() : mod.default;
  if (!(v instanceof Pipeline)) throw new PipelineError(`${path}: the default export is not a Pipeline (or a function returning one)`);
  return v;
}
