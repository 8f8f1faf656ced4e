/**
 * `load(dir)`: a saved model folder back as the Classifier it was (a BoW Pipeline or a CNN), by its meta.json;
 * every file it reads lies inside the folder and is covered by meta.json's checksums (core/persist), and the
 * metadata must agree with the model: one blank image of the recorded input shape goes through it, and its
 * scores must have one value per recorded class.
 */
import * as tf from '@tensorflow/tfjs';
import type { Classifier } from '../core/classifier.js';
import { ModelError } from '../core/errors.js';
import { readModelMeta } from '../core/persist.js';
import { CnnClassifier } from '../cnn/classifier.js';
import { Pipeline } from '../pipeline/pipeline.js';
import { join } from 'node:path';

export async function load(dir: string): Promise<Classifier> {
  const meta = readModelMeta(dir);
  const c = meta.kind === 'bow' ? await Pipeline.load(dir, meta) : await CnnClassifier.load(dir, meta);
  try {
    await checkAgainstMeta(c, join(dir, 'meta.json'));
  } catch (e) {
    c.dispose();
    throw e;
  }
  return c;
}

/** The recorded classes and input shape against what the model does with an image of that shape. */
async function checkAgainstMeta(c: Classifier, file: string): Promise<void> {
  const d = c.data;
  if (!d) return;
  // a CNN frames other sizes to its input (cnn/input.ts): its recorded shape must be the input itself
  const input = c.kind === 'cnn' ? (c as { model?: tf.LayersModel | null }).model?.inputs[0].shape.slice(1) : undefined;
  if (input && input.join('x') !== d.inShape.join('x'))
    throw new ModelError(file, `records ${d.inShape.join('x')} images, which the model does not take (it takes ${input.join('x')})`);
  const x = tf.zeros([1, ...d.inShape]) as tf.Tensor4D;
  let k: number;
  try {
    const s = await c.scores(x);
    k = s.shape[1];
    s.dispose();
  } catch (e) {
    throw new ModelError(
      file,
      `records ${d.inShape.join('x')} images, which the model does not take (${(e as Error).message.split('\n')[0]})`,
    );
  } finally {
    x.dispose();
  }
  if (k !== d.classes.length)
    throw new ModelError(
      file,
      `names ${d.classes.length} classes (${d.classes.slice(0, 4).join(', ')}${d.classes.length > 4 ? ', ...' : ''}), but the model has ${k} outputs`,
    );
}
