// A small comparison run end to end through the CLI: the report files exist, the HTML parses, holds
// every section with its pictures as inline SVG and loads nothing from the network; results.json is
// complete; a rerun reuses the caches.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse } from 'parse5';
import { beforeAll, describe, expect, it } from 'vitest';
import { SECTIONS } from '../../src/report/report.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const OUT = join(mkdtempSync(join(tmpdir(), 'bowcnn-report-')), 'run');
const ARGS = [
  'compare',
  '--dataset',
  'mnist',
  '--pipelines',
  'bow-sift,lenet5',
  '--subset',
  '300',
  '--test-subset',
  '200',
  '--set',
  'coding.words=16',
  '--set',
  'coding.sample=3000',
  '--set',
  'train.epochs=1',
  '--set',
  'train.minSteps=0',
  '--out',
  OUT,
  '--robustness',
  '--robustness-images',
  '40',
  '--ablation',
  '--json',
];
function cli(args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, BOWCNN_PROGRESS: '0' },
    timeout: 240_000,
  });
}
let first: ReturnType<typeof cli>;

beforeAll(() => {
  first = cli(ARGS);
}, 240_000);

interface Node {
  nodeName: string;
  tagName?: string;
  attrs?: { name: string; value: string }[];
  childNodes?: Node[];
}
function* walk(n: Node): Generator<Node> {
  yield n;
  for (const c of n.childNodes ?? []) yield* walk(c);
}

