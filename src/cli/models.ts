/**
 * Commands over a saved model folder (compare's OUT/models/NAME, train's DIR/model, export's DIR):
 *   eval     accuracy with a 95% interval on a test split: by default the dataset the model was trained on;
 *            another class list or image shape is refused
 *   predict  the class of each image file
 *   export   a saved BoW pipeline as a bownet (a tfjs LayersModel with the same predictions)
 */
import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs';
import type { Classifier, DataInfo } from '../core/classifier.js';
import { ConfigError, IoError, UsageError } from '../core/errors.js';
import { CnnClassifier } from '../cnn/classifier.js';
import { DataError } from '../core/data.js';
import { accuracyInterval } from '../eval/metrics.js';
import { argmax } from '../core/scores.js';
import { load } from '../models/load.js';
import { folderName } from '../eval/compare.js';
import { withSettings } from '../eval/protocol.js';
import type { Pipeline } from '../pipeline/pipeline.js';
import { applyRule, type InputRule, type RawImage, ruleFor } from '../data/input-rule.js';
import { flips, loadDataset, parseSets, shifts, testViews, output, savedRead, say, startBackend } from './common.js';
import type { Values } from './spec.js';

function modelDir(v: Values, cmd: string): string {
  if (!v.model) throw new UsageError(`${cmd} needs --model DIR (a saved model folder); see bowcnn ${cmd} --help`);
  return resolve(String(v.model));
}

/**
 * The classifier as asked to score: without test-time views under --single-view (a CNN whose recipe averages
 * flips or shifts of an image), then with the --set values, which may change only how it scores (predict.*).
 */
function singleView(c: Classifier, v: Values, cmd: string): Classifier {
  const sets = parseSets(v.set as string[] | undefined);
  for (const path of Object.keys(sets))
    if (!c.inferenceOnly?.(path))
      throw new UsageError(
        `--set ${path}: ${cmd} scores a saved model as it was trained, so only how it scores can change (${c.settable().includes('predict') ? 'predict.flip, predict.shifts' : `nothing, for a ${c.kind === 'cnn' ? 'bownet' : 'BoW pipeline'}`}); to train it further: bowcnn train --model DIR`,
      );
  const one = v['single-view'] && c.settable().includes('predict') ? { 'predict.flip': false, 'predict.shifts': 0 } : {};
  return withSettings(c, { ...one, ...sets });
}

export async function evalCommand(v: Values): Promise<void> {
  const dir = modelDir(v, 'eval');
  await startBackend(v);
  const c = singleView(await load(dir), v, 'eval');
  const info = c.data as DataInfo | null;
  const name = (v.dataset as string | undefined) ?? info?.dataset;
  if (!name || name === 'unnamed') throw new UsageError(`${dir} does not say which dataset it was trained on: give --dataset NAME`);
  // a folder is read at the model's own size, in the channels its training images were read in (grey images
  // repeated into a colour input are read grey again), unless told otherwise
  const own = info ? savedRead(info) : {};
  const ds = await loadDataset(name, v, { subset: undefined, folder: own });
  if (info) {
    if (info.classes.join('\n') !== ds.classes.join('\n'))
      throw new ConfigError(`${dir} was trained on classes [${info.classes.join(', ')}]; ${ds.name} has [${ds.classes.join(', ')}]`);
    const shape = [ds.test.height, ds.test.width, ds.test.channels];
    if (shape.join('x') !== info.inShape.join('x')) {
      // a CNN frames other images to its input (cnn/input.ts); a BoW pipeline's features belong to its size
      if (c.kind !== 'cnn')
        throw new ConfigError(
          `${dir} takes ${info.inShape.join('x')} images (height x width x channels); ${ds.name}'s are ${shape.join('x')}${
            /^folder:/i.test(ds.name) ? ": leave out --image-size and --channels, and the folder is read at the model's size" : ''
          }`,
        );
      say(v, `${ds.name}'s ${shape.join('x')} images framed to the model's input ${info.inShape.join('x')} (short side fitted, centred)`);
    }
  }
  const s = await c.scoreSplit(ds.test);
  const pred = argmax(s, ds.classes.length);
  const correct = Array.from(pred, (p, i) => (p === ds.test.labels[i] ? 1 : 0));
  const acc = correct.reduce((a: number, b) => a + b, 0) / ds.test.n;
  const ci = accuracyInterval(correct);
  const f = flips(c);
  const views = testViews(c);
  output(
    v.json,
    {
      model: dir,
      name: c.name,
      kind: c.kind,
      dataset: ds.name,
      test: ds.test.n,
      accuracy: acc,
      ci95: ci,
      testTimeFlips: f,
      testTimeShifts: shifts(c),
    },
    () =>
      console.log(
        `${c.name} (${dir}) on ${ds.name} (${ds.test.n} test images${views.count > 1 ? `, with ${views.words} as its recipe says; --single-view for without` : ''}): ${(100 * acc).toFixed(2)}% [${(100 * ci[0]).toFixed(2)}, ${(100 * ci[1]).toFixed(2)}]`,
      ),
  );
  c.dispose();
}

