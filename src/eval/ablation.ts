/**
 * The course's ablation experiment, on both sides: each classifier names its own ablations (a stage
 * changed: hard -> soft coding, sum -> max pooling, no pyramid, WTA <-> bilinear; a layer removed:
 * alexnet-small without its top fully connected layer, then without both), each variant is fitted (the
 * feature cache keeps what does not change) and scored against the full classifier: the change in
 * accuracy with the variant's 95% interval and McNemar's test on the same test images, and the change in
 * parameters.
 */
import type { Classifier } from '../core/classifier.js';
import type { Dataset } from '../core/data.js';
import { type ContenderResult, type EvaluateOptions, fitAndEvaluate } from './evaluate.js';
import { mcnemar } from './metrics.js';

export interface AblationRow {
  base: string;
  change: string;
  accuracy: number;
  ci95: [number, number];
  baseAccuracy: number;
  deltaAccuracy: number;
  /** McNemar's test of the variant against the full classifier on the same test images */
  p: number;
  onlyBase: number;
  onlyVariant: number;
  params: number;
  baseParams: number;
  deltaParams: number;
  fitSeconds: number;
}

export async function ablation(
  cs: Classifier[],
  base: ContenderResult[],
  ds: Dataset,
  opts: EvaluateOptions & { onStep?: (m: string) => void; dirOf?: (name: string) => { cacheDir?: string; checkpointDir?: string } } = {},
): Promise<AblationRow[]> {
  const rows: AblationRow[] = [];
  for (const c of cs) {
    const b = base.find((r) => r.name === c.name);
    if (!b) continue;
    for (const a of c.ablations()) {
      opts.onStep?.(`ablation: ${c.name}: ${a.change}`);
      const v = a.make();
      try {
        const r = await fitAndEvaluate(v, ds, { ...opts, ...(opts.dirOf?.(v.name) ?? {}) });
        const m = mcnemar(b.correct, r.correct);
        rows.push({
          base: c.name,
          change: a.change,
          accuracy: r.accuracy,
          ci95: r.ci95,
          baseAccuracy: b.accuracy,
          deltaAccuracy: r.accuracy - b.accuracy,
          p: m.p,
          onlyBase: m.onlyA,
          onlyVariant: m.onlyB,
          params: r.params,
          baseParams: b.params,
          deltaParams: r.params - b.params,
          fitSeconds: r.fit.seconds,
        });
      } finally {
        v.dispose();
      }
    }
  }
  return rows;
}
