/** bowcnn explain RECIPE [--size HxWxC]: the stage <-> layer table in the terminal. */
import { useBackend } from '../backend/index.js';
import type { LayerCard } from '../core/card.js';
import { UsageError } from '../core/errors.js';
import { classifierFrom } from '../models/resolve.js';
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

export async function explainCommand(v: Values, [name]: string[]): Promise<void> {
  const dims = String(v.size).split('x').map(Number);
  if (dims.length !== 3 || !dims.every((d) => Number.isInteger(d) && d > 0))
    throw new UsageError(`--size ${v.size}: expected HxWxC, e.g. 28x28x1`);
  await useBackend('cpu', { progress: false });
  const c = await classifierFrom(name);
  const cards = c.cards(dims);
  const empty = cards.find((k) => k.outShape?.some((d) => d <= 0));
  if (empty)
    throw new UsageError(
      `--size ${v.size}: images this small leave nothing after '${empty.stage}' (${empty.outShape?.join('x')}): give a larger size`,
    );
  output(v.json, cards, () => {
    const about = (c.describe() as { about?: string }).about;
    console.log(`${c.name}${about ? `: ${about}` : ''}\n`);
    console.log(cardTable(cards));
    const total = cards.reduce((a, k) => a + k.params, 0);
    const learned = cards.filter((k) => k.origin === 'supervised' || k.origin === 'unsupervised').reduce((a, k) => a + k.params, 0);
    console.log(`\ntotal parameters ${total}${learned !== total ? ` (${learned} learned, ${total - learned} handcrafted)` : ''}`);
  });
  c.dispose();
}
