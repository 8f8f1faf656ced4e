/**
 * compare: every classifier gets the same dataset, split and seed. For each we record accuracy with a
 * bootstrap 95% interval, top-2, macro-F1, per-class scores, the confusion matrix, fit time, training
 * (or feature extraction) images/s, inference images/s, parameters, FLOPs per image when the cards give
 * them, peak memory and the backend; McNemar's test for every pair; optionally the robustness sweeps and
 * the ablation; and the pictures (gradient filters, visual words, the CNN's first-layer filters).
 *
 * Everything long is resumable: BoW features and dictionaries go to OUT/cache, CNN checkpoints to
 * OUT/checkpoints/<name>, each finished classifier's results to OUT/parts/<name>.json (temp file, then
 * rename). Ctrl-C leaves all of them whole; a rerun reuses them.
 */
import { writeFileAtomic } from '../util/atomic.js';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { backendInfo } from '../backend/index.js';
import { filterBank } from '../stages/gradient.js';
import type { CodingStage } from '../stages/coding.js';
import type { Dataset } from '../data/types.js';
import { subset } from '../data/split.js';
import type { LayerCard } from '../pipeline/card.js';
import { ablation, type AblationRow } from './ablation.js';
import { contender, size, type Contender } from './contender.js';
import { accuracy, argmax, bootstrapCI, confusion, macroF1, mcnemar, perClass, topK, type McNemar, type PerClass } from './metrics.js';
import { robustness, type RobustnessResult } from './robustness.js';

export interface ContenderResult {
  name: string; kind: 'bow' | 'cnn'; accuracy: number; ci95: [number, number]; top2: number; macroF1: number;
  perClass: PerClass[]; confusion: number[][]; fitSeconds: number; trainImagesPerSec: number; inferImagesPerSec: number;
  params: number; flopsPerImage: number | null; peakRssMB: number; cards: LayerCard[]; correct: number[];
  details: Record<string, unknown>;
}

export interface CompareOptions {
  out: string;
  seed?: number;
  robustness?: boolean;
  robustnessImages?: number;
  ablation?: boolean;
  sets?: Record<string, unknown>;
  progress?: boolean;
  maxSeconds?: number;
  onStep?: (msg: string) => void;
}

export interface CompareResult {
  format: 'bowcnn-results'; version: 1; date: string;
  versions: Record<string, string>; backend: ReturnType<typeof backendInfo>;
  dataset: { name: string; source: string; train: number; test: number; classes: readonly string[]; fingerprint: string };
  seed: number; contenders: ContenderResult[];
  mcnemar: (McNemar & { a: string; b: string; verdict: string })[];
  robustness?: RobustnessResult; robustnessImages?: number;
  ablation?: AblationRow[];
  pictures: { gradientFilters: number[][][]; visualWords?: { from: string; words: number[][] }; cnnFilters: { from: string; filters: number[][][] }[] };
}

function atomicJson(file: string, v: unknown): void {
  writeFileAtomic(file, JSON.stringify(v, null, 1));
}

function peakRss(): () => number {
  let peak = process.memoryUsage().rss;
  const t = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 200);
  return () => { clearInterval(t); return Math.max(peak, process.memoryUsage().rss) / 2 ** 20; };
}

export async function evaluate(c: Contender, ds: Dataset, opts: CompareOptions, fitSeconds: number, trainImagesPerSec: number, peakRssMB: number): Promise<ContenderResult> {
  const k = ds.classes.length;
  const t = performance.now();
  const scores = await c.scores(ds.test, { cacheDir: join(opts.out, 'cache'), progress: opts.progress });
  const inferSec = (performance.now() - t) / 1000;
  const pred = argmax(scores, k);
  const correct = Array.from(pred, (p, i) => (p === ds.test.labels[i] ? 1 : 0));
  const cm = confusion(pred, ds.test.labels, k);
  const cards = c.cards();
  const sz = size(cards);
  const details: Record<string, unknown> = {};
  if (c.pipeline?.lastFit) details.stageSeconds = c.pipeline.lastFit.stages;
  if (c.cnn?.lastFit) details.epochs = c.cnn.lastFit.epochs;
  return {
    name: c.name, kind: c.kind, accuracy: accuracy(pred, ds.test.labels), ci95: bootstrapCI(correct, 1000, opts.seed ?? 0),
    top2: topK(scores, ds.test.labels, k, 2), macroF1: macroF1(cm), perClass: perClass(cm), confusion: cm,
    fitSeconds, trainImagesPerSec, inferImagesPerSec: ds.test.n / inferSec, params: sz.params, flopsPerImage: sz.flops,
    peakRssMB, cards, correct, details,
  };
}

export async function fitContender(c: Contender, ds: Dataset, opts: CompareOptions): Promise<{ fitSeconds: number; trainImagesPerSec: number; peakRssMB: number }> {
  const stop = peakRss();
  const t = performance.now();
  await c.fit(ds.train, { seed: opts.seed, cacheDir: join(opts.out, 'cache'), progress: opts.progress, checkpointDir: join(opts.out, 'checkpoints', c.name), maxSeconds: opts.maxSeconds });
  const fitSeconds = (performance.now() - t) / 1000;
  const imgs = c.cnn?.lastFit ? c.cnn.lastFit.imagesPerSec : ds.train.n / Math.max(1e-9, Number(c.pipeline?.lastFit?.stages.features ?? fitSeconds));
  return { fitSeconds, trainImagesPerSec: imgs, peakRssMB: stop() };
}

