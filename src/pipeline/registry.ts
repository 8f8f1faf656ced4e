/**
 * Every built-in stage kind, known by name: each file of src/stages/ that defines a kind registers it where it is
 * defined (defineStage), and this module imports every file of that folder, so that recipes and load find each kind
 * and a new kind's file is the only one it touches. `registerStage` adds a kind of the user's own
 * (stages/stage.ts); a stage defined with defineStage registers itself.
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { join } from 'node:path';

/** The modules of src/stages/ (dist/stages/ once built), in name order so that kinds register in one order. */
const folder = fileURLToPath(new URL('../stages/', import.meta.url));
const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
const files = readdirSync(folder)
  .filter((f) => f.endsWith(ext) && !f.endsWith('.d.ts'))
  .sort();
for (const f of files) await import(pathToFileURL(join(folder, f)).href);

export { union } from '../stages/union.js';
export { makeStage, registerStage, stageKinds, type AnyStageFactory } from '../stages/stage.js';