/**
 * An image file as `[1,H,W,C]` in [0,1] by the input rule (data/input-rule.ts: alpha on white, polarity and
 * framing as the model's training data, its size and channels); errors name the file and the cause.
 */
async function readImage(file: string, rule: InputRule): Promise<{ x: tf.Tensor4D; notes: string[]; warnings: string[]; size: string }> {
  let bytes: Buffer;
  try {
    const st = statSync(file);
    if (!st.isFile())
      throw new DataError(file, st.isDirectory() ? 'is a folder, not an image file' : 'is not a regular file (a FIFO or a device?)');
    bytes = readFileSync(file);
  } catch (e) {
    throw e instanceof DataError ? e : IoError.wrap(file, 'read', e);
  }
  let raw: RawImage;
  let size: string;
  try {
    const img = sharp(bytes, { failOn: 'error' });
    const meta = await img.metadata();
    size = `${meta.height}x${meta.width}`;
    // a large photo is first brought within 1024 px on its longer side (decoding cost only: the rule then scales it)
    const shrunk = Math.max(meta.width ?? 0, meta.height ?? 0) > 1024 ? img.resize(1024, 1024, { fit: 'inside' }) : img;
    const { data, info } = await shrunk.toColourspace('srgb').ensureAlpha().raw().toBuffer({ resolveWithObject: true });
    raw = { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height, channels: 4 };
  } catch (e) {
    throw new DataError(file, `is not an image that can be decoded (${(e as Error).message.split('\n')[0]})`);
  }
  const r = applyRule(raw, rule);
  return { x: tf.tensor4d(r.pixels, [1, rule.height, rule.width, rule.channels]), notes: r.notes, warnings: r.warnings, size };
}

/** What a classifier's scores are: a CNN's softmax gives probabilities; an SVM's decision values are margins. */
function scoreKind(c: Classifier): 'probability' | 'margin' {
  return c.kind === 'cnn' && (c.describe() as { kind?: string }).kind === 'cnn' ? 'probability' : 'margin';
}

export async function predictCommand(v: Values, files: string[]): Promise<void> {
  const dir = modelDir(v, 'predict');
  await startBackend(v);
  const c = singleView(await load(dir), v, 'predict');
  const rule = ruleFor(c.data);
  const classes = c.data?.classes ?? [];
  const kind = scoreKind(c);
  const rows: {
    file: string;
    class: number;
    name: string;
    probability?: number;
    score?: number;
    scoreIs?: string;
    notes: string[];
    warnings: string[];
  }[] = [];
  for (const file of files) {
    const img = await readImage(file, rule);
    const s = await c.scores(img.x);
    const logits = (await s.data()) as Float32Array;
    tf.dispose([img.x, s]);
    const k = argmax(logits, logits.length)[0];
    const name = classes[k] ?? String(k);
    if (kind === 'probability') {
      const m = Math.max(...logits);
      const e = Array.from(logits, (z) => Math.exp(z - m));
      const p = e[k] / e.reduce((a, b) => a + b, 0);
      rows.push({ file, class: k, name, probability: p, notes: img.notes, warnings: img.warnings });
    } else
      rows.push({
        file,
        class: k,
        name,
        score: logits[k],
        scoreIs: "the linear SVM's decision value for this class (one-vs-rest): a margin, not a probability; the largest wins",
        notes: img.notes,
        warnings: img.warnings,
      });
    if (!v.json) for (const w of img.warnings) process.stderr.write(`bowcnn: warning: ${file} (${img.size}): ${w}\n`);
  }
  output(v.json, rows, () => {
    for (const r of rows)
      console.log(
        `${r.file}\t${r.name}\t(class ${r.class}, ${r.probability !== undefined ? `probability ${(100 * r.probability).toFixed(1)}%` : `SVM score ${r.score?.toFixed(3)}`})`,
      );
    if (kind === 'margin') console.log("(an SVM score is the class's decision value, a margin: the largest wins; it is not a probability)");
  });
  c.dispose();
}

export async function exportCommand(v: Values): Promise<void> {
  const dir = modelDir(v, 'export');
  if (!v.out) throw new UsageError('export needs --out DIR (where the model goes)');
  await startBackend(v);
  const p = await load(dir);
  if (p.kind !== 'bow') throw new UsageError(`${dir} holds a CNN already (export turns a saved BoW pipeline into one)`);
  const net = CnnClassifier.fromPipeline(p as Pipeline, {
    coding: v.coding as 'hard' | 'soft' | undefined,
    beta: v.beta as number | undefined,
    name: folderName(`${p.name}-net`),
  });
  const out = resolve(String(v.out));
  await net.save(out);
  const layers = net.cards().map((c) => `${c.stage}: ${c.cnn}`);
  output(v.json, { out, layers }, () => {
    console.log(`exported ${dir} as a ${layers.length}-layer tfjs LayersModel to ${out} (bowcnn eval --model ${out})`);
    console.log(layers.map((l) => `  ${l}`).join('\n'));
  });
  net.dispose();
  p.dispose();
}
