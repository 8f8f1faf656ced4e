/**
 * Named recipes under pipelines/ (JSON): `bow` recipes are Pipelines, `cnn` recipes name a model and its
 * training options, `bownet` recipes export a fitted BoW recipe as a CNN to fine-tune. A recipe can also
 * be a path to a .json file of the same shape, or a .js/.ts module whose default export is a Pipeline
 * (or a function returning one). Every recipe is validated against its schema (config/recipes.ts): an
 * unknown key or a bad value is an error naming the file and the key.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError } from '../core/errors.js';
import { parseJson } from '../core/json.js';
import { MODEL_CONFIGS, RecipeSchema, type BowNetRecipe, type BowRecipe, type CnnRecipe, type Recipe } from '../config/recipes.js';
import { parseConfig } from '../config/schema.js';
import { didYouMean, listOf } from '../core/suggest.js';
import { Pipeline } from './pipeline.js';
import { listRecipes, RECIPE_DIR } from '../config/recipe-dir.js';
import { makeStage } from './registry.js';

export type { BowNetRecipe, BowRecipe, CnnRecipe, Recipe };

export { listRecipes, RECIPE_DIR };

/** A recipe from its JSON value; `where` names its file in errors. */
export function parseRecipe(value: unknown, where: string, depth = 0): Recipe {
  const r = parseConfig(RecipeSchema, value, where);
  if (r.kind === 'cnn') r.config = parseConfig(MODEL_CONFIGS[r.model], r.config, `${where}: config of model '${r.model}'`);
  if (r.kind === 'bow') {
    r.stages = expandBranches(r.stages, where, depth);
    Pipeline.fromJSON(r, where).dispose(); // every stage kind known, every stage config valid, every search value too
  } else
    for (const [k, vs] of Object.entries(r.search ?? {}))
      for (const v of vs) recipeWith(r, k, v, `${where}: search '${k}' = ${JSON.stringify(v)}`);
  return r;
}

/** The settings a CNN or bownet recipe's set() paths start with. */
export const cnnSettable = (r: CnnRecipe | BowNetRecipe): string[] =>
  r.kind === 'cnn' ? ['train', 'config', 'input', 'predict'] : ['train', 'coding', 'beta', 'trainable'];

/** A CNN or bownet recipe with one value changed ('train.epochs' -> 10), validated by the recipe's schema. */
export function recipeWith<R extends CnnRecipe | BowNetRecipe>(r: R, path: string, value: unknown, where: string): R {
  const parts = path.split('.');
  const ok = cnnSettable(r);
  if (!ok.includes(parts[0]))
    throw new ConfigError(`${where}: ${r.name} has no setting '${parts[0]}'${didYouMean(parts[0], ok)}; settings: ${listOf(ok)}`);
  const o = structuredClone(r) as Record<string, unknown>;
  let at = o;
  for (const k of parts.slice(0, -1)) {
    if (typeof at[k] !== 'object' || at[k] === null) at[k] = {};
    at = at[k] as Record<string, unknown>;
  }
  at[parts[parts.length - 1]] = value;
  const { search: _s, ...rest } = o;
  const next = parseRecipe(rest, where) as R;
  return (r.search ? { ...next, search: r.search } : next) as R;
}

type StageEntry = BowRecipe['stages'][number];

/** A BoW recipe's stages up to its features: every stage but those fitted on labels (the classifier). */
export function recipeStages(nameOrPath: string, depth = 0): StageEntry[] {
  const r = readRecipe(nameOrPath, depth);
  if (r.kind !== 'bow') throw new ConfigError(`recipe '${nameOrPath}' is a ${r.kind} recipe; a branch takes the stages of a bow recipe`);
  return r.stages.filter((e) => !makeStage(e.kind, e.config, e.name).supervised);
}

/**
 * A union's branches given as `{ "recipe": "hog-svm" }` (a name or a .json path, with an optional `name` and
 * `weight`) become the recipe's stages up to its features, so that a saved pipeline holds every stage itself.
 */
