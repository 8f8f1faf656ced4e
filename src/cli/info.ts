/** bowcnn info [--backend B]: which backend runs, with SIMD, threads and device. */
import { backendInfo } from '../backend/index.js';
import { output, startBackend } from './common.js';
import type { Values } from './spec.js';

export async function infoCommand(v: Values): Promise<void> {
  await startBackend(v);
  const i = backendInfo();
  output(v.json, i, () => {
    console.log(`backend   ${i.name} (asked: ${i.requested})`);
    console.log(`device    ${i.device}`);
    console.log(`simd      ${i.simd === null ? 'n/a' : i.simd ? 'yes' : 'no'}`);
    console.log(`threads   ${i.threads}`);
    for (const n of i.notes) console.log(`note      ${n}`);
  });
}
