/**
 * The course's AlexNet ablation experiment, on both sides: remove or replace one stage or layer, refit
 * what has to be refitted (the feature cache keeps what does not change), and report the change in
 * accuracy and in parameters.
 *   CNN (alexnet-small):  drop the top fully connected layer; drop both fully connected layers
 *   BoW:                  hard -> soft coding; sum -> max pooling; no pyramid (when there is one);
 *                         WTA -> bilinear orientations (or back, when the recipe is bilinear)
 */
import { CnnClassifier } from '../cnn/classifier.js';
import type { Dataset } from '../data/types.js';
import type { CnnRecipe } from '../pipeline/recipes.js';
import type { Pipeline } from '../pipeline/pipeline.js';
import { bowContender, cnnContender, size, type Contender } from './contender.js';
import type { CompareOptions, ContenderResult } from './compare.js';

export interface AblationRow {
  base: string; change: string; accuracy: number; baseAccuracy: number; deltaAccuracy: number;
  params: number; baseParams: number; deltaParams: number; fitSeconds: number;
}

function bowCases(p: Pipeline): { change: string; make: () => Pipeline }[] {
  const cases: { change: string; make: () => Pipeline }[] = [];
  const cod = p.get('coding').config;
  if (cod.mode === 'hard') cases.push({ change: 'hard -> soft coding', make: () => p.set('coding.mode', 'soft') });
  const pool = p.get('pooling').config as { op: string; pyramid: number[] };
  if (pool.op !== 'max') cases.push({ change: `${pool.op} -> max pooling`, make: () => p.set('pooling.op', 'max') });
  if (pool.pyramid.length > 1 || pool.pyramid[0] !== 1) cases.push({ change: 'no pyramid (global pooling only)', make: () => p.set('pooling.pyramid', [1]) });
  const o = p.get('orientation').config.mode;
  cases.push({ change: o === 'wta' ? 'WTA -> bilinear orientations' : 'bilinear -> WTA orientations', make: () => p.set('orientation.mode', o === 'wta' ? 'bilinear' : 'wta') });
  return cases;
}

export async function ablation(cs: Contender[], base: ContenderResult[], ds: Dataset, opts: CompareOptions): Promise<AblationRow[]> {
  const { fitContender, evaluate } = await import('./compare.js');
  const rows: AblationRow[] = [];
  for (const c of cs) {
    const b = base.find((r) => r.name === c.name)!;
    const variants: { change: string; make: () => Contender }[] = [];
    if (c.pipeline) {
      for (const k of bowCases(c.pipeline)) variants.push({ change: k.change, make: () => bowContender(k.make().named(`${c.name} [${k.change}]`)) });
    } else if (c.cnn && c.cnn.recipe.kind === 'cnn' && c.cnn.recipe.model === 'alexnet-small') {
      const r = c.cnn.recipe as CnnRecipe;
      const fc = (r.config.fc as number[] | undefined) ?? [256, 128];
      const mk = (change: string, newFc: number[]) => ({ change, make: () => cnnContender(new CnnClassifier({ ...r, name: `${c.name} [${change}]`, config: { ...r.config, fc: newFc } }, ds)) });
      variants.push(mk('drop the top fully connected layer', fc.slice(0, -1)), mk('drop both fully connected layers', []));
    }
    for (const v of variants) {
      opts.onStep?.(`ablation: ${c.name}: ${v.change}`);
      const vc = v.make();
      const f = await fitContender(vc, ds, opts);
      const r = await evaluate(vc, ds, opts, f.fitSeconds, f.trainImagesPerSec, f.peakRssMB);
      const params = size(r.cards).params;
      rows.push({ base: c.name, change: v.change, accuracy: r.accuracy, baseAccuracy: b.accuracy, deltaAccuracy: r.accuracy - b.accuracy,
        params, baseParams: b.params, deltaParams: params - b.params, fitSeconds: f.fitSeconds });
    }
  }
  return rows;
}
