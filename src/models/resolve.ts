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
import { Pipeline } from '../pipeline/pipeline.js';

/** A classifier from a recipe name, a .json recipe path or a .js/.ts module exporting a Pipeline. */
export async function classifierFrom(spec: string | Classifier): Promise<Classifier> {
  if (typeof spec !== 'string') return spec;
  if (/\.(m?js|m?ts)$/.test(spec)) return pipelineFromModule(spec);
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

/**
 * A classifier with `seed` in every stage that has a seed option (k-means' initialisation, the SVM's order),
 * except those `fixed` sets; a CNN takes its seed at fit (initialisation, shuffling, dropout).
 */
export function seeded(c: Classifier, fixed: Record<string, unknown>, seed: number): Classifier {
  let k = c;
  if (k instanceof Pipeline)
    for (const s of k.stages)
      if ('seed' in s.config && s.config.seed !== seed && !(`${s.name}.seed` in fixed)) {
        const next: Pipeline = (k as Pipeline).set(`${s.name}.seed`, seed);
        if (k !== c) k.dispose();
        k = next;
      }
  return k;
}

/**
 * Applies `space` (--search PATH=V1,V2) to each classifier that has the path, in place of its recipe's values
 * for that path; a path that none of them has is an error, as for --set.
 */
export function applySearch(cs: Classifier[], space: Record<string, unknown[]>): Classifier[] {
  let out = cs;
  for (const [path, values] of Object.entries(space)) {
    const head = path.split('.')[0];
    if (!out.some((c) => c.settable().includes(head))) {
      const all = [...new Set(out.flatMap((c) => c.settable()))];
      throw new ConfigError(`--search ${path}: no classifier has a setting '${head}'${didYouMean(head, all)}`);
    }
    out = out.map((c) => {
      if (!c.settable().includes(head)) return c;
      try {
        return c.searching({ ...c.searchSpace(), [path]: values });
      } catch (e) {
        if (e instanceof ConfigError) throw new ConfigError(`--search ${path}: ${e.message}`);
        throw e;
      }
    });
  }
  return out;
}
