/** `bowcnn info [--backend B] [--json]`: which backend runs, with SIMD, threads and device. */
import { backendInfo, useBackend, type BackendName } from '../backend/index.js';
import { common, out, parse, parseArgs } from './args.js';

export async function infoCommand(argv: string[]): Promise<void> {
  const { values } = parse(() => parseArgs({ args: argv, options: { ...common, backend: { type: 'string', default: 'auto' } }, allowPositionals: false, strict: true }));
  await useBackend(values.backend as BackendName);
  const i = backendInfo();
  out(values.json, i, () => {
    console.log(`backend   ${i.name} (asked: ${i.requested})`);
    console.log(`device    ${i.device}`);
    console.log(`simd      ${i.simd === null ? 'n/a' : i.simd ? 'yes' : 'no'}`);
    console.log(`threads   ${i.threads}`);
    for (const n of i.notes) console.log(`note      ${n}`);
  });
}
