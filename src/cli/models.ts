/**
 * bowcnn predict --model DIR IMAGE...   classify image files with a saved pipeline or CNN
 * bowcnn eval    --model DIR --dataset D [--single-view]   accuracy (with a 95% interval) of a saved model on a test split
 *
 * A CNN saved with test-time flips (meta.json `testTimeFlips`: its recipe averages the logits of an image
 * and its mirror) is evaluated and predicts the same way; --single-view turns that off.
 * bowcnn export  --model DIR --out DIR2 [--coding hard|soft] [--beta B]   a saved BoW pipeline as a CNN
 *
 * A model folder holds either pipeline.json + weights.bin (a BoW pipeline) or model.json + weights.bin
 * (a tfjs LayersModel), and meta.json with the class names.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs';
import { useBackend, type BackendName } from '../backend/index.js';
import { exportBowNet } from '../cnn/bownet.js';
import { loadModel, saveModel } from '../cnn/io.js';
import { predictLogits, predictSplit } from '../cnn/train.js';
import { dataset } from '../data/registry.js';
import { DataError } from '../data/types.js';
import { argmax, bootstrapCI } from '../eval/metrics.js';
import { Pipeline } from '../pipeline/pipeline.js';
import { common, num, out, parse, parseArgs, UsageError } from './args.js';

interface Loaded { kind: 'bow' | 'cnn'; pipeline?: Pipeline; model?: tf.LayersModel; inShape: number[]; classes: string[]; flip: boolean }

async function load(dir: string): Promise<Loaded> {
  const meta = existsSync(join(dir, 'meta.json')) ? JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as { classes?: string[]; inShape?: number[]; testTimeFlips?: boolean } : {};
  if (existsSync(join(dir, 'pipeline.json'))) {
    const p = await Pipeline.load(dir);
    const inShape = p.inShape ?? meta.inShape ?? [28, 28, 1];
    return { kind: 'bow', pipeline: p, inShape, classes: meta.classes ?? [], flip: false };
  }
  if (existsSync(join(dir, 'model.json'))) {
    await import('../cnn/bownet.js');     // registers bownet's custom layers
    const m = await loadModel(dir);
    const inShape = (m.inputs[0].shape.slice(1) as number[]);
    return { kind: 'cnn', model: m, inShape, classes: meta.classes ?? [], flip: meta.testTimeFlips === true };
  }
  throw new UsageError(`--model ${dir}: no pipeline.json or model.json there`);
}

function scoresOf(l: Loaded, x: tf.Tensor4D): Float32Array {
  return tf.tidy(() => (l.pipeline ? l.pipeline.predict(x) : predictLogits(l.model!, x, { flip: l.flip })).dataSync() as Float32Array);
}

export async function predictCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parse(() => parseArgs({ args: argv, options: { ...common, model: { type: 'string' } }, allowPositionals: true, strict: true }));
  if (!values.model) throw new UsageError('predict --model DIR IMAGE...');
  if (!positionals.length) throw new UsageError('predict: give at least one image file');
  await useBackend(values.backend as BackendName);
  const l = await load(resolve(values.model));
  const [h, w, c] = l.inShape;
  const rows: { file: string; class: number; name: string; score: number }[] = [];
  for (const file of positionals) {
    let data: Buffer;
    try {
      let img = sharp(file, { failOn: 'error' }).removeAlpha();
      img = c === 1 ? img.grayscale() : img.toColourspace('srgb');
      data = await img.resize(w, h, { fit: 'fill' }).raw().toBuffer();
    } catch (e) { throw new DataError(file, `is not a readable image (${(e as Error).message.split('\n')[0]})`); }
    const x = tf.tensor4d(Float32Array.from(data.subarray(0, h * w * c), (v) => v / 255), [1, h, w, c]);
    const s = scoresOf(l, x);
    x.dispose();
    const k = argmax(s, s.length)[0];
    rows.push({ file, class: k, name: l.classes[k] ?? String(k), score: s[k] });
  }
  out(values.json, rows, () => { for (const r of rows) console.log(`${r.file}\t${r.name}\t(class ${r.class}, score ${r.score.toFixed(3)})`); });
}

export async function evalCommand(argv: string[]): Promise<void> {
  const { values } = parse(() => parseArgs({ args: argv, options: { ...common, model: { type: 'string' }, dataset: { type: 'string', default: 'mnist' }, 'test-subset': { type: 'string' }, 'single-view': { type: 'boolean' } }, allowPositionals: false, strict: true }));
  if (!values.model) throw new UsageError('eval --model DIR --dataset D [--single-view]');
  await useBackend(values.backend as BackendName);
  const l = await load(resolve(values.model));
  const ds = await dataset(values.dataset, { testSubset: num(values['test-subset'], 'test-subset'), dir: values['data-dir'] });
  const flip = l.flip && !values['single-view'];
  const s = l.pipeline ? l.pipeline.scores(ds.test) : await predictSplit(l.model!, ds.test, 500, { flip });
  const pred = argmax(s, s.length / ds.test.n);
  const correct = Array.from(pred, (p, i) => (p === ds.test.labels[i] ? 1 : 0));
  const acc = correct.reduce((a: number, b) => a + b, 0) / ds.test.n;
  const ci = bootstrapCI(correct);
  out(values.json, { model: values.model, dataset: ds.name, test: ds.test.n, accuracy: acc, ci95: ci, testTimeFlips: flip }, () =>
    console.log(`${values.model} on ${ds.name} (${ds.test.n} test images${flip ? ', with test-time flips as its recipe; --single-view for without' : ''}): ${(100 * acc).toFixed(2)}% [${(100 * ci[0]).toFixed(2)}, ${(100 * ci[1]).toFixed(2)}]`));
}

export async function exportCommand(argv: string[]): Promise<void> {
  const { values } = parse(() => parseArgs({ args: argv, options: { ...common, model: { type: 'string' }, out: { type: 'string' }, coding: { type: 'string' }, beta: { type: 'string' } }, allowPositionals: false, strict: true }));
  if (!values.model || !values.out) throw new UsageError('export --model DIR (a saved BoW pipeline) --out DIR2');
  await useBackend(values.backend as BackendName);
  const l = await load(resolve(values.model));
  if (!l.pipeline) throw new UsageError(`export: ${values.model} holds a CNN already`);
  if (values.coding && values.coding !== 'hard' && values.coding !== 'soft') throw new UsageError('--coding is hard or soft');
  const m = exportBowNet(l.pipeline, { coding: values.coding as 'hard' | 'soft' | undefined, beta: num(values.beta, 'beta') });
  await saveModel(m, resolve(values.out), { classes: l.classes, exportedFrom: resolve(values.model) });
  out(values.json, { out: resolve(values.out), layers: m.layers.map((x) => x.name) }, () => {
    console.log(`exported ${values.model} as a ${m.layers.length}-layer tfjs LayersModel to ${values.out}`);
    console.log(m.layers.map((x) => `  ${x.name} (${x.getClassName()})`).join('\n'));
  });
}
