// The options tables (README.md, docs/cli.md) and the environment table (docs/configuration.md) are the
// ones the declarations in the code give: `npm run docs` writes them, and this fails while one is stale.
// And no module but core/settings reads a BOWCNN_* variable.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { BLOCKS, ROOT, regenerate } from '../../scripts/docs.js';
import { ENV_VARIABLES, envSettings } from '../../src/core/settings.js';

describe('generated documentation', () => {
  for (const file of Object.keys(BLOCKS)) {
    it(`${file} holds the current tables (npm run docs rewrites them)`, () => {
      const text = readFileSync(join(ROOT, file), 'utf8');
      expect(regenerate(file, text)).toBe(text);
    });
  }

  it('every BOWCNN_* variable read at run time is read by core/settings and listed in its table', () => {
    const src = execFileSync('git', ['grep', '-n', 'BOWCNN_[A-Z_]*', '--', 'src'], { cwd: ROOT, encoding: 'utf8' })
      .split('\n')
      .filter(Boolean);
    const readers = src.filter((l) => /process\.env\.BOWCNN_|env\.BOWCNN_/.test(l)).map((l) => l.split(':')[0]);
    expect([...new Set(readers)]).toEqual(['src/core/settings.ts']);
    const read = [
      ...new Set(
        src
          .filter((l) => l.startsWith('src/core/settings.ts'))
          .flatMap((l) => [...l.matchAll(/(?:on\('|env\.)(BOWCNN_[A-Z_]+)/g)].map((m) => m[1])),
      ),
    ];
    expect(read.sort()).toEqual(ENV_VARIABLES.map((v) => v.name).sort());
    // each variable maps to its setting
    expect(envSettings({ BOWCNN_NATIVE: '0', BOWCNN_WASM_THREADS: '3', BOWCNN_DAWN_FLAGS: 'a,b', BOWCNN_DATA: '/d' })).toMatchObject({
      native: false,
      threads: 3,
      dawnFlags: ['a', 'b'],
      dataDir: '/d',
      fuse: true,
    });
  });
});

describe('the npm package', () => {
  it("holds the sweeps, the docs, and every file the README links to (its links work from the package's files)", () => {
    const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8' });
    const files = new Set((JSON.parse(out) as { files: { path: string }[] }[])[0].files.map((f) => f.path));
    expect(files.has('sweeps/quick.json')).toBe(true);
    expect(files.has('pipelines/lenet5.json')).toBe(true);
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const links = [...readme.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)].map((m) => m[1]).filter((l) => !/^[a-z]+:/.test(l));
    expect(links.length).toBeGreaterThan(5);
    for (const l of links) expect(files.has(l.replace(/^\.\//, '')), `README links to ${l}`).toBe(true);
  });
});
