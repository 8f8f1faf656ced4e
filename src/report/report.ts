/**
 * The report: results.json (everything), report.md and a self-contained report.html (inline SVG and
 * PNG thumbnails as data: URIs, inline CSS, no script, no network), sized to be read on a projector.
 * Sections, in both: comparison (95% intervals, McNemar verdicts), timing ("cached" where nothing was
 * computed), the BoW = CNN layer table (with the coding identity), pictures (gradient filters, visual
 * words as SIFT glyphs, a CNN's first-layer filters), sample images per class and each classifier's most
 * confident mistakes, training curves, confusion matrices, robustness curves, ablation. Files are written
 * to a temp name and renamed.
 */
import { type InputSpec, inputShape } from '../cnn/input.js';
import { join } from 'node:path';
import type { Split } from '../core/data.js';
import type { CompareResult } from '../eval/compare.js';
import type { CandidateRecord, ProtocolRecord } from '../eval/protocol.js';
import type { ContenderResult, FitFigures } from '../eval/evaluate.js';
import { SWEEPS, type TransformKind } from '../eval/robustness.js';
import { ensureDir, writeFileAtomic } from '../core/atomic.js';
import { pngDataUri } from './png.js';
import { barChart, esc, filterGrid, heatmap, lineChart, PALETTE, siftGlyphs } from './svg.js';

export const SECTIONS = [
  'comparison',
  'protocol',
  'curves',
  'timing',
  'layers',
  'pictures',
  'samples',
  'training',
  'confusion',
  'robustness',
  'ablation',
] as const;

const pct = (v: number) => `${(100 * v).toFixed(2)}%`;
const num = (v: number | null | undefined, d = 0) =>
  v === null || v === undefined || !Number.isFinite(v)
    ? 'n/a'
    : v >= 1e6
      ? `${(v / 1e6).toFixed(2)} M`
      : v.toFixed(d).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
const signed = (v: number, f: (x: number) => string) => `${v >= 0 ? '+' : '−'}${f(Math.abs(v))}`;
const pValue = (p: number) => (p < 1e-4 ? p.toExponential(1) : p.toFixed(4));

/** "13,119" or, for a model taken from a cache or an earlier run, "cached" (with the figure measured when it was computed). */
/** '256x256 grey': an image shape `[H, W, C]` in words. */
const shapeWords = (sh: readonly number[]) => `${sh[0]}x${sh[1]} ${sh[2] === 1 ? 'grey' : 'colour'}`;

/** ' of 256x256 grey' (older results without the shape: nothing). */
function shapeOf(r: { dataset: { imageShape?: readonly number[] } }): string {
  const sh = r.dataset.imageShape;
  return sh ? ` of ${shapeWords(sh)}` : '';
}

/** ' vgg-bn-64 framed each image to its input of 64x64 grey.': the CNNs whose recipe's input differs from the images. */
function inputsOf(r: CompareResult): string {
  const sh = r.dataset.imageShape;
  if (!sh) return '';
  const parts: string[] = [];
  for (const c of r.contenders) {
    const cfg = c.config as { kind?: string; input?: InputSpec };
    if (cfg.kind !== 'cnn' || !cfg.input) continue;
    const took = inputShape(cfg.input, sh);
    if (took.join('x') !== sh.join('x')) parts.push(`${c.name} framed each image to its input of ${shapeWords(took)}`);
  }
  return parts.length ? ` ${parts.join('; ')} (short side fitted, centred, cropped).` : '';
}

export function speed(f: FitFigures): string {
  if (!f.cached && f.trainImagesPerSec !== null) return num(f.trainImagesPerSec);
  const then = f.measured?.trainImagesPerSec;
  return then !== null && then !== undefined ? `cached (${num(then)} when computed)` : 'cached';
}

/** Inference images/s, or for a classifier read back from an earlier run the figure measured then. */
export function inferSpeed(c: { inferImagesPerSec: number; fit: FitFigures }): string {
  return c.fit.measured ? `${num(c.inferImagesPerSec)} when computed` : num(c.inferImagesPerSec);
}

/** What marks a fit: resumed from a checkpoint, or stopped before its planned epochs (and by what). */
export function fitMarks(f: FitFigures): string[] {
  const m: string[] = [];
  if (f.resumedFromEpoch !== undefined && f.resumedFromEpoch !== null)
    m.push(`resumed after epoch ${f.resumedFromEpoch + 1}; every epoch's time counted`);
  if (f.stopped) {
    const by =
      f.stopped.reason === 'max-seconds' ? '--max-seconds' : f.stopped.reason === 'patience' ? 'early stopping' : 'its target accuracy';
    m.push(`stopped by ${by} after ${f.stopped.epochs} of ${f.stopped.planned} epochs`);
  }
  return m;
}