export async function compare(names: string[], ds: Dataset, opts: CompareOptions): Promise<CompareResult> {
  mkdirSync(join(opts.out, 'parts'), { recursive: true });
  const say = opts.onStep ?? (() => {});
  const contenders: Contender[] = [];
  const results: ContenderResult[] = [];
  for (const name of names) {
    const c = await contender(name, ds, opts.sets ?? {});
    say(`fitting ${c.name}`);
    const f = await fitContender(c, ds, opts);
    const r = await evaluate(c, ds, opts, f.fitSeconds, f.trainImagesPerSec, f.peakRssMB);
    atomicJson(join(opts.out, 'parts', `${c.name.replace(/[^\w.-]/g, '_')}.json`), r);
    const modelDir = join(opts.out, 'models', c.name.replace(/[^\w.-]/g, '_'));
    mkdirSync(join(opts.out, 'models'), { recursive: true });
    await c.save(modelDir);
    // added to what save() wrote (a CNN's recipe and test-time flips), not in place of it
    const metaFile = join(modelDir, 'meta.json');
    const saved = existsSync(metaFile) ? JSON.parse(readFileSync(metaFile, 'utf8')) as Record<string, unknown> : {};
    atomicJson(metaFile, { ...saved, classes: ds.classes, inShape: [ds.train.height, ds.train.width, ds.train.channels], dataset: ds.name, accuracy: r.accuracy });
    say(`${c.name}: ${(100 * r.accuracy).toFixed(2)}% [${(100 * r.ci95[0]).toFixed(2)}, ${(100 * r.ci95[1]).toFixed(2)}]`);
    contenders.push(c);
    results.push(r);
  }
  const pairs: CompareResult['mcnemar'] = [];
  for (let i = 0; i < results.length; i++) for (let j = i + 1; j < results.length; j++) {
    const m = mcnemar(results[i].correct, results[j].correct);
    const [a, b] = [results[i], results[j]];
    const verdict = m.p < 0.05 ? `${m.onlyA > m.onlyB ? a.name : b.name} beats ${m.onlyA > m.onlyB ? b.name : a.name} (p = ${m.p.toExponential(2)})`
      : `no significant difference (p = ${m.p.toFixed(3)})`;
    pairs.push({ a: a.name, b: b.name, ...m, verdict });
  }
  const result: CompareResult = {
    format: 'bowcnn-results', version: 1, date: new Date().toISOString(),
    versions: { bowcnn: pkgVersion(), node: process.version, tfjs: tf.version.tfjs },
    backend: backendInfo(),
    dataset: { name: ds.name, source: ds.source, train: ds.train.n, test: ds.test.n, classes: ds.classes, fingerprint: ds.fingerprint },
    seed: opts.seed ?? 0, contenders: results, mcnemar: pairs, pictures: pictures(contenders),
  };
  if (opts.robustness) {
    const n = Math.min(ds.test.n, opts.robustnessImages ?? 1000);
    const test = subset(ds.test, n, (opts.seed ?? 0) + 7);
    say(`robustness sweeps on ${n} test images`);
    result.robustness = robustness(contenders, test, { onStep: (s) => say(`robustness ${s}`) });
    result.robustnessImages = n;
  }
  if (opts.ablation) {
    say('ablation');
    result.ablation = await ablation(contenders, results, ds, opts);
  }
  return result;
}

function pkgVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch { return 'unknown'; }
}

function pictures(cs: Contender[]): CompareResult['pictures'] {
  const bank = filterBank(0, 1);
  const [n, , , k] = bank.shape;
  const b = bank.arraySync() as number[][][][];
  bank.dispose();
  const gradientFilters = Array.from({ length: k }, (_, t) => Array.from({ length: n }, (_, y) => Array.from({ length: n }, (_, x) => b[y][x][0][t])));
  const out: CompareResult['pictures'] = { gradientFilters, cnnFilters: [] };
  for (const c of cs) {
    const cod = c.pipeline?.stages.find((s) => s.name === 'coding') as CodingStage | undefined;
    const C = cod?.centres();
    if (C && !out.visualWords && C.shape[1] === 128) {
      const all = C.arraySync() as number[][];
      // the 32 words with the most mass, a readable sample of the dictionary
      const order = all.map((w, i) => [w.reduce((a, v) => a + v, 0), i] as const).sort((a, z) => z[0] - a[0]).slice(0, 32).map(([, i]) => i);
      out.visualWords = { from: c.name, words: order.map((i) => all[i]) };
    }
    const m = c.cnn?.model;
    const conv = m?.layers.find((l) => /^(Bowcnn)?Conv2D$/.test(l.getClassName()));   // tfjs-layers' or bowcnn's (src/cnn/conv.ts)
    if (m && conv && c.cnn?.recipe.kind === 'cnn') {
      const w = conv.getWeights()[0];
      const [kh, kw, ci, co] = w.shape;
      const v = w.arraySync() as number[][][][];
      out.cnnFilters.push({ from: `${c.name} ${conv.name}`, filters: Array.from({ length: Math.min(co, 32) }, (_, o) => Array.from({ length: kh }, (_, y) => Array.from({ length: kw }, (_, x) => {
        let s = 0; for (let q = 0; q < ci; q++) s += v[y][x][q][o]; return s;
      }))) });
    }
  }
  return out;
}

export function loadResults(file: string): CompareResult {
  if (!existsSync(file)) throw new Error(`${file}: no results here`);
  const r = JSON.parse(readFileSync(file, 'utf8')) as CompareResult;
  if (r.format !== 'bowcnn-results') throw new Error(`${file}: not a bowcnn results file`);
  return r;
}

export { atomicJson };
