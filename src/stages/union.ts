/**
 * Feature union: several branches run on the same input, each to its own feature vector, and the vectors
 * side by side are one classifier's input (scikit-learn's FeatureUnion; in CNN terms, parallel towers whose
 * flattened outputs are concatenated before the fully connected layer, as in GoogLeNet's Inception blocks).
 * A linear SVM over the union weighs every branch's features at once, which one branch's SVM cannot: HOG's
 * fixed layout of gradients and the BoW histogram of local words see different things in an image.
 *
 * Branch b gives `[N, D_b]` (its stages' output flattened). With norm 'l2' each image's row of a branch is
 * scaled to unit L2 norm and then by the branch's weight, so that the branches count by their weights, not by
 * their sizes; the union is `[N,1,1,D_1 + D_2 + ...]`, in branch order.
 *
 * Each branch's stages are fitted on the pipeline's input as that branch would be on its own (the pipeline
 * does it: pipeline.ts), so a union of two recipes learns the same dictionary as the recipe alone, and the
 * feature cache shares it. apply() is the tensor reference; passes/bow.ts runs each branch fused, in sparse
 * rows (core/sparse.ts csrUnion), with the same numbers.
 */
import * as tf from '@tensorflow/tfjs';
import type { LayerCard } from '../core/card.js';
import { UnionSchema } from '../config/stages.js';
import { chainCards } from './dsift.js';
import { check4d, defineStage, makeStage, StageError, type Maps, type Stage } from './stage.js';

export type { UnionConfig } from '../config/stages.js';

export interface UnionBranch {
  readonly name: string;
  readonly stages: readonly Stage[];
  readonly weight: number;
}

export interface UnionStage extends Stage {
  branches(): readonly UnionBranch[];
  readonly l2: boolean;
}

export const isUnion = (s: Stage | undefined): s is UnionStage => typeof (s as Partial<UnionStage> | undefined)?.branches === 'function';

/** Features per image of a branch: the product of its last output shape. */
function branchWidth(stages: readonly Stage[], inShape: readonly number[]): number {
  let sh = [...inShape];
  for (const s of stages) sh = s.outShape(sh);
  return sh.reduce((a, b) => a * b, 1);
}

/** The union stage: its branches' stages are made from their entries by kind (any registered kind). */
export const union = defineStage<typeof UnionSchema, UnionStage>('union', UnionSchema, (config, name) => {
  const branches: UnionBranch[] = config.branches.map((b) => {
    const where = `stage '${name}' branch '${b.name}'`;
    const stages = b.stages.map((e) => makeStage(e.kind, e.config, e.name, where));
    const names = stages.map((s) => s.name);
    const dup = names.find((n, i) => names.indexOf(n) !== i);
    if (dup) throw new StageError(name, `branch '${b.name}' has two stages named '${dup}'`);
    const sup = stages.find((s) => s.supervised);
    if (sup)
      throw new StageError(
        name,
        `branch '${b.name}': stage '${sup.name}' is fitted on labels; a branch ends at its features (the classifier comes after the union)`,
      );
    return { name: b.name, stages, weight: b.weight };
  });
  const l2 = config.norm === 'l2';
  const widths = (sh: readonly number[]) => branches.map((b) => branchWidth(b.stages, sh));
  const each = <T>(f: (b: UnionBranch, s: Stage) => T) => branches.flatMap((b) => b.stages.map((s) => f(b, s)));
  return {
    l2,
    branches: () => branches,
    apply(x: Maps): Maps {
      check4d(name, x);
      const n = x.shape[0];
      const outs = branches.map((b) => {
        let m: Maps = x;
        for (const s of b.stages) {
          const next = s.apply(m);
          if (m !== x) m.dispose();
          m = next;
        }
        const flat: tf.Tensor2D = tf.tidy(() => {
          const f = tf.reshape(m, [n, -1]) as tf.Tensor2D;
          if (!l2) return tf.mul(f, b.weight);
          const norm = tf.sqrt(tf.sum(tf.square(f), 1, true));
          // a zero row stays zero: divide by 1 where the norm is 0
          return tf.mul(tf.div(f, tf.where(tf.greater(norm, 0), norm, tf.onesLike(norm))), b.weight);
        });
        if (m !== x) m.dispose();
        return flat;
      });
      const d = outs.reduce((a, o) => a + o.shape[1], 0);
      const out = tf.tidy(() => tf.reshape(tf.concat(outs, 1), [n, 1, 1, d]) as Maps);
      tf.dispose(outs);
      return out;
    },
    outShape: (sh) => [1, 1, widths(sh).reduce((a, b) => a + b, 0)],
    card(sh): LayerCard {
      const w = widths(sh);
      const D = w.reduce((a, b) => a + b, 0);
      const per = branches.map((b) => chainCards(b.stages, sh));
      const params = per.flat().reduce((a, c) => a + c.params, 0);
      const field = Math.max(...per.map((c) => c.at(-1)?.receptiveField ?? 1));
      return {
        stage: name,
        classic: `feature union: ${branches.map((b, i) => `${b.name} (${b.stages.map((s) => s.kind).join(' > ')}, ${w[i]})`).join(' + ')}`,
        cnn: `${branches.length} parallel towers, flattened${l2 ? ', each L2-normalised and weighted' : ''}, concatenated -> ${D}`,
        mapsIn: sh[2] ?? 1,
        mapsOut: D,
        params,
        origin: per.flat().some((c) => c.origin === 'unsupervised') ? 'unsupervised' : 'handcrafted',
        receptiveField: field,
        // the towers' extent, so that a chain of cards grows its receptive field through the union
        kernel: [field, field],
        stride: 1,
        outShape: [1, 1, D],
        connections: per.flat().reduce((a, c) => a + (c.connections ?? 0), 0),
      };
    },
    state(): Record<string, tf.Tensor> {
      const out: Record<string, tf.Tensor> = {};
      each((b, s) => {
        for (const [k, t] of Object.entries(s.state?.() ?? {})) out[`${b.name}/${s.name}/${k}`] = t;
      });
      return out;
    },
    restore(st) {
      each((b, s) => {
        const pre = `${b.name}/${s.name}/`;
        const mine = Object.fromEntries(
          Object.entries(st)
            .filter(([k]) => k.startsWith(pre))
            .map(([k, t]) => [k.slice(pre.length), t]),
        );
        if (Object.keys(mine).length) s.restore?.(mine);
      });
    },
    extraState(): Record<string, unknown> {
      const out: Record<string, unknown> = {};
      each((b, s) => {
        const e = s.extraState?.();
        if (e && Object.keys(e).length) out[`${b.name}/${s.name}`] = e;
      });
      return out;
    },
    async restoreExtra(st) {
      for (const [b, s] of each((b, s) => [b, s] as const)) {
        const e = st[`${b.name}/${s.name}`];
        if (e) await s.restoreExtra?.(e as Record<string, unknown>);
      }
    },
    async pictures() {
      const all = await Promise.all(
        each(async (b, s) => (await (s.pictures?.() ?? [])).map((p) => ({ ...p, title: `${b.name}: ${p.title}` }))),
      );
      return all.flat();
    },
    toLayers() {
      throw new StageError(name, 'a union of branches is not exported as layers (export each branch as a pipeline of its own)');
    },
    dispose() {
      each((_b, s) => s.dispose?.());
    },
  };
});