/**
 * "3 candidates fitted on 54,000 images and scored on 6,000 validation images", or where candidates share fits:
 * "4 candidates scored on 6,000 validation images, from 2 fits on 54,000 images (...)"
 */
function searchText(p: ProtocolRecord): string {
  const n = p.candidates.length;
  const fits = p.candidates.filter((x) => x.fitOf === undefined).length;
  const many = (k: number, what: string) => `${k} ${what}${k === 1 ? '' : 's'}`;
  return fits < n
    ? `${many(n, 'candidate')} scored on ${num(p.validationImages)} validation images, from ${many(fits, 'fit')} on ${num(p.fitImages)} images (candidates that differ only in test-time views score one fitted model)`
    : `${many(n, 'candidate')} fitted on ${num(p.fitImages)} images and scored on ${num(p.validationImages)} validation images`;
}

/** A candidate's fit seconds, or whose fitted model it was scored on. */
const fitCell = (x: CandidateRecord): string => (x.fitOf !== undefined ? `candidate ${x.fitOf + 1}'s fit` : x.fitSeconds.toFixed(1));

export function fitSeconds(f: FitFigures): string {
  const marks = fitMarks(f);
  const tail = marks.length ? ` (${marks.join('; ')})` : '';
  if (!f.cached) return f.seconds.toFixed(1) + tail;
  return (f.measured ? `cached (${f.measured.seconds.toFixed(1)} when computed)` : `cached (${f.seconds.toFixed(1)} reading it)`) + tail;
}

/** "99.05%", or over several seeds "99.05% ± 0.04" (mean ± sample standard deviation). */
export function accuracyText(c: ContenderResult): string {
  return c.seeds && c.seeds.length > 1 ? `${pct(c.accuracy)} ± ${(100 * (c.accuracySd ?? 0)).toFixed(2)}` : pct(c.accuracy);
}

/** The protocol in one sentence, for the report's first lines. */
export function protocolText(r: CompareResult): string {
  const p = r.protocol;
  const seeds =
    p.seeds.length > 1
      ? ` Each classifier was trained with ${p.seeds.length} seeds (${p.seeds.join(', ')}): accuracy is their mean ± standard deviation, the 95% interval is Wilson's for the test sample at that mean, and pairs are compared by a paired test that resamples both the seeds and the test images.`
      : " The 95% interval is Wilson's; pairs are compared by McNemar's test on the same test images.";
  const sizes =
    p.trainSizes.length > 1
      ? ` Learning curves at ${p.trainSizes.map((s) => s.toLocaleString('en-US')).join(', ')} training images (stratified, nested subsets).`
      : '';
  if (p.kind === 'fixed')
    return `Protocol: fixed — every classifier runs its recipe's own settings, fitted on the whole training set; the test set is scored once per model.${seeds}${sizes}`;
  const v = p.validation < 1 ? `${(100 * p.validation).toFixed(0)}%` : `${p.validation.toLocaleString('en-US')} images`;
  return `Protocol: validation — a stratified, seeded validation split (${v}) is carved from the training set; each classifier's candidate settings (its recipe's search space) are fitted on the rest and scored on it; the best is refitted on the whole training set, and the test set is scored once per model. The test labels are never read while choosing.${seeds}${sizes}`;
}

/** A classifier's colour, the same in every figure: its place in the comparison. */
function colourOf(r: CompareResult): (name: string) => string {
  const names = r.contenders.map((c) => c.name);
  return (name: string) => {
    const i = names.indexOf(name.replace(/ \[.*\]$/, ''));
    return PALETTE[(i < 0 ? names.length : i) % PALETTE.length];
  };
}

const settingsText = (o: Record<string, unknown>) =>
  Object.keys(o).length
    ? Object.entries(o)
        .map(([k, v]) => `${k} = ${JSON.stringify(v)}`)
        .join(', ')
    : "the recipe's own";

/** The curves' points per classifier and size: mean, min and max accuracy over seeds, and mean seconds. */
export function curveSeries(
  r: CompareResult,
): { name: string; kind: string; points: { size: number; mean: number; lo: number; hi: number; seconds: number }[] }[] {
  const names = [...new Set(r.curves.map((c) => c.name))];
  return names.map((name) => {
    const mine = r.curves.filter((c) => c.name === name);
    const sizes = [...new Set(mine.map((c) => c.trainSize))].sort((a, b) => a - b);
    return {
      name,
      kind: mine[0].kind,
      points: sizes.map((size) => {
        const at = mine.filter((c) => c.trainSize === size).map((c) => c.accuracy);
        const secs = mine.filter((c) => c.trainSize === size).map((c) => c.fitSeconds + c.searchSeconds);
        return {
          size,
          mean: at.reduce((a, b) => a + b, 0) / at.length,
          lo: Math.min(...at),
          hi: Math.max(...at),
          seconds: secs.reduce((a, b) => a + b, 0) / secs.length,
        };
      }),
    };
  });
}

