/** `load(dir)`: a saved model folder back as the Classifier it was (a BoW Pipeline or a CNN), by its meta.json. */
import type { Classifier } from '../core/classifier.js';
import { readModelMeta } from '../core/persist.js';
import { CnnClassifier } from '../cnn/classifier.js';
import { Pipeline } from '../pipeline/pipeline.js';

export async function load(dir: string): Promise<Classifier> {
  const meta = readModelMeta(dir);
  return meta.kind === 'bow' ? Pipeline.load(dir, meta) : CnnClassifier.load(dir, meta);
}
