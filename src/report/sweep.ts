/**
 * A sweep's report: results.json (a row per job: id, configuration, accuracy, what it was scored on,
 * timings, error), report.md and a self-contained report.html with accuracy against each swept parameter,
 * with intervals. Under the validation protocol the curves are of validation accuracy and each pipeline's
 * chosen point is given with its test accuracy; under the fixed protocol every point is scored on the test
 * set, and the best of them is not a fair choice (the report says so).
 */
import { join } from 'node:path';
import { ensureDir, writeFileAtomic } from '../core/atomic.js';
import type { SweepGrid } from '../config/sweep.js';
import type { JobResult } from '../eval/sweep.js';
import { esc, lineChart, PALETTE } from './svg.js';

export interface SweepResult {
  grid: SweepGrid;
  mode: 'in-process' | 'queue';
  seconds: number;
  jobs: JobResult[];
  cached?: number; // jobs whose result was read from the cache (their timings are those of the run that computed them)
}

const pct = (v: number | null | undefined) => (typeof v === 'number' ? `${(100 * v).toFixed(2)}%` : '—');
const show = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v));
const pipelineOf = (r: JobResult) => r.name;

/** The parameters that vary across the grid, each with its values: every --set key with 2+ values, the dataset, the seed. */
function axes(g: SweepGrid): { key: string; label: string; values: unknown[]; of: (r: JobResult) => unknown }[] {
  const out: { key: string; label: string; values: unknown[]; of: (r: JobResult) => unknown }[] = [];
  for (const [k, vs] of Object.entries(g.set)) if (vs.length > 1) out.push({ key: k, label: k, values: vs, of: (r) => r.config.set[k] });
  if (g.datasets.length > 1)
    out.push({
      key: 'dataset',
      label: 'dataset',
      values: g.datasets.map((d) => (typeof d === 'string' ? d : d.name)),
      of: (r) => r.config.dataset.name,
    });
  if (g.seeds.length > 1) out.push({ key: 'seed', label: 'seed', values: g.seeds, of: (r) => r.config.seed });
  return out;
}

interface Point {
  value: unknown;
  mean: number;
  lo: number;
  hi: number;
  rows: number;
}

/** For one parameter and one pipeline: per value, the mean accuracy and its interval (one row: its Wilson 95%; several: their min to max). */
function curve(rows: JobResult[], of: (r: JobResult) => unknown, values: unknown[]): Point[] {
  return values
    .map((v) => {
      const at = rows.filter((r) => JSON.stringify(of(r)) === JSON.stringify(v) && typeof r.accuracy === 'number');
      if (!at.length) return null;
      const accs = at.map((r) => r.accuracy as number);
      const mean = accs.reduce((a, b) => a + b, 0) / accs.length;
      const [lo, hi] = at.length === 1 && at[0].ci95 ? at[0].ci95 : [Math.min(...accs), Math.max(...accs)];
      return { value: v, mean, lo, hi, rows: at.length };
    })
    .filter((p): p is Point => !!p);
}

function best(rows: JobResult[]): JobResult[] {
  const by = new Map<string, JobResult>();
  for (const r of rows) {
    if (typeof r.accuracy !== 'number') continue;
    const b = by.get(pipelineOf(r));
    if (!b || (r.accuracy as number) > (b.accuracy as number)) by.set(pipelineOf(r), r);
  }
  return [...by.values()];
}

const settings = (r: JobResult) =>
  [...Object.entries(r.config.set).map(([k, v]) => `${k}=${show(v)}`), `seed=${r.config.seed}`, r.config.dataset.name].join(', ');

const onValidation = (r: JobResult) => r.config.scoredOn === 'validation';

/** The validation protocol's choices: per dataset and pipeline, the test jobs of the chosen point and its candidates' validation mean. */
function chosen(s: SweepResult): { name: string; dataset: string; set: Record<string, unknown>; validation: number; test: JobResult[] }[] {
  const tests = s.jobs.filter((r) => !onValidation(r) && typeof r.accuracy === 'number');
  const keys = [...new Set(tests.map((r) => JSON.stringify([r.config.dataset.name, r.name, r.config.set])))];
  return keys.map((k) => {
    const [dataset, name, set] = JSON.parse(k) as [string, string, Record<string, unknown>];
    const cands = s.jobs.filter(
      (r) =>
        onValidation(r) && r.name === name && r.config.dataset.name === dataset && JSON.stringify(r.config.set) === JSON.stringify(set),
    );
    const accs = cands.map((r) => r.accuracy).filter((a): a is number => typeof a === 'number');
    return {
      name,
      dataset,
      set,
      validation: accs.reduce((a, b) => a + b, 0) / Math.max(1, accs.length),
      test: tests.filter((r) => JSON.stringify([r.config.dataset.name, r.name, r.config.set]) === k),
    };
  });
}

