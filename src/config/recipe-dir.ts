/** Where the named recipes live (pipelines/*.json) and their names: light enough for the CLI's help. */
import { existsSync, readdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const RECIPE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'pipelines');

export function listRecipes(): string[] {
  return existsSync(RECIPE_DIR)
    ? readdirSync(RECIPE_DIR)
        .filter((f) => f.endsWith('.json'))
        .map((f) => f.slice(0, -5))
        .sort()
    : [];
}
