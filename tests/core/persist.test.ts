// A folder that is not a saved model: the error says so, and names the saved models one level down (a run's
// models/ folder, or the run folder itself), so that `predict --model runs/x/models` says which to give.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readModelMeta } from '../../src/core/persist.js';

describe('readModelMeta on a folder that is not a model', () => {
  it('names the saved models inside it, and only those (a folder holding a meta.json)', () => {
    const run = mkdtempSync(join(tmpdir(), 'bowcnn-persist-'));
    for (const name of ['lenet5', 'bow-sift']) {
      mkdirSync(join(run, 'models', name), { recursive: true });
      writeFileSync(join(run, 'models', name, 'meta.json'), '{}');
    }
    mkdirSync(join(run, 'models', 'not-a-model'));
    mkdirSync(join(run, 'cache'));
    const expected = ['bow-sift', 'lenet5'].map((n) => join(run, 'models', n));
    for (const dir of [join(run, 'models'), run]) {
      let message = '';
      try {
        readModelMeta(dir);
      } catch (e) {
        message = (e as Error).message;
      }
      expect(message).toMatch(/not a saved bowcnn model \(no meta\.json\); the saved models in it: /);
      const listed = message.split('the saved models in it: ')[1].split(', ').sort();
      expect(listed).toEqual(expected);
    }
    // an empty folder: no list
    const empty = mkdtempSync(join(tmpdir(), 'bowcnn-persist-'));
    expect(() => readModelMeta(empty)).toThrow(/not a saved bowcnn model \(no meta\.json\)$/);
  });
});