export function sweepMarkdown(s: SweepResult): string {
  const L: string[] = [`# Sweep ${s.grid.name}`, ''];
  if (s.grid.about) L.push(s.grid.about, '');
  const failed = s.jobs.filter((r) => r.error);
  const validation = s.grid.protocol === 'validation';
  const explored = validation ? s.jobs.filter(onValidation) : s.jobs;
  L.push(
    `${s.jobs.length} jobs (${s.mode}${s.cached ? `; ${s.cached} read from the cache, timed when they were computed` : ''}), ${failed.length} failed, ${s.seconds.toFixed(1)} s. Datasets: ${s.grid.datasets.map((d) => (typeof d === 'string' ? d : d.name)).join(', ')}; ` +
      `training images ${s.jobs.find((r) => !onValidation(r) && r.trainImages)?.trainImages ?? s.jobs.find((r) => r.trainImages)?.trainImages ?? '—'}, test images ${s.jobs.find((r) => !onValidation(r) && r.testImages)?.testImages ?? '—'}. Intervals: a job's Wilson 95% interval; where several jobs share a value (seeds, other settings), the range of their accuracies.`,
    '',
    validation
      ? `Protocol: validation. Every grid point was fitted on the training set less a stratified validation split (${s.grid.validation < 1 ? `${(100 * s.grid.validation).toFixed(0)}%` : `${s.grid.validation} images`}) and scored on it; per dataset and pipeline, the point with the best mean validation accuracy over the seeds was refitted on the whole training set and scored on the test set, once per seed. The curves below are of validation accuracy; the test set was read only for the chosen points.`
      : 'Protocol: fixed. Every grid point was scored on the test set: the table of the best point per pipeline is an exploration, not a fair choice (choosing by test accuracy overstates it); the validation protocol (the default) chooses on a validation split.',
    '',
  );
  if (validation) {
    L.push(
      '## Chosen on validation, scored on the test set',
      '',
      '| pipeline | dataset | settings | validation accuracy | test accuracy | 95% interval |',
      '|---|---|---|---|---|---|',
    );
    for (const c of chosen(s)) {
      const accs = c.test.map((r) => r.accuracy as number);
      const mean = accs.reduce((a, b) => a + b, 0) / accs.length;
      const ci = c.test.length === 1 && c.test[0].ci95 ? c.test[0].ci95 : [Math.min(...accs), Math.max(...accs)];
      L.push(
        `| ${c.name} | ${c.dataset} | ${
          Object.entries(c.set)
            .map(([k, v]) => `${k}=${show(v)}`)
            .join(', ') || '(its recipe)'
        } | ${pct(c.validation)} | ${pct(mean)}${accs.length > 1 ? ` (${accs.length} seeds)` : ''} | ${pct(ci[0])} – ${pct(ci[1])} |`,
      );
    }
  } else {
    L.push(
      '## Best per pipeline on the test set (exploration)',
      '',
      '| pipeline | accuracy | 95% interval | settings |',
      '|---|---|---|---|',
    );
    for (const r of best(s.jobs))
      L.push(`| ${r.name} | ${pct(r.accuracy)} | ${r.ci95 ? `${pct(r.ci95[0])} – ${pct(r.ci95[1])}` : '—'} | ${settings(r)} |`);
  }
  for (const a of axes(s.grid)) {
    const values = a.values;
    L.push(
      '',
      `## ${validation ? 'Validation accuracy' : 'Accuracy'} against ${a.label}`,
      '',
      `| pipeline | ${values.map(show).join(' | ')} |`,
      `|---|${values.map(() => '---').join('|')}|`,
    );
    for (const name of [...new Set(explored.map(pipelineOf))]) {
      const pts = curve(
        explored.filter((r) => pipelineOf(r) === name),
        a.of,
        values,
      );
      if (pts.length < 2) continue;
      L.push(
        `| ${name} | ${values
          .map((v) => pts.find((p) => JSON.stringify(p.value) === JSON.stringify(v)))
          .map((p) => (p ? `${pct(p.mean)} [${pct(p.lo)}, ${pct(p.hi)}]` : '—'))
          .join(' | ')} |`,
      );
    }
  }
  L.push(
    '',
    '## Every job',
    '',
    '| id | pipeline | settings | scored on | accuracy | fit s | total s | error |',
    '|---|---|---|---|---|---|---|---|',
  );
  for (const r of s.jobs)
    L.push(
      `| ${r.id.slice(0, 10)} | ${r.name} | ${settings(r)} | ${onValidation(r) ? 'validation' : 'test'} | ${pct(r.accuracy)} | ${r.timings.fitSeconds?.toFixed(1) ?? '—'} | ${r.timings.totalSeconds.toFixed(1)} | ${r.error ? r.error.split('\n')[0] : ''} |`,
    );
  return `${L.join('\n')}\n`;
}

