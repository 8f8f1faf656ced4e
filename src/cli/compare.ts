/** bowcnn compare: fit and score BoW pipelines and CNNs on one dataset under one protocol; write results.json and the report. */
import { existsSync, readdirSync, rmdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { cacheSize, megabytes } from './cache.js';
import { backendInfo } from '../backend/index.js';
import { ConfigError, FitError, UsageError } from '../core/errors.js';
import { candidates, openSpace, withSettings, type ProtocolKind } from '../eval/protocol.js';
import { Pipeline } from '../pipeline/pipeline.js';
import { fitSeconds, inferSpeed, speed, writeReport } from '../report/report.js';
import { checkNames, compare, RUN_FOLDERS } from '../eval/compare.js';
import { applySearch, applySets, classifierFrom } from '../models/resolve.js';
import { ensureDir } from '../core/atomic.js';
import { cnnRead, loadDataset, output, parseSearch, parseSets, parseSizes, say, startBackend } from './common.js';
import type { Values } from './spec.js';
import type { Classifier } from '../core/classifier.js';

const pct = (v: number) => `${(100 * v).toFixed(2)}%`;

/**
 * Each BoW pipeline, and each combination of settings the protocol will try for it, takes images of `inShape`
 * `[H,W,C]` through every stage: checked before the first fit, not when its turn comes.
 */
function checkSearchedInputs(
  classifiers: readonly Classifier[],
  inShape: number[],
  protocol: ProtocolKind,
  sets: Record<string, unknown>,
): void {
  for (const c of classifiers) {
    if (!(c instanceof Pipeline)) continue;
    c.checkInput(inShape);
    const space = protocol === 'validation' ? openSpace(c, sets) : {};
    for (const settings of candidates(space)) {
      if (!Object.keys(settings).length) continue;
      const variant = withSettings(c, settings) as Pipeline;
      try {
        variant.checkInput(inShape);
      } catch (e) {
        const at = Object.entries(settings)
          .map(([k, x]) => `${k} = ${JSON.stringify(x)}`)
          .join(', ');
        if (e instanceof FitError) throw new FitError(`${c.name}, searching ${at}: ${e.message}`);
        if (e instanceof ConfigError) throw new ConfigError(`${c.name}, searching ${at}: ${e.message}`);
        throw e;
      } finally {
        if (variant !== c) variant.dispose();
      }
    }
  }
}

export async function compareCommand(v: Values, _pos: string[], argv: string[]): Promise<void> {
  const names = String(v.pipelines)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (!names.length) throw new UsageError('--pipelines needs at least one recipe name or path');
  const sets = parseSets(v.set as string[] | undefined);
  const space = parseSearch(v.search as string[] | undefined);
  const trainSizes = parseSizes(v['train-sizes'] as string | undefined);
  const seeds = v.seeds as number;
  if (!(Number.isInteger(seeds) && seeds >= 1)) throw new UsageError(`--seeds ${seeds}: give a whole number >= 1`);
  const validation = v.validation as number;
  if (!(validation > 0)) throw new UsageError(`--validation ${validation}: give a fraction in (0, 1) or a count of images`);
  const protocol = { kind: v.protocol as ProtocolKind, validation };
  if (protocol.kind === 'fixed' && Object.keys(space).length)
    throw new UsageError('--search is for the validation protocol; with --protocol fixed nothing is searched');
  const info = await startBackend(v);
  // every recipe, stage option, --set and --search value checked, and the output folder made, before any data is read
  const given = await Promise.all(names.map((n) => classifierFrom(n)));
  const checked = applySearch(applySets(given, sets), space);
  try {
    checkNames(checked);
  } catch (e) {
    for (const c of checked) c.dispose();
    throw e;
  }
  const outDir = resolve(String(v.out));
  const made = !existsSync(outDir);
  ensureDir(outDir); // an output folder that cannot be made fails before any data is read
  // a comparison that stops (before it starts, on Ctrl-C, on an error) leaves what it wrote for a rerun, and none of
  // the folders it made empty
  const leaveNoEmptyFolder = () => {
    for (const d of RUN_FOLDERS)
      try {
        rmdirSync(join(outDir, d)); // only an empty folder goes
      } catch {
        // absent, or it holds something: kept
      }
    if (made && existsSync(outDir) && readdirSync(outDir).length === 0) rmdirSync(outDir);
  };
  let ds: Awaited<ReturnType<typeof loadDataset>>;
  let r: Awaited<ReturnType<typeof compare>>;
  try {
    // a folder is read at the largest input a CNN recipe declares (never under the default), unless told otherwise
    const { folder, note } = cnnRead(String(v.dataset), checked, v);
    if (note) say(v, note);
    ds = await loadDataset(String(v.dataset), v, { folder });
    checkSearchedInputs(checked, [ds.train.height, ds.train.width, ds.train.channels], protocol.kind, sets);
    say(
      v,
      `comparing ${names.join(', ')} on ${ds.name} (${ds.train.n} train / ${ds.test.n} test) on ${info.name}, under the ${protocol.kind} protocol; results in ${outDir}`,
    );
    r = await compare(checked, ds, {
      out: outDir,
      seed: v.seed as number,
      protocol,
      seeds,
      trainSizes,
      robustness: Boolean(v.robustness),
      robustnessImages: v['robustness-images'] as number,
      ablation: Boolean(v.ablation),
      sets,
      maxSeconds: v['max-seconds'] as number | undefined,
      progress: !v.json,
      onStep: (m) => say(v, m),
      command: ['compare', ...argv],
    });
  } catch (e) {
    leaveNoEmptyFolder();
    throw e;
  }
  const files = writeReport(r, outDir, ds.test);
  output(
    v.json,
    {
      files,
      dataset: r.dataset,
      protocol: r.protocol,
      verdict: r.verdict,
      contenders: r.contenders.map(({ correct: _c, cards: _k, scores: _s, predicted: _p, seeds: sr, ...rest }) => ({
        ...rest,
        seeds: sr?.map(({ correct: _x, ...s }) => s),
      })),
      pairs: r.pairs.map(({ seedTest: _t, ...p }) => p),
      curves: r.curves,
      crossings: r.crossings,
      ablation: r.ablation,
    },
    () => {
      const multi = r.protocol.seeds.length > 1;
      const rows = [
        [
          'classifier',
          multi ? `accuracy (mean ± sd, ${r.protocol.seeds.length} seeds)` : 'accuracy',
          '95% CI',
          'params',
          'fit s',
          'train img/s',
          'infer img/s',
        ],
        ...r.contenders.map((c) => [
          c.name,
          multi ? `${pct(c.accuracy)} ± ${(100 * (c.accuracySd ?? 0)).toFixed(2)}` : pct(c.accuracy),
          `[${(100 * c.ci95[0]).toFixed(2)}, ${(100 * c.ci95[1]).toFixed(2)}]`,
          String(c.params),
          fitSeconds(c.fit),
          speed(c.fit),
          inferSpeed(c),
        ]),
      ];
      const w = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
      console.log('');
      for (const row of rows) console.log(row.map((x, i) => (i === 0 ? x.padEnd(w[i]) : x.padStart(w[i]))).join('  '));
      console.log('');
      for (const c of r.contenders) {
        const p = c.protocol;
        if (!p) continue;
        if (!p.candidates.length) {
          console.log(`${c.name}: no search space; the recipe's own settings`);
          continue;
        }
        const chosen = Object.entries(p.chosen).map(([k, x]) => `${k}=${JSON.stringify(x)}`);
        console.log(
          `${c.name}: ${p.candidates.length} candidate${p.candidates.length === 1 ? '' : 's'} on ${p.validationImages} validation images (${p.seconds.toFixed(0)} s); ${chosen.length ? `chose ${chosen.join(' ')}` : "the recipe's settings"} (validation ${pct(Math.max(...p.candidates.map((x) => x.validationAccuracy)))})`,
        );
      }
      // one pair: the verdict line below says it
      if (r.pairs.length > 1) for (const m of r.pairs) console.log(`${m.a} vs ${m.b}: ${m.verdict}`);
      for (const line of r.curveSummary) console.log(`curves: ${line}`);
      for (const a of r.ablation ?? []) {
        const d = 100 * a.deltaAccuracy;
        console.log(
          `ablation: ${a.base}, ${a.change}: ${(100 * a.accuracy).toFixed(2)}% (${d >= 0 ? '+' : ''}${d.toFixed(2)} points, McNemar p = ${a.p < 1e-4 ? a.p.toExponential(1) : a.p.toFixed(4)})`,
        );
      }
      const cache = cacheSize(join(outDir, 'cache'));
      console.log(
        `\nverdict: ${r.verdict}\n\nreport: ${files.html}\n        ${files.md}\n        ${files.json}\nbackend: ${backendInfo().name} (${backendInfo().device})\ncache:  ${join(outDir, 'cache')} (${megabytes(cache.bytes)}: BoW features and dictionaries, for reruns; bowcnn cache ${String(v.out)} --clear deletes it)`,
      );
    },
  );
}
