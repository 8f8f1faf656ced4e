// The registry knows every kind that a file of src/stages/ defines, with nothing listed by hand: the kinds named in
// the files' defineStage calls (read as text, the independent reference) are the kinds registered.
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stageKinds } from '../../src/pipeline/registry.js';
import { stageSchema } from '../../src/stages/stage.js';

const STAGES = resolve(import.meta.dirname, '..', '..', 'src', 'stages');

describe('the stage registry', () => {
  it('registers the kind of every defineStage call in src/stages/, each with its schema', () => {
    const defined = readdirSync(STAGES)
      .filter((f) => f.endsWith('.ts'))
      .flatMap((f) => [...readFileSync(join(STAGES, f), 'utf8').matchAll(/defineStage(?:<[^>]*>)?\(\s*'([\w-]+)'/g)].map((m) => m[1]));
    expect(defined.length).toBeGreaterThan(15);
    const known = stageKinds();
    for (const kind of defined) {
      expect(known, kind).toContain(kind);
      expect(stageSchema(kind), kind).toBeDefined();
    }
  });
});
