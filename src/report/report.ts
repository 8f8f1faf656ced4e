/**
 * The report: results.json (everything), report.md and a self-contained report.html (inline SVG, inline
 * CSS, no script, no network). Sections, in both: comparison (with 95% intervals and McNemar verdicts),
 * timing, BoW = CNN layer table, pictures (gradient filters, visual words as SIFT glyphs, the CNN's
 * first-layer filters), confusion matrices, robustness curves, ablation. Files are written to a temp
 * name and renamed.
 */
import { writeFileAtomic } from '../util/atomic.js';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { CompareResult } from '../eval/compare.js';
import { SWEEPS, type TransformKind } from '../eval/robustness.js';
import { barChart, esc, filterGrid, heatmap, lineChart, PALETTE, siftGlyphs } from './svg.js';

export const SECTIONS = ['comparison', 'timing', 'layers', 'pictures', 'confusion', 'robustness', 'ablation'] as const;

const pct = (v: number) => `${(100 * v).toFixed(2)}%`;
const num = (v: number | null | undefined, d = 0) => (v === null || v === undefined || !Number.isFinite(v) ? 'n/a' : v >= 1e6 ? `${(v / 1e6).toFixed(2)} M` : v.toFixed(d).replace(/\B(?=(\d{3})+(?!\d))/g, ','));

const KIND_LABEL: Record<TransformKind, string> = { 'translate-x': 'horizontal translation (px)', 'translate-y': 'vertical translation (px)', scale: 'scale factor', rotate: 'rotation (degrees)' };

function layerRows(r: CompareResult) {
  return r.contenders.map((c) => ({ name: c.name, rows: c.cards.map((k) => ({ stage: k.stage, classic: k.classic || '', cnn: k.cnn, maps: `${k.mapsIn} -> ${k.mapsOut}`, params: k.params, origin: k.origin, rf: k.receptiveField, out: k.outShape?.join('x') ?? '' })) }));
}

export function markdown(r: CompareResult): string {
  const L: string[] = [];
  const cell = (v: string) => v.replace(/\|/g, '\\|');   // a '|' inside a cell would end it
  L.push(`# bowcnn report: ${r.dataset.name}`, '');
  L.push(`${r.dataset.train} training and ${r.dataset.test} test images (${r.dataset.source}), seed ${r.seed}, backend ${r.backend.name} (${r.backend.device}, ${r.backend.threads} thread${r.backend.threads === 1 ? '' : 's'}), bowcnn ${r.versions.bowcnn}, tfjs ${r.versions.tfjs}, Node ${r.versions.node}, ${r.date}.`, '');
  L.push('## Comparison', '', '| classifier | accuracy | 95% CI | top-2 | macro-F1 | parameters | FLOPs/image | fit (s) | train img/s | inference img/s | peak RSS (MB) |', '|---|---|---|---|---|---|---|---|---|---|---|');
  for (const c of r.contenders) L.push(`| ${c.name} | ${pct(c.accuracy)} | ${pct(c.ci95[0])} to ${pct(c.ci95[1])} | ${pct(c.top2)} | ${c.macroF1.toFixed(4)} | ${num(c.params)} | ${num(c.flopsPerImage)} | ${c.fitSeconds.toFixed(1)} | ${num(c.trainImagesPerSec)} | ${num(c.inferImagesPerSec)} | ${num(c.peakRssMB)} |`);
  L.push('', 'McNemar\'s test on the same test images:', '');
  for (const m of r.mcnemar) L.push(`- ${m.a} vs ${m.b}: ${m.onlyA} images only ${m.a} gets right, ${m.onlyB} only ${m.b}: ${m.verdict}.`);
  L.push('', '## The BoW = CNN layer table', '');
  for (const t of layerRows(r)) {
    L.push(`### ${t.name}`, '', '| stage / layer | classic step | CNN layer | maps | parameters | origin | receptive field (px) | output |', '|---|---|---|---|---|---|---|---|');
    for (const x of t.rows) L.push(`| ${cell(x.stage)} | ${cell(x.classic)} | ${cell(x.cnn)} | ${x.maps} | ${num(x.params)} | ${x.origin} | ${x.rf} | ${x.out} |`);
    L.push('');
  }
  if (r.robustness) {
    L.push('## Robustness', '', `Accuracy on ${r.robustnessImages} test images under each transformation (see report.html for the curves and the per-layer distances).`, '');
    for (const kind of Object.keys(SWEEPS) as TransformKind[]) {
      L.push(`| ${KIND_LABEL[kind]} | ${SWEEPS[kind].join(' | ')} |`, `|---|${SWEEPS[kind].map(() => '---').join('|')}|`);
      for (const [name, per] of Object.entries(r.robustness)) L.push(`| ${name} | ${per[kind].map((p) => pct(p.accuracy)).join(' | ')} |`);
      L.push('');
    }
  }
  if (r.ablation) {
    L.push('## Ablation', '', '| classifier | change | accuracy | change in accuracy | parameters | change in parameters |', '|---|---|---|---|---|---|');
    for (const a of r.ablation) L.push(`| ${a.base} | ${a.change} | ${pct(a.accuracy)} | ${a.deltaAccuracy >= 0 ? '+' : ''}${(100 * a.deltaAccuracy).toFixed(2)} pts | ${num(a.params)} | ${a.deltaParams >= 0 ? '+' : ''}${num(a.deltaParams)} |`);
    L.push('');
  }
  L.push('## Confusion matrices', '', 'In report.html.', '');
  return L.join('\n');
}

