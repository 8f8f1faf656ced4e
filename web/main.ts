/**
 * The teaching page: a BoW pipeline (as its bownet) and a CNN, both tfjs LayersModels, run layer by layer on
 * the student's input; every stage's maps and card, and how far each layer moves when the input is moved.
 * Reads models/manifest.json (written by `bowcnn serve` or `npm run build:web`).
 */
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-backend-webgpu';
import {
  type ChainOutput,
  cosineDistances,
  decodeSamples,
  type PageManifest,
  type PageSamples,
  type PageStage,
  type Pose,
  poseBatch,
  TappedModel,
} from '../src/browser.js';
import { bars, COLOURS, linePlot, mapTile, mapTiles, note, siftGlyphs, wordColour, wordMap } from './draw.js';
import { drawingPad, greyOf, photoInput } from './input.js';
import { frameLightOnDark, ruleFor } from '../src/data/input-rule.js';
import { assignments, ENCODING_KINDS, type EncodingKind, encodingBars, wordsOf } from '../src/models/encoding-view.js';

type Kind = 'translate-x' | 'translate-y' | 'scale' | 'rotate';
const POSE_KEY: Record<Kind, keyof Pose> = { 'translate-x': 'dx', 'translate-y': 'dy', scale: 'scale', rotate: 'rotate' };
const SWEEP: Record<Kind, number[]> = {
  'translate-x': [-8, -6, -4, -2, 0, 2, 4, 6, 8],
  'translate-y': [-8, -6, -4, -2, 0, 2, 4, 6, 8],
  scale: [0.6, 0.7, 0.8, 0.9, 1, 1.1, 1.2, 1.3, 1.4],
  rotate: [-60, -45, -30, -15, 0, 15, 30, 45, 60],
};
const UNIT: Record<Kind, (v: number) => string> = {
  'translate-x': (v) => `${v} px`,
  'translate-y': (v) => `${v} px`,
  scale: (v) => v.toFixed(2),
  rotate: (v) => `${v}°`,
};
const IDENTITY: Pose = { dx: 0, dy: 0, scale: 1, rotate: 0 };
/** Where a stage's weights came from, as its badge says it (unsupervised: by what the stage fits). */
const ORIGIN: Record<string, (kind: 'bow' | 'cnn', stage: string) => string> = {
  handcrafted: () => 'handcrafted',
  unsupervised: (_, stage) => (stage === 'pca' ? 'PCA' : stage === 'fisher' ? 'GMM (EM)' : 'k-means'),
  supervised: (k) => (k === 'bow' ? 'SVM (labels)' : 'backpropagation'),
  none: () => 'no weights',
};

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const errors: string[] = [];
const status = (text: string, error = false) => {
  const s = $('status');
  s.textContent = text;
  s.classList.toggle('error', error);
};

async function chooseBackend(): Promise<string> {
  setWasmPaths(new URL('wasm/', location.href).href);
  const want = new URLSearchParams(location.search).get('backend');
  const order = want ? [want] : ['webgpu', 'webgl', 'wasm', 'cpu'];
  for (const b of order) {
    // tfjs warns when webgpu's initialisation fails; ask for an adapter first
    if (
      b === 'webgpu' &&
      !want &&
      !(await (navigator as { gpu?: { requestAdapter(): Promise<unknown> } }).gpu?.requestAdapter().catch(() => null))
    )
      continue;
    try {
      if (await tf.setBackend(b)) {
        await tf.ready();
        return b;
      }
    } catch {
      // the next one
    }
  }
  throw new Error(`no tfjs backend of ${order.join(', ')} works in this browser`);
}

interface ChainView {
  model: TappedModel;
  column: HTMLElement;
  maps: Map<string, HTMLElement>;
  change: Map<string, HTMLElement>;
}

