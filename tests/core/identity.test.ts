import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalJson, dataIdentity, identity } from '../../src/core/identity.js';
import { makeSplit } from '../../src/core/data.js';

describe('identities', () => {
  it("a value's identity is the SHA-256 of its JSON with sorted keys, at any depth", () => {
    const a = { stages: [{ kind: 'coding', config: { words: 8, mode: 'hard' } }], seed: 1 };
    const b = { seed: 1, stages: [{ config: { mode: 'hard', words: 8 }, kind: 'coding' }] };
    const written = '{"seed":1,"stages":[{"config":{"mode":"hard","words":8},"kind":"coding"}]}';
    expect(canonicalJson(a)).toBe(written);
    expect(identity(a)).toBe(createHash('sha256').update(written).digest('hex'));
    expect(identity(b)).toBe(identity(a));
    expect(identity({ ...a, seed: 2 })).not.toBe(identity(a));
    expect(identity([1, 2])).not.toBe(identity([2, 1])); // arrays keep their order
    expect(identity(a, 16)).toBe(identity(a).slice(0, 16));
  });

  it("data's identity changes with any pixel or label and not with anything else", () => {
    const px = new Uint8Array(2 * 3 * 3).map((_, i) => i);
    const split = (p: Uint8Array, l: number[]) => makeSplit(p, Int32Array.from(l), 3, 3, 1);
    const base = dataIdentity({ name: 'd', splits: [split(px, [0, 1])] });
    expect(dataIdentity({ name: 'd', splits: [split(px.slice(), [0, 1])] })).toBe(base);
    const p2 = px.slice();
    p2[17] ^= 1;
    expect(dataIdentity({ name: 'd', splits: [split(p2, [0, 1])] })).not.toBe(base);
    expect(dataIdentity({ name: 'd', splits: [split(px, [1, 1])] })).not.toBe(base);
    expect(dataIdentity({ name: 'd', splits: [split(px, [0, 1])], extra: { seed: 1 } })).not.toBe(base);
    expect(dataIdentity({ name: 'd', splits: [split(px, [0, 1])], extra: { a: 1, b: 2 } })).toBe(
      dataIdentity({ name: 'd', splits: [split(px, [0, 1])], extra: { b: 2, a: 1 } }),
    );
  });
});
