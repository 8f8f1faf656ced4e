// LeNet-5's input normalisation: the classifier's pixel statistics against hand-computed values, and the
// rescaling layer mapping the mean to 0 and mean + std to 1.
import { describe, expect, it } from 'vitest';
import { tf, useBackend } from '../../src/backend/index.js';
import { pixelStats } from '../../src/cnn/zoo.js';
import { lenet5 } from '../../src/cnn/lenet5.js';
import { makeSplit } from '../../src/core/data.js';

describe('LeNet-5 input normalisation', () => {
  it('pixelStats: mean and population std on the [0, 1] scale', () => {
    // pixels 0, 255, 255, 0 -> values 0, 1, 1, 0: mean 0.5, std 0.5
    const s = makeSplit(new Uint8Array([0, 255, 255, 0]), new Int32Array([0]), 2, 2, 1);
    const st = pixelStats(s);
    expect(st.mean).toBeCloseTo(0.5, 12);
    expect(st.std).toBeCloseTo(0.5, 12);
    // 51, 102, 153 -> 0.2, 0.4, 0.6: mean 0.4, std sqrt(0.08/3)
    const t = pixelStats(makeSplit(new Uint8Array([51, 102, 153]), new Int32Array([0]), 1, 3, 1));
    expect(t.mean).toBeCloseTo(0.4, 12);
    expect(t.std).toBeCloseTo(Math.sqrt(0.08 / 3), 9);
  });

  it('the normalize layer computes (x - mean) / std; true means [-1, 1]; false adds no layer', async () => {
    await useBackend('wasm');
    const m = lenet5({ normalize: { mean: 0.3, std: 0.2 } });
    const layer = m.getLayer('normalize');
    const y = layer.apply(tf.tensor4d([0.3, 0.5, 0.1, 0], [1, 2, 2, 1])) as tf.Tensor;
    Array.from(y.dataSync()).forEach((v, i) => expect(v).toBeCloseTo([0, 1, -1, -1.5][i], 5));
    const d = lenet5({})
      .getLayer('normalize')
      .apply(tf.tensor4d([0, 0.5, 1, 0.25], [1, 2, 2, 1])) as tf.Tensor;
    Array.from(d.dataSync()).forEach((v, i) => expect(v).toBeCloseTo([-1, 0, 1, -0.5][i], 5));
    expect(lenet5({ normalize: false }).layers.map((l) => l.name)).not.toContain('normalize');
    expect(lenet5({ normalize: false }).countParams()).toBe(m.countParams());
    tf.dispose([y, d]);
  });
});
