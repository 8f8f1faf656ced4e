/** Where the named recipes live (pipelines/*.json) and their names: light enough for the CLI's help. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
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

/** The named recipes of these kinds ('cnn', 'bownet'): for the help of the commands that train networks. */
export function listRecipesOf(kinds: readonly string[]): string[] {
  return listRecipes().filter((n) => {
    try {
      return kinds.includes((JSON.parse(readFileSync(join(RECIPE_DIR, `${n}.json`), 'utf8')) as { kind?: string }).kind ?? '');
    } catch {
      return false; // a broken file is reported when it is used
    }
  });
}
