// Metrics against hand-computed values and known properties.
import { describe, expect, it } from 'vitest';
import { accuracy, bootstrapCI, confusion, macroF1, mcnemar, perClass, topK } from '../../src/eval/metrics.js';

describe('metrics', () => {
  it('confusion, per-class precision/recall/F1 and macro-F1 on a small hand-worked case', () => {
    const labels = [0, 0, 0, 1, 1, 2];
    const pred = [0, 0, 1, 1, 2, 2];
    const cm = confusion(pred, labels, 3);
    expect(cm).toEqual([
      [2, 1, 0],
      [0, 1, 1],
      [0, 0, 1],
    ]);
    const pc = perClass(cm);
    // class 0: P 2/2, R 2/3; class 1: P 1/2, R 1/2; class 2: P 1/2, R 1/1
    expect(pc[0].precision).toBeCloseTo(1);
    expect(pc[0].recall).toBeCloseTo(2 / 3);
    expect(pc[0].f1).toBeCloseTo(0.8);
    expect(pc[1].f1).toBeCloseTo(0.5);
    expect(pc[2].f1).toBeCloseTo(2 / 3);
    expect(macroF1(cm)).toBeCloseTo((0.8 + 0.5 + 2 / 3) / 3);
    expect(accuracy(pred, labels)).toBeCloseTo(4 / 6);
  });

  it('top-k counts the label among the k best scores', () => {
    const s = [0.1, 0.7, 0.2, /**/ 0.5, 0.3, 0.2, /**/ 0.2, 0.3, 0.5];
    const y = [2, 0, 0];
    expect(topK(s, y, 3, 1)).toBeCloseTo(1 / 3);
    expect(topK(s, y, 3, 2)).toBeCloseTo(2 / 3);
    expect(topK(s, y, 3, 3)).toBeCloseTo(1);
  });

  it('McNemar: chi2 with continuity correction, and the exact binomial test for few discordant pairs', () => {
    const a: number[] = [],
      b: number[] = [];
    for (let i = 0; i < 30; i++) {
      a.push(1);
      b.push(0);
    }
    for (let i = 0; i < 10; i++) {
      a.push(0);
      b.push(1);
    }
    for (let i = 0; i < 100; i++) {
      a.push(1);
      b.push(1);
    }
    const m = mcnemar(a, b);
    expect([m.onlyA, m.onlyB]).toEqual([30, 10]);
    expect(m.statistic).toBeCloseTo(9.025, 6); // (|30 - 10| - 1)^2 / 40
    expect(m.p).toBeCloseTo(0.002663, 4); // chi2(1) tail at 9.025
    const e = mcnemar([1, 1, 1, 1, 1, 0], [0, 0, 0, 0, 0, 1]);
    expect(e.exact).toBe(true);
    expect(e.p).toBeCloseTo((2 * (1 + 6)) / 64, 10); // 2 P(X <= 1), X ~ Bin(6, 1/2)
    expect(mcnemar([1, 0], [1, 0]).p).toBe(1);
  });

  it('the bootstrap 95% interval holds the accuracy and has the binomial width', () => {
    const n = 2000,
      p = 0.9;
    const c = Array.from({ length: n }, (_, i) => (i % 10 === 0 ? 0 : 1));
    const [lo, hi] = bootstrapCI(c, 2000, 3);
    expect(lo).toBeLessThan(p);
    expect(hi).toBeGreaterThan(p);
    const se = Math.sqrt((p * (1 - p)) / n);
    expect(hi - lo).toBeGreaterThan(2 * 1.96 * se * 0.85);
    expect(hi - lo).toBeLessThan(2 * 1.96 * se * 1.15);
    expect(bootstrapCI(c, 500, 3)).toEqual(bootstrapCI(c, 500, 3));
  });
});
