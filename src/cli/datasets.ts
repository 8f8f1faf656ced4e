/** `bowcnn datasets [list]` and `bowcnn datasets fetch NAME [--dir DIR] [--base-url URL]`. */
import { REMOTE, fetchDataset } from '../data/fetch.js';
import { DATASETS, locate } from '../data/registry.js';
import { Progress } from '../util/progress.js';
import { common, out, parse, parseArgs, UsageError } from './args.js';

export async function datasetsCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parse(() => parseArgs({ args: argv, options: { ...common, dir: { type: 'string' }, 'base-url': { type: 'string' } }, allowPositionals: true, strict: true }));
  const sub = positionals[0] ?? 'list';
  if (sub === 'list') {
    const rows = DATASETS.filter((d) => !d.startsWith('folder')).map((d) => ({ name: d, found: locate(d, { dir: values['data-dir'] }) }));
    out(values.json, rows, () => {
      for (const r of rows) console.log(`${r.name.padEnd(14)} ${r.found ? `found in ${r.found}` : 'not found (bowcnn datasets fetch ' + r.name + ')'}`);
      console.log(`${'folder:PATH'.padEnd(14)} class-per-folder images read with sharp`);
    });
    return;
  }
  if (sub === 'fetch') {
    const name = positionals[1];
    if (!name || !REMOTE[name]) throw new UsageError(`datasets fetch NAME: NAME is one of ${Object.keys(REMOTE).join(', ')}`);
    let bar: Progress | null = null;
    let current = '';
    const dir = await fetchDataset(name, {
      dir: values.dir, baseUrl: values['base-url'],
      onProgress: (p) => {
        if (p.file !== current) { bar?.end(); current = p.file; bar = new Progress(p.file.split('/').pop() as string, p.total ?? 0, { unit: 'B' }); }
        bar?.tick(p.received - ((bar as unknown as { done: number }).done ?? 0));
      },
    });
    (bar as Progress | null)?.end();
    out(values.json, { name, dir }, () => console.log(`${name}: files checked (SHA-256) in ${dir}`));
    return;
  }
  throw new UsageError(`datasets: unknown subcommand '${sub}' (list, fetch)`);
}
