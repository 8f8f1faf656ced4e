// Recipe modules in TypeScript, as the README offers them, run by the built CLI on plain Node (no loader of
// the test's own): a .mts module (or a .ts one in an ES-module package) loads through tsx; a .ts module read
// as CommonJS is refused with what to do; --dataset folder: with no path is refused.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..', '..');
const DIST = join(ROOT, 'dist', 'cli', 'main.js');
const run = (args: string[]) => spawnSync(process.execPath, [DIST, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
const module = `import { bowPipeline, readRecipe } from ${JSON.stringify(join(ROOT, 'dist', 'index.js'))};
const words: number = 64;
export default () => bowPipeline(readRecipe('bow-sift')).set('coding.words', words).renamed('mine');
`;

describe('TypeScript recipe modules on plain Node', () => {
  it('the built CLI exists (npm ci builds it; npm run build after a change)', () => expect(existsSync(DIST)).toBe(true));

  it('loads a .mts module, and a .ts module in an ES-module package', () => {
    const d = mkdtempSync(join(tmpdir(), 'bowcnn-mts-'));
    writeFileSync(join(d, 'mine.mts'), module);
    const a = run(['explain', join(d, 'mine.mts')]);
    expect(a.status, a.stderr).toBe(0);
    expect(a.stdout).toMatch(/^mine\n/);
    expect(a.stdout).toMatch(/64 words|1x1.*->64/);
    const esm = join(d, 'esm');
    mkdirSync(esm);
    writeFileSync(join(esm, 'package.json'), '{"type":"module"}');
    writeFileSync(join(esm, 'mine.ts'), module);
    expect(run(['explain', join(esm, 'mine.ts')]).status).toBe(0);
  });

  it('refuses a .ts module read as CommonJS, saying how to fix it', () => {
    const d = mkdtempSync(join(tmpdir(), 'bowcnn-cts-'));
    writeFileSync(join(d, 'mine.ts'), module);
    const r = run(['explain', join(d, 'mine.ts')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/read as CommonJS .* name it \.mts, or add "type": "module"/);
  });

  it('refuses --dataset folder: without a path', () => {
    const r = run(['compare', '--dataset', 'folder:', '--pipelines', 'bow-sift']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/give the folder after 'folder:'/);
  });
});
