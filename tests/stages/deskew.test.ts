// Deskewing against a plain loop (moments in doubles, bilinear reads with zeros outside), and its
// properties: a slanted bar stands upright (its mu11 goes to about 0), the centre of mass moves to the
// centre, an empty image stays empty, colour channels are sheared alike.
import { beforeAll, describe, expect, it } from 'vitest';
import { tf, useBackend } from '../../src/backend/index.js';
import { dataset } from '../../src/data/registry.js';
import { batchTensor } from '../../src/data/split.js';
import { deskew } from '../../src/stages/deskew.js';
import type { Maps } from '../../src/stages/stage.js';
import { maxAbsDiff } from '../helpers.js';

/** The moments of an h x w image: centre of mass, mu11, mu02 (doubles). */
function moments(v: ArrayLike<number>, h: number, w: number) {
  let m = 0,
    sx = 0,
    sy = 0;
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      m += v[y * w + x];
      sx += v[y * w + x] * x;
      sy += v[y * w + x] * y;
    }
  const cx = sx / m,
    cy = sy / m;
  let m11 = 0,
    m02 = 0;
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      m11 += v[y * w + x] * (x - cx) * (y - cy);
      m02 += v[y * w + x] * (y - cy) ** 2;
    }
  return { m, cx, cy, mu11: m11 / m, mu02: m02 / m };
}

function deskewLoop(v: ArrayLike<number>, h: number, w: number, centre: boolean): Float64Array {
  const { m, cx, cy, mu11, mu02 } = moments(v, h, w);
  const out = new Float64Array(h * w);
  if (!(m > 0)) return Float64Array.from(v);
  const alpha = mu02 > 1e-6 ? mu11 / mu02 : 0;
  const ox = (w - 1) / 2,
    oy = (h - 1) / 2;
  const at = (y: number, x: number) => (y >= 0 && y < h && x >= 0 && x < w ? v[y * w + x] : 0);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const ix = centre ? x + alpha * (y - oy) + cx - ox : x + alpha * (y - cy);
      const iy = centre ? y + cy - oy : y;
      const x0 = Math.floor(ix),
        y0 = Math.floor(iy);
      const fx = ix - x0,
        fy = iy - y0;
      out[y * w + x] =
        (1 - fy) * ((1 - fx) * at(y0, x0) + fx * at(y0, x0 + 1)) + fy * ((1 - fx) * at(y0 + 1, x0) + fx * at(y0 + 1, x0 + 1));
    }
  return out;
}

beforeAll(async () => {
  await useBackend('wasm');
});

describe('deskew', () => {
  it('is the plain loop on MNIST digits, with and without centring', async () => {
    const ds = await dataset('mnist', { subset: 16, testSubset: 16, seed: 5 });
    const x = batchTensor(ds.test, 0, 16);
    const px = (await x.data()) as Float32Array;
    for (const centre of [true, false]) {
      const y = deskew({ centre }).apply(x);
      const got = (await y.data()) as Float32Array;
      for (let i = 0; i < 16; i++) {
        const want = deskewLoop(px.subarray(i * 784, (i + 1) * 784), 28, 28, centre);
        expect(maxAbsDiff(got.subarray(i * 784, (i + 1) * 784), want)).toBeLessThan(1e-4);
      }
      y.dispose();
    }
    x.dispose();
  });

  it('stands a slanted bar upright, moves its centre of mass to the centre, leaves an empty image alone', async () => {
    const h = 24,
      w = 24;
    const bar = new Float32Array(h * w);
    for (let y = 3; y < 21; y++) for (let d = -1; d <= 1; d++) bar[y * w + Math.round(6 + 0.5 * y) + d] = 1; // x = 6 + y / 2
    const before = moments(bar, h, w);
    expect(Math.abs(before.mu11 / before.mu02 - 0.5)).toBeLessThan(0.05);
    const x = tf.tensor4d(Float32Array.from([...bar, ...new Float32Array(h * w)]), [2, h, w, 1]) as Maps;
    const y = deskew().apply(x);
    const v = (await y.data()) as Float32Array;
    const after = moments(v.subarray(0, h * w), h, w);
    expect(Math.abs(after.mu11 / after.mu02)).toBeLessThan(0.02);
    expect(Math.abs(after.cx - (w - 1) / 2)).toBeLessThan(0.1);
    expect(Math.abs(after.cy - (h - 1) / 2)).toBeLessThan(0.1);
    expect(maxAbsDiff(v.subarray(h * w), new Float32Array(h * w))).toBe(0);
    tf.dispose([x, y]);
  });

  it('shears every colour channel alike, by the moments of their mean', async () => {
    const ds = await dataset('mnist', { subset: 4, testSubset: 4, seed: 6 });
    const g = batchTensor(ds.test, 0, 4);
    const rgb = tf.concat([g, tf.mul(g, 0.5), tf.mul(g, 0.25)], 3) as Maps;
    const y1 = deskew().apply(g),
      y3 = deskew().apply(rgb);
    const want = tf.concat([y1, tf.mul(y1, 0.5), tf.mul(y1, 0.25)], 3);
    expect(maxAbsDiff(await y3.data(), await want.data())).toBeLessThan(1e-5);
    expect(() => deskew().toLayers?.([28, 28, 1])).toThrow(/not exported/);
    tf.dispose([g, rgb, y1, y3, want]);
  });
});
