/**
 * The course's "transformation robustness vs layers" experiment. The test images are translated
 * vertically and horizontally (+-6 px), scaled (0.6 to 1.4) and rotated (+-60 degrees) about their
 * centre; for each amount we measure
 *   - the accuracy of each classifier, and
 *   - for each stage or layer, how far its representation moves: the mean cosine distance between the
 *     features of the original and of the transformed image.
 */
import * as tf from '@tensorflow/tfjs';
import type { Classifier } from '../core/classifier.js';
import { checkpoint } from '../core/interrupt.js';
import { batchTensor } from '../data/split.js';
import { meanCosineDistance } from '../ops/distance.js';
import { SWEEPS, transformBatch, type TransformKind } from '../ops/transform.js';
import type { Split } from '../core/data.js';

export { SWEEPS, transformBatch, transformRow, type TransformKind } from '../ops/transform.js';

export interface RobustnessPoint {
  amount: number;
  accuracy: number;
  distances: Record<string, number>;
}
export type RobustnessResult = Record<string, Record<TransformKind, RobustnessPoint[]>>; // contender -> kind -> curve

export async function robustness(
  classifiers: Classifier[],
  test: Split,
  opts: { batchSize?: number; onStep?: (s: string) => void; kinds?: TransformKind[] } = {},
): Promise<RobustnessResult> {
  const bs = opts.batchSize ?? 200;
  const kinds = opts.kinds ?? (Object.keys(SWEEPS) as TransformKind[]);
  const result: RobustnessResult = {};
  for (const c of classifiers) {
    result[c.name] = {} as Record<TransformKind, RobustnessPoint[]>;
    for (const kind of kinds) {
      const curve: RobustnessPoint[] = [];
      for (const amount of SWEEPS[kind]) {
        opts.onStep?.(`${c.name} ${kind} ${amount}`);
        let ok = 0;
        const dsum: Record<string, number> = {};
        let batches = 0;
        for (let i = 0; i < test.n; i += bs) {
          await checkpoint();
          const x = batchTensor(test, i, i + bs);
          const xt = transformBatch(x, kind, amount);
          const { distances: dist, predictions: pred } = c.representationDistances
            ? await c.representationDistances(x, xt)
            : await (async () => {
                const ra = await c.representations(x),
                  rb = await c.representations(xt);
                const d: Record<string, number> = {};
                for (const name of Object.keys(ra)) d[name] = await meanCosineDistance(ra[name], rb[name]);
                tf.dispose([...Object.values(ra), ...Object.values(rb)]);
                return { distances: d, predictions: await c.predict(xt) };
              })();
          for (let j = 0; j < pred.length; j++) if (pred[j] === test.labels[i + j]) ok++;
          for (const [name, v] of Object.entries(dist)) dsum[name] = (dsum[name] ?? 0) + v;
          batches++;
          tf.dispose([x, xt]);
        }
        const distances = Object.fromEntries(Object.entries(dsum).map(([k, v]) => [k, v / batches]));
        curve.push({ amount, accuracy: ok / test.n, distances });
      }
      result[c.name][kind] = curve;
    }
  }
  return result;
}
