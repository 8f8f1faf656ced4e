// The phow recipe at 15-Scene scale (npm run bench -- scenes), side by side with VLFeat's vl_phow +
// scikit-learn in the same run.
//
// The folder: 4,485 greyscale JPEGs of 200-300 pixels a side in 15 classes (299 each; 100 a class in train/,
// the rest in test/, as 15-Scene's protocol), each class cut from one photograph that Debian ships:
// scikit-image's sample images (python3-skimage: astronaut, brick, camera, chelsea, coffee, coins, grass,
// gravel, hubble_deep_field, moon, motorcycle_left, retina, rocket) and scikit-learn's (python3-sklearn:
// china, flower). An image is a seeded random crop (a side of 35-75% of the photograph's short side, aspect
// 0.8-1.25) scaled to 200-300 pixels a side: natural image statistics, though a class is one scene, not a
// category. BOWCNN_BENCH_FOLDER=DIR reuses a folder made before.
//
// bowcnn: `compare --dataset folder:DIR --image-size 256 --channels 1 --pipelines phow --protocol fixed`
// in a child process (wall time, peak resident memory). The peer reads the same 256x256 pixels (decoded
// here, written as float32) and runs bench/peers/phow_extract.c (VLFeat's vl_phow computation, 2 threads
// for nothing: vl_dsift is single-threaded) and bench/peers/phow_sklearn.py (k-means, histograms, chi2 map,
// LinearSVC); its time does not include decoding the JPEGs.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { dataset } from '../src/data/registry.js';
import type { Split } from '../src/core/data.js';
import { runMeasured, table } from './util.js';

const SKIMAGE = '/usr/lib/python3/dist-packages/skimage/data';
const SKLEARN = '/usr/lib/python3/dist-packages/sklearn/datasets/images';
const PHOTOS = [
  ...['astronaut.png', 'brick.png', 'camera.png', 'chelsea.png', 'coffee.png', 'coins.png', 'grass.png', 'gravel.png'].map((f) =>
    join(SKIMAGE, f),
  ),
  ...['hubble_deep_field.jpg', 'moon.png', 'motorcycle_left.png', 'retina.jpg', 'rocket.jpg'].map((f) => join(SKIMAGE, f)),
  join(SKLEARN, 'china.jpg'),
  join(SKLEARN, 'flower.jpg'),
];
// BOWCNN_BENCH_PER_CLASS=n makes a smaller folder (a check of the bench itself; a third of it for training)
const PER_CLASS = Number(process.env.BOWCNN_BENCH_PER_CLASS ?? 299),
  TRAIN = Math.min(100, Math.round(PER_CLASS / 3));

async function makeFolder(root: string): Promise<void> {
  const missing = PHOTOS.filter((p) => !existsSync(p));
  if (missing.length) throw new Error(`missing photographs (apt-get install python3-skimage python3-sklearn): ${missing.join(', ')}`);
  let s = 2024;
  const rand = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  for (const photo of PHOTOS) {
    const name = photo
      .split('/')
      .at(-1)!
      .replace(/\.\w+$/, '');
    const meta = await sharp(photo).metadata();
    const W = meta.width!,
      H = meta.height!;
    for (let i = 0; i < PER_CLASS; i++) {
      const side = Math.min(W, H) * (0.35 + 0.4 * rand());
      const aspect = 0.8 + 0.45 * rand();
      const cw = Math.min(W, Math.round(side * Math.sqrt(aspect))),
        ch = Math.min(H, Math.round(side / Math.sqrt(aspect)));
      const left = Math.floor(rand() * (W - cw + 1)),
        top = Math.floor(rand() * (H - ch + 1));
      const long = 200 + Math.floor(101 * rand());
      const [ow, oh] = cw >= ch ? [long, Math.max(200, Math.round((long * ch) / cw))] : [Math.max(200, Math.round((long * cw) / ch)), long];
      const dir = join(root, i < TRAIN ? 'train' : 'test', name);
      mkdirSync(dir, { recursive: true });
      await sharp(photo)
        .extract({ left, top, width: cw, height: ch })
        .resize(ow, oh, { fit: 'fill' })
        .greyscale()
        .jpeg({ quality: 90 })
        .toFile(join(dir, `${String(i).padStart(3, '0')}.jpg`));
    }
  }
}