function cardOf(s: PageStage, kind: 'bow' | 'cnn'): { el: HTMLElement; maps: HTMLElement; change: HTMLElement } {
  const c = s.card;
  const el = document.createElement('article');
  el.className = 'card';
  el.dataset.stage = s.stage;
  const facts: string[] = [];
  if (c.kernel) facts.push(`kernel ${c.kernel[0]}x${c.kernel[1]}`);
  if (c.stride && c.stride > 1) facts.push(`stride ${c.stride}`);
  if (c.dilation && c.dilation > 1) facts.push(`dilation ${c.dilation}`);
  facts.push(`maps ${c.mapsIn} → ${c.mapsOut}`, `${c.params.toLocaleString('en')} parameters`, `receptive field ${c.receptiveField} px`);
  const out = (c as { outShape?: number[] }).outShape;
  if (out) facts.push(`output ${out.join('x')}`);
  el.innerHTML = `<header><span class="name"></span><span class="origin ${c.origin}"></span></header>
    <div class="cnn"></div><div class="classic"></div><div class="facts"></div><div class="maps"></div><div class="change"></div>`;
  el.querySelector('.name')!.textContent = s.stage;
  el.querySelector('.origin')!.textContent = ORIGIN[c.origin]?.(kind, s.kind) ?? c.origin;
  el.querySelector('.cnn')!.textContent = c.cnn;
  el.querySelector('.classic')!.textContent = c.classic;
  el.querySelector('.facts')!.innerHTML = facts.map((f) => `<span>${f}</span>`).join('');
  return { el, maps: el.querySelector('.maps') as HTMLElement, change: el.querySelector('.change') as HTMLElement };
}

function viewOf(model: TappedModel, column: HTMLElement): ChainView {
  const ch = model.chain;
  column.innerHTML = `<h2></h2><p class="hint"></p>`;
  column.querySelector('h2')!.textContent = `${ch.kind === 'bow' ? 'The classic chain' : 'The CNN'}: ${ch.name}`;
  column.querySelector('.hint')!.textContent = ch.about;
  const v: ChainView = { model, column, maps: new Map(), change: new Map() };
  for (const s of ch.stages) {
    const c = cardOf(s, ch.kind);
    column.append(c.el);
    v.maps.set(s.stage, c.maps);
    v.change.set(s.stage, c.change);
  }
  return v;
}

/** Item `i` of a `[N, ...]` tensor's values, with its shape without N. */
function item(t: tf.Tensor, values: Float32Array, i: number): { v: Float32Array; shape: number[] } {
  const per = t.size / t.shape[0];
  return { v: values.subarray(i * per, (i + 1) * per), shape: t.shape.slice(1) };
}

/** A conv layer's filters summed over input channels `[kh*kw*co]`, read once: the weights do not change while the page runs. */
const filterCache = new WeakMap<tf.layers.Layer, { sum: Float32Array; kh: number; kw: number; co: number } | null>();
function filtersOf(layer: tf.layers.Layer): { sum: Float32Array; kh: number; kw: number; co: number } | null {
  if (filterCache.has(layer)) return filterCache.get(layer)!;
  const w = layer.getWeights()[0];
  let out: { sum: Float32Array; kh: number; kw: number; co: number } | null = null;
  if (w && w.shape.length === 4) {
    const [kh, kw, ci, co] = w.shape;
    const k = w.dataSync() as Float32Array;
    const sum = new Float32Array(kh * kw * co);
    for (let p = 0; p < kh * kw; p++) for (let o = 0; o < co; o++) for (let q = 0; q < ci; q++) sum[p * co + o] += k[(p * ci + q) * co + o];
    out = { sum, kh, kw, co };
  }
  filterCache.set(layer, out);
  return out;
}

