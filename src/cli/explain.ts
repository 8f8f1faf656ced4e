/** bowcnn explain PIPELINE [--size HxWxC] [--json]: the stage <-> layer table in the terminal. */
import { CnnClassifier } from '../cnn/classifier.js';
import { makeSplit } from '../data/types.js';
import { bowPipeline, readRecipe, type BowRecipe, type CnnRecipe } from '../pipeline/recipes.js';
import type { LayerCard } from '../pipeline/card.js';
import { useBackend } from '../backend/index.js';
import { common, out, parse, parseArgs, UsageError } from './args.js';

export function cardTable(cards: LayerCard[]): string {
  const rows = [['stage', 'classic step', 'CNN layer', 'maps', 'params', 'origin', 'RF px', 'output'],
    ...cards.map((c) => [c.stage, c.classic || '', c.cnn, `${c.mapsIn}->${c.mapsOut}`, String(c.params), c.origin, String(c.receptiveField), c.outShape?.join('x') ?? ''])];
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((v, i) => v.padEnd(w[i])).join('  ');
  return [line(rows[0]), w.map((x) => '-'.repeat(x)).join('  '), ...rows.slice(1).map(line)].join('\n');
}

export async function explainCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parse(() => parseArgs({ args: argv, options: { ...common, size: { type: 'string', default: '28x28x1' } }, allowPositionals: true, strict: true }));
  const name = positionals[0];
  if (!name) throw new UsageError('explain PIPELINE: give a recipe name (bow-sift, bow-sift-spm, lenet5, alexnet-small) or a .json path');
  const [h, w, c] = values.size.split('x').map(Number);
  if (![h, w, c].every((v) => Number.isInteger(v) && v > 0)) throw new UsageError(`--size ${values.size}: expected HxWxC, e.g. 28x28x1`);
  await useBackend(values.backend as 'wasm');
  const r = readRecipe(name);
  let cards: LayerCard[];
  if (r.kind === 'bow') cards = bowPipeline(r as BowRecipe).cards([h, w, c]);
  else if (r.kind === 'cnn') cards = new CnnClassifier(r as CnnRecipe, { classes: Array.from({ length: 10 }, (_, i) => String(i)), flipSafe: false, train: makeSplit(new Uint8Array(h * w * c), new Int32Array(1), h, w, c) }).cards();
  else throw new UsageError(`explain: '${name}' is a ${r.kind} recipe; explain its source recipe '${(r as { from: string }).from}'`);
  out(values.json, cards, () => {
    console.log(`${r.name}: ${r.about ?? ''}\n`);
    console.log(cardTable(cards));
    console.log(`\ntotal parameters ${cards.reduce((a, k) => a + k.params, 0)}`);
  });
}