const KIND_LABEL: Record<TransformKind, string> = {
  'translate-x': 'horizontal translation (px)',
  'translate-y': 'vertical translation (px)',
  scale: 'scale factor',
  rotate: 'rotation (degrees)',
};

function layerRows(r: CompareResult) {
  return r.contenders.map((c) => ({
    name: c.name,
    rows: c.cards.map((k) => ({
      stage: k.stage,
      classic: k.classic || '',
      cnn: k.cnn + (k.identity ? ` (${k.identity})` : ''),
      maps: `${k.mapsIn} -> ${k.mapsOut}`,
      params: k.params,
      origin: k.origin,
      rf: k.receptiveField,
      out: k.outShape?.join('x') ?? '',
    })),
  }));
}

export function markdown(r: CompareResult): string {
  const L: string[] = [];
  const cell = (v: string) => v.replace(/\|/g, '\\|'); // a '|' inside a cell would end it
  L.push(`# bowcnn report: ${r.dataset.name}`, '');
  L.push(
    `${r.dataset.train} training and ${r.dataset.test} test images${shapeOf(r)} (${r.dataset.source}), seed ${r.seed}, backend ${r.backend.name} (${r.backend.device}, ${r.backend.threads} thread${r.backend.threads === 1 ? '' : 's'}), bowcnn ${r.versions.bowcnn}, tfjs ${r.versions.tfjs}, Node ${r.versions.node}, ${r.date}.${inputsOf(r)}`,
    '',
  );
  if (r.command) L.push(`Command: \`bowcnn ${r.command.join(' ')}\``, '');
  L.push(`**${r.verdict}.**`, '', protocolText(r), '');
  L.push(
    '## Comparison',
    '',
    '| classifier | accuracy | 95% CI | top-2 | macro-F1 | parameters | FLOPs/image | fit (s) | train img/s | inference img/s | peak RSS (MB) |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  );
  for (const c of r.contenders) {
    L.push(
      `| ${c.name} | ${accuracyText(c)} | ${pct(c.ci95[0])} to ${pct(c.ci95[1])} | ${pct(c.top2)} | ${c.macroF1.toFixed(4)} (${c.macroF1Classes} classes) | ${num(c.params)} | ${num(c.flopsPerImage)} | ${cell(fitSeconds(c.fit))} | ${speed(c.fit)} | ${inferSpeed(c)} | ${num(c.peakRssMB)} |`,
    );
  }
  if (r.pairs.length) L.push('', 'Pairs, on the same test images:', '');
  for (const m of r.pairs)
    L.push(`- ${m.a} vs ${m.b}: ${m.onlyA} images only ${m.a} gets right, ${m.onlyB} only ${m.b} (first seed); ${m.verdict}.`);
  const searched = r.contenders.filter((c) => c.protocol?.candidates.length);
  if (searched.length) {
    L.push('', '## Protocol', '', protocolText(r), '');
    for (const c of searched) {
      const p = c.protocol!;
      L.push(
        `### ${c.name}`,
        '',
        `${searchText(p)} (${p.seconds.toFixed(1)} s in all); chosen: ${settingsText(p.chosen)}.`,
        '',
        '| candidate | validation accuracy | fit (s) | chosen |',
        '|---|---|---|---|',
      );
      const best = Math.max(...p.candidates.map((x) => x.validationAccuracy));
      const at = p.candidates.findIndex((x) => x.validationAccuracy === best);
      p.candidates.forEach((x, i) =>
        L.push(
          `| ${cell(settingsText(x.settings))}${x.bestEpochs ? ` (best at epoch ${x.bestEpochs})` : ''} | ${pct(x.validationAccuracy)} | ${fitCell(x)} | ${i === at ? 'yes' : ''} |`,
        ),
      );
      L.push('');
    }
  }
  const series = curveSeries(r);
  if (r.protocol.trainSizes.length > 1) {
    L.push('## Learning curves', '', ...r.curveSummary.map((x) => `- ${x}.`), '');
    L.push(
      `| classifier | ${r.protocol.trainSizes.map((x) => num(x)).join(' | ')} |`,
      `|---|${r.protocol.trainSizes.map(() => '---').join('|')}|`,
    );
    for (const sr of series)
      L.push(
        `| ${sr.name} | ${r.protocol.trainSizes
          .map((size) => {
            const pt = sr.points.find((q) => q.size === size);
            return pt ? (pt.lo === pt.hi ? pct(pt.mean) : `${pct(pt.mean)} (${pct(pt.lo)} to ${pct(pt.hi)})`) : '';
          })
          .join(' | ')} |`,
      );
    L.push('');
  }
  L.push('', '## The BoW = CNN layer table', '');
  for (const t of layerRows(r)) {
    L.push(
      `### ${t.name}`,
      '',
      '| stage / layer | classic step | CNN layer | maps | parameters | origin | receptive field (px) | output |',
      '|---|---|---|---|---|---|---|---|',
    );
    for (const x of t.rows)
      L.push(
        `| ${cell(x.stage)} | ${cell(x.classic)} | ${cell(x.cnn)} | ${x.maps} | ${num(x.params)} | ${x.origin} | ${x.rf} | ${x.out} |`,
      );
    L.push('');
  }
  const curves = r.contenders.filter((c) => c.epochs?.length);
  if (curves.length) {
    L.push('## Training', '');
    for (const c of curves) {
      const val = (c.epochs ?? []).some((e) => e.valAccuracy !== null);
      L.push(
        `### ${c.name}`,
        '',
        `| epoch | loss | train accuracy |${val ? ' validation accuracy |' : ''} seconds | images/s |`,
        `|---|---|---|${val ? '---|' : ''}---|---|`,
      );
      for (const e of c.epochs ?? [])
        L.push(
          `| ${e.epoch + 1} | ${e.loss.toFixed(4)} | ${pct(e.trainAccuracy)} |${val ? ` ${e.valAccuracy === null ? 'n/a' : pct(e.valAccuracy)} |` : ''} ${e.seconds.toFixed(1)} | ${num(e.imagesPerSec)} |`,
        );
      L.push('');
    }
  }
  if (r.robustness) {
    L.push(
      '## Robustness',
      '',
      `Accuracy on ${r.robustnessImages} test images under each transformation (see report.html for the curves and the per-layer distances).`,
      '',
    );
    for (const kind of Object.keys(SWEEPS) as TransformKind[]) {
      L.push(`| ${KIND_LABEL[kind]} | ${SWEEPS[kind].join(' | ')} |`, `|---|${SWEEPS[kind].map(() => '---').join('|')}|`);
      for (const [name, per] of Object.entries(r.robustness)) L.push(`| ${name} | ${per[kind].map((p) => pct(p.accuracy)).join(' | ')} |`);
      L.push('');
    }
  }
  if (r.ablation) {
    L.push(
      '## Ablation',
      '',
      'Each row against the full classifier on the same test images (McNemar).',
      '',
      '| classifier | change | accuracy | 95% CI | change in accuracy | McNemar p | parameters | change in parameters |',
      '|---|---|---|---|---|---|---|---|',
    );
    for (const a of r.ablation) {
      L.push(
        `| ${a.base} | ${a.change} | ${pct(a.accuracy)} | ${pct(a.ci95[0])} to ${pct(a.ci95[1])} | ${signed(100 * a.deltaAccuracy, (v) => v.toFixed(2))} pts | ${pValue(a.p)} | ${num(a.params)} | ${signed(a.deltaParams, (v) => num(v))} |`,
      );
    }
    L.push('');
  }
  L.push('## Pictures, samples, confusion matrices', '', 'In report.html.', '');
  return L.join('\n');
}

/** A row of thumbnails of test images, each with a caption. */
function thumbs(test: Split, items: { index: number; caption: string; bad?: boolean }[], zoom = 3): string {
  const per = test.height * test.width * test.channels;
  return `<div class="thumbs">${items
    .map(({ index, caption, bad }) => {
      const src = pngDataUri(test.pixels.subarray(index * per, (index + 1) * per), test.height, test.width, test.channels === 3 ? 3 : 1);
      return `<figure${bad ? ' class="bad"' : ''}><img src="${src}" width="${test.width * zoom}" height="${test.height * zoom}" alt="test image ${index}">${caption ? `<figcaption>${esc(caption)}</figcaption>` : ''}</figure>`;
    })
    .join('')}</div>`;
}

export function html(r: CompareResult, test?: Split): string {
  const S: string[] = [];
  const cls = r.dataset.classes;
  const sec = (id: string, title: string, body: string) => S.push(`<section id="${id}"><h2>${esc(title)}</h2>${body}</section>`);
  const table = (head: string[], rows: (string | number)[][]) =>
    `<table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows.map((row) => `<tr>${row.map((v) => `<td>${typeof v === 'number' ? v : esc(String(v))}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
  const colourName = colourOf(r);
  const colour = (i: number) => colourName(r.contenders[i]?.name ?? '');
  sec(
    'comparison',
    'Comparison',
    `<p class="verdict"><b>${esc(r.verdict)}.</b></p><p class="note">${esc(protocolText(r))}</p>` +
      table(
        [
          'classifier',
          'kind',
          r.protocol.seeds.length > 1 ? 'accuracy (mean ± sd)' : 'accuracy',
          '95% CI',
          'top-2',
          'macro-F1',
          'parameters',
          'FLOPs / image',
          'fit (s)',
        ],
        r.contenders.map((c) => [
          c.name,
          c.kind === 'bow' ? 'BoW' : 'CNN',
          accuracyText(c),
          `${pct(c.ci95[0])} – ${pct(c.ci95[1])}`,
          pct(c.top2),
          `${c.macroF1.toFixed(4)} (${c.macroF1Classes} classes)`,
          num(c.params),
          num(c.flopsPerImage),
          fitSeconds(c.fit),
        ]),
      ) +
      `<ul class="verdicts">${r.pairs.map((m) => `<li><b>${esc(m.a)}</b> vs <b>${esc(m.b)}</b>: ${m.onlyA} test images only ${esc(m.a)} gets right, ${m.onlyB} only ${esc(m.b)} (first seed) — ${esc(m.verdict)}${m.test === 'mcnemar' && m.exact ? ' (exact)' : ''}</li>`).join('')}</ul>` +
      barChart(
        r.contenders.map((c, i) => ({ label: c.name, value: 100 * c.accuracy, color: colour(i) })),
        { title: 'Test accuracy (%)', format: (v) => `${v.toFixed(2)}%` },
      ),
  );
  const searched = r.contenders.filter((c) => c.protocol?.candidates.length);
  const unsearched = r.contenders.filter((c) => c.protocol && !c.protocol.candidates.length).map((c) => c.name);
  sec(
    'protocol',
    'Protocol: how each setting was chosen',
    `<p>${esc(protocolText(r))}</p>` +
      (searched.length
        ? searched
            .map((c) => {
              const p = c.protocol!;
              const best = Math.max(...p.candidates.map((x) => x.validationAccuracy));
              const at = p.candidates.findIndex((x) => x.validationAccuracy === best);
              return (
                `<h3>${esc(c.name)}</h3><p>${esc(searchText(p))} (${p.seconds.toFixed(1)} s in all). Chosen and refitted on all ${num(c.trainSize ?? r.dataset.train)} training images: <b>${esc(settingsText(p.chosen))}</b>.</p>` +
                table(
                  ['candidate', 'validation accuracy', 'fit (s)', 'chosen'],
                  p.candidates.map((x, i) => [
                    settingsText(x.settings) + (x.bestEpochs ? ` (best at epoch ${x.bestEpochs})` : ''),
                    pct(x.validationAccuracy),
                    fitCell(x),
                    i === at ? '✓' : '',
                  ]),
                )
              );
            })
            .join('')
        : "<p>Nothing was searched: every classifier ran its recipe's own settings.</p>") +
      (searched.length && unsearched.length ? `<p>${esc(unsearched.join(', '))}: no search space, so the recipe's own settings.</p>` : ''),
  );
  const series = curveSeries(r);
  const cnnCurves = searched.filter((c) => c.kind === 'cnn');
  // accuracy axes from a little under the lowest point (the interesting part is near the top)
  const floorOf = (vs: number[]) => Math.max(0, Math.floor(Math.min(...vs.filter(Number.isFinite)) - 1));
  const ceilOf = (vs: number[]) => Math.min(100, Math.ceil(Math.max(...vs.filter(Number.isFinite)) + 0.5));
  const secondsSeries = [
    ...series.map((sr) => ({
      name: `${sr.name} (test, per size)`,
      points: sr.points.map((q) => [Math.max(0.1, q.seconds), 100 * q.mean] as [number, number]),
      color: colourName(sr.name),
      marker: sr.kind === 'bow' ? ('square' as const) : ('circle' as const),
      noLine: sr.points.length < 2,
    })),
    ...cnnCurves.map((c) => {
      const p = c.protocol!;
      const chosen = p.candidates.reduce((a, x) => (x.validationAccuracy > a.validationAccuracy ? x : a), p.candidates[0]);
      // a candidate scored on another's fitted model (other test-time views) has that fit's curve
      const best = chosen.fitOf !== undefined ? (p.candidates[chosen.fitOf] ?? chosen) : chosen;
      return {
        name: `${c.name} (validation, per epoch)`,
        points: (best.curve ?? []).map((q) => [Math.max(0.1, q.seconds), 100 * q.accuracy] as [number, number]),
        color: colourName(c.name),
        dash: true,
        marker: 'triangle' as const,
      };
    }),
    ...searched
      .filter((c) => c.kind === 'bow')
      .map((c) => ({
        name: `${c.name} (validation, per candidate)`,
        points: c.protocol!.candidates.map((x) => [Math.max(0.1, x.fitSeconds), 100 * x.validationAccuracy] as [number, number]),
        color: colourName(c.name),
        marker: 'diamond' as const,
        noLine: true,
      })),
  ].filter((x) => x.points.length);
  const secondsPlot = lineChart(secondsSeries, {
    title: 'Accuracy against training seconds',
    xlabel: 'training seconds (log)',
    ylabel: 'accuracy (%)',
    xLog: true,
    width: 620,
    yMin: floorOf(secondsSeries.flatMap((x) => x.points.map((q) => q[1]))),
    yMax: ceilOf(secondsSeries.flatMap((x) => x.points.map((q) => q[1]))),
  });
  sec(
    'curves',
    'More data, more compute: learning curves',
    (r.protocol.trainSizes.length > 1
      ? `<ul class="verdicts">${r.curveSummary.map((x) => `<li>${esc(x)}</li>`).join('')}</ul><div class="row">` +
        lineChart(
          series.map((sr) => ({
            name: sr.name,
            points: sr.points.map((q) => [q.size, 100 * q.mean] as [number, number]),
            band: sr.points.map((q) => [100 * q.lo, 100 * q.hi] as [number, number]),
            color: colourName(sr.name),
            marker: sr.kind === 'bow' ? ('square' as const) : ('circle' as const),
          })),
          {
            title: 'Test accuracy against training images',
            xlabel: 'training images (log)',
            ylabel: 'accuracy (%)',
            xLog: true,
            width: 620,
            yMin: floorOf(series.flatMap((sr) => sr.points.map((q) => 100 * q.lo))),
            yMax: ceilOf(series.flatMap((sr) => sr.points.map((q) => 100 * q.hi))),
          },
        )
      : `<p>One training-set size (${num(r.protocol.trainSizes[0])} images); <code>--train-sizes 100,1000,10000</code> draws accuracy against training images.</p><div class="row">`) +
      `${secondsPlot}</div><p class="note">Seconds on this machine: a point per training-set size is the mean over seeds of the refit's seconds plus the search's; the validation curves are those of the chosen candidate (a CNN, after each epoch) and of each candidate (a BoW recipe). The band is the range across seeds.</p>`,
  );
  const live = r.contenders.map((c, i) => ({ c, i })).filter(({ c }) => !c.fit.cached && c.fit.trainImagesPerSec !== null);
  sec(
    'timing',
    'Timing and memory',
    table(
      ['classifier', 'fit (s)', 'training / extraction (images/s)', 'inference (images/s)', 'peak RSS (MB)'],
      r.contenders.map((c) => [c.name, fitSeconds(c.fit), speed(c.fit), inferSpeed(c), num(c.peakRssMB)]),
    ) +
      '<div class="row">' +
      (live.length
        ? barChart(
            live.map(({ c, i }) => ({ label: c.name, value: c.fit.trainImagesPerSec ?? 0, color: colour(i) })),
            { title: 'Training / extraction (images/s, this run)', width: 480 },
          )
        : '') +
      barChart(
        r.contenders.map((c, i) => ({ label: c.name, value: c.inferImagesPerSec, color: colour(i) })),
        { title: 'Inference (images/s)', width: 480 },
      ) +
      `</div><p class="note">Backend: ${esc(r.backend.name)} — ${esc(r.backend.device)}; ${r.backend.threads} thread(s). ${r.backend.notes.map(esc).join('; ')}. "Cached": the model or its features came from the cache or an earlier run, so no speed was measured in this run.</p>`,
  );
  sec(
    'layers',
    'BoW = CNN: the stage ↔ layer table',
    layerRows(r)
      .map(
        (t) =>
          `<h3>${esc(t.name)}</h3>` +
          table(
            ['stage / layer', 'classic step', 'CNN layer', 'maps', 'parameters', 'origin', 'receptive field (px)', 'output'],
            t.rows.map((x) => [x.stage, x.classic, x.cnn, x.maps, num(x.params), x.origin, x.rf, x.out]),
          ),
      )
      .join(''),
  );
  const pics = r.pictures.map((p) =>
    p.kind === 'words'
      ? siftGlyphs(p.data as number[][], { title: p.title })
      : filterGrid(p.data as number[][][], { title: p.title, labels: p.labels, px: (p.data as number[][][])[0].length <= 3 ? 16 : 11 }),
  );
  sec(
    'pictures',
    'Filters side by side: handcrafted, unsupervised, learned',
    '<p>Layer 1 of the BoW chain is the bank of 8 oriented derivative filters (red positive, blue negative); its layer 3 is a 1x1 conv whose filters are the k-means visual words, each a 4x4 grid of 8-bin orientation histograms (arrows: the direction and weight of each bin). The CNN learns its first-layer filters by backpropagation: compare them with the gradient filters.</p>' +
      (pics.length ? `<div class="row">${pics.join('')}</div>` : '<p>No classifier here has filters to draw.</p>'),
  );
  if (test) {
    const rows = r.samples
      .map(
        (idx, k) =>
          `<h3>${esc(cls[k] ?? String(k))}</h3>${thumbs(
            test,
            idx.map((i) => ({ index: i, caption: `#${i}` })),
          )}`,
      )
      .join('');
    const wrong = Object.entries(r.mistakes)
      .map(
        ([name, ms]) =>
          `<h3>${esc(name)}: its most confident mistakes</h3>${
            ms.length
              ? thumbs(
                  test,
                  ms.map((m) => ({
                    index: m.index,
                    caption: `${cls[m.label] ?? m.label} → ${cls[m.predicted] ?? m.predicted}`,
                    bad: true,
                  })),
                )
              : '<p>None: every test image right.</p>'
          }`,
      )
      .join('');
    sec(
      'samples',
      'The data, and the mistakes',
      `<p>Test images of each class; then, for each classifier, the wrong answers it was surest of (true class → predicted class).</p>${rows}${wrong}`,
    );
  } else sec('samples', 'The data, and the mistakes', '<p>The test images were not available when this report was written.</p>');
  const trained = r.contenders.filter((c) => c.epochs?.length);
  if (trained.length) {
    const loss = lineChart(
      trained.map((c) => ({
        name: c.name,
        points: (c.epochs ?? []).map((e) => [e.epoch + 1, e.loss] as [number, number]),
        color: colourName(c.name),
      })),
      { title: 'Training loss per epoch', xlabel: 'epoch', ylabel: 'loss', yMin: 0 },
    );
    const acc = lineChart(
      trained.flatMap((c) => [
        {
          name: `${c.name} train`,
          points: (c.epochs ?? []).map((e) => [e.epoch + 1, 100 * e.trainAccuracy] as [number, number]),
          color: colourName(c.name),
        },
        ...((c.epochs ?? []).some((e) => e.valAccuracy !== null)
          ? [
              {
                name: `${c.name} validation`,
                points: (c.epochs ?? [])
                  .filter((e) => e.valAccuracy !== null)
                  .map((e) => [e.epoch + 1, 100 * (e.valAccuracy as number)] as [number, number]),
                color: colourName(c.name),
                dash: true,
              },
            ]
          : []),
      ]),
      { title: 'Accuracy per epoch (%)', xlabel: 'epoch', ylabel: 'accuracy (%)' },
    );
    sec('training', 'Training curves', `<div class="row">${loss}${acc}</div>`);
  } else sec('training', 'Training curves', '<p>No CNN trained in this comparison.</p>');
  sec(
    'confusion',
    'Confusion matrices',
    `<div class="row">${r.contenders.map((c) => heatmap(c.confusion, { title: c.name, labels: cls })).join('')}</div>`,
  );
  if (r.robustness) {
    const kinds = Object.keys(SWEEPS) as TransformKind[];
    const acc = kinds
      .map((kind) =>
        lineChart(
          Object.entries(r.robustness!).map(([name, per]) => ({
            name,
            points: per[kind].map((p) => [p.amount, 100 * p.accuracy] as [number, number]),
            color: colourName(name),
          })),
          { title: `Accuracy vs ${KIND_LABEL[kind]}`, xlabel: KIND_LABEL[kind], ylabel: 'accuracy (%)', yMin: 0, yMax: 100 },
        ),
      )
      .join('');
    const dist = Object.entries(r.robustness)
      .map(([name, per]) =>
        kinds
          .filter((k) => k === 'translate-x' || k === 'rotate')
          .map((kind) => {
            const layers = Object.keys(per[kind][0].distances);
            return lineChart(
              // one look per layer: the palette's colours, then other markers and dashes (seriesStyle)
              layers.map((l) => ({
                name: l,
                points: per[kind].map((p) => [p.amount, p.distances[l]] as [number, number]),
              })),
              {
                title: `${name}: change per layer, ${kind === 'rotate' ? 'rotation' : 'translation'}`,
                xlabel: KIND_LABEL[kind],
                ylabel: 'cosine distance to original',
                yMin: 0,
              },
            );
          })
          .join(''),
      )
      .join('');
    sec(
      'robustness',
      'Robustness to transformations, by layer',
      `<p>${r.robustnessImages} test images, transformed about their centre. First: accuracy. Then: for each stage or layer, the mean cosine distance between the representation of the original and of the transformed image — early layers move most under translation, pooled ones least.</p><div class="row">${acc}</div><div class="row">${dist}</div>`,
    );
  } else sec('robustness', 'Robustness to transformations, by layer', '<p>Not run (add <code>--robustness</code>).</p>');
  if (r.ablation) {
    sec(
      'ablation',
      'Ablation',
      "<p>Each variant against the full classifier on the same test images: its 95% interval and McNemar's p.</p>" +
        table(
          ['classifier', 'change', 'accuracy', '95% CI', 'Δ accuracy', 'McNemar p', 'parameters', 'Δ parameters'],
          r.ablation.map((a) => [
            a.base,
            a.change,
            pct(a.accuracy),
            `${pct(a.ci95[0])} – ${pct(a.ci95[1])}`,
            `${signed(100 * a.deltaAccuracy, (v) => v.toFixed(2))} pts`,
            pValue(a.p),
            num(a.params),
            signed(a.deltaParams, (v) => num(v)),
          ]),
        ),
    );
  } else sec('ablation', 'Ablation', '<p>Not run (add <code>--ablation</code>).</p>');
  const inputs = inputsOf(r);
  const css = `body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;font-size:17px;line-height:1.45;margin:24px auto;max-width:1500px;color:#1a1a1a;padding:0 20px}
h1{font-size:30px}h2{font-size:24px;border-bottom:2px solid #ddd;padding-bottom:4px;margin-top:40px}h3{font-size:19px;margin:18px 0 6px}
table{border-collapse:collapse;margin:8px 0 16px;font-size:16px}th,td{border:1px solid #ccc;padding:6px 10px;text-align:left}th{background:#eef2f6}
.row{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start}.cmd span{white-space:nowrap}.note,.meta{color:#444;font-size:15px}svg{max-width:100%;height:auto}ul.verdicts{font-size:17px}
nav a{margin-right:4px}.thumbs{display:flex;flex-wrap:wrap;gap:10px}.thumbs figure{margin:0;text-align:center}.thumbs img{image-rendering:pixelated;border:1px solid #999;background:#000}
.thumbs figcaption{font-size:14px;max-width:120px}.thumbs figure.bad img{border:3px solid #d62728}
.samples{display:grid;grid-template-columns:max-content 1fr;gap:6px 16px;align-items:center}.samples .cls{font-size:17px;font-weight:600;text-align:right}.samples .thumbs{gap:4px}`;
  return (
    `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>bowcnn report: ${esc(r.dataset.name)}</title><style>${css}</style></head><body>` +
    `<h1>Bag of visual words vs CNN on ${esc(r.dataset.name)}</h1><p class="meta">${r.dataset.train} training / ${r.dataset.test} test images${esc(shapeOf(r))} from ${esc(r.dataset.source)} · seed ${r.seed} · ${esc(r.backend.name)} backend · bowcnn ${esc(r.versions.bowcnn)}, tfjs ${esc(r.versions.tfjs)}, Node ${esc(r.versions.node)} · ${esc(r.date)}${inputs ? ` ·${esc(inputs)}` : ''}</p>` +
    // the command wraps between its arguments, never inside one
    (r.command
      ? `<p class="meta"><code class="cmd">${['bowcnn', ...r.command].map((a) => `<span>${esc(a)}</span>`).join(' ')}</code></p>`
      : '') +
    `<nav>${SECTIONS.map((s) => `<a href="#${s}">${s}</a>`).join(' · ')}</nav>${S.join('')}</body></html>`
  );
}

/** Writes results.json, report.md and report.html into `dir` (the test split gives the thumbnails). */
export function writeReport(r: CompareResult, dir: string, test?: Split): { json: string; md: string; html: string } {
  ensureDir(dir);
  const files = { json: join(dir, 'results.json'), md: join(dir, 'report.md'), html: join(dir, 'report.html') };
  writeFileAtomic(files.json, JSON.stringify(r, null, 1));
  writeFileAtomic(files.md, markdown(r));
  writeFileAtomic(files.html, html(r, test));
  return files;
}