function writeF32(file: string, s: Split): void {
  const head = Int32Array.from([s.n, s.height, s.width]);
  const px = new Float32Array(s.pixels.length);
  for (let i = 0; i < px.length; i++) px[i] = s.pixels[i] / 255;
  writeFileSync(file, Buffer.concat([Buffer.from(head.buffer), Buffer.from(px.buffer)]));
}

export async function run(): Promise<Record<string, unknown>> {
  const root = process.env.BOWCNN_BENCH_FOLDER ?? join(mkdtempSync(join(tmpdir(), 'bowcnn-scenes-')), 'scenes');
  if (!existsSync(join(root, 'train'))) {
    console.log(`writing ${PHOTOS.length * PER_CLASS} images into ${root}`);
    await makeFolder(root);
  }
  const out = mkdtempSync(join(tmpdir(), 'bowcnn-scenes-run-'));
  const args = [
    join(import.meta.dirname, '..', 'dist', 'cli', 'main.js'),
    'compare',
    '--dataset',
    `folder:${root}`,
    '--image-size',
    '256',
    '--channels',
    '1',
    '--pipelines',
    'phow',
    '--protocol',
    'fixed',
    '--out',
    join(out, 'run'),
  ];
  console.log(`bowcnn: node ${args.join(' ')}`);
  const ours = await runMeasured(process.execPath, args);
  if (ours.code !== 0) throw new Error(`compare failed (${ours.code}):\n${ours.tail}`);
  const res = JSON.parse(readFileSync(join(out, 'run', 'results.json'), 'utf8'));
  const c = res.contenders[0];

  // the peer, on the same pixels
  const ds = await dataset(`folder:${root}`, { folder: { size: [256, 256], channels: 1 } });
  const files = { trX: join(out, 'train.f32'), teX: join(out, 'test.f32'), trY: join(out, 'train.i32'), teY: join(out, 'test.i32') };
  writeF32(files.trX, ds.train);
  writeF32(files.teX, ds.test);
  writeFileSync(files.trY, Buffer.from(ds.train.labels.buffer));
  writeFileSync(files.teY, Buffer.from(ds.test.labels.buffer));
  const bin = join(out, 'phow_extract');
  execFileSync('gcc', ['-O2', '-o', bin, join(import.meta.dirname, 'peers', 'phow_extract.c'), '-lvl', '-lm']);
  const peerArgs = [
    join(import.meta.dirname, 'peers', 'phow_sklearn.py'),
    bin,
    files.trX,
    files.teX,
    files.trY,
    files.teY,
    '3',
    '600',
    '100000',
    '10',
    '2',
  ];
  console.log(`peer: /usr/bin/python3 ${peerArgs.join(' ')}`);
  const peer = await runMeasured('/usr/bin/python3', peerArgs);
  if (peer.code !== 0) throw new Error(`the peer failed (${peer.code}):\n${peer.tail}`);
  const pj = JSON.parse(peer.tail.trim().split('\n').at(-1) as string);
  const rows = [
    {
      who: 'bowcnn phow',
      images: `${res.dataset.train} train + ${res.dataset.test} test, ${res.dataset.imageShape.join('x')}`,
      accuracy: `${(100 * c.accuracy).toFixed(2)}%`,
      'end-to-end s': ours.seconds.toFixed(0),
      'peak MB': Math.round(ours.peakMB),
    },
    {
      who: String(pj.peer),
      images: 'the same pixels',
      accuracy: `${pj.accuracy}%`,
      'end-to-end s': peer.seconds.toFixed(0),
      'peak MB': Math.round(Math.max(peer.peakMB, Number(pj.peakRssMB))),
    },
  ];
  table(rows);
  const ratio = peer.seconds / ours.seconds;
  console.log(`speed: bowcnn ${ratio.toFixed(2)}x the peer's end-to-end (the peer's time leaves out decoding the JPEGs)`);
  return {
    root,
    rows,
    ratio,
    bowcnn: { seconds: ours.seconds, peakMB: ours.peakMB, accuracy: c.accuracy },
    peer: { ...pj, wall: peer.seconds, peakMB: peer.peakMB },
  };
}
