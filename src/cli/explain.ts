/** bowcnn explain RECIPE [--size HxWxC | HxW]: the stage <-> layer table in the terminal. */
import { useBackend } from '../backend/index.js';
import type { LayerCard } from '../core/card.js';
import { UsageError } from '../core/errors.js';
import { classifierFrom } from '../models/resolve.js';
import { Pipeline } from '../pipeline/pipeline.js';
import { readRecipe } from '../pipeline/recipes.js';
import type { Stage } from '../stages/stage.js';
import { isUnion, type UnionStage } from '../stages/union.js';
import { output } from './common.js';
import type { Values } from './spec.js';

export function cardTable(cards: LayerCard[]): string {
  const rows = [
    ['stage', 'classic step', 'CNN layer', 'maps', 'params', 'origin', 'RF px', 'output'],
    ...cards.map((c) => [
      c.stage,
      c.classic || '',
      c.cnn + (c.identity ? ` (${c.identity})` : ''),
      `${c.mapsIn}->${c.mapsOut}`,
      String(c.params),
      c.origin,
      String(c.receptiveField),
      c.outShape?.join('x') ?? '',
    ]),
  ];
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const line = (r: string[]) =>
    r
      .map((v, i) => v.padEnd(w[i]))
      .join('  ')
      .trimEnd();
  return [line(rows[0]), w.map((x) => '-'.repeat(x)).join('  '), ...rows.slice(1).map(line)].join('\n');
}

/**
 * The course's reading of a BoW chain, by stage kind: BoW = Conv1 + local pooling + Conv2 + global pooling + fully
 * connected. A chain with a stage outside these (a union, HOG's blocks) is not read this way.
 */
const PART: Record<string, readonly (readonly [part: string, what?: string])[]> = {
  gradient: [['Conv1']],
  orientation: [['Conv1']],
  dsift: [
    ['Conv1', 'its gradient filters'],
    ['local pooling', 'its cells and descriptors'],
  ],
  cells: [['local pooling']],
  descriptor: [['local pooling']],
  pca: [['Conv2']],
  coding: [['Conv2']],
  fisher: [
    ['Conv2', 'its 1x1 conv + softmax: the posteriors'],
    ['global pooling', 'its sums of the posteriors and their moments'],
  ],
  vlad: [
    ['Conv2', 'its assignment to the centres'],
    ['global pooling', 'its sums of the residuals'],
  ],
  bossanova: [
    ['Conv2', 'its distances to the words'],
    ['global pooling', 'its histograms of them'],
  ],
  pooling: [['global pooling']],
  kernelmap: [['fully connected', 'an element-wise map that makes it a kernel SVM']],
  classifier: [['fully connected']],
};

/**
 * "BoW = Conv1 (gradient, orientation) + ..." for a chain of the stages PART knows, or null. A stage that is two
 * parts (Fisher vectors: the posteriors' 1x1 convolution, then their pooling) is named in both, saying which part
 * of it is where.
 */
export function bowReading(stages: readonly { kind: string; name: string }[]): string | null {
  if (!stages.length || !stages.every((s) => PART[s.kind])) return null;
  const groups: { part: string; names: string[] }[] = [];
  for (const s of stages)
    for (const [part, what] of PART[s.kind]) {
      const label = what ? `${s.name}: ${what}` : s.name;
      const last = groups.at(-1);
      if (last && last.part === part) last.names.push(label);
      else groups.push({ part, names: [label] });
    }
  return `BoW = ${groups.map((g) => `${g.part} (${g.names.join(', ')})`).join(' + ')}`;
}

/**
 * The readings of a pipeline: its own, or, for a union, each branch's as the chain it is inside the pipeline
 * (the stages before the union, the branch, the stages after), named by branch; branches PART cannot read are left out.
 */
export function unionReadings(stages: readonly Stage[]): string[] {
  const at = stages.findIndex(isUnion);
  if (at < 0) {
    const r = bowReading(stages);
    return r ? [r] : [];
  }
  const u = stages[at] as UnionStage;
  return u.branches().flatMap((b) => {
    const r = bowReading([...stages.slice(0, at), ...b.stages, ...stages.slice(at + 1)]);
    return r ? [`branch '${b.name}': ${r}`] : [];
  });
}

export async function explainCommand(v: Values, [name]: string[]): Promise<void> {
  // HxWxC, or HxW for grey images (as the other commands give sizes)
  const dims = String(v.size).split('x').map(Number);
  if (dims.length === 2) dims.push(1);
  if (dims.length !== 3 || !dims.every((d) => Number.isInteger(d) && d > 0))
    throw new UsageError(`--size ${v.size}: expected HxWxC or HxW (grey), e.g. 28x28x1 or 32x32`);
  await useBackend('cpu', { progress: false });
  const c = await classifierFrom(name);
  const cards = c.cards(dims);
  const empty = cards.find((k) => k.outShape?.some((d) => d <= 0));
  if (empty)
    throw new UsageError(
      `--size ${v.size}: images this small leave nothing after '${empty.stage}' (${empty.outShape?.join('x')}): give a larger size`,
    );
  let about = (c.describe() as { about?: string }).about;
  if (!about)
    try {
      about = readRecipe(name).about; // a BoW recipe keeps its description in the recipe, not in the pipeline
    } catch {
      // a module or a saved pipeline: no recipe to read
    }
  const readings = c instanceof Pipeline ? unionReadings(c.stages) : [];
  const search = Object.entries(c.searchSpace());
  output(v.json, cards, () => {
    console.log(`${c.name}${about ? `: ${about}` : ''}\n`);
    console.log(cardTable(cards));
    const total = cards.reduce((a, k) => a + k.params, 0);
    const learned = cards.filter((k) => k.origin === 'supervised' || k.origin === 'unsupervised').reduce((a, k) => a + k.params, 0);
    console.log(`\ntotal parameters ${total}${learned !== total ? ` (${learned} learned, ${total - learned} handcrafted)` : ''}`);
    if (readings.length) console.log(`\n${readings.join('\n')}`);
    if (search.length)
      console.log(
        `\nchosen on a validation split by compare (the validation protocol): ${search.map(([k, vs]) => `${k} in ${vs.map((x) => JSON.stringify(x)).join(', ')}`).join('; ')}; the table shows the recipe's own values`,
      );
    console.log('\nRF px: the receptive field of one output position, in input pixels; padding counts, so it can exceed the image.');
  });
  c.dispose();
}
