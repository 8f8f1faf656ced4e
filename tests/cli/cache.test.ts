// Where a run's cache lives and how big it is: `bowcnn cache DIR` counts it by kind, --clear deletes it (a
// rerun recomputes); a comparison that fails before it starts leaves no empty output folder.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..', '..');
function cli(args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, BOWCNN_PROGRESS: '0' },
    timeout: 180_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('bowcnn cache', () => {
  it("counts a run's cache by kind (its sizes on disk), clears it, and the rerun recomputes", () => {
    const out = join(mkdtempSync(join(tmpdir(), 'bowcnn-cache-')), 'run');
    const args = ['compare', '--pipelines', 'bow-sift', '--set', 'coding.words=16', '--subset', '300', '--test-subset', '50', '--out', out];
    expect(cli([...args, '--protocol', 'fixed']).code).toBe(0);
    const r = cli(['cache', out, '--json']);
    expect(r.code, r.err).toBe(0);
    const s = JSON.parse(r.out) as { dir: string; bytes: number; files: number; kinds: Record<string, { bytes: number; files: number }> };
    expect(s.dir).toBe(join(out, 'cache'));
    // a plain walk of the folder gives the same total
    const files = readdirSync(s.dir).map((f) => statSync(join(s.dir, f)).size);
    expect(s.files).toBe(files.length);
    expect(s.bytes).toBe(files.reduce((a, b) => a + b, 0));
    expect(s.kinds.rows.files).toBe(2); // the training and the test split's features
    expect(s.kinds.state.files).toBe(1); // the dictionary
    expect(cli(['cache', out, '--clear']).code).toBe(0);
    expect(existsSync(join(out, 'cache'))).toBe(false);
    // a folder that is no cache is refused
    const other = mkdtempSync(join(tmpdir(), 'bowcnn-notcache-'));
    const refused = cli(['cache', other, '--clear']);
    expect(refused.code).toBe(2);
    expect(existsSync(other)).toBe(true);
  }, 200_000);

  it('a compare that fails before it starts leaves no empty output folder', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'bowcnn-fail-')), 'run');
    const r = cli(['compare', '--subset', '100000', '--out', out]);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/subset 100000/);
    expect(existsSync(out)).toBe(false);
  });
});
