/**
 * Classifiers from what a user names: a recipe (pipelines/*.json, by name, case-insensitive), a path to a
 * recipe .json, a .js/.ts module whose default export is a Pipeline, or a Classifier object itself; then
 * the --set values, each of which must apply to at least one of them.
 */
import type { Classifier } from '../core/classifier.js';
import { ConfigError } from '../core/errors.js';
import { didYouMean, listOf } from '../core/suggest.js';
import { CnnClassifier } from '../cnn/classifier.js';
import { bowPipeline, pipelineFromModule, readRecipe } from '../pipeline/recipes.js';
import type { Stage } from '../stages/stage.js';
import { isUnion } from '../stages/union.js';

/** A classifier from a recipe name, a .json recipe path or a .js/.ts module exporting a Pipeline. */
export async function classifierFrom(spec: string | Classifier): Promise<Classifier> {
  if (typeof spec !== 'string') return spec;
  if (/\.(m?js|ts)$/.test(spec)) return pipelineFromModule(spec);
  const r = readRecipe(spec);
  return r.kind === 'bow' ? bowPipeline(r) : new CnnClassifier(r);
}

/**
 * Applies `sets` ('coding.words' -> 512, 'train.epochs' -> 10) to each classifier that has the setting;
 * a path that none of them has is an error that lists what they have.
 */
export function applySets(cs: Classifier[], sets: Record<string, unknown>): Classifier[] {
  let out = cs;
  for (const [path, value] of Object.entries(sets)) {
    const head = path.split('.')[0];
    if (!path.includes('.'))
      throw new ConfigError(`--set ${path}: expected stage.param=value or train.param=value (e.g. coding.words=512, train.epochs=10)`);
    if (!out.some((c) => c.settable().includes(head))) {
      const all = [...new Set(out.flatMap((c) => c.settable()))];
      const offers = out.map((c) => `${c.name}: ${listOf(c.settable())}`).join('; ');
      // a stage of that name inside a union's branch: say where it is, and that --set does not reach it
      const inBranch = out
        .flatMap((c) => (c as { stages?: readonly Stage[] }).stages ?? [])
        .filter(isUnion)
        .flatMap((u) =>
          u
            .branches()
            .filter((b) => b.stages.some((s) => s.name === head))
            .map((b) => `stage '${u.name}' branch '${b.name}'`),
        );
      const where = inBranch.length
        ? `; stage '${head}' is inside ${inBranch.join(', ')}: a branch's options are set in the recipe's JSON (copy the recipe and edit the branch's stages)`
        : '';
      throw new ConfigError(`--set ${path}: no classifier has a setting '${head}'${didYouMean(head, all)} (${offers})${where}`);
    }
    out = out.map((c) => (c.settable().includes(head) ? c.set(path, value) : c));
  }
  return out;
}
