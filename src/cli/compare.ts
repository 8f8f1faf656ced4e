/** bowcnn compare: fit and score BoW pipelines and CNNs on one dataset; write results.json and the report. */
import { resolve } from 'node:path';
import { backendInfo } from '../backend/index.js';
import { UsageError } from '../core/errors.js';
import { fitSeconds, inferSpeed, speed, writeReport } from '../report/report.js';
import { checkNames, compare } from '../eval/compare.js';
import { applySets, classifierFrom } from '../models/resolve.js';
import { ensureDir } from '../core/atomic.js';
import { loadDataset, output, parseSets, say, startBackend } from './common.js';
import type { Values } from './spec.js';

export async function compareCommand(v: Values, _pos: string[], argv: string[]): Promise<void> {
  const names = String(v.pipelines)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (!names.length) throw new UsageError('--pipelines needs at least one recipe name or path');
  const sets = parseSets(v.set as string[] | undefined);
  const info = await startBackend(v);
  // every recipe, stage option and --set value checked, and the output folder made, before any data is read
  const checked = applySets(await Promise.all(names.map((n) => classifierFrom(n))), sets);
  try {
    checkNames(checked);
  } finally {
    for (const c of checked) c.dispose();
  }
  const outDir = resolve(String(v.out));
  ensureDir(outDir);
  const ds = await loadDataset(String(v.dataset), v);
  say(v, `comparing ${names.join(', ')} on ${ds.name} (${ds.train.n} train / ${ds.test.n} test) on ${info.name}; results in ${outDir}`);
  const r = await compare(names, ds, {
    out: outDir,
    seed: v.seed as number,
    robustness: Boolean(v.robustness),
    robustnessImages: v['robustness-images'] as number,
    ablation: Boolean(v.ablation),
    sets,
    maxSeconds: v['max-seconds'] as number | undefined,
    progress: !v.json,
    onStep: (m) => say(v, m),
    command: ['compare', ...argv],
  });
  const files = writeReport(r, outDir, ds.test);
  output(
    v.json,
    {
      files,
      dataset: r.dataset,
      contenders: r.contenders.map(({ correct: _c, cards: _k, scores: _s, predicted: _p, ...rest }) => rest),
      mcnemar: r.mcnemar,
      ablation: r.ablation,
    },
    () => {
      const rows = [
        ['classifier', 'accuracy', '95% CI', 'params', 'fit s', 'train img/s', 'infer img/s'],
        ...r.contenders.map((c) => [
          c.name,
          `${(100 * c.accuracy).toFixed(2)}%`,
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
      for (const m of r.mcnemar) console.log(`${m.a} vs ${m.b}: ${m.verdict}`);
      for (const a of r.ablation ?? []) {
        const d = 100 * a.deltaAccuracy;
        console.log(
          `ablation: ${a.base}, ${a.change}: ${(100 * a.accuracy).toFixed(2)}% (${d >= 0 ? '+' : ''}${d.toFixed(2)} points, McNemar p = ${a.p < 1e-4 ? a.p.toExponential(1) : a.p.toFixed(4)})`,
        );
      }
      console.log(
        `\nreport: ${files.html}\n        ${files.md}\n        ${files.json}\nbackend: ${backendInfo().name} (${backendInfo().device})`,
      );
    },
  );
}
