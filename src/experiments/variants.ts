/** CNN recipe variants for the experiments: a recipe by name with some settings changed, under a new name. */
import { CnnClassifier } from '../cnn/classifier.js';
import type { CnnRecipe } from '../config/recipes.js';
import { parseRecipe, readRecipe } from '../pipeline/recipes.js';

export function cnnVariant(
  recipe: string,
  name: string,
  change: { config?: Record<string, unknown>; train?: Record<string, unknown>; about?: string },
): CnnClassifier {
  const base = readRecipe(recipe);
  if (base.kind !== 'cnn') throw new Error(`${recipe}: not a CNN recipe`);
  const r = parseRecipe(
    {
      ...base,
      name,
      about: change.about ?? base.about,
      config: { ...base.config, ...change.config },
      train: { ...base.train, ...change.train },
    },
    `experiment variant '${name}'`,
  ) as CnnRecipe;
  return new CnnClassifier(r);
}
