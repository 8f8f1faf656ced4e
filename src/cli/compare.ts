/**
 * bowcnn compare --dataset D --pipelines a,b,c [--subset N] [--test-subset N] [--backend B] [--out DIR]
 *   [--robustness] [--robustness-images N] [--ablation] [--set stage.param=value ...] [--seed S] [--json]
 * Writes DIR/results.json, DIR/report.md and DIR/report.html. A rerun after Ctrl-C reuses DIR/cache
 * (BoW dictionaries and features) and DIR/checkpoints (CNN epochs).
 */
import { resolve } from 'node:path';
import { backendInfo, useBackend, type BackendName } from '../backend/index.js';
import { dataset } from '../data/registry.js';
import { compare } from '../eval/compare.js';
import { writeReport } from '../report/report.js';
import { common, num, out, parse, parseArgs, UsageError } from './args.js';

export function parseSets(list: string[] | undefined): Record<string, unknown> {
  const sets: Record<string, unknown> = {};
  for (const s of list ?? []) {
    const eq = s.indexOf('=');
    if (eq < 0 || !s.slice(0, eq).includes('.')) throw new UsageError(`--set ${s}: expected stage.param=value (e.g. coding.words=512)`);
    const raw = s.slice(eq + 1);
    let v: unknown = raw;
    try { v = JSON.parse(raw); } catch { /* a plain string */ }
    sets[s.slice(0, eq)] = v;
  }
  return sets;
}

export async function compareCommand(argv: string[]): Promise<void> {
  const { values } = parse(() => parseArgs({ args: argv, options: {
    ...common,
    dataset: { type: 'string', default: 'mnist' },
    pipelines: { type: 'string', default: 'bow-sift,lenet5' },
    subset: { type: 'string' },
    'test-subset': { type: 'string' },
    out: { type: 'string', default: 'runs/compare' },
    robustness: { type: 'boolean', default: false },
    'robustness-images': { type: 'string' },
    ablation: { type: 'boolean', default: false },
    set: { type: 'string', multiple: true },
    'max-seconds': { type: 'string' },
  }, allowPositionals: false, strict: true }));
  const info = await useBackend(values.backend as BackendName);
  const seed = num(values.seed, 'seed', 0) as number;
  const ds = await dataset(values.dataset, { subset: num(values.subset, 'subset'), testSubset: num(values['test-subset'], 'test-subset'), seed, dir: values['data-dir'] });
  const outDir = resolve(values.out);
  const names = values.pipelines.split(',').map((s) => s.trim()).filter(Boolean);
  if (!names.length) throw new UsageError('--pipelines needs at least one recipe name or path');
  if (!values.json) process.stderr.write(`bowcnn: comparing ${names.join(', ')} on ${ds.name} (${ds.train.n} train / ${ds.test.n} test) on ${info.name}; results in ${outDir}\n`);
  const r = await compare(names, ds, {
    out: outDir, seed, robustness: values.robustness, robustnessImages: num(values['robustness-images'], 'robustness-images'),
    ablation: values.ablation, sets: parseSets(values.set), maxSeconds: num(values['max-seconds'], 'max-seconds'),
    progress: !values.json, onStep: values.json ? undefined : (m) => process.stderr.write(`bowcnn: ${m}\n`),
  });
  const files = writeReport(r, outDir);
  out(values.json, { ...r, files, contenders: r.contenders.map(({ correct: _c, cards: _k, ...rest }) => rest) }, () => {
    console.log(`\n${'classifier'.padEnd(24)} ${'accuracy'.padStart(9)}  95% CI              params      fit s   train img/s  infer img/s`);
    for (const c of r.contenders) {
      console.log(`${c.name.padEnd(24)} ${(100 * c.accuracy).toFixed(2).padStart(8)}%  [${(100 * c.ci95[0]).toFixed(2)}, ${(100 * c.ci95[1]).toFixed(2)}]  ${String(c.params).padStart(9)}  ${c.fitSeconds.toFixed(1).padStart(7)}  ${c.trainImagesPerSec.toFixed(0).padStart(11)}  ${c.inferImagesPerSec.toFixed(0).padStart(11)}`);
    }
    for (const m of r.mcnemar) console.log(`${m.a} vs ${m.b}: ${m.verdict}`);
    console.log(`\nreport: ${files.html}\n        ${files.md}\n        ${files.json}\nbackend: ${backendInfo().name} (${backendInfo().device})`);
  });
}