/** Draws stage s of a chain from one image's layer outputs. */
function drawStage(
  box: HTMLElement,
  s: PageStage,
  chain: TappedModel,
  values: Map<string, { v: Float32Array; shape: number[] }>,
  isLast: boolean,
): void {
  box.replaceChildren();
  const last = values.get(s.layers[s.layers.length - 1]);
  if (!last) return;
  const [h, w, c] = last.shape.length === 3 ? last.shape : [1, 1, last.shape[last.shape.length - 1]];
  const classes = chain.chain.classes;
  if (isLast) {
    box.append(
      bars(last.v, 260, 60, (i) => (i === argmaxOf(last.v) ? '#1a7f37' : '#999'), 0, classes),
      note('class scores'),
    );
    return;
  }
  const px = 46;
  if (s.kind === 'gradient' || (chain.chain.kind === 'cnn' && s === chain.chain.stages.find((t) => t.kind === 'Conv2D'))) {
    const layer = chain.model.getLayer(s.layers.find((l) => chain.model.getLayer(l).getClassName() === 'Conv2D') ?? s.layers[0]);
    const f = filtersOf(layer);
    if (f) {
      const { sum, kh, kw, co } = f;
      box.append(note(`the ${co} filters (${kh}x${kw})`));
      mapTiles(box, sum, [kh, kw, co], 26, 16);
      box.append(note('their response maps'));
      const resp = values.get(layer.name)!;
      mapTiles(box, resp.v, resp.shape, px, 16);
      return;
    }
  }
  if (s.kind === 'descriptor' && c === 128) {
    box.append(siftGlyphs(last.v, h, w, 320), note(`${h}x${w} descriptor frames, each 4x4 cells x 8 orientations`));
    return;
  }
  if (s.kind === 'coding') {
    const words = new Int32Array(h * w);
    for (let p = 0; p < h * w; p++) {
      let b = 0;
      for (let k = 1; k < c; k++) if (last.v[p * c + k] > last.v[p * c + b]) b = k;
      words[p] = b;
    }
    box.append(wordMap(words, h, w, 200), note(`visual-word map: ${new Set(words).size} distinct words of ${c} over ${h * w} frames`));
    return;
  }
  if (ENCODING_KINDS.includes(s.kind)) {
    // the assignment map over the descriptors the stage encoded, then the pooled vector a bar per word
    const kind = s.kind as EncodingKind;
    const config = s.config ?? {};
    const stages = chain.chain.stages;
    const before = stages[stages.indexOf(s) - 1];
    const x = before ? values.get(before.layers[before.layers.length - 1]) : undefined;
    if (x && x.shape.length === 3) {
      const [xh, xw, d] = x.shape;
      const weights = chain.model
        .getLayer(s.layers[0])
        .getWeights()
        .map((t) => t.dataSync() as Float32Array);
      const words = assignments(kind, weights, x.v, d);
      box.append(
        wordMap(words, xh, xw, 200),
        note(
          `${kind === 'fisher' ? 'Gaussian of highest posterior' : 'nearest centre'} for each of ${xh * xw} frames: ${new Set(words).size} of ${wordsOf(kind, config)} used`,
        ),
      );
    }
    const b = encodingBars(kind, config, last.v);
    box.append(
      bars(b.values, 260, 60, (i) => wordColour(b.word[i]), b.group),
      note(b.what),
    );
    return;
  }
  if (s.kind === 'pooling') {
    const pyramid = (s.config?.pyramid as number[] | undefined) ?? [1];
    const regions = pyramid.reduce((a, l) => a + l * l, 0);
    const m = c / regions;
    box.append(
      bars(last.v, 260, 60, (i) => wordColour(i % m), m),
      note(regions > 1 ? `${regions} regions (pyramid ${pyramid.join(', ')}) x ${m} words` : `histogram of ${m} words`),
    );
    return;
  }
  if (h * w > 1) mapTiles(box, last.v, [h, w, c], px, 16);
  else if (c > 1)
    box.append(
      bars(last.v, 260, 40, () => (chain.chain.kind === 'bow' ? COLOURS.bow : COLOURS.cnn)),
      note(`${c} units`),
    );
}

