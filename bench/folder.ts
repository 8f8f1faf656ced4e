// A folder of photographs-sized images through the BoW chain (npm run bench -- folder): N greyscale images
// of 256x256 in train/ and test/ (BOWCNN_BENCH_IMAGES, default 10000; 80% train), each a textured scene of
// one of 10 classes (oriented stripes at a class's angle and frequency, under noise and a random
// illumination), written as PNG by sharp. `bowcnn compare --dataset folder:DIR --image-size keep
// --channels 1 --pipelines bow-sift --protocol fixed` runs on it in a child process: its wall time, its
// peak resident memory (the kernel's high-water mark, VmHWM) and the image size results.json records.
// BOWCNN_BENCH_FOLDER=DIR reuses a folder made before.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { runMeasured, table } from './util.js';

const SIDE = 256;

async function makeFolder(root: string, n: number): Promise<void> {
  let s = 12345;
  const rand = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  const px = new Uint8Array(SIDE * SIDE);
  for (let i = 0; i < n; i++) {
    const cls = i % 10;
    const split = Math.floor(i / 10) % 5 === 4 ? 'test' : 'train';
    const dir = join(root, split, `c${cls}`);
    mkdirSync(dir, { recursive: true });
    const angle = (cls * Math.PI) / 10 + (rand() - 0.5) * 0.2;
    const freq = 0.08 + 0.04 * (cls % 3) + rand() * 0.01;
    const [ca, sa] = [Math.cos(angle), Math.sin(angle)];
    const gain = 60 + rand() * 60,
      base = 60 + rand() * 60,
      phase = rand() * 6.28;
    for (let y = 0; y < SIDE; y++)
      for (let x = 0; x < SIDE; x++) {
        const v = base + gain * Math.sin(freq * (x * ca + y * sa) + phase) + (rand() - 0.5) * 50 + (y / SIDE) * 30;
        px[y * SIDE + x] = Math.max(0, Math.min(255, Math.round(v)));
      }
    await sharp(px, { raw: { width: SIDE, height: SIDE, channels: 1 } })
      .png({ compressionLevel: 1 })
      .toFile(join(dir, `${i}.png`));
    if ((i + 1) % 1000 === 0) console.log(`  ${i + 1} images written`);
  }
}

export async function run(): Promise<Record<string, unknown>> {
  const n = Number(process.env.BOWCNN_BENCH_IMAGES ?? 10000);
  const root = process.env.BOWCNN_BENCH_FOLDER ?? join(mkdtempSync(join(tmpdir(), 'bowcnn-folder-bench-')), 'scenes');
  if (!existsSync(join(root, 'train'))) {
    console.log(`writing ${n} images of ${SIDE}x${SIDE} into ${root}`);
    await makeFolder(root, n);
  }
  const out = mkdtempSync(join(tmpdir(), 'bowcnn-folder-run-'));
  writeFileSync(join(out, 'README'), 'bench folder output\n');
  const args = [
    join(import.meta.dirname, '..', 'dist', 'cli', 'main.js'),
    'compare',
    '--dataset',
    `folder:${root}`,
    '--image-size',
    'keep',
    '--channels',
    '1',
    '--pipelines',
    'bow-sift',
    '--protocol',
    'fixed',
    '--out',
    join(out, 'run'),
  ];
  console.log(`node ${args.join(' ')}`);
  const got = await runMeasured(process.execPath, args);
  if (got.code !== 0) throw new Error(`compare failed (${got.code}):\n${got.tail}`);
  const res = JSON.parse(readFileSync(join(out, 'run', 'results.json'), 'utf8'));
  const c = res.contenders[0];
  const rows = [
    {
      images: `${res.dataset.train} train + ${res.dataset.test} test`,
      'image shape (results.json)': res.dataset.imageShape.join('x'),
      recipe: 'bow-sift',
      accuracy: `${(100 * c.accuracy).toFixed(2)}%`,
      'wall s': got.seconds.toFixed(0),
      'peak MB (VmHWM)': Math.round(got.peakMB),
    },
  ];
  table(rows);
  return { root, images: n, side: SIDE, rows, seconds: got.seconds, peakMB: got.peakMB, dataset: res.dataset };
}
