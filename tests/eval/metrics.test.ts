// Metrics against hand-computed values and known properties.
import { describe, expect, it } from 'vitest';
import {
  accuracy,
  accuracyInterval,
  binomialCdf,
  classesPresent,
  clopperPearson,
  confusion,
  macroF1,
  mcnemar,
  meanSd,
  normalQuantile,
  pairedSeedTest,
  perClass,
  topK,
  wilson,
} from '../../src/eval/metrics.js';

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

  it("Wilson's interval against hand-computed values, never of zero width, right at 0/n and n/n", () => {
    const z = 1.959963984540054;
    expect(normalQuantile(0.975)).toBeCloseTo(z, 8);
    expect(normalQuantile(0.025)).toBeCloseTo(-z, 8);
    // 8 of 10: centre (0.8 + z²/20) / (1 + z²/10), half-width z/(1 + z²/10) * sqrt(0.016 + z²/400)
    const c = (0.8 + (z * z) / 20) / (1 + (z * z) / 10);
    const h = (z / (1 + (z * z) / 10)) * Math.sqrt(0.016 + (z * z) / 400);
    expect(wilson(8, 10)[0]).toBeCloseTo(c - h, 8);
    expect(wilson(8, 10)[1]).toBeCloseTo(c + h, 8);
    expect(wilson(8, 10)[0]).toBeCloseTo(0.4901624, 6); // the textbook value for 8/10
    expect(wilson(8, 10)[1]).toBeCloseTo(0.9433178, 6);
    // n/n: [n / (n + z²), 1]; 0/n: [0, z² / (n + z²)]
    expect(wilson(24, 24)).toEqual([expect.closeTo(24 / (24 + z * z), 8), 1]);
    expect(wilson(0, 24)).toEqual([0, expect.closeTo((z * z) / (24 + z * z), 8)]);
    expect(wilson(24, 24)[1] - wilson(24, 24)[0]).toBeGreaterThan(0.1);
    expect(accuracyInterval(new Array(24).fill(1))).toEqual(wilson(24, 24));
    // symmetric in k <-> n - k
    const [lo, hi] = wilson(3, 17);
    const [lo2, hi2] = wilson(14, 17);
    expect(lo).toBeCloseTo(1 - hi2, 12);
    expect(hi).toBeCloseTo(1 - lo2, 12);
  });

  it("Clopper-Pearson's interval: its tails are alpha/2 by the binomial, closed forms at 0/n and n/n", () => {
    // the binomial CDF against a plain sum
    let s = 0;
    for (let i = 0; i <= 3; i++) {
      let c = 1;
      for (let j = 0; j < i; j++) c = (c * (10 - j)) / (j + 1);
      s += c * 0.3 ** i * 0.7 ** (10 - i);
    }
    expect(binomialCdf(3, 10, 0.3)).toBeCloseTo(s, 12);
    const [lo, hi] = clopperPearson(8, 10);
    expect(1 - binomialCdf(7, 10, lo)).toBeCloseTo(0.025, 9); // P(X >= 8 | lo) = 2.5%
    expect(binomialCdf(8, 10, hi)).toBeCloseTo(0.025, 9); // P(X <= 8 | hi) = 2.5%
    expect(lo).toBeCloseTo(0.4439045, 6); // the textbook values for 8/10
    expect(hi).toBeCloseTo(0.9747893, 6);
    expect(clopperPearson(0, 24)).toEqual([0, expect.closeTo(1 - 0.025 ** (1 / 24), 9)]);
    expect(clopperPearson(24, 24)).toEqual([expect.closeTo(0.025 ** (1 / 24), 9), 1]);
    // wider than Wilson's, which it contains near the middle
    expect(clopperPearson(50, 100)[0]).toBeLessThan(wilson(50, 100)[0]);
  });

  it('macro-F1 over the classes present: a class absent from the test set is not averaged as 0', () => {
    // 3 classes, class 2 has no test images and is never predicted: 100% accuracy
    const cm = confusion([0, 0, 1, 1], [0, 0, 1, 1], 3);
    expect(classesPresent(cm)).toBe(2);
    expect(macroF1(cm)).toBe(1);
  });

  it('the paired seed test: mean and spread, a clear difference is significant, a swapped pair mirrors it, equal ones are not', () => {
    expect(meanSd([0.9, 0.92, 0.94])).toEqual({ mean: expect.closeTo(0.92, 12), sd: expect.closeTo(0.02, 12) });
    const n = 400;
    const mk = (wrongEvery: number, shift: number) => Array.from({ length: n }, (_, i) => ((i + shift) % wrongEvery === 0 ? 0 : 1));
    const a = [mk(50, 0), mk(50, 1), mk(50, 2)]; // 98%
    const b = [mk(5, 0), mk(5, 1), mk(5, 2)]; // 80%
    const t = pairedSeedTest(a, b, 1000, 1);
    expect(t.difference).toBeCloseTo(0.18, 10);
    expect(t.p).toBeLessThan(0.01);
    expect(t.ci95[0]).toBeGreaterThan(0);
    const back = pairedSeedTest(b, a, 1000, 1);
    expect(back.difference).toBeCloseTo(-0.18, 10);
    expect(back.ci95[1]).toBeLessThan(0);
    const same = pairedSeedTest(a, a, 500, 1);
    expect(same.difference).toBe(0);
    expect(same.p).toBe(1);
  });
});