export function sweepHtml(s: SweepResult): string {
  const charts: string[] = [];
  const validation = s.grid.protocol === 'validation';
  const explored = validation ? s.jobs.filter(onValidation) : s.jobs;
  for (const a of axes(s.grid)) {
    const values = a.values;
    const numeric = values.every((v) => typeof v === 'number');
    const series = [...new Set(explored.map(pipelineOf))]
      .map((name, i) => {
        const pts = curve(
          explored.filter((r) => pipelineOf(r) === name),
          a.of,
          values,
        );
        const x = (p: Point) => (numeric ? (p.value as number) : values.findIndex((v) => JSON.stringify(v) === JSON.stringify(p.value)));
        return {
          name,
          color: PALETTE[i % PALETTE.length],
          points: pts.map((p) => [x(p), 100 * p.mean] as [number, number]),
          err: pts.map((p) => [100 * p.lo, 100 * p.hi] as [number, number]),
        };
      })
      .filter((x) => x.points.length >= 2);
    if (!series.length) continue;
    const ys = series.flatMap((x) => x.err.flat());
    const xs = numeric ? (values as number[]) : [];
    const pad = numeric ? 0.05 * (Math.max(...xs) - Math.min(...xs) || 1) : 0.3;
    charts.push(
      lineChart(series, {
        title: `${validation ? 'Validation accuracy' : 'Accuracy'} against ${a.label}`,
        xlabel: a.label,
        ylabel: `${validation ? 'validation' : 'test'} accuracy (%)`,
        yMin: Math.max(0, Math.floor(Math.min(...ys) - 1)),
        yMax: Math.min(100, Math.ceil(Math.max(...ys) + 1)),
        xMin: numeric ? Math.min(...xs) - pad : -pad,
        xMax: numeric ? Math.max(...xs) + pad : values.length - 1 + pad,
        xTicks: numeric ? undefined : values.map((v, i) => ({ at: i, label: show(v) })),
      }),
    );
  }
  const md = sweepMarkdown(s);
  const table = (lines: string[]) => {
    const rows = lines.filter((l) => l.startsWith('|') && !/^\|---/.test(l));
    return `<table>${rows
      .map(
        (l, i) =>
          `<tr>${l
            .split('|')
            .slice(1, -1)
            .map((c) => (i ? `<td>${esc(c.trim())}</td>` : `<th>${esc(c.trim())}</th>`))
            .join('')}</tr>`,
      )
      .join('')}</table>`;
  };
  const sections = md
    .split('\n## ')
    .slice(1)
    .map((sec) => {
      const [title, ...rest] = sec.split('\n');
      return `<h2>${esc(title)}</h2>${table(rest)}`;
    });
  const intro = md
    .split('\n## ')[0]
    .split('\n')
    .slice(2)
    .filter(Boolean)
    .map((l) => `<p>${esc(l)}</p>`)
    .join('');
  const css =
    'body{font-family:system-ui,sans-serif;margin:24px;max-width:1100px;color:#1d1d1f}table{border-collapse:collapse;margin:8px 0 16px}td,th{border:1px solid #ddd;padding:3px 8px;font-size:13px;text-align:left}th{background:#f4f4f4}.charts{display:flex;flex-wrap:wrap;gap:16px}';
  return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>bowcnn sweep: ${esc(s.grid.name)}</title><style>${css}</style></head><body><h1>Sweep ${esc(s.grid.name)}</h1>${intro}<div class="charts">${charts.join('')}</div>${sections.join('')}</body></html>\n`;
}

/** results.json, report.md and report.html into dir, each written atomically. */
export function writeSweepReport(s: SweepResult, dir: string): { json: string; md: string; html: string } {
  ensureDir(dir);
  const files = { json: join(dir, 'results.json'), md: join(dir, 'report.md'), html: join(dir, 'report.html') };
  writeFileAtomic(
    files.json,
    `${JSON.stringify({ grid: s.grid, mode: s.mode, seconds: s.seconds, cached: s.cached ?? 0, jobs: s.jobs }, null, 1)}\n`,
  );
  writeFileAtomic(files.md, sweepMarkdown(s));
  writeFileAtomic(files.html, sweepHtml(s));
  return files;
}