function expandBranches(stages: StageEntry[], where: string, depth: number): StageEntry[] {
  return stages.map((e) => {
    const branches = (e.config as { branches?: unknown }).branches;
    if (e.kind !== 'union' || !Array.isArray(branches)) return e;
    const out = branches.map((b: unknown, i: number) => {
      if (typeof b !== 'object' || b === null || !('recipe' in b)) return b;
      const { recipe, ...rest } = b as { recipe: unknown; stages?: unknown; name?: unknown };
      const at = `${where}: stage '${e.name ?? e.kind}' branch ${i + 1}`;
      if (typeof recipe !== 'string') throw new ConfigError(`${at}: 'recipe' must be a recipe name or a .json path`);
      if (rest.stages !== undefined) throw new ConfigError(`${at}: give 'recipe' or 'stages', not both`);
      if (depth > 4) throw new ConfigError(`${at}: recipes nest deeper than 4 unions (does '${recipe}' include itself?)`);
      let inner: StageEntry[];
      try {
        inner = recipeStages(recipe, depth + 1);
      } catch (err) {
        if (err instanceof ConfigError) throw new ConfigError(`${at}: ${err.message}`);
        throw err;
      }
      const name =
        rest.name ??
        recipe
          .replace(/\.json$/, '')
          .replace(/^.*\//, '')
          .replace(/[^A-Za-z0-9_-]/g, '-');
      return { ...rest, name, stages: inner };
    });
    return { ...e, config: { ...e.config, branches: out } };
  });
}

/** A recipe by name (case-insensitive, nearest name suggested) or a path to a .json file. */
export function readRecipe(nameOrPath: string, depth = 0): Recipe {
  let file: string;
  if (nameOrPath.endsWith('.json')) file = resolve(nameOrPath);
  else {
    const known = listRecipes();
    const name = known.find((k) => k.toLowerCase() === nameOrPath.toLowerCase());
    if (!name)
      throw new ConfigError(
        `no recipe '${nameOrPath}'${didYouMean(nameOrPath, known)}; known: ${listOf(known)} (or give a path to a .json, .js or .ts file)`,
      );
    file = join(RECIPE_DIR, `${name}.json`);
  }
  if (!existsSync(file)) throw new ConfigError(`${file}: no such recipe file`);
  const parsed = parseJson(readFileSync(file, 'utf8'));
  if ('problem' in parsed) throw new ConfigError(`${file}: ${parsed.problem}`);
  const value = parsed.value;
  return parseRecipe(value, `recipe ${file}`, depth);
}

export function bowPipeline(r: Recipe): Pipeline {
  if (r.kind !== 'bow') throw new ConfigError(`recipe '${r.name}' is a ${r.kind} recipe, not a BoW pipeline`);
  return Pipeline.fromJSON(r, `recipe '${r.name}'`);
}

/**
 * A module by path. A .ts module goes through tsx's loader where Node cannot read TypeScript itself (Node 20);
 * without tsx, the error says what to do instead.
 */
async function importModule(file: string): Promise<unknown> {
  const url = pathToFileURL(file).href;
  if (!/\.m?ts$/.test(file)) return import(url);
  let api: { register(): () => Promise<void> | void };
  try {
    // a name in a variable: bundlers leave the import to run time (tsx is needed only here, and only on Node)
    const loader = 'tsx/esm/api';
    api = (await import(loader)) as typeof api;
  } catch {
    throw new ConfigError(
      `${file}: Node ${process.version} does not load TypeScript modules by itself, and tsx is not installed here: install it (npm install tsx), or compile the module to .js (npx tsc), or write the recipe as .json`,
    );
  }
  // registered for this import only; the module shares this process's module cache (its 'bowcnn' is ours)
  const unregister = api.register();
  try {
    return await import(url);
  } catch (e) {
    if (
      /Cannot require\(\) ES Module|ERR_REQUIRE_ESM|ERR_REQUIRE_CYCLE_MODULE/.test(
        `${(e as Error).message} ${(e as { code?: string }).code}`,
      )
    )
      throw new ConfigError(
        `${file}: it is read as CommonJS (its folder's package.json does not say "type": "module"), and bowcnn is an ES module: name it .mts, or add "type": "module" to that package.json`,
      );
    throw e;
  } finally {
    await unregister();
  }
}

/** A pipeline from a module path (.js/.ts): its default export, a Pipeline or a function returning one. */
export async function pipelineFromModule(path: string): Promise<Pipeline> {
  const file = resolve(path);
  if (!existsSync(file)) throw new ConfigError(`${file}: no such module`);
  const mod = (await importModule(file)) as { default?: unknown };
  const v = typeof mod.default === 'function' ? await (mod.default as () => unknown)() : mod.default;
  if (!(v instanceof Pipeline)) throw new ConfigError(`${path}: the default export is not a Pipeline (or a function returning one)`);
  return v;
}
