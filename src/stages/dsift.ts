/**
 * Dense SIFT = gradient -> orientation -> cells -> descriptor (the first two rows of the BoW = CNN table),
 * and the multi-scale form of VLFeat's `vl_phow` (Sizes [4 6 8 10]).
 *
 * Multi-scale choice: all scales on ONE frame grid, concatenated as frames. As in vl_phow, the frames of
 * a smaller cell size are offset by floor(1.5 (maxSize - size)) so every scale has the same frame
 * centres (1.5 maxSize + i step); each scale keeps its own smoothing (phowSigma(size) unless `sigma` is
 * given). The S descriptors of one grid point are interleaved along the width axis:
 *   output `[N, H', W' * S, 128]`, column j*S + k = scale k at grid column j.
 * A 1x1 coding conv and global pooling then treat every frame of every scale alike (vl_phow's
 * behaviour); pyramid regions split the widened axis, so a region boundary falls between grid columns
 * when W' is a multiple of the level count.
 */
import * as tf from '@tensorflow/tfjs';
import { growField, type LayerCard } from '../core/card.js';
import { DenseSiftSchema, type DenseSiftConfig } from '../config/stages.js';
import { cells } from './cells.js';
import { descriptor, frameGeometry } from './descriptor.js';
import { gradient, phowSigma } from './gradient.js';
import { orientation } from './orientation.js';
import { check4d, defineStage, type Maps, type MultiScaleSift, type Stage } from './stage.js';

export type { DenseSiftConfig };

/** The four single-scale stages, configured consistently. */
export function denseSiftStages(cfg: Omit<DenseSiftConfig, 'sizes'> = {}): Stage[] {
  const size = cfg.size ?? 4;
  const sigma = cfg.sigma === 'phow' ? phowSigma(size) : (cfg.sigma ?? 0);
  return [
    gradient({ sigma }),
    orientation({ mode: cfg.mode ?? 'wta' }),
    cells({ size, window: cfg.window ?? 'box', padding: cfg.padding ?? 'zero' }),
    descriptor({
      cellSize: size,
      step: cfg.step ?? 2,
      norm: cfg.norm ?? 'sift',
      window: cfg.gaussianWindow ? 'gaussian' : 'flat',
      contrastThreshold: cfg.contrastThreshold ?? 0,
    }),
  ];
}

export function applyStages(stages: readonly Stage[], x: Maps): Maps {
  return tf.tidy(() => stages.reduce((m, s) => s.apply(m), x));
}

/** Cards of a chain with the cumulative receptive field (input pixels) after each stage. */
export function chainCards(stages: readonly Stage[], inShape: readonly number[]): LayerCard[] {
  let shape = [...inShape];
  let field = { r: 1, j: 1 };
  return stages.map((s) => {
    const c = s.card(shape);
    if (c.kernel) field = growField(field.r, field.j, c.kernel[0], c.stride ?? 1, c.dilation ?? 1);
    shape = s.outShape(shape);
    return { ...c, receptiveField: field.r };
  });
}

/** A stage computing dense SIFT at one or several cell sizes (see the header for the multi-scale layout). */
export const denseSift = defineStage<typeof DenseSiftSchema, MultiScaleSift>('dsift', DenseSiftSchema, (config, name) => {
  const { sizes, step } = config;
  const maxSize = Math.max(...sizes);
  const chains = sizes.map((size) => ({
    size,
    off: Math.floor(1.5 * (maxSize - size)),
    stages: denseSiftStages({ ...config, size }),
  }));
  const grid = (h: number, w: number) => frameGeometry(h, w, maxSize, step);
  const outShape = (s: readonly number[]) => {
    const g = grid(s[0], s[1]);
    return [g.framesY, g.framesX * sizes.length, 128];
  };
  return {
    siftScales: () => chains.map((c) => ({ offset: c.off, stages: c.stages })),
    siftGrid: (h: number, w: number) => grid(h, w),
    apply(x: Maps): Maps {
      check4d(name, x);
      const [n, h, w] = x.shape;
      const g = grid(h, w);
      return tf.tidy(() => {
        const per = chains.map(({ off, stages }) => {
          const [gr, or, ce, de] = stages;
          let m = ce.apply(or.apply(gr.apply(x)));
          if (off > 0) m = tf.slice(m, [0, off, off, 0], [n, h - off, w - off, m.shape[3]]);
          const d = de.apply(m);
          return tf.slice(d, [0, 0, 0, 0], [n, g.framesY, g.framesX, d.shape[3]]); // the largest size's grid
        });
        if (per.length === 1) return per[0];
        // [N,H',W',S,D] -> [N,H',W'*S,D]
        return tf.stack(per, 3).reshape([n, g.framesY, g.framesX * per.length, per[0].shape[3]]) as tf.Tensor4D;
      });
    },
    outShape,
    card(s): LayerCard {
      const cards = chainCards(chains[chains.length - 1].stages, s);
      const last = cards[cards.length - 1];
      const params = chains.reduce((a, c) => a + chainCards(c.stages, s).reduce((b, k) => b + k.params, 0), 0);
      return {
        ...last,
        stage: name,
        classic: `dense SIFT, cell ${sizes.join('/')} px, step ${step}`,
        cnn: `${sizes.length} x (conv 8 filters + ${config.mode} + local sum pooling + 4x4 gather conv)`,
        params,
        outShape: outShape(s),
      };
    },
    dispose: () => {
      for (const c of chains) for (const st of c.stages) st.dispose?.();
    },
  };
});
