// The deep half at its best, under the validation protocol (npm run bench -- deep):
//  - LeNet-5 (its recipe: trained to convergence; learning rate and epochs chosen on a validation split) on
//    MNIST, 3 seeds: the mean test accuracy against LeCun et al.'s 99.05%;
//  - the modern small CNN (vgg-bn) on MNIST and Fashion-MNIST: its search on a 10% validation split, the chosen
//    settings refitted on all 60,000 training images, the test set scored once; its minutes; and, in the same
//    run, the same recipe with the same chosen settings in PyTorch (bench/peers/vgg_torch.py, Debian's
//    python3-torch) on the same IDX files and 2 threads: each one's training seconds and test accuracy.
//  - part 'validation': vgg-bn's candidates (widths, epochs) each fitted on 50,000 of a dataset's training images
//    and scored on the other 10,000 (stratified, seed 0), with its validation accuracy after every epoch: how the
//    recipe was chosen. The test set is not read.
//  - part 'epoch': the training speed alone, one epoch of vgg-bn on all the training images, bowcnn and PyTorch
//    in turn (BOWCNN_BENCH_ROUNDS rounds, default 3), with the ratio round by round.
// BOWCNN_BENCH_DATASETS, BOWCNN_BENCH_PARTS (validation,lenet5,vgg-bn,torch,epoch; default lenet5,vgg-bn,torch) and
// BOWCNN_BENCH_TORCH_DATASETS choose; BOWCNN_BENCH_SUBSET=n runs on a subset (a check of the bench itself).
// BOWCNN_BENCH_SETS (JSON) fixes vgg-bn settings, not searched; BOWCNN_BENCH_OUT keeps the runs in a folder (resumable).
// BOWCNN_BENCH_TORCH_EPOCHS=n times only PyTorch's first n epochs of the same schedule: the row then gives
// the ratio of seconds per epoch, and no PyTorch test accuracy (its model is partly trained).
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backendInfo, useBackend } from '../src/backend/index.js';
import { dataset } from '../src/data/registry.js';
import { compare } from '../src/eval/compare.js';
import { readRecipe, type CnnRecipe } from '../src/pipeline/recipes.js';
import { splitOff } from '../src/data/split.js';
import { classifierFrom } from '../src/models/resolve.js';
import type { Classifier } from '../src/core/classifier.js';
import { locate } from '../src/data/registry.js';
import { table } from './util.js';

/** The vgg-bn recipe with the settings the protocol chose, as vgg_torch.py's config. */
function torchConfig(r: CnnRecipe, chosen: Record<string, unknown>, flipSafe: boolean) {
  const v = (path: string, fallback: unknown) => (path in chosen ? chosen[path] : fallback);
  const c = r.config as { widths: number[]; convs: number; fc: number; dropout: number };
  const a = r.train.augment ?? { pad: 0, flip: false, erase: 0 };
  return {
    widths: v('config.widths', c.widths),
    convs: v('config.convs', c.convs),
    fc: v('config.fc', c.fc),
    dropout: v('config.dropout', c.dropout),
    epochs: v('train.epochs', r.train.epochs),
    lr: v('train.lr', r.train.lr),
    weightDecay: v('train.weightDecay', r.train.weightDecay ?? 0),
    batch: r.train.batchSize,
    labelSmoothing: r.train.labelSmoothing,
    pad: a.pad,
    flip: a.flip && flipSafe,
    erase: (a as { erase?: number }).erase ?? 0,
    ttaFlip: v('predict.flip', r.predict.flip) && flipSafe,
    ttaShifts: v('predict.shifts', r.predict.shifts),
    seed: 0,
  };
}

function torchVgg(dir: string, cfg: Record<string, unknown>): Record<string, unknown> | null {
  const r = spawnSync('/usr/bin/python3', [join(import.meta.dirname, 'peers', 'vgg_torch.py'), dir, JSON.stringify(cfg), '2'], {
    encoding: 'utf8',
    maxBuffer: 1 << 26,
  });
  if (r.status !== 0) {
    console.log(`(no PyTorch peer: ${(r.stderr || String(r.error)).trim().split('\n').at(-1)})`);
    return null;
  }
  return JSON.parse(r.stdout.trim().split('\n').at(-1) as string);
}

