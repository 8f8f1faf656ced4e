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
  // a setting the variant fixes is not searched by the validation protocol (as with --set)
  const fixed = [
    ...Object.keys(change.config ?? {}).map((k) => `config.${k}`),
    ...Object.keys(change.train ?? {}).map((k) => `train.${k}`),
  ];
  const search = Object.fromEntries(Object.entries(base.search ?? {}).filter(([k]) => !fixed.includes(k)));
  const r = parseRecipe(
    {
      ...base,
      search,
      name,
      about: change.about ?? base.about,
      config: { ...base.config, ...change.config },
      // a variant that states its epochs runs exactly those (as `train --epochs` does)
      train: {
        ...base.train,
        ...(change.train?.epochs !== undefined && change.train.minSteps === undefined ? { minSteps: 0 } : {}),
        ...change.train,
      },
    },
    `experiment variant '${name}'`,
  ) as CnnRecipe;
  return new CnnClassifier(r);
}
