/** An experiment's report: results.json, report.md and a self-contained report.html, in the comparison report's style. */
import { join } from 'node:path';
import { ensureDir, writeFileAtomic } from '../core/atomic.js';
import { esc } from '../report/svg.js';
import type { ExperimentResult, Table } from './experiment.js';

const CSS = `body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;font-size:17px;line-height:1.45;margin:24px auto;max-width:1200px;color:#1a1a1a;padding:0 20px}
h1{font-size:30px}h2{font-size:24px;border-bottom:2px solid #ddd;padding-bottom:4px;margin-top:36px}
table{border-collapse:collapse;margin:8px 0 16px;font-size:16px}th,td{border:1px solid #ccc;padding:6px 10px;text-align:left}th{background:#eef2f6}
.row{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start}.meta,.note{color:#444;font-size:15px}svg{max-width:100%;height:auto}
.claim{font-size:19px;border-left:5px solid #1f77b4;padding:6px 14px;background:#f5f8fb}.verdict{font-size:19px;font-weight:600}
.agrees{color:#2ca02c}.disagrees{color:#d62728}.partly{color:#ff7f0e}.inconclusive{color:#7f7f7f}`;

function mdTable(t: Table): string {
  return [
    `**${t.title}**`,
    '',
    `| ${t.head.join(' | ')} |`,
    `|${t.head.map(() => '---').join('|')}|`,
    ...t.rows.map((r) => `| ${r.join(' | ')} |`),
    '',
  ].join('\n');
}

function htmlTable(t: Table): string {
  return `<h3>${esc(t.title)}</h3><table><thead><tr>${t.head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${t.rows
    .map((r) => `<tr>${r.map((v) => `<td>${esc(String(v))}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

/** The verdict as the reports and the CLI word it: 'the measurement ...'. */
export const VERDICT = {
  agrees: 'agrees with the claim',
  disagrees: 'disagrees with the claim',
  partly: 'partly agrees with the claim',
  inconclusive: 'is inconclusive (too few images, or a classifier near chance)',
};

export function experimentMarkdown(r: ExperimentResult): string {
  return [
    `# ${r.title}`,
    '',
    `> The lecture: ${r.claim}`,
    '',
    `**Measured:** ${r.measured}`,
    '',
    `**Verdict:** the measurement ${VERDICT[r.verdict]}.`,
    '',
    r.data
      ? `${r.data.name}, ${r.data.train} training / ${r.data.test} test images (${r.data.source}); seed ${r.seed}; ${r.seconds.toFixed(0)} s.`
      : `seed ${r.seed}; ${r.seconds.toFixed(0)} s.`,
    '',
    ...r.tables.map(mdTable),
    ...r.notes.map((n) => `- ${n}`),
    '',
    r.plots.length ? `Plots: report.html (${r.plots.map((p) => p.title).join('; ')}).` : '',
    '',
  ].join('\n');
}

export function experimentHtml(r: ExperimentResult): string {
  return (
    `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>bowcnn experiment: ${esc(r.experiment)}</title><style>${CSS}</style></head><body>` +
    `<h1>${esc(r.title)}</h1>` +
    `<p class="claim">The lecture: ${esc(r.claim)}</p>` +
    `<p><b>Measured:</b> ${esc(r.measured)}</p>` +
    `<p class="verdict ${r.verdict}">The measurement ${VERDICT[r.verdict]}.</p>` +
    `<div class="row">${r.plots.map((p) => `<div>${p.svg}</div>`).join('')}</div>` +
    r.tables.map(htmlTable).join('') +
    (r.notes.length ? `<ul class="note">${r.notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>` : '') +
    `<p class="meta">${r.data ? `${esc(r.data.name)}, ${r.data.train} training / ${r.data.test} test images (${esc(r.data.source)}) · ` : ''}seed ${r.seed} · ${r.seconds.toFixed(0)} s · bowcnn ${esc(r.versions.bowcnn ?? '')}, tfjs ${esc(r.versions.tfjs ?? '')}, Node ${esc(r.versions.node ?? '')} · ${esc(r.date)}</p>` +
    (r.command ? `<p class="meta"><code>bowcnn ${esc(r.command.join(' '))}</code></p>` : '') +
    '</body></html>'
  );
}

/** Writes DIR/results.json, DIR/report.md and DIR/report.html, each atomically. */
export function writeExperiment(r: ExperimentResult, dir: string): { json: string; md: string; html: string } {
  ensureDir(dir);
  const out = { json: join(dir, 'results.json'), md: join(dir, 'report.md'), html: join(dir, 'report.html') };
  writeFileAtomic(out.json, `${JSON.stringify(r, null, 2)}\n`);
  writeFileAtomic(out.md, experimentMarkdown(r));
  writeFileAtomic(out.html, experimentHtml(r));
  return out;
}