export function html(r: CompareResult): string {
  const S: string[] = [];
  const sec = (id: string, title: string, body: string) => S.push(`<section id="${id}"><h2>${esc(title)}</h2>${body}</section>`);
  const table = (head: string[], rows: (string | number)[][]) =>
    `<table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows.map((row) => `<tr>${row.map((v) => `<td>${typeof v === 'number' ? v : esc(String(v))}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
  sec('comparison', 'Comparison', table(['classifier', 'kind', 'accuracy', '95% CI', 'top-2', 'macro-F1', 'parameters', 'FLOPs / image'],
    r.contenders.map((c) => [c.name, c.kind === 'bow' ? 'BoW' : 'CNN', pct(c.accuracy), `${pct(c.ci95[0])} – ${pct(c.ci95[1])}`, pct(c.top2), c.macroF1.toFixed(4), num(c.params), num(c.flopsPerImage)])) +
    `<ul class="verdicts">${r.mcnemar.map((m) => `<li><b>${esc(m.a)}</b> vs <b>${esc(m.b)}</b>: ${m.onlyA} test images only ${esc(m.a)} gets right, ${m.onlyB} only ${esc(m.b)} — ${esc(m.verdict)} (McNemar${m.exact ? ', exact' : ''})</li>`).join('')}</ul>` +
    barChart(r.contenders.map((c, i) => ({ label: c.name, value: 100 * c.accuracy, color: PALETTE[i % PALETTE.length] })), { title: 'Test accuracy (%)', unit: '%' }));
  sec('timing', 'Timing and memory', '<div class="row">' +
    barChart(r.contenders.map((c, i) => ({ label: c.name, value: c.fitSeconds, color: PALETTE[i % PALETTE.length] })), { title: 'Fit time (s)', unit: 's', width: 420 }) +
    barChart(r.contenders.map((c, i) => ({ label: c.name, value: c.trainImagesPerSec, color: PALETTE[i % PALETTE.length] })), { title: 'Training / extraction (images/s)', width: 420 }) +
    barChart(r.contenders.map((c, i) => ({ label: c.name, value: c.inferImagesPerSec, color: PALETTE[i % PALETTE.length] })), { title: 'Inference (images/s)', width: 420 }) +
    barChart(r.contenders.map((c, i) => ({ label: c.name, value: c.peakRssMB, color: PALETTE[i % PALETTE.length] })), { title: 'Peak memory (RSS, MB)', unit: 'MB', width: 420 }) +
    `</div><p class="note">Backend: ${esc(r.backend.name)} — ${esc(r.backend.device)}; ${r.backend.threads} thread(s). ${r.backend.notes.map(esc).join('; ')}.</p>`);
  sec('layers', 'BoW = CNN: the stage ↔ layer table', layerRows(r).map((t) => `<h3>${esc(t.name)}</h3>` +
    table(['stage / layer', 'classic step', 'CNN layer', 'maps', 'parameters', 'origin', 'receptive field (px)', 'output'],
      t.rows.map((x) => [x.stage, x.classic, x.cnn, x.maps, num(x.params), x.origin, x.rf, x.out]))).join(''));
  const pics: string[] = [];
  pics.push(filterGrid(r.pictures.gradientFilters, { title: 'The 8 oriented gradient filters (step 1, handcrafted)', labels: r.pictures.gradientFilters.map((_, k) => `${k * 45}°`), px: 14 }));
  if (r.pictures.visualWords) pics.push(siftGlyphs(r.pictures.visualWords.words, { title: `32 visual words of ${r.pictures.visualWords.from} (coding filters, k-means), drawn as SIFT glyphs` }));
  for (const f of r.pictures.cnnFilters) pics.push(filterGrid(f.filters, { title: `First-layer filters learned by ${f.from} (backpropagation)`, px: 9 }));
  sec('pictures', 'Filters side by side: handcrafted, unsupervised, learned',
    '<p>Layer 1 of the BoW chain is the bank of 8 oriented derivative filters (red positive, blue negative); its layer 3 is a 1x1 conv whose filters are the k-means visual words, each a 4x4 grid of 8-bin orientation histograms (arrows: the direction and weight of each bin). The CNN learns its first-layer filters by backpropagation: compare them with the gradient filters.</p>' +
    `<div class="row">${pics.join('')}</div>`);
  sec('confusion', 'Confusion matrices', `<div class="row">${r.contenders.map((c) => heatmap(c.confusion, { title: c.name, labels: r.dataset.classes, cell: 28 })).join('')}</div>`);
  if (r.robustness) {
    const kinds = Object.keys(SWEEPS) as TransformKind[];
    const acc = kinds.map((kind) => lineChart(Object.entries(r.robustness!).map(([name, per], i) => ({ name, points: per[kind].map((p) => [p.amount, 100 * p.accuracy] as [number, number]), color: PALETTE[i % PALETTE.length] })),
      { title: `Accuracy vs ${KIND_LABEL[kind]}`, xlabel: KIND_LABEL[kind], ylabel: 'accuracy (%)', yMin: 0, yMax: 100 })).join('');
    const dist = Object.entries(r.robustness).map(([name, per]) => kinds.filter((k) => k === 'translate-x' || k === 'rotate').map((kind) => {
      const layers = Object.keys(per[kind][0].distances);
      return lineChart(layers.map((l, i) => ({ name: l, points: per[kind].map((p) => [p.amount, p.distances[l]] as [number, number]), color: PALETTE[i % PALETTE.length], dash: i % 2 === 1 })),
        { title: `${name}: change per layer, ${kind === 'rotate' ? 'rotation' : 'translation'}`, xlabel: KIND_LABEL[kind], ylabel: 'cosine distance to original', yMin: 0 });
    }).join('')).join('');
    sec('robustness', 'Robustness to transformations, by layer', `<p>${r.robustnessImages} test images, transformed about their centre. Left: accuracy. Below: for each stage or layer, the mean cosine distance between the representation of the original and of the transformed image — early layers move most under translation, pooled ones least.</p><div class="row">${acc}</div><div class="row">${dist}</div>`);
  } else sec('robustness', 'Robustness to transformations, by layer', '<p>Not run (add <code>--robustness</code>).</p>');
  if (r.ablation) {
    sec('ablation', 'Ablation', table(['classifier', 'change', 'accuracy', 'Δ accuracy', 'parameters', 'Δ parameters'],
      r.ablation.map((a) => [a.base, a.change, pct(a.accuracy), `${a.deltaAccuracy >= 0 ? '+' : ''}${(100 * a.deltaAccuracy).toFixed(2)} pts`, num(a.params), `${a.deltaParams >= 0 ? '+' : ''}${num(a.deltaParams)}`])));
  } else sec('ablation', 'Ablation', '<p>Not run (add <code>--ablation</code>).</p>');
  const css = `body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:24px auto;max-width:1280px;color:#222;padding:0 16px}
h1{font-size:24px}h2{font-size:19px;border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:32px}h3{font-size:15px}
table{border-collapse:collapse;margin:8px 0 14px;font-size:13px}th,td{border:1px solid #ddd;padding:4px 8px;text-align:left}th{background:#f4f6f8}
.row{display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start}.note,.meta{color:#555;font-size:13px}svg{max-width:100%;height:auto}ul.verdicts{font-size:14px}`;
  return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>bowcnn report: ${esc(r.dataset.name)}</title><style>${css}</style></head><body>` +
    `<h1>Bag of visual words vs CNN on ${esc(r.dataset.name)}</h1><p class="meta">${r.dataset.train} training / ${r.dataset.test} test images from ${esc(r.dataset.source)} · seed ${r.seed} · ${esc(r.backend.name)} backend · bowcnn ${esc(r.versions.bowcnn)}, tfjs ${esc(r.versions.tfjs)}, Node ${esc(r.versions.node)} · ${esc(r.date)}</p>` +
    `<nav>${SECTIONS.map((s) => `<a href="#${s}">${s}</a>`).join(' · ')}</nav>${S.join('')}</body></html>`;
}

/** Writes results.json, report.md and report.html into `dir`. */
export function writeReport(r: CompareResult, dir: string): { json: string; md: string; html: string } {
  mkdirSync(dir, { recursive: true });
  const files = { json: join(dir, 'results.json'), md: join(dir, 'report.md'), html: join(dir, 'report.html') };
  writeFileAtomic(files.json, JSON.stringify(r, null, 1));
  writeFileAtomic(files.md, markdown(r));
  writeFileAtomic(files.html, html(r));
  return files;
}
