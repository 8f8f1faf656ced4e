/**
 * What the teaching page reads, made from saved models (Node): manifest.json, one tfjs LayersModel per
 * chain, and samples.json (test images to pick from). A BoW pipeline goes as its bownet (exported here,
 * scores equal to the pipeline's); a CNN goes as the plain tfjs files it was saved as. `bowcnn serve`
 * serves these from memory; `npm run build:web` writes them into dist-web/models/.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { ConfigError } from '../core/errors.js';
import { folderName } from '../core/names.js';
import { type ModelMeta, readModelMeta } from '../core/persist.js';
import { exportBowNet } from '../cnn/bownet.js';
import { plainFiles } from '../cnn/io.js';
import { dataset } from '../data/registry.js';
import { Pipeline } from '../pipeline/pipeline.js';
import type { CnnClassifier } from '../cnn/classifier.js';
import { load } from './load.js';
import type { PageChain, PageManifest, PageSamples, PageStage } from './tapped.js';

export type PageFiles = Map<string, Uint8Array | string>;

export interface PageOptions {
  models?: string[]; // which model folders of dir, by name (default: the first BoW pipeline and the first CNN)
  samples?: number; // test images in samples.json (default 100)
  dataDir?: string;
}

/** The model folders of dir: dir itself when it is one, else its models/ or its own subfolders that hold a meta.json. */
export function modelDirs(dir: string): string[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new ConfigError(`${dir}: not a directory`);
  if (existsSync(join(dir, 'meta.json'))) return [dir];
  const base = existsSync(join(dir, 'models')) ? join(dir, 'models') : dir;
  // a comparison's run directory lists its classifiers in the order of its --pipelines (results.json); the
  // models it does not name follow, by name
  const order = runOrder(dir);
  const rank = (n: string) => (order.includes(n) ? order.indexOf(n) : order.length);
  return readdirSync(base)
    .sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0))
    .map((n) => join(base, n))
    .filter((d) => existsSync(join(d, 'meta.json')));
}

/** The folder names of a run's classifiers in the order it compared them (empty without a readable results.json). */
function runOrder(dir: string): string[] {
  try {
    const r = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as { contenders?: { name: string }[] };
    return (r.contenders ?? []).map((c) => folderName(c.name));
  } catch {
    return [];
  }
}

/** The layers of a bownet grouped by the stage each computes (a stage's layers are named `stage` or `stage_*`). */
function stagesOf(model: tf.LayersModel, p: Pipeline): PageStage[] {
  const cards = p.cards();
  return p.stages.map((s, i) => ({
    stage: s.name,
    kind: s.kind,
    layers: model.layers.filter((l) => l.name === s.name || l.name.startsWith(`${s.name}_`)).map((l) => l.name),
    card: cards[i],
    config: { ...s.config },
  }));
}

async function chainFiles(dir: string, meta: ModelMeta, files: PageFiles): Promise<{ chain: PageChain; dataset: string }> {
  const c = await load(dir);
  try {
    const data = c.data;
    if (!data) throw new ConfigError(`${dir}: the model records no data it was fitted on`);
    let stages: PageStage[];
    let plain: { 'model.json': string | Uint8Array; 'weights.bin': Uint8Array };
    if (c instanceof Pipeline) {
      const m = exportBowNet(c);
      try {
        stages = stagesOf(m, c);
        plain = await plainFiles(m);
      } finally {
        m.dispose();
      }
    } else {
      // written anew from the model load() checked (never a saved file's own weight paths)
      plain = await plainFiles((c as CnnClassifier).model!);
      const kinds = await layerClasses(plain['model.json']);
      stages = c.cards().map((card) => ({ stage: card.stage, kind: kinds.get(card.stage) ?? '', layers: [card.stage], card }));
    }
    const empty = stages.find((s) => s.layers.length === 0);
    if (empty) throw new ConfigError(`${dir}: stage '${empty.stage}' has no layer in the exported model`);
    files.set(`${c.name}/model.json`, plain['model.json']);
    files.set(`${c.name}/weights.bin`, plain['weights.bin']);
    const chain: PageChain = {
      name: c.name,
      kind: meta.kind,
      about: `${meta.kind === 'bow' ? 'BoW pipeline' : 'CNN'} ${c.name}, fitted on ${data.dataset}`,
      model: `${c.name}/model.json`,
      classes: [...data.classes],
      inShape: data.inShape,
      stages,
    };
    return { chain, dataset: data.dataset };
  } finally {
    c.dispose();
  }
}