export async function run(): Promise<Record<string, unknown>> {
  await useBackend('wasm');
  const datasets = (process.env.BOWCNN_BENCH_DATASETS ?? 'mnist,fashion-mnist').split(',');
  const parts = (process.env.BOWCNN_BENCH_PARTS ?? 'lenet5,vgg-bn,torch').split(',');
  const torchOn = (process.env.BOWCNN_BENCH_TORCH_DATASETS ?? datasets.join(',')).split(',');
  const sub = process.env.BOWCNN_BENCH_SUBSET ? Number(process.env.BOWCNN_BENCH_SUBSET) : undefined;
  // BOWCNN_BENCH_OUT keeps the runs (checkpoints, parts) in a folder of your choosing: a rerun resumes there
  const out = process.env.BOWCNN_BENCH_OUT ?? mkdtempSync(join(tmpdir(), 'bowcnn-bench-deep-'));
  // BOWCNN_BENCH_SETS='{"train.epochs": 50}': settings fixed for vgg-bn (as compare's --set: not searched)
  let vggSets: Record<string, unknown>;
  try {
    vggSets = JSON.parse(process.env.BOWCNN_BENCH_SETS ?? '{}');
  } catch (e) {
    throw new Error(`BOWCNN_BENCH_SETS: not JSON (${(e as Error).message}); e.g. '{"train.epochs": 50}'`);
  }
  const rows: Record<string, unknown>[] = [];
  const detail: Record<string, unknown>[] = [];
  for (const name of datasets) {
    const ds = await dataset(name, sub ? { subset: sub, testSubset: Math.ceil(sub / 5) } : {});
    if (parts.includes('validation')) {
      const { kept, held } = splitOff(ds.train, Math.round(ds.train.n / 6), 0);
      const candidates: [string, Record<string, unknown>][] = [
        ['widths 16-32-64, 20 epochs, no weight decay', { 'config.widths': [16, 32, 64], 'train.epochs': 20, 'train.weightDecay': 0 }],
        ['widths 24-48-96, 20 epochs, no weight decay', { 'train.epochs': 20, 'train.weightDecay': 0 }],
        ['widths 24-48-96, 30 epochs, no weight decay', { 'train.epochs': 30, 'train.weightDecay': 0 }],
        ['widths 32-64-128, 30 epochs, no weight decay', { 'config.widths': [32, 64, 128], 'train.epochs': 30, 'train.weightDecay': 0 }],
        ["widths 24-48-96, 30 epochs, weight decay 0.05 (the recipe, its search's first)", { 'train.epochs': 30 }],
        ["widths 24-48-96, 50 epochs, weight decay 0.05 (the recipe, its search's second)", { 'train.epochs': 50 }],
      ];
      for (const [label, sets] of candidates) {
        let c: Classifier = await classifierFrom('vgg-bn');
        for (const [k, v] of Object.entries(sets)) c = c.set(k, v);
        const t0 = performance.now();
        const r = await c.fit(kept, {
          seed: 0,
          validation: held,
          progress: false,
          data: { dataset: name, classes: ds.classes, flipSafe: ds.flipSafe },
        });
        const curve = (r.epochs ?? []).map((e) => +(100 * (e.valAccuracy ?? 0)).toFixed(2));
        rows.push({
          dataset: name,
          who: `vgg-bn candidate: ${label}`,
          validation: `${curve.at(-1)}%`,
          'train min': ((performance.now() - t0) / 60000).toFixed(1),
          'img/s': Math.round(r.trainImagesPerSec ?? 0),
        });
        detail.push({ dataset: name, part: 'validation', candidate: label, sets, curve, seconds: (performance.now() - t0) / 1000 });
        c.dispose();
      }
    }
    if (parts.includes('epoch')) {
      // the same recipe's first epoch on each side (PyTorch: the first of its 30-epoch schedule; bowcnn: a
      // one-epoch fit): the speed of training, alternating so that a drift of the machine's speed hits both
      const dir = locate(name, {});
      const rounds = Number(process.env.BOWCNN_BENCH_ROUNDS ?? 3);
      const cfg = { ...torchConfig(readRecipe('vgg-bn') as CnnRecipe, {}, ds.flipSafe), timedEpochs: 1 };
      for (let r = 1; r <= rounds; r++) {
        const c = await classifierFrom('vgg-bn');
        const f = await c.fit(ds.train, {
          seed: 0,
          epochs: 1,
          progress: false,
          data: { dataset: name, classes: ds.classes, flipSafe: ds.flipSafe },
        });
        c.dispose();
        const ours = f.trainImagesPerSec ?? 0;
        const t = dir && !sub ? torchVgg(dir, cfg) : null;
        const theirs = t ? Number(t.trainImgPerSec) : null;
        rows.push({
          dataset: name,
          who: `vgg-bn, one epoch of ${ds.train.n} images, round ${r}`,
          'img/s': Math.round(ours),
          'PyTorch img/s': theirs ?? '(not run)',
          'speed (bowcnn / PyTorch)': theirs ? (ours / theirs).toFixed(2) : '',
        });
        detail.push({ dataset: name, part: 'epoch', round: r, bowcnnImgPerSec: ours, torch: t });
      }
    }
    if (parts.includes('lenet5') && name === 'mnist') {
      const t0 = performance.now();
      const r = await compare(['lenet5'], ds, {
        out: join(out, `${name}-lenet5`),
        seeds: 3,
        progress: false,
        onStep: (m) => console.log(m),
      });
      const c = r.contenders[0];
      rows.push({
        dataset: name,
        who: 'bowcnn lenet5 (3 seeds)',
        chosen: JSON.stringify(c.protocol?.chosen),
        accuracy: `${(100 * c.accuracy).toFixed(2)}% ± ${(100 * (c.accuracySd ?? 0)).toFixed(2)}`,
        seeds: c.seeds?.map((s) => (100 * s.accuracy).toFixed(2)).join(' '),
        minutes: ((performance.now() - t0) / 60000).toFixed(1),
      });
      detail.push({
        dataset: name,
        model: 'lenet5',
        contender: { ...c, correct: undefined, scores: undefined, predicted: undefined, seeds: c.seeds?.map(({ correct: _c, ...s }) => s) },
      });
    }
    if (parts.includes('vgg-bn')) {
      const t0 = performance.now();
      const r = await compare(['vgg-bn'], ds, {
        out: join(out, `${name}-vgg`),
        sets: vggSets,
        progress: false,
        onStep: (m) => console.log(m),
      });
      const c = r.contenders[0];
      const p = c.protocol;
      // a refit read back from an earlier run (BOWCNN_BENCH_OUT) counts the time measured when it was made
      const fitSec = c.fit.measured?.seconds ?? c.fit.seconds ?? 0;
      const fitMin = fitSec / 60;
      rows.push({
        dataset: name,
        who: 'bowcnn vgg-bn',
        chosen: JSON.stringify(p?.chosen ?? {}),
        validation: p?.candidates.map((x) => `${JSON.stringify(x.settings)} ${(100 * x.validationAccuracy).toFixed(2)}%`).join('; '),
        accuracy: `${(100 * c.accuracy).toFixed(2)}%`,
        'train min': fitMin.toFixed(1),
        'search min': ((p?.seconds ?? 0) / 60).toFixed(1),
        'total min': ((performance.now() - t0) / 60000).toFixed(1),
        'img/s': Math.round(c.fit.measured?.trainImagesPerSec ?? c.fit.trainImagesPerSec ?? 0),
      });
      detail.push({ dataset: name, model: 'vgg-bn', contender: { ...c, correct: undefined, scores: undefined, predicted: undefined } });
      const dir = locate(name, {});
      if (parts.includes('torch') && torchOn.includes(name) && dir && !sub) {
        const timed = Number(process.env.BOWCNN_BENCH_TORCH_EPOCHS ?? 0);
        const cfg = {
          ...torchConfig(readRecipe('vgg-bn') as CnnRecipe, { ...vggSets, ...(p?.chosen ?? {}) }, ds.flipSafe),
          ...(timed ? { timedEpochs: timed } : {}),
        };
        console.log(`PyTorch, the same recipe and settings: ${JSON.stringify(cfg)}`);
        const t = torchVgg(dir, cfg);
        if (t) {
          const epochs = Number(cfg.epochs);
          const ran = Number(t.epochsRun ?? epochs);
          const perEpoch = Number(t.trainSeconds) / ran / Math.max(1e-9, fitSec / epochs);
          rows.push({
            dataset: name,
            who: String(t.peer),
            chosen: '(the same)',
            accuracy: t.partial ? `(timed ${ran} of ${epochs} epochs)` : `${Number(t.accuracy).toFixed(2)}%`,
            'train min': t.partial
              ? `${(((Number(t.trainSeconds) / ran) * epochs) / 60).toFixed(1)} (est.)`
              : (Number(t.trainSeconds) / 60).toFixed(1),
            'img/s': t.trainImgPerSec,
            'time ratio (PyTorch / bowcnn)': t.partial
              ? `${perEpoch.toFixed(2)} per epoch`
              : (Number(t.trainSeconds) / Math.max(1e-9, fitSec)).toFixed(2),
          });
          detail.push({ dataset: name, model: 'vgg-bn (PyTorch)', result: t });
        }
      }
    }
  }
  table(rows);
  return { backend: backendInfo(), rows, detail };
}
