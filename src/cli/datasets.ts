/** bowcnn datasets [list] | fetch NAME [--dir DIR] [--base-url URL]. */
import { UsageError } from '../core/errors.js';
import { didYouMean, listOf } from '../core/suggest.js';
import { REMOTE, fetchDataset } from '../data/fetch.js';
import { DATASETS, locate, resolveDatasetName } from '../data/registry.js';
import { Progress } from '../util/progress.js';
import { dataDir, output } from './common.js';
import type { Values } from './spec.js';

export async function datasetsCommand(v: Values, pos: string[]): Promise<void> {
  const sub = pos[0] ?? 'list';
  if (sub === 'list') {
    if (pos.length > 1) throw new UsageError(`datasets list takes no argument (got '${pos[1]}')`);
    const dir = dataDir(v);
    const rows = DATASETS.filter((d) => !d.startsWith('folder')).map((d) => ({ name: d, found: locate(d, { dir }) }));
    output(v.json, rows, () => {
      for (const r of rows)
        console.log(`${r.name.padEnd(14)} ${r.found ? `found in ${r.found}` : `not found (bowcnn datasets fetch ${r.name})`}`);
      console.log(`${'folder:PATH'.padEnd(14)} class-per-folder images read with sharp`);
    });
    return;
  }
  if (sub === 'fetch') {
    if (!pos[1]) throw new UsageError(`datasets fetch NAME: NAME is one of ${listOf(Object.keys(REMOTE))}`);
    let name: string;
    try {
      name = resolveDatasetName(pos[1]);
    } catch {
      name = pos[1];
    }
    if (!REMOTE[name])
      throw new UsageError(
        `fetch ${pos[1]}: nothing to download by that name${didYouMean(pos[1], Object.keys(REMOTE))}; NAME is one of ${listOf(Object.keys(REMOTE))}`,
      );
    let bar: Progress | null = null;
    let current = '';
    let seen = 0;
    const dir = await fetchDataset(name, {
      dir: v.dir as string | undefined,
      baseUrl: v['base-url'] as string | undefined,
      onProgress: (p) => {
        if (p.file !== current) {
          bar?.end();
          current = p.file;
          seen = 0;
          bar = new Progress(p.file.split('/').pop() as string, p.total ?? 0, { unit: 'B' });
        }
        bar?.tick(p.received - seen);
        seen = p.received;
      },
    });
    (bar as Progress | null)?.end();
    output(v.json, { name, dir }, () => console.log(`${name}: files checked (SHA-256) in ${dir}`));
    return;
  }
  throw new UsageError(`datasets: unknown subcommand '${sub}'${didYouMean(sub, ['list', 'fetch'])} (list, fetch)`);
}