/** A BoW chain's steps in the lecture's words, from its stages' kinds: 'dense SIFT, PCA, Fisher vectors, SVM'. */
function chainSteps(stages: PageStage[]): string {
  const words: Record<string, (s: PageStage) => string> = {
    descriptor: () => 'dense SIFT',
    blocks: () => 'HOG',
    pca: () => 'PCA',
    coding: () => 'visual words',
    fisher: () => 'Fisher vectors',
    vlad: () => 'VLAD',
    bossanova: () => 'BossaNova',
    pooling: (s) => (((s.config?.pyramid as number[] | undefined) ?? [1]).some((l) => l > 1) ? 'pyramid pooling' : 'global pooling'),
    kernelmap: () => 'kernel map',
    classifier: () => 'SVM',
  };
  const out: string[] = [];
  for (const s of stages) {
    const w = words[s.kind]?.(s);
    if (w && !out.includes(w)) out.push(w);
  }
  return out.join(', ');
}

function argmaxOf(v: ArrayLike<number>): number {
  let b = 0;
  for (let i = 1; i < v.length; i++) if (v[i] > v[b]) b = i;
  return b;
}

/** Per stage of each chain, the cosine distance between item 0 of the batch and every other item: `[stages][N-1]`. */
async function distancesFrom0(model: TappedModel, out: ChainOutput): Promise<number[][]> {
  const reps = model.representations(out);
  const names = model.chain.stages.map((s) => s.stage);
  const d = tf.tidy(() =>
    tf.stack(
      names.map((n) => {
        const r = reps[n];
        const k = r.shape[0] - 1;
        const a = tf.tile(tf.slice(r, 0, 1), [k, ...r.shape.slice(1).map(() => 1)]);
        return cosineDistances(a, tf.slice(r, 1, k));
      }),
    ),
  );
  const v = (await d.array()) as number[][];
  d.dispose();
  return v;
}