/** Layer name -> class name, read off a model.json's topology. */
async function layerClasses(json: string | Uint8Array): Promise<Map<string, string>> {
  const t = JSON.parse(typeof json === 'string' ? json : Buffer.from(json).toString('utf8')) as {
    modelTopology: { config: { layers: { class_name: string; config: { name: string } }[] } };
  };
  return new Map(t.modelTopology.config.layers.map((l) => [l.config.name, l.class_name]));
}

/** The page's files for the models in dir: one BoW pipeline and one CNN fitted on the same kind of images. */
export async function pageFiles(dir: string, opts: PageOptions = {}): Promise<PageFiles> {
  // each folder's meta.json, read once
  const found = modelDirs(dir).map((d) => ({ dir: d, meta: readModelMeta(d) }));
  let chosen: typeof found;
  if (opts.models?.length) {
    chosen = opts.models.map((n) => {
      const m = found.find((f) => f.meta.name === n);
      if (!m) throw new ConfigError(`${dir}: no model named '${n}' (there: ${found.map((f) => f.meta.name).join(', ') || 'none'})`);
      return m;
    });
  } else
    chosen = (['bow', 'cnn'] as const).map((k) => found.find((f) => f.meta.kind === k)).filter((m): m is (typeof found)[number] => !!m);
  if (!chosen.length) throw new ConfigError(`${dir}: no saved model (a folder with meta.json) in it or in its models/`);
  if (chosen.filter((m) => m.meta.kind === 'bow').length > 1 || chosen.filter((m) => m.meta.kind === 'cnn').length > 1)
    throw new ConfigError(`--models ${opts.models?.join(',')}: the page shows one BoW pipeline beside one CNN (name at most one of each)`);
  const files: PageFiles = new Map();
  const chains: PageChain[] = [];
  const datasets: string[] = [];
  for (const m of chosen) {
    const { chain, dataset } = await chainFiles(m.dir, m.meta, files);
    chains.push(chain);
    datasets.push(dataset);
  }
  const colour = chains.find((c) => c.inShape[2] !== 1);
  if (colour)
    throw new ConfigError(
      `${dir}: ${colour.name} takes ${colour.inShape.join('x')} images; the page draws grey digits (models of 1-channel images)`,
    );
  const shape = chains[0].inShape.join('x');
  const other = chains.find((c) => c.inShape.join('x') !== shape);
  if (other) throw new ConfigError(`${dir}: ${chains[0].name} takes ${shape} images and ${other.name} ${other.inShape.join('x')}`);
  const manifest: PageManifest = { format: 'bowcnn-page', version: 1, dataset: [...new Set(datasets)].join(', '), chains };
  const samples = await samplesOf(manifest.dataset, chains[0].inShape, opts);
  if (samples) {
    files.set('samples.json', JSON.stringify(samples));
    manifest.samples = 'samples.json';
  }
  files.set('manifest.json', JSON.stringify(manifest, null, 1));
  return files;
}

/** The first test images of the models' dataset, when it is a named one that is found here. */
async function samplesOf(name: string, shape: [number, number, number], opts: PageOptions): Promise<PageSamples | null> {
  let ds: Awaited<ReturnType<typeof dataset>>;
  try {
    ds = await dataset(name, { testSubset: opts.samples ?? 100, subset: 10, seed: 0, dir: opts.dataDir });
  } catch {
    return null; // a folder dataset, or one not on this machine: the page then offers drawing and photos only
  }
  const [h, w, c] = shape;
  if (ds.test.height !== h || ds.test.width !== w || ds.test.channels !== c) return null;
  return {
    dataset: name,
    shape,
    labels: Array.from(ds.test.labels),
    pixels: Buffer.from(ds.test.pixels.buffer, ds.test.pixels.byteOffset, ds.test.pixels.byteLength).toString('base64'),
  };
}
