// Dense SIFT stages against (1) a plain-loop dense SIFT written here with no tensors, (2) VLFeat's
// vl_dsift (fixture made by fixtures/make/vlfeat-dsift.mjs), and the properties the issue names.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { tf, useBackend } from '../../src/backend/index.js';
import { applyStages, chainCards, denseSiftStages } from '../../src/stages/dsift.js';
import { frameGeometry } from '../../src/stages/descriptor.js';
import { FIX } from '../helpers.js';

interface Img {
  name: string;
  height: number;
  width: number;
  pixels: number[];
}
const IMAGES: Img[] = JSON.parse(readFileSync(join(FIX, 'images', 'dsift-images.json'), 'utf8')).images;
const VL = JSON.parse(readFileSync(join(FIX, 'vlfeat', 'dsift-b4-s2.json'), 'utf8')) as {
  images: { name: string; height: number; width: number; frames: { x: number; y: number; norm: number; d: number[] }[] }[];
};

// ---------------------------------------------------------------- the plain-loop reference
interface LoopOpts {
  size: number;
  step: number;
  mode: 'wta' | 'bilinear';
  window: 'box' | 'triangle';
  gaussian?: boolean;
  replicate?: boolean;
}
function loopDsift(im: Img, o: LoopOpts): { fy: number; fx: number; d: Float64Array } {
  const { height: H, width: W } = im;
  const at = (y: number, x: number) => im.pixels[Math.min(H - 1, Math.max(0, y)) * W + Math.min(W - 1, Math.max(0, x))];
  // 8 orientation maps
  const maps = Array.from({ length: 8 }, () => new Float64Array(H * W));
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      const gx = 0.5 * (at(y, x + 1) - at(y, x - 1)),
        gy = 0.5 * (at(y + 1, x) - at(y - 1, x));
      const mag = Math.hypot(gx, gy);
      if (mag === 0) continue;
      if (o.mode === 'wta') {
        let best = 0,
          bv = -Infinity;
        for (let k = 0; k < 8; k++) {
          const v = Math.cos((Math.PI * k) / 4) * gx + Math.sin((Math.PI * k) / 4) * gy;
          if (v > bv) {
            bv = v;
            best = k;
          }
        }
        maps[best][y * W + x] = mag;
      } else {
        let t = (Math.atan2(gy, gx) * 8) / (2 * Math.PI);
        t = ((t % 8) + 8) % 8;
        const b = Math.floor(t) % 8,
          r = t - Math.floor(t);
        maps[b][y * W + x] += (1 - r) * mag;
        maps[(b + 1) % 8][y * W + x] += r * mag;
      }
    }
  // cells: box (x-1..x+2 for size 4) or triangle (1 - |u|/s), zero padding or padded by continuity
  const s = o.size;
  const win: [number, number][] =
    o.window === 'box'
      ? Array.from({ length: s }, (_, i) => [i - (Math.ceil(s / 2) - 1), 1])
      : Array.from({ length: 2 * s - 1 }, (_, i) => [i - (s - 1), 1 - Math.abs(i - (s - 1)) / s]);
  const cell = maps.map((m) => {
    const out = new Float64Array(H * W);
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) {
        let acc = 0;
        for (const [dy, wy] of win)
          for (const [dx, wx] of win) {
            const yy = y + dy,
              xx = x + dx;
            if (!o.replicate && (yy < 0 || yy >= H || xx < 0 || xx >= W)) continue; // zero padding
            acc += wy * wx * m[Math.min(H - 1, Math.max(0, yy)) * W + Math.min(W - 1, Math.max(0, xx))];
          }
        out[y * W + x] = acc;
      }
    return out;
  });
  // gather 4x4 cells at bin centres x0 + bx*s, frames every `step`; then SIFT normalisation
  const fy = Math.floor((H - 1 - 3 * s) / o.step) + 1,
    fx = Math.floor((W - 1 - 3 * s) / o.step) + 1;
  const gw = (b: number) => {
    if (!o.gaussian) return 1;
    const delta = s * (b - 1.5),
      sigma = 2 * s;
    let acc = 0;
    for (let u = -s + 1; u <= s - 1; u++) acc += Math.exp(-0.5 * ((u - delta) / sigma) ** 2);
    return acc / (2 * s - 1);
  };
  const d = new Float64Array(fy * fx * 128);
  for (let i = 0; i < fy; i++)
    for (let j = 0; j < fx; j++) {
      const o0 = (i * fx + j) * 128;
      for (let by = 0; by < 4; by++)
        for (let bx = 0; bx < 4; bx++)
          for (let t = 0; t < 8; t++) {
            d[o0 + (by * 4 + bx) * 8 + t] = gw(by) * gw(bx) * cell[t][(i * o.step + by * s) * W + j * o.step + bx * s];
          }
      const v = d.subarray(o0, o0 + 128);
      const l2 = () => {
        let n = 0;
        for (const a of v) n += a * a;
        n = Math.sqrt(n) + 1.1920929e-7;
        for (let k = 0; k < 128; k++) v[k] /= n;
      };
      l2();
      for (let k = 0; k < 128; k++) v[k] = Math.min(v[k], 0.2);
      l2();
    }
  return { fy, fx, d };
}