async function main(): Promise<void> {
  const backend = await chooseBackend();
  $('backend').textContent = backend;
  const manifestUrl = new URL('models/manifest.json', location.href);
  const res = await fetch(manifestUrl);
  if (!res.ok)
    throw new Error(
      `${manifestUrl.pathname}: ${res.status} ${res.statusText} (serve the page with bowcnn serve, or build it with npm run build:web)`,
    );
  const manifest = (await res.json()) as PageManifest;
  if (manifest.format !== 'bowcnn-page') throw new Error(`${manifestUrl.pathname}: not a bowcnn page manifest`);
  const models = await Promise.all(manifest.chains.map((c) => TappedModel.load(c, manifestUrl)));
  $('models').textContent = manifest.chains.map((c) => `${c.name} (${c.about})`).join(', ');
  const [H, W, C] = manifest.chains[0].inShape;
  // one input rule for drawings, photos and `bowcnn predict`: framing as the models' training data
  const rule = ruleFor({ dataset: manifest.dataset.split(', ')[0], inShape: [H, W, C] });
  const what = rule.framing === 'digit' ? 'a digit' : rule.framing === 'object' ? 'a garment or a shoe' : 'something';
  const cnn = manifest.chains.find((c) => c.kind === 'cnn')?.name;
  const bow = manifest.chains.find((c) => c.kind === 'bow')?.name;
  $('lead').textContent = `Draw ${what}, pick a test image of ${manifest.dataset}, or drop in a photo. It passes through ${
    bow
      ? `the classic chain ${bow} (${chainSteps(manifest.chains.find((c) => c.kind === 'bow')!.stages)}), written as the convolution layers it is`
      : ''
  }${bow && cnn ? ', and through ' : ''}${cnn ? `the CNN ${cnn}, trained end to end` : ''}. Every layer's card says its kernel, maps, parameters, receptive field, and where its weights came from.`;
  $('frame-hint').textContent =
    rule.framing === 'digit'
      ? "Drop a photo on the square too. A drawing is framed as MNIST's digits are: 20x20 pixels, centred by its mass."
      : rule.framing === 'object'
        ? "Drop a photo on the square too. A drawing is framed as Fashion-MNIST's images are: trimmed, its longer side fitted, centred."
        : "Drop a photo on the square too: it is scaled to cover the models' input, centred and cropped.";
  const views = models.map((m) => viewOf(m, $(m.chain.kind === 'bow' ? 'chain-bow' : 'chain-cnn')));
  for (const kind of ['bow', 'cnn'] as const)
    if (!models.some((m) => m.chain.kind === kind)) {
      $(`chain-${kind}`).hidden = true;
      $(`sweep-${kind}`).style.display = 'none';
    }

  let samples: { x: Float32Array; n: number; labels: number[] } | null = null;
  if (manifest.samples) {
    const s = (await (await fetch(new URL(manifest.samples, manifestUrl))).json()) as PageSamples;
    samples = { ...decodeSamples(s), labels: s.labels };
  }

  let base: Float32Array = new Float32Array(H * W * C);
  const pose: Pose = { ...IDENTITY };
  let lastKind: Kind = 'translate-x';
  let updates = 0;
  let busy = false,
    again = false,
    sweepAgain = true;

  const pad = drawingPad(
    $('draw'),
    () => {
      base = frameLightOnDark(greyOf($('draw')), 280, 280, 1, rule);
      schedule(false);
    },
    () => schedule(true),
  );

  function setInput(x: Float32Array, show = true) {
    base = x;
    if (show) pad.show(x, H);
    schedule(true);
  }

  async function update(withSweep: boolean) {
    const x0 = tf.tensor4d(base, [1, H, W, C]);
    const xs = tf.tidy(() => tf.concat([x0, poseBatch(x0, [pose])]));
    x0.dispose();
    const seen = (await xs.data()) as Float32Array;
    const s = $<HTMLCanvasElement>('seen');
    s.getContext('2d')!.drawImage(mapTile(seen.subarray(H * W * C), H, W, C, 0, 112), 0, 0, 112, 112);
    const predictions: string[] = [];
    const profile: { label: string; colour: string; points: [number, number][]; dots: boolean }[] = [];
    for (const v of views) {
      const out = v.model.run(xs);
      const dist = await distancesFrom0(v.model, out);
      const values = new Map<string, { v: Float32Array; shape: number[] }>();
      for (const [name, t] of Object.entries(out.layers)) values.set(name, item(t, (await t.data()) as Float32Array, 1));
      const stages = v.model.chain.stages;
      stages.forEach((st, i) => {
        drawStage(v.maps.get(st.stage)!, st, v.model, values, i === stages.length - 1);
        v.change.get(st.stage)!.textContent = `moved by the sliders: cosine distance ${Math.max(0, dist[i][0]).toFixed(3)}`;
      });
      const sc = values.get(stages[stages.length - 1].layers.at(-1)!)!.v;
      const label = v.model.chain.classes[argmaxOf(sc)];
      predictions.push(`<div class="pred" style="color:${COLOURS[v.model.chain.kind]}">${v.model.chain.name}: <b>${label}</b></div>`);
      profile.push({
        label: v.model.chain.name,
        colour: COLOURS[v.model.chain.kind],
        points: dist.map((d, i) => [i / Math.max(1, stages.length - 1), d[0]]),
        dots: true,
      });
      tf.dispose(Object.values(out.layers));
    }
    xs.dispose();
    // nothing drawn (after Clear): no prediction to show
    const blank = !base.some((v) => v > 0);
    $('predictions').innerHTML = blank
      ? '<p class="hint">Nothing to classify: draw, or pick a test image or a photo.</p>'
      : predictions.join('');
    linePlot($('profile') as unknown as SVGSVGElement, profile, {
      xMin: 0,
      xMax: 1,
      yMax: Math.max(0.05, ...profile.flatMap((p) => p.points.map((q) => q[1]))),
      xLabel: 'depth: first stage or layer → last (dots: each one; hover the cards for names)',
      yLabel: 'cosine distance',
      xTicks: [
        [0, 'first'],
        [1, 'class scores'],
      ],
    });
    if (withSweep) await sweep();
    else markSweep();
  }

  let sweepData: { kind: Kind; curves: Map<string, { dist: number[][]; labels: string[] }> } | null = null;
  async function sweep() {
    const kind = lastKind;
    const amounts = SWEEP[kind];
    const x0 = tf.tensor4d(base, [1, H, W, C]);
    const xs = tf.tidy(() =>
      tf.concat([
        x0,
        poseBatch(
          tf.tile(x0, [amounts.length, 1, 1, 1]) as tf.Tensor4D,
          amounts.map((a) => ({ ...IDENTITY, [POSE_KEY[kind]]: a })),
        ),
      ]),
    );
    x0.dispose();
    const curves = new Map<string, { dist: number[][]; labels: string[] }>();
    for (const v of views) {
      const out = v.model.run(xs);
      const dist = await distancesFrom0(v.model, out);
      const sc = (await out.scores.array()) as number[][];
      curves.set(v.model.chain.name, { dist, labels: sc.slice(1).map((r) => v.model.chain.classes[argmaxOf(r)]) });
      tf.dispose(Object.values(out.layers));
    }
    xs.dispose();
    sweepData = { kind, curves };
    markSweep();
  }

  function markSweep() {
    if (!sweepData) return;
    const { kind, curves } = sweepData;
    const amounts = SWEEP[kind];
    $('sweep-title').textContent =
      `Along "${kind}" (the last slider moved), every stage or layer (darker: deeper) and each classifier's prediction:`;
    for (const v of views) {
      const cv = curves.get(v.model.chain.name)!;
      const n = cv.dist.length;
      const svg = $(v.model.chain.kind === 'bow' ? 'sweep-bow' : 'sweep-cnn') as unknown as SVGSVGElement;
      const at0 = cv.labels[amounts.indexOf(kind === 'scale' ? 1 : 0)];
      linePlot(
        svg,
        cv.dist.map((d, i) => ({
          label: v.model.chain.stages[i].stage,
          colour: COLOURS[v.model.chain.kind],
          opacity: 0.2 + (0.8 * (i + 1)) / n,
          points: d.map((y, j) => [amounts[j], y] as [number, number]),
        })),
        {
          xMin: amounts[0],
          xMax: amounts[amounts.length - 1],
          yMax: Math.max(0.05, ...cv.dist.flat()),
          xLabel: `${v.model.chain.name}: ${kind}`,
          yLabel: 'cosine distance',
          marker: pose[POSE_KEY[kind]],
          xTicks: amounts.filter((_, j) => j % 2 === 0).map((a) => [a, UNIT[kind](a)]),
          top: amounts.map((a, j) => [a, cv.labels[j], cv.labels[j] === at0 ? '#1a7f37' : '#b00020']),
        },
      );
    }
  }

  function schedule(withSweep: boolean) {
    sweepAgain ||= withSweep;
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    requestAnimationFrame(async () => {
      try {
        const w = sweepAgain;
        sweepAgain = false;
        const t0 = performance.now();
        await update(w);
        updates++;
        status(`${backend}: ${views.length === 2 ? 'both chains' : 'the chain'} in ${(performance.now() - t0).toFixed(0)} ms`);
      } catch (e) {
        report(e);
      } finally {
        busy = false;
        if (again) {
          again = false;
          schedule(false);
        }
      }
    });
  }

  for (const kind of Object.keys(POSE_KEY) as Kind[]) {
    const input = $<HTMLInputElement>(kind);
    const output = input.parentElement!.querySelector('output')!;
    input.addEventListener('input', () => {
      pose[POSE_KEY[kind]] = Number(input.value);
      output.textContent = UNIT[kind](Number(input.value));
      const changed = kind !== lastKind;
      lastKind = kind;
      schedule(changed);
    });
  }
  $('reset').addEventListener('click', () => {
    Object.assign(pose, IDENTITY);
    for (const kind of Object.keys(POSE_KEY) as Kind[]) {
      const input = $<HTMLInputElement>(kind);
      input.value = String(pose[POSE_KEY[kind]]);
      input.parentElement!.querySelector('output')!.textContent = UNIT[kind](pose[POSE_KEY[kind]]);
    }
    schedule(false);
  });
  $('clear').addEventListener('click', () => {
    pad.clear();
    setInput(new Float32Array(H * W * C), false);
  });

  let next = 0;
  const sampleAt = (i: number) => samples!.x.slice(i * H * W * C, (i + 1) * H * W * C);
  if (samples) {
    const box = $('samples');
    for (let i = 0; i < Math.min(20, samples.n); i++) {
      const c = mapTile(sampleAt(i), H, W, C, 0, 28, `test image ${i}: a ${manifest.chains[0].classes[samples.labels[i]]}`);
      c.addEventListener('click', () => setInput(sampleAt(i)));
      box.append(c);
    }
    $('sample').addEventListener('click', () => {
      next = (next + 1) % samples!.n;
      setInput(sampleAt(next));
    });
  } else $<HTMLButtonElement>('sample').disabled = true;

  const usePhoto = async (f: Blob | undefined | null) => {
    if (!f) return;
    const r = await photoInput(f, rule);
    status(r.warnings.length ? `photo: ${r.warnings.join('; ')}` : `photo: ${r.notes.join('; ')}`);
    setInput(r.pixels);
  };
  $<HTMLInputElement>('photo').addEventListener('change', (e) => usePhoto((e.target as HTMLInputElement).files?.[0]).catch(report));
  const draw = $('draw');
  draw.addEventListener('dragover', (e) => {
    e.preventDefault();
    draw.classList.add('dragover');
  });
  draw.addEventListener('dragleave', () => draw.classList.remove('dragover'));
  draw.addEventListener('drop', (e) => {
    e.preventDefault();
    draw.classList.remove('dragover');
    usePhoto(e.dataTransfer?.files?.[0]).catch(report);
  });

  // for tests and for scripting the page from the console
  const api = {
    backend,
    chains: manifest.chains.map((c) => c.name),
    /** Scores of n images `[n*H*W*C]` in [0,1] by each chain's own forward pass. */
    async classify(pixels: number[], n: number): Promise<Record<string, number[][]>> {
      const x = tf.tensor4d(pixels, [n, H, W, C]);
      const out: Record<string, number[][]> = {};
      for (const m of models) {
        const s = m.scores(x);
        out[m.chain.name] = (await s.array()) as number[][];
        s.dispose();
      }
      x.dispose();
      return out;
    },
    /** Milliseconds of one forward pass of every chain on one image (scores read back), each of `reps` runs. */
    async forwardMs(reps = 20): Promise<number[]> {
      const x = tf.tensor4d(base, [1, H, W, C]);
      const times: number[] = [];
      for (let r = 0; r < reps + 3; r++) {
        const t0 = performance.now();
        const ss = models.map((m) => m.scores(x));
        await Promise.all(ss.map((s) => s.data()));
        tf.dispose(ss);
        if (r >= 3) times.push(performance.now() - t0);
      }
      x.dispose();
      return times;
    },
    setInput: (pixels: number[]) => setInput(Float32Array.from(pixels)),
    idle: async () => {
      while (busy) await new Promise((r) => setTimeout(r, 10));
    },
    numTensors: () => tf.memory().numTensors,
    /** how many times the page has redrawn (a test waits for the next one) */
    updates: () => updates,
    errors,
  };
  (window as unknown as { bowcnnPage: typeof api }).bowcnnPage = api;
  if (samples) setInput(sampleAt(0));
  document.body.dataset.ready = 'true';
}

function report(e: unknown) {
  const msg = e instanceof Error ? e.message : String(e);
  errors.push(msg);
  status(`error: ${msg}`, true);
  console.error(e);
}

main().catch(report);