describe('bowcnn compare and its report', () => {
  it('exits 0 and writes results.json, report.md and report.html', () => {
    expect(first.status, first.stderr).toBe(0);
    for (const f of ['results.json', 'report.md', 'report.html']) expect(existsSync(join(OUT, f))).toBe(true);
    const j = JSON.parse(first.stdout);
    expect(j.contenders.map((c: { name: string }) => c.name)).toEqual(['bow-sift', 'lenet5']);
  });

  it('report.html parses, has every section, inline SVG pictures and no external resource', () => {
    const html = readFileSync(join(OUT, 'report.html'), 'utf8');
    const doc = parse(html) as unknown as Node;
    const nodes = [...walk(doc)];
    const ids = nodes.filter((n) => n.tagName === 'section').map((n) => n.attrs?.find((a) => a.name === 'id')?.value);
    expect(ids).toEqual([...SECTIONS]);
    expect(nodes.filter((n) => n.tagName === 'svg').length).toBeGreaterThan(10);
    const external = nodes.filter((n) =>
      (n.attrs ?? []).some(
        (a) => (a.name === 'src' || a.name === 'href') && !a.value.startsWith('#') && !a.value.startsWith('data:image/png;base64,'),
      ),
    );
    expect(external).toEqual([]);
    expect(nodes.some((n) => n.tagName === 'script')).toBe(false);
    expect(html).toContain('bow-sift: the 8 oriented gradient filters');
    // a row of sample images per class and each classifier's most confident mistakes, as embedded PNGs
    expect(nodes.filter((n) => n.tagName === 'img').length).toBeGreaterThanOrEqual(10 * 8);
    expect(html).toContain('bow-sift: its most confident mistakes');
    expect(html).toContain('Training loss per epoch');
    expect(html).toContain('bow-sift: 32 visual words');
    expect(html).toContain('lenet5: first-layer filters C1, learned');
  });

  it('every figure in report.html gives each classifier one colour (legends and bars), and the command wraps between arguments', () => {
    const html = readFileSync(join(OUT, 'report.html'), 'utf8');
    const names = ['bow-sift', 'lenet5'];
    // a figure's label for a classifier is its name, or its name and what is plotted ('lenet5 validation')
    const owner = (label: string) => names.find((n) => label === n || label.startsWith(`${n} `));
    const colours = new Map<string, Set<string>>();
    let seen = 0;
    for (const svg of html.match(/<svg[\s\S]*?<\/svg>/g) ?? []) {
      // a legend entry: its line's stroke, then (after its marker) its text; a bar: its label, then its rect's fill
      const pairs = [
        ...[
          ...svg.matchAll(/<line [^>]*stroke="(#[0-9a-f]{6})"[^>]*\/>(?:<(?:circle|rect|path) [^>]*\/>)?<text [^>]*>([^<]+)<\/text>/g),
        ].map((m) => [m[2], m[1]]),
        ...[...svg.matchAll(/<text [^>]*text-anchor="end"[^>]*>([^<]+)<\/text><rect [^>]*fill="(#[0-9a-f]{6})"/g)].map((m) => [m[1], m[2]]),
      ];
      for (const [label, colour] of pairs) {
        const n = owner(label);
        if (!n) continue;
        seen++;
        colours.set(n, (colours.get(n) ?? new Set()).add(colour));
      }
    }
    expect(seen).toBeGreaterThan(8); // bars, training curves, robustness curves, learning curves
    for (const n of names) expect([...(colours.get(n) ?? [])], n).toHaveLength(1);
    expect(colours.get('bow-sift')).not.toEqual(colours.get('lenet5'));
    expect(html).toContain('<span>--test-subset</span> <span>200</span>');
  });

  it('results.json holds metrics, McNemar, robustness curves, ablation and versions', () => {
    const r = JSON.parse(readFileSync(join(OUT, 'results.json'), 'utf8'));
    expect(r.format).toBe('bowcnn-results');
    expect(r.versions.tfjs).toBe('4.22.0');
    expect(r.backend.name).toBe('wasm');
    for (const c of r.contenders) {
      expect(c.accuracy).toBeGreaterThan(0.3);
      expect(c.ci95[0]).toBeLessThanOrEqual(c.accuracy);
      expect(c.ci95[1]).toBeGreaterThanOrEqual(c.accuracy);
      expect(c.confusion.flat().reduce((a: number, b: number) => a + b, 0)).toBe(200);
      expect(c.params).toBeGreaterThan(0);
    }
    expect(r.pairs).toHaveLength(1);
    // the protocol: the verdict names it and the size; each search is recorded, with what it chose
    expect(r.protocol.kind).toBe('validation');
    expect(r.verdict).toMatch(/^at 300 training images, under the validation protocol, /);
    const bowSearch = r.contenders[0].protocol;
    expect(bowSearch.candidates.map((c: { settings: Record<string, unknown> }) => c.settings['classifier.C'])).toEqual([0.25, 1, 4]);
    expect(bowSearch.validationImages + bowSearch.fitImages).toBe(300);
    const best = Math.max(...bowSearch.candidates.map((c: { validationAccuracy: number }) => c.validationAccuracy));
    const first = bowSearch.candidates.find((c: { validationAccuracy: number }) => c.validationAccuracy === best);
    expect(bowSearch.chosen).toEqual(first.settings);
    expect(r.contenders[0].config.stages.find((s: { kind: string }) => s.kind === 'classifier').config.C).toBe(
      first.settings['classifier.C'],
    );
    // train.epochs was fixed by --set: only the learning rate is searched
    expect(Object.keys(r.contenders[1].protocol.space)).toEqual(['train.lr']);
    expect(r.curves).toHaveLength(2);
    expect(Object.keys(r.robustness)).toEqual(['bow-sift', 'lenet5']);
    expect(r.robustness['bow-sift'].rotate.map((p: { amount: number }) => p.amount)).toEqual([-60, -40, -20, 0, 20, 40, 60]);
    expect(r.robustness.lenet5['translate-x'][3].distances.C1).toBeCloseTo(0, 6); // no shift: no change
    expect(r.ablation.map((a: { change: string }) => a.change)).toEqual([
      'WTA -> bilinear orientations',
      'hard -> soft coding',
      'sum -> max pooling',
    ]);
    for (const a of r.ablation) {
      expect(a.ci95[0]).toBeLessThanOrEqual(a.accuracy);
      expect(a.p).toBeGreaterThan(0);
      expect(a.p).toBeLessThanOrEqual(1);
    }
    // what ran: the command line, the --set values, the recipes as run, every test image's prediction
    expect(r.command).toEqual(ARGS);
    expect(r.sets).toEqual({ 'coding.words': 16, 'coding.sample': 3000, 'train.epochs': 1, 'train.minSteps': 0 });
    const bow = r.contenders[0];
    expect(bow.config.stages.find((s: { kind: string }) => s.kind === 'coding').config.words).toBe(16);
    expect(r.contenders[1].config.train.epochs).toBe(1);
    expect(bow.predicted).toHaveLength(200);
    expect(bow.scores).toHaveLength(200);
    expect(bow.predicted.every((p: number, i: number) => p === bow.scores[i].indexOf(Math.max(...bow.scores[i])))).toBe(true);
    expect(r.contenders[1].epochs).toHaveLength(1);
  });

  it('a rerun reads the finished results back: "cached" in place of a speed, the first run\'s figures kept', () => {
    const firstJson = JSON.parse(readFileSync(join(OUT, 'results.json'), 'utf8'));
    const again = cli(ARGS.filter((a) => a !== '--robustness' && a !== '--ablation' && a !== '--robustness-images' && a !== '40'));
    expect(again.status, again.stderr).toBe(0);
    const r = JSON.parse(readFileSync(join(OUT, 'results.json'), 'utf8'));
    for (const [i, c] of r.contenders.entries()) {
      const was = firstJson.contenders[i];
      expect(c.fit.cached).toBe(true);
      expect(c.fit.trainImagesPerSec).toBeNull();
      expect(c.fit.measured.trainImagesPerSec).toBe(was.fit.trainImagesPerSec);
      expect(c.fit.measured.seconds).toBe(was.fit.seconds);
      expect(c.accuracy).toBe(was.accuracy);
    }
    const md = readFileSync(join(OUT, 'report.md'), 'utf8');
    expect(md).toMatch(/\| bow-sift \|.*\| cached \(.* when computed\) \|/);
  });
});