function tensorDsift(im: Img, o: LoopOpts) {
  const stages = denseSiftStages({
    size: o.size,
    step: o.step,
    mode: o.mode,
    window: o.window,
    gaussianWindow: o.gaussian,
    padding: o.replicate ? 'replicate' : 'zero',
  });
  return tf.tidy(() => {
    const y = applyStages(stages, tf.tensor4d(im.pixels, [1, im.height, im.width, 1]));
    return { shape: y.shape, d: y.dataSync() as Float32Array };
  });
}

beforeAll(async () => {
  await useBackend('wasm');
});

describe('dense SIFT stages = plain-loop dense SIFT', () => {
  const cases: LoopOpts[] = [
    { size: 4, step: 2, mode: 'wta', window: 'box' },
    { size: 4, step: 2, mode: 'bilinear', window: 'box' },
    { size: 4, step: 2, mode: 'bilinear', window: 'triangle', gaussian: true },
    { size: 4, step: 2, mode: 'bilinear', window: 'triangle', gaussian: true, replicate: true },
    { size: 4, step: 2, mode: 'wta', window: 'box', replicate: true },
    { size: 3, step: 3, mode: 'wta', window: 'triangle' },
    { size: 2, step: 1, mode: 'bilinear', window: 'box' },
  ];
  for (const im of IMAGES)
    for (const o of cases) {
      it(`${im.name}: size ${o.size}, step ${o.step}, ${o.mode}, ${o.window}${o.gaussian ? ', gaussian' : ''}${o.replicate ? ', replicate' : ''}`, () => {
        const ref = loopDsift(im, o);
        const got = tensorDsift(im, o);
        expect(got.shape).toEqual([1, ref.fy, ref.fx, 128]);
        let worst = 0;
        for (let k = 0; k < ref.d.length; k++) worst = Math.max(worst, Math.abs(ref.d[k] - got.d[k]));
        expect(worst).toBeLessThan(1e-4);
      });
    }
});

describe('dense SIFT vs VLFeat vl_dsift (bilinear, triangle window, padding by continuity, bin 4, step 2, flat window)', () => {
  for (const vl of VL.images) {
    it(`${vl.name}: same frames in the same order, mean cosine >= 0.98`, () => {
      const im = IMAGES.find((i) => i.name === vl.name)!;
      const got = tensorDsift(im, { size: 4, step: 2, mode: 'bilinear', window: 'triangle', gaussian: true, replicate: true });
      const g = frameGeometry(im.height, im.width, 4, 2);
      expect(got.shape[1] * got.shape[2]).toBe(vl.frames.length);
      // frame order: y outer, x inner; centres as dsift.c states them
      vl.frames.forEach((f, k) => {
        expect(f.x).toBeCloseTo(g.centresX[k % g.framesX], 4);
        expect(f.y).toBeCloseTo(g.centresY[Math.floor(k / g.framesX)], 4);
      });
      let sum = 0,
        worst = 1;
      vl.frames.forEach((f, k) => {
        const a = f.d,
          b = got.d.subarray(k * 128, (k + 1) * 128);
        let ab = 0,
          aa = 0,
          bb = 0;
        for (let t = 0; t < 128; t++) {
          ab += a[t] * b[t];
          aa += a[t] * a[t];
          bb += b[t] * b[t];
        }
        const cos = aa === 0 && bb === 0 ? 1 : ab / Math.sqrt(aa * bb + 1e-30);
        sum += cos;
        worst = Math.min(worst, cos);
      });
      const mean = sum / vl.frames.length;
      expect(mean).toBeGreaterThanOrEqual(0.98);
      console.log(`${vl.name}: mean cosine ${mean.toFixed(4)}, worst ${worst.toFixed(4)} over ${vl.frames.length} frames`);
    });
  }
});

