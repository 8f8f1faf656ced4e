// bowcnn's Dropout: a new mask at every step (tfjs-layers' seeded Dropout repeats one mask: shown here
// as the reason), the same masks for the same steps in any run, inverted scaling 1/(1-rate), the expected
// fraction dropped, nothing in inference, a save/load round trip; and alexnet-small's initial weights
// and first steps the same for the same seed (conv1's were unseeded: tfjs-core reads a seed of 0 as none).
import { beforeAll, describe, expect, it } from 'vitest';
import { tf, useBackend } from '../../src/backend/index.js';
import { Dropout, setDropoutStep } from '../../src/cnn/dropout.js';
import { alexnetSmall } from '../../src/cnn/alexnet.js';
import { adam } from '../../src/cnn/adam.js';

beforeAll(async () => { await useBackend('wasm'); });

const mask = (l: tf.layers.Layer, x: tf.Tensor) => Array.from((l.apply(x, { training: true }) as tf.Tensor).dataSync());

describe('Dropout', () => {
  const x = tf.ones([4, 256]);

  it("tfjs-layers' seeded dropout repeats its mask (why this layer exists)", () => {
    const l = tf.layers.dropout({ rate: 0.5, seed: 3 });
    expect(mask(l, x)).toEqual(mask(l, x));
  });

  it('draws a new mask at every step and call, the same ones again for the same steps', () => {
    const l = new Dropout({ rate: 0.5, seed: 3 });
    setDropoutStep(7);
    const a = mask(l, x), b = mask(l, x);
    setDropoutStep(8);
    const c = mask(l, x);
    expect(b).not.toEqual(a);
    expect(c).not.toEqual(a);
    setDropoutStep(7);
    expect(mask(l, x)).toEqual(a);
    expect(mask(l, x)).toEqual(b);
    expect(mask(new Dropout({ rate: 0.5, seed: 4 }), x)).not.toEqual(mask(l, x));   // another layer's seed, another mask
  });

  it('keeps units with probability 1 - rate and scales them by 1 / (1 - rate); inference passes x through', () => {
    const l = new Dropout({ rate: 0.25, seed: 1 });
    setDropoutStep(0);
    const v = mask(l, tf.ones([100, 100]));
    expect(new Set(v.map((t) => +t.toFixed(5)))).toEqual(new Set([0, +(1 / 0.75).toFixed(5)]));
    const kept = v.filter((t) => t > 0).length / v.length;
    expect(Math.abs(kept - 0.75)).toBeLessThan(0.02);   // 10,000 draws: 5 standard deviations is 0.022
    const y = l.apply(x, { training: false }) as tf.Tensor;
    expect(Array.from(y.dataSync())).toEqual(Array.from(x.dataSync()));
    expect(() => new Dropout({ rate: 1 })).toThrow(/rate/);
  });

  it('serialises (className BowcnnDropout) and loads back with its rate and seed', async () => {
    const m = tf.sequential({ layers: [tf.layers.dense({ inputShape: [3], units: 2 }), new Dropout({ rate: 0.3, seed: 9, name: 'd' })] });
    let saved: tf.io.ModelArtifacts | undefined;
    await m.save(tf.io.withSaveHandler(async (a) => { saved = a; return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } }; }));
    const back = await tf.loadLayersModel(tf.io.fromMemory(saved!));
    const d = back.getLayer('d') as Dropout;
    expect(d.getClassName()).toBe('BowcnnDropout');
    expect([d.rate, d.seed]).toEqual([0.3, 9]);
  });
});

describe('alexnet-small seeding', () => {
  const weights = (m: tf.LayersModel) => m.getWeights().map((w) => Array.from(w.dataSync()));
  const run = (seed: number) => {
    const m = alexnetSmall({ widths: [4, 8, 8], fc: [16, 8], seed });
    const opt = adam(1e-3);
    const x = tf.randomUniform([8, 28, 28, 1], 0, 1, 'float32', 1), y = tf.oneHot(tf.tensor1d([0, 1, 2, 3, 4, 5, 6, 7], 'int32'), 10);
    const w0 = weights(m);
    for (let s = 0; s < 3; s++) {
      setDropoutStep(s);
      tf.dispose(opt.minimize(() => tf.losses.softmaxCrossEntropy(y, m.apply(x, { training: true }) as tf.Tensor) as tf.Scalar, true));
    }
    const w = weights(m);
    tf.dispose([x, y]); m.dispose(); opt.dispose();
    return { w0, w };
  };

  it('gives the same initial weights (conv1 included) and the same weights after dropout steps for the same seed', () => {
    const a = run(0), b = run(0), c = run(1);
    expect(b.w0).toEqual(a.w0);
    expect(b.w).toEqual(a.w);
    expect(c.w0[0]).not.toEqual(a.w0[0]);
  });
});
