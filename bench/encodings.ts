// GMM fitting and Fisher vector encoding against VLFeat (npm run bench -- encodings), 1 thread each, on the
// same descriptors: bowcnn's dense SIFT (bin 4, step 2) of MNIST training images, written to a file that
// VLFeat's side (bench/peers/vlfeat_fv.c: vl_gmm with k-means initialisation, vl_fisher_encode improved)
// reads. bowcnn's side: fitGmm (one EM run from k-means, the same iteration cap) and the Fisher vectors two
// ways, the reference function fisherEncode one image at a time and the fisher stage's batched layers
// (the 1x1 convolution over [x, x^2], softmax, sum pooling: what a pipeline runs). Each side's training
// log-likelihood per descriptor is reported beside its time. fisherEncode runs the native pass where the addon is
// built (posteriors and centred sums in one loop, as vl_fisher_encode), else its JavaScript. BOWCNN_BENCH_GMM_IMAGES (default 1000 images
// for the GMM), BOWCNN_BENCH_FV_IMAGES (default 1000 images encoded), BOWCNN_BENCH_K (default 64) and
// BOWCNN_BENCH_ITERATIONS (default 30) choose.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tf, backendInfo, useBackend } from '../src/backend/index.js';
import { dataset } from '../src/data/registry.js';
import { batchTensor } from '../src/data/split.js';
import { fisherEncode } from '../src/encode/fisher.js';
import { fitGmm, gmmLogLikelihood } from '../src/learn/gmm.js';
import { fisherMaps, fisherWeights } from '../src/ops/fisher.js';
import { bowPipeline, readRecipe } from '../src/pipeline/recipes.js';
import { table } from './util.js';

function vlfeat(file: string, train: number, k: number, iterations: number): Record<string, unknown> | string {
  if (!existsSync('/usr/include/vl/fisher.h')) return 'no libvlfeat-dev';
  const bin = join(mkdtempSync(join(tmpdir(), 'bowcnn-vlfv-')), 'vlfeat_fv');
  execFileSync('gcc', ['-O2', '-o', bin, join(import.meta.dirname, 'peers', 'vlfeat_fv.c'), '-lvl', '-lm']);
  const r = spawnSync(bin, [file, String(train), String(k), String(iterations), '1'], { encoding: 'utf8' });
  if (r.status !== 0) return `VLFeat failed: ${(r.stderr || String(r.error)).trim()}`;
  return JSON.parse(r.stdout.trim());
}

export async function run(): Promise<Record<string, unknown>> {
  await useBackend('wasm', { threads: 1 });
  const gmmImages = Number(process.env.BOWCNN_BENCH_GMM_IMAGES ?? 1000);
  const fvImages = Number(process.env.BOWCNN_BENCH_FV_IMAGES ?? 1000);
  const K = Number(process.env.BOWCNN_BENCH_K ?? 64);
  const iterations = Number(process.env.BOWCNN_BENCH_ITERATIONS ?? 30);
  const ds = await dataset('mnist', { subset: gmmImages + fvImages, seed: 0 });
  // dense SIFT descriptors [N,11,11,128] of every image, by the bow-sift recipe's first four stages
  const p = bowPipeline(readRecipe('bow-sift'));
  const sift = p.stages.findIndex((s) => s.kind === 'descriptor') + 1;
  const x = batchTensor(ds.train, 0, ds.train.n);
  const maps = await p.run(x, 0, sift);
  x.dispose();
  const [n, h, w, D] = maps.shape;
  const per = h * w;
  const all = (await maps.data()) as Float32Array;
  maps.dispose();
  const train = gmmImages * per;
  const file = join(mkdtempSync(join(tmpdir(), 'bowcnn-fv-')), 'descriptors.bin');
  const head = Int32Array.from([n * per, D, per]);
  writeFileSync(file, Buffer.concat([Buffer.from(head.buffer), Buffer.from(all.buffer, all.byteOffset, all.byteLength)]));
  console.log(`${n * per} descriptors of ${D} dimensions (${per} an image); GMM of ${K} on ${train}, ${fvImages} images encoded`);

  const peer = vlfeat(file, train, K, iterations);

  const trainX = all.subarray(0, train * D);
  let t0 = performance.now();
  const g = await fitGmm(trainX, { components: K, dimension: D, iterations, restarts: 1, seed: 0 });
  const gmmSeconds = (performance.now() - t0) / 1000;
  const ll = gmmLogLikelihood(g, trainX, train) / train;

  t0 = performance.now();
  let checksum = 0;
  for (let i = 0; i < fvImages; i++) {
    const at = (gmmImages + i) * per * D;
    const v = await fisherEncode(all.subarray(at, at + per * D), g, { improved: true });
    checksum += v[0];
  }
  const refSeconds = (performance.now() - t0) / 1000;

  // the stage's layers over batches of 256 images [B,h,w,D] -> [B,1,1,2KD]
  const held = { m: tf.tensor2d(g.means, [K, D]), v: tf.tensor2d(g.variances, [K, D]), p: tf.tensor1d(g.priors) };
  const wts = fisherWeights(held.m, held.v, held.p);
  t0 = performance.now();
  let layerSum = 0;
  for (let i = 0; i < fvImages; i += 256) {
    const b = Math.min(256, fvImages - i);
    const at = (gmmImages + i) * per * D;
    const out = tf.tidy(() => fisherMaps(tf.tensor4d(all.subarray(at, at + b * per * D), [b, h, w, D]), wts, [1], true));
    const v = (await out.data()) as Float32Array;
    layerSum += v[0];
    out.dispose();
  }
  const layerSeconds = (performance.now() - t0) / 1000;
  tf.dispose([held.m, held.v, held.p, ...Object.values(wts)]);

  const rows: Record<string, unknown>[] = [];
  const vl = typeof peer === 'string' ? null : peer;
  rows.push({
    what: `GMM, K = ${K}, ${train} descriptors`,
    bowcnn: `${gmmSeconds.toFixed(2)} s (LL ${ll.toFixed(2)}/descriptor)`,
    VLFeat: vl ? `${Number(vl.gmmSeconds).toFixed(2)} s (LL ${(Number(vl.gmmLogLikelihood) / train).toFixed(2)}/descriptor)` : peer,
    'speed (VLFeat time / bowcnn time)': vl ? (Number(vl.gmmSeconds) / gmmSeconds).toFixed(2) : '',
  });
  for (const [label, s] of [
    ['Fisher vectors, fisherEncode (one image at a time)', refSeconds],
    ["Fisher vectors, the stage's layers (batches of 256)", layerSeconds],
  ] as const) {
    rows.push({
      what: `${label}, ${fvImages} images`,
      bowcnn: `${s.toFixed(2)} s (${Math.round(fvImages / s)} img/s)`,
      VLFeat: vl ? `${Number(vl.fisherSeconds).toFixed(2)} s (${Math.round(fvImages / Number(vl.fisherSeconds))} img/s)` : peer,
      'speed (VLFeat time / bowcnn time)': vl ? (Number(vl.fisherSeconds) / s).toFixed(2) : '',
    });
  }
  table(rows);
  return {
    backend: backendInfo(),
    threads: 1,
    descriptors: { images: n, perImage: per, dimension: D },
    K,
    iterations,
    bowcnn: {
      gmmSeconds,
      gmmIterations: g.iterations,
      logLikelihoodPerDescriptor: ll,
      fisherSeconds: refSeconds,
      layerSeconds,
      checksum,
      layerSum,
    },
    vlfeat: peer,
    rows,
  };
}