describe('properties', () => {
  it('WTA: exactly one orientation map is non-zero at each pixel with a non-zero gradient', () => {
    const [gr, or] = denseSiftStages({ mode: 'wta' });
    for (const im of IMAGES) {
      const { o, g } = tf.tidy(() => {
        const d = gr.apply(tf.tensor4d(im.pixels, [1, im.height, im.width, 1]));
        return { o: or.apply(d).dataSync(), g: d.dataSync() };
      });
      let moving = 0;
      for (let p = 0; p < im.height * im.width; p++) {
        // |g| as the stage defines it from the 8 responses: (2/8) sum_k d_k^2 (float rounding in the conv can
        // leave d_1 = 1e-17 where d_0 = d_2 = 0: that pixel then has a tiny gradient, on one map)
        let ss = 0;
        for (let k = 0; k < 8; k++) ss += g[p * 8 + k] ** 2;
        const mag = Math.sqrt(ss / 4);
        let nz = 0,
          sum = 0;
        for (let k = 0; k < 8; k++) {
          if (o[p * 8 + k] !== 0) nz++;
          sum += o[p * 8 + k];
        }
        if (mag > 0) {
          moving++;
          expect(nz).toBe(1);
          expect(Math.abs(sum - mag)).toBeLessThanOrEqual(1e-6 * Math.max(1, mag));
        } else expect(nz).toBe(0);
      }
      expect(moving).toBeGreaterThan(50);
    }
  });

  it('equivariance: shifting the input by `step` pixels shifts the descriptor map by one position', () => {
    const stages = denseSiftStages({ size: 4, step: 2, mode: 'bilinear', window: 'triangle' });
    const im = IMAGES[2];
    const [H, W] = [im.height, im.width];
    const x = tf.tensor4d(im.pixels, [1, H, W, 1]);
    // content moved right and down by 2: x2[y][x] = x[y-2][x-2]
    const x2 = tf.pad(tf.slice(x, [0, 0, 0, 0], [1, H - 2, W - 2, 1]), [
      [0, 0],
      [2, 0],
      [2, 0],
      [0, 0],
    ]);
    const a = applyStages(stages, x),
      b = applyStages(stages, x2);
    const [, fy, fx] = a.shape;
    const av = a.dataSync(),
      bv = b.dataSync();
    let worst = 0,
      compared = 0;
    // away from the borders: frames whose support (a 19 px triangle window + the gradient's 1 px) stays clear
    // of the 2 zero rows/columns brought in by the shift and of the rows it pushed out
    for (let i = 3; i < fy - 3; i++)
      for (let j = 3; j < fx - 3; j++)
        for (let t = 0; t < 128; t++) {
          worst = Math.max(worst, Math.abs(av[(i * fx + j) * 128 + t] - bv[((i + 1) * fx + j + 1) * 128 + t]));
          compared++;
        }
    expect(compared).toBeGreaterThanOrEqual(128 * 9);
    expect(worst).toBeLessThan(1e-5);
    tf.dispose([x, x2, a, b]);
  });

  it('cards: kernel, stride, dilation, maps, parameters, origin and receptive field (bin 4: 16 px + gradient support)', () => {
    const cards = chainCards(denseSiftStages({ size: 4, step: 2 }), [28, 28, 1]);
    expect(cards.map((c) => c.stage)).toEqual(['gradient', 'orientation', 'cells', 'descriptor']);
    expect(cards.every((c) => c.origin === 'handcrafted')).toBe(true);
    const [g, o, c, d] = cards;
    expect([g.kernel, g.mapsIn, g.mapsOut, g.params]).toEqual([[3, 3], 1, 8, 72]);
    expect([o.mapsIn, o.mapsOut, o.params]).toEqual([8, 8, 0]);
    expect([c.kernel, c.stride, c.mapsOut]).toEqual([[4, 4], 1, 8]);
    expect([d.kernel, d.stride, d.dilation, d.mapsIn, d.mapsOut, d.params]).toEqual([[4, 4], 2, 4, 8, 128, 4 * 4 * 8 * 128]);
    expect(d.outShape).toEqual([8, 8, 128]);
    expect(d.receptiveField).toBe(16 + (g.kernel![0] - 1));
    const smooth = chainCards(denseSiftStages({ size: 4, step: 2, sigma: 1 }), [28, 28, 1]);
    expect(smooth[3].receptiveField).toBe(16 + (smooth[0].kernel![0] - 1));
    expect(smooth[0].kernel![0]).toBe(9); // 3 + 2*ceil(3 sigma)
  });
});
