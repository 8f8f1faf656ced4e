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
import { descriptor, frameGeometry, normalize } from './descriptor.js';
import { gradient, phowSigma } from './gradient.js';
import { orientation } from './orientation.js';
import { check4d, defineStage, type Maps, type MultiScaleSift, type Stage, type StageBody } from './stage.js';

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
      windowSize: cfg.windowSize ?? 2,
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

/**
 * vl_phow's colour spaces, as maps `[N,H,W,3]` (a grey image is first repeated to three channels):
 *   rgb       as it is
 *   opponent  mu = 0.3 R + 0.59 G + 0.11 B, (R - G)/sqrt 2 + 0.01 mu, (R + G - 2B)/sqrt 6 + 0.01 mu: a 1x1 conv
 *   hsv       MATLAB's rgb2hsv (H in [0, 1), S, V = max(R, G, B))
 */
export function colourMaps(x: Maps, color: 'rgb' | 'hsv' | 'opponent'): Maps {
  return tf.tidy(() => {
    const rgb = x.shape[3] === 1 ? (tf.tile(x, [1, 1, 1, 3]) as Maps) : x;
    if (color === 'rgb') return rgb.clone();
    if (color === 'opponent') {
      const a = 0.01,
        r2 = Math.SQRT2,
        r6 = Math.sqrt(6);
      // columns: mu, O1, O2 as weights of R, G, B
      const w = [
        [0.3, 1 / r2 + a * 0.3, 1 / r6 + a * 0.3],
        [0.59, -1 / r2 + a * 0.59, 1 / r6 + a * 0.59],
        [0.11, a * 0.11, -2 / r6 + a * 0.11],
      ];
      return tf.conv2d(rgb, tf.tensor4d(w.flat(), [1, 1, 3, 3]), 1, 'valid') as Maps;
    }
    const [r, g, b] = tf.split(rgb, 3, 3);
    const v = tf.maximum(tf.maximum(r, g), b);
    const d = tf.sub(v, tf.minimum(tf.minimum(r, g), b));
    const safe = tf.where(tf.greater(d, 0), d, tf.onesLike(d));
    // later cases win ties, as in rgb2hsv
    let h = tf.where(tf.equal(r, v), tf.div(tf.sub(g, b), safe), tf.zerosLike(d));
    h = tf.where(tf.equal(g, v), tf.add(2, tf.div(tf.sub(b, r), safe)), h);
    h = tf.where(tf.equal(b, v), tf.add(4, tf.div(tf.sub(r, g), safe)), h);
    h = tf.div(h, 6);
    h = tf.where(tf.less(h, 0), tf.add(h, 1), h);
    h = tf.where(tf.greater(d, 0), h, tf.zerosLike(h));
    const sat = tf.where(tf.greater(v, 0), tf.div(d, tf.where(tf.greater(v, 0), v, tf.onesLike(v))), tf.zerosLike(v));
    return tf.concat([h, sat, v], 3) as Maps;
  });
}

/** A stage computing dense SIFT at one or several cell sizes (see the header for the multi-scale layout). */
export const denseSift = defineStage<typeof DenseSiftSchema, MultiScaleSift>('dsift', DenseSiftSchema, (config, name) => {
  const { sizes, step, color } = config;
  const maxSize = Math.max(...sizes);
  const channels = color === 'gray' ? 1 : 3;
  // in colour, each channel's raw descriptors: the contrast threshold and the normalisation come after, over
  // the three channels together (vl_phow's rule)
  const chains = sizes.map((size) => ({
    size,
    off: Math.floor(1.5 * (maxSize - size)),
    stages: denseSiftStages(color === 'gray' ? { ...config, size } : { ...config, size, norm: 'none', contrastThreshold: 0 }),
  }));
  const grid = (h: number, w: number) => frameGeometry(h, w, maxSize, step);
  const outShape = (s: readonly number[]) => {
    const g = grid(s[0], s[1]);
    return [g.framesY, g.framesX * sizes.length, 128 * channels];
  };
  /** One scale's descriptors of `[N,H,W,1 or 3]` maps, cut to the largest size's grid. */
  const scale = ({ off, stages }: (typeof chains)[number], x: Maps, g: { framesY: number; framesX: number }): Maps => {
    const [n, h, w] = x.shape;
    const [gr, or, ce, de] = stages;
    let m = ce.apply(or.apply(gr.apply(x)));
    if (off > 0) m = tf.slice(m, [0, off, off, 0], [n, h - off, w - off, m.shape[3]]);
    const d = de.apply(m);
    return tf.slice(d, [0, 0, 0, 0], [n, g.framesY, g.framesX, d.shape[3]]);
  };
  /** vl_phow in colour: SIFT on each channel, the contrast of channel 1 / the mean / V, normalised, concatenated. */
  const colourScale = (c: (typeof chains)[number], xc: Maps, g: { framesY: number; framesX: number }): Maps => {
    const frame = 3 * c.size + 1;
    const raw = tf.split(xc, 3, 3).map((ch) => scale(c, ch as Maps, g)); // [N,h',w',128] each, unnormalised
    const mass = raw.map((r) => tf.div(tf.sum(r, 3, true), frame * frame));
    const contrast = color === 'rgb' ? tf.div(tf.addN(mass), 3) : color === 'hsv' ? mass[2] : mass[0];
    const keep = tf.cast(tf.greaterEqual(contrast, config.contrastThreshold), 'float32');
    return tf.concat(
      raw.map((r) => tf.mul(normalize(r as tf.Tensor4D, config.norm), keep)),
      3,
    ) as Maps;
  };
  const stage = {
    siftGrid: (h: number, w: number) => grid(h, w),
    apply(x: Maps): Maps {
      check4d(name, x);
      const [n, h, w] = x.shape;
      const g = grid(h, w);
      return tf.tidy(() => {
        const xc = color === 'gray' ? x : colourMaps(x, color);
        const per = chains.map((c) => (color === 'gray' ? scale(c, xc, g) : colourScale(c, xc, g)));
        if (per.length === 1) return per[0];
        // [N,H',W',S,D] -> [N,H',W'*S,D]
        return tf.stack(per, 3).reshape([n, g.framesY, g.framesX * per.length, per[0].shape[3]]) as tf.Tensor4D;
      });
    },
    outShape,
    card(s: readonly number[]): LayerCard {
      const cards = chainCards(chains[chains.length - 1].stages, s);
      const last = cards[cards.length - 1];
      const params = chains.reduce((a, c) => a + chainCards(c.stages, s).reduce((b, k) => b + k.params, 0), 0);
      return {
        ...last,
        stage: name,
        classic: `dense SIFT${color === 'gray' ? '' : ` on ${color} (3 x 128)`}, cell ${sizes.join('/')} px, step ${step}`,
        cnn: `${color === 'opponent' ? '1x1 conv 3->3 (opponent colours), then ' : ''}${sizes.length * channels} x (conv 8 filters + ${config.mode} + local sum pooling + 4x4 gather conv)`,
        params,
        outShape: outShape(s),
      };
    },
    dispose: () => {
      for (const c of chains) for (const st of c.stages) st.dispose?.();
    },
  };
  // the fused native pass runs grey SIFT; colour runs as tensors
  const scales = () => chains.map((c) => ({ offset: c.off, stages: c.stages }));
  return (color === 'gray' ? { ...stage, siftScales: scales } : stage) as StageBody<MultiScaleSift>;
});
