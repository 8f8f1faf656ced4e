/**
 * Dense SIFT as one pass: where a pipeline holds gradient -> orientation -> cells -> descriptor (four stages
 * that describe themselves as SiftStage parts), or a multi-scale dsift stage made of such chains, and the
 * native kernels are in use, the chain runs as one native call per batch (BowcnnDenseSift, native/bowcnn.cc)
 * that never writes the oriented responses, the orientation maps or the cell maps. The stages, their cards
 * and their export do not change; elsewhere (other backends, no addon, a chain it does not know) each stage's
 * own apply runs, and that is what the kernel is tested against.
 */
import * as tf from '@tensorflow/tfjs';
import { hasNativeKernel } from '../backend/kernel-util.js';
import { type DenseSiftAttrs, nativeKernelsActive } from '../backend/native.js';
import { isMultiScaleSift, isSiftStage, type Maps, type SiftPart, type Stage } from '../stages/stage.js';

type Part<K extends SiftPart['part']> = Extract<SiftPart, { part: K }>;

/** The four parts of stages [i, i + 4) when they make one dense SIFT chain the kernel computes, else null. */
function chainAt(stages: readonly Stage[], i: number, to: number) {
  if (i + 4 > to) return null;
  const parts = stages.slice(i, i + 4).map((s) => (isSiftStage(s) ? s.siftPart() : null));
  const [g, o, c, d] = parts;
  if (g?.part !== 'gradient' || o?.part !== 'orientation' || c?.part !== 'cells' || d?.part !== 'descriptor') return null;
  // the kernel bins 8 responses into 8 signed bins centred on the filters' directions, pads by continuity,
  // and samples the cells at the descriptor's cell size
  if (g.orientations !== 8 || g.padding !== 'replicate' || c.size !== d.cellSize || c.size > 32) return null;
  if (o.bins !== 8 || !o.signed || o.offset !== 'none') return null;
  return { g, o, c, d } as { g: Part<'gradient'>; o: Part<'orientation'>; c: Part<'cells'>; d: Part<'descriptor'> };
}

function runChain(x: Maps, ch: NonNullable<ReturnType<typeof chainAt>>, offset: number, framesY: number, framesX: number): Maps {
  const filters = ch.g.filters(x.shape[3]);
  const attrs: DenseSiftAttrs = {
    mode: ch.o.mode,
    cellSize: ch.c.size,
    window: ch.c.window,
    padding: ch.c.padding,
    step: ch.d.step,
    bins: ch.d.bins,
    norm: ch.d.norm,
    offset,
    framesY,
    framesX,
    contrastThreshold: ch.d.contrastThreshold,
  };
  const binWeights = ch.d.binWeights();
  if (x.dtype === 'float32')
    return tf.engine().runKernel('BowcnnDenseSift', { x, filters, binWeights }, attrs as unknown as tf.NamedAttrMap) as Maps;
  return tf.tidy(
    () =>
      tf
        .engine()
        .runKernel('BowcnnDenseSift', { x: tf.cast(x, 'float32'), filters, binWeights }, attrs as unknown as tf.NamedAttrMap) as Maps,
  );
}

/**
 * The fused dense SIFT at stage i, if stages [i, ...) start with one it computes: how many stages it stands for
 * and the function that runs them. Null where the stages' own apply must run.
 */
export function fusedSift(stages: readonly Stage[], i: number, to: number, x: Maps): { length: number; run: (x: Maps) => Maps } | null {
  if (x.rank !== 4 || !nativeKernelsActive() || !hasNativeKernel('BowcnnDenseSift', x)) return null;
  const s = stages[i];
  if (isMultiScaleSift(s)) {
    const scales = s.siftScales().map((sc) => ({ offset: sc.offset, chain: chainAt(sc.stages, 0, sc.stages.length) }));
    if (scales.some((sc) => !sc.chain || sc.chain.d.step !== scales[0].chain?.d.step)) return null;
    return {
      length: 1,
      run: (m: Maps) => {
        const [n, h, w] = m.shape;
        const { framesY, framesX } = s.siftGrid(h, w);
        if (!(framesY > 0 && framesX > 0)) return s.apply(m); // the stage says what is wrong
        const per = scales.map((sc) => runChain(m, sc.chain!, sc.offset, framesY, framesX));
        if (per.length === 1) return per[0];
        const out = tf.tidy(() => tf.stack(per, 3).reshape([n, framesY, framesX * per.length, per[0].shape[3]]) as Maps);
        tf.dispose(per);
        return out;
      },
    };
  }
  const ch = chainAt(stages, i, to);
  if (!ch) return null;
  return {
    length: 4,
    run: (m: Maps) => {
      const { framesY, framesX } = ch.d.frames(m.shape[1], m.shape[2]);
      return runChain(m, ch, 0, framesY, framesX);
    },
  };
}
