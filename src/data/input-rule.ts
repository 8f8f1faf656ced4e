/**
 * The input rule: how an ordinary image (a drawing, a scan, a photo, with or without alpha, at any size)
 * becomes the input a model was trained on. `predict`, `folder:` datasets and the teaching page all use it
 * (browser-safe: plain arrays, no Node module), documented in docs/input.md.
 *
 *   1. alpha is composited on white (a transparent background is what a viewer shows as white paper);
 *   2. colour is kept for a colour model, else made grey (ITU-R BT.601 luma);
 *   3. for a model trained on light objects on a dark background (MNIST, Fashion-MNIST: `framing` 'digit'
 *      or 'object'), an image with a light border is inverted (ink on paper becomes light on dark) and its
 *      background (the border's median) set to 0; a digit's ink is stretched to full intensity (its 99th
 *      percentile to 1), as MNIST's strokes are;
 *   4. framing as the dataset was made:
 *        digit   MNIST: the ink's bounding box scaled by area averaging so that its longer side is 20/28 of
 *                the image, placed with its centre of mass at the centre;
 *        object  Fashion-MNIST: the object trimmed to its bounding box, its longer side fitted to the image,
 *                centred;
 *        photo   everything else: scaled so that it covers the model's size (short side fitted), centred
 *                and cropped;
 *   5. size and channels from the model's metadata.
 *
 * Notes say where an image is far from what the model saw: colour into a grey model, an extreme aspect
 * ratio, a busy background behind a digit or an object.
 */

export type Framing = 'digit' | 'object' | 'photo';

export interface InputRule {
  framing: Framing;
  height: number;
  width: number;
  channels: number;
}

/** An image as decoded: 8-bit values, row-major, interleaved channels (1 grey, 2 grey + alpha, 3 RGB, 4 RGBA). */
export interface RawImage {
  data: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
}

export interface RuleResult {
  /** `[height, width, channels]` in [0, 1], row-major */
  pixels: Float32Array;
  /** what was done that a user would want to know, and where the image is far from the training data */
  notes: string[];
  /** the warnings among the notes */
  warnings: string[];
}

/** The framing of a dataset: MNIST-like digits, Fashion-MNIST's objects, or photographs. */
export function framingOf(dataset: string | undefined | null): Framing {
  const d = (dataset ?? '').toLowerCase().replace(/[^a-z0-9]/g, '');
  if (d === 'mnist' || d === 'emnist' || d === 'kmnist' || d === 'qmnist') return 'digit';
  if (d === 'fashionmnist') return 'object';
  return 'photo';
}

/** The rule for a model from its metadata: the dataset it was trained on, and its input `[H, W, C]`. */
export function ruleFor(data: { dataset?: string; inShape: readonly number[] } | null | undefined): InputRule {
  const [height, width, channels] = data?.inShape ?? [28, 28, 1];
  return { framing: framingOf(data?.dataset), height, width, channels };
}

/** `[h*w*c]` floats in [0, 1] with alpha composited on white; and how colourful the image is (mean chroma). */
function compose(img: RawImage): { rgb: Float32Array; chroma: number; transparent: number } {
  const { width: w, height: h, channels: c, data } = img;
  const n = w * h;
  const rgb = new Float32Array(n * 3);
  let chroma = 0,
    transparent = 0;
  for (let i = 0; i < n; i++) {
    const o = i * c;
    let r: number, g: number, b: number, a: number;
    if (c === 1 || c === 2) r = g = b = data[o] / 255;
    else {
      r = data[o] / 255;
      g = data[o + 1] / 255;
      b = data[o + 2] / 255;
    }
    a = c === 2 ? data[o + 1] / 255 : c === 4 ? data[o + 3] / 255 : 1;
    if (a < 0.5) transparent++;
    rgb[3 * i] = r * a + (1 - a);
    rgb[3 * i + 1] = g * a + (1 - a);
    rgb[3 * i + 2] = b * a + (1 - a);
    chroma += Math.max(r, g, b) - Math.min(r, g, b);
  }
  return { rgb, chroma: chroma / Math.max(1, n), transparent: transparent / Math.max(1, n) };
}

/**
 * Area-averaging resize of `[h, w, c]` to `[th, tw, c]`: each target pixel is the mean of the source area
 * it covers, with fractional weights at the edges (exact for downscaling; for upscaling it is a box filter).
 */
export function resizeArea(src: Float32Array, w: number, h: number, c: number, tw: number, th: number): Float32Array {
  const out = new Float32Array(tw * th * c);
  const sx = w / tw,
    sy = h / th;
  for (let ty = 0; ty < th; ty++) {
    const y0 = ty * sy,
      y1 = (ty + 1) * sy;
    for (let tx = 0; tx < tw; tx++) {
      const x0 = tx * sx,
        x1 = (tx + 1) * sx;
      let wsum = 0;
      const acc = new Float64Array(c);
      for (let y = Math.floor(y0); y < Math.min(h, Math.ceil(y1)); y++) {
        const wy = Math.min(y + 1, y1) - Math.max(y, y0);
        if (wy <= 0) continue;
        for (let x = Math.floor(x0); x < Math.min(w, Math.ceil(x1)); x++) {
          const wx = Math.min(x + 1, x1) - Math.max(x, x0);
          if (wx <= 0) continue;
          const wgt = wx * wy;
          wsum += wgt;
          for (let q = 0; q < c; q++) acc[q] += wgt * src[(y * w + x) * c + q];
        }
      }
      for (let q = 0; q < c; q++) out[(ty * tw + tx) * c + q] = wsum ? acc[q] / wsum : 0;
    }
  }
  return out;
}

/** The values on the image's one-pixel border. */
function border(g: Float32Array, w: number, h: number): number[] {
  const v: number[] = [];
  for (let x = 0; x < w; x++) v.push(g[x], g[(h - 1) * w + x]);
  for (let y = 1; y < h - 1; y++) v.push(g[y * w], g[y * w + w - 1]);
  return v;
}

const quantile = (sorted: ArrayLike<number>, q: number) =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.floor(q * (sorted.length - 1))))];

/** The bounding box of the values above `floor`, or null when there are none. */
function box(g: Float32Array, w: number, h: number, floor: number): { x0: number; y0: number; x1: number; y1: number } | null {
  let x0 = w,
    y0 = h,
    x1 = -1,
    y1 = -1;
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      if (g[y * w + x] > floor) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
  return x1 < 0 ? null : { x0, y0, x1, y1 };
}

/** The sub-image `[y0..y1] x [x0..x1]` of a `[h, w, c]` image. */
function crop(g: Float32Array, w: number, c: number, b: { x0: number; y0: number; x1: number; y1: number }): Float32Array {
  const bw = b.x1 - b.x0 + 1,
    bh = b.y1 - b.y0 + 1;
  const out = new Float32Array(bw * bh * c);
  for (let y = 0; y < bh; y++) out.set(g.subarray(((b.y0 + y) * w + b.x0) * c, ((b.y0 + y) * w + b.x0 + bw) * c), y * bw * c);
  return out;
}

/**
 * MNIST's framing of a light-on-dark grey image `[h*w]`: the box around the pixels above `floor`, scaled by
 * area averaging so that its longer side is `boxSide` pixels, placed with its centre of mass at the centre of
 * a `side` x `side` image. Zeros when nothing is drawn.
 */
export function frameDigit(g: Float32Array, w: number, h: number, side = 28, boxSide = 20, floor = 0.05): Float32Array {
  const out = new Float32Array(side * side);
  const b = box(g, w, h, floor);
  if (!b) return out;
  const bw = b.x1 - b.x0 + 1,
    bh = b.y1 - b.y0 + 1;
  const s = boxSide / Math.max(bw, bh);
  const tw = Math.max(1, Math.round(bw * s)),
    th = Math.max(1, Math.round(bh * s));
  const small = resizeArea(crop(g, w, 1, b), bw, bh, 1, tw, th);
  let m = 0,
    mx = 0,
    my = 0;
  for (let y = 0; y < th; y++)
    for (let x = 0; x < tw; x++) {
      const v = small[y * tw + x];
      m += v;
      mx += v * x;
      my += v * y;
    }
  // MNIST's digits have their centre of mass at pixel index side / 2 (14.0 on 28x28, measured on its test set)
  const clamp = (v: number, hi: number) => Math.min(Math.max(v, 0), hi);
  const ox = clamp(Math.round(side / 2 - (m ? mx / m : (tw - 1) / 2)), side - tw),
    oy = clamp(Math.round(side / 2 - (m ? my / m : (th - 1) / 2)), side - th);
  for (let y = 0; y < th; y++) for (let x = 0; x < tw; x++) out[(y + oy) * side + x + ox] = Math.min(1, small[y * tw + x]);
  return out;
}

/**
 * Fashion-MNIST's framing of a light-on-dark image `[h, w, c]`: trimmed to the box of the pixels above
 * `floor`, its longer side fitted to the target, centred on a dark `[th, tw, c]` image.
 */
export function frameObject(g: Float32Array, w: number, h: number, c: number, tw: number, th: number, floor = 0.05): Float32Array {
  const out = new Float32Array(tw * th * c);
  const grey = c === 1 ? g : Float32Array.from({ length: w * h }, (_, i) => Math.max(g[i * c], g[i * c + 1], g[i * c + 2]));
  const b = box(grey, w, h, floor);
  if (!b) return out;
  const bw = b.x1 - b.x0 + 1,
    bh = b.y1 - b.y0 + 1;
  const s = Math.min(tw / bw, th / bh);
  const rw = Math.max(1, Math.min(tw, Math.round(bw * s))),
    rh = Math.max(1, Math.min(th, Math.round(bh * s)));
  const small = resizeArea(crop(g, w, c, b), bw, bh, c, rw, rh);
  // an odd margin puts its extra pixel before the object, as Fashion-MNIST's images have it
  const ox = Math.ceil((tw - rw) / 2),
    oy = Math.ceil((th - rh) / 2);
  for (let y = 0; y < rh; y++) out.set(small.subarray(y * rw * c, (y + 1) * rw * c), ((y + oy) * tw + ox) * c);
  return out;
}

/** A photo's framing: scaled so that it covers `[th, tw]` (the short side fitted), centred and cropped. */
export function framePhoto(g: Float32Array, w: number, h: number, c: number, tw: number, th: number): Float32Array {
  const s = Math.max(tw / w, th / h);
  const cw = Math.min(w, Math.round(tw / s)),
    ch = Math.min(h, Math.round(th / s));
  const x0 = Math.floor((w - cw) / 2),
    y0 = Math.floor((h - ch) / 2);
  return resizeArea(crop(g, w, c, { x0, y0, x1: x0 + cw - 1, y1: y0 + ch - 1 }), cw, ch, c, tw, th);
}

/** The rule's framing of an image that is already light on a dark background (a drawing on the page). */
export function frameLightOnDark(g: Float32Array, w: number, h: number, c: number, rule: InputRule): Float32Array {
  if (rule.framing === 'photo') return framePhoto(g, w, h, c, rule.width, rule.height);
  if (rule.framing === 'digit' && c === 1 && rule.width === rule.height)
    return frameDigit(g, w, h, rule.width, Math.round((20 / 28) * rule.width));
  return frameObject(g, w, h, c, rule.width, rule.height);
}

/** ITU-R BT.601 luma of each pixel of an interleaved image of `c` >= 3 channels (the first three R, G, B): `[h*w]`. */
export function luma(px: Float32Array, c: number): Float32Array {
  const out = new Float32Array(px.length / c);
  for (let i = 0; i < out.length; i++) out[i] = 0.299 * px[i * c] + 0.587 * px[i * c + 1] + 0.114 * px[i * c + 2];
  return out;
}

/** Applies the input rule to a decoded image. */
export function applyRule(img: RawImage, rule: InputRule): RuleResult {
  const { width: w, height: h } = img;
  if (!(w > 0 && h > 0)) throw new RangeError(`an image of ${h}x${w} pixels (height x width)`);
  const notes: string[] = [];
  const warnings: string[] = [];
  const { rgb, chroma, transparent } = compose(img);
  if (transparent > 0.01) notes.push(`transparent pixels (${(100 * transparent).toFixed(0)}%) composited on white`);
  const c = rule.channels === 3 ? 3 : 1;
  if (c === 1 && chroma > 0.08) warnings.push('a colour image into a model trained on grey images: it is read as grey');
  const aspect = Math.max(w, h) / Math.min(w, h);
  if (aspect > 3)
    warnings.push(`an extreme aspect ratio (${h}x${w}): the model was trained on ${rule.height}x${rule.width} images (height x width)`);
  const g = c === 3 ? rgb : luma(rgb, 3);
  if (rule.framing === 'photo') {
    if (w !== rule.width || h !== rule.height)
      notes.push(`${h}x${w} scaled to cover ${rule.height}x${rule.width} (height x width), centred and cropped`);
    return { pixels: framePhoto(g, w, h, c, rule.width, rule.height), notes: [...notes, ...warnings], warnings };
  }
  // light objects on a dark background, as MNIST and Fashion-MNIST are: polarity from the border
  const lum = c === 1 ? g : luma(g, 3);
  const edge = border(lum, w, h).sort((a, b) => a - b);
  const bgLevel = quantile(edge, 0.5);
  const invert = bgLevel > 0.5;
  if (invert) {
    for (let i = 0; i < g.length; i++) g[i] = 1 - g[i];
    notes.push('a light background: inverted, as the training images are light on dark');
  }
  const spread = quantile(edge, 0.9) - quantile(edge, 0.1);
  if (spread > 0.35) warnings.push('a busy background (a photograph?): the model was trained on one object on a plain background');
  // the background to 0; a digit's ink stretched to the 99th percentile (MNIST's strokes reach full intensity;
  // Fashion-MNIST keeps each object's own grey levels, so an object is not stretched)
  const bg = invert ? 1 - bgLevel : bgLevel;
  let scale = 1;
  if (rule.framing === 'digit') {
    const hi = quantile(Float32Array.from(g).sort(), 0.99);
    if (hi - bg > 0.05) scale = 1 / (hi - bg);
  }
  for (let i = 0; i < g.length; i++) g[i] = Math.min(1, Math.max(0, (g[i] - bg) * scale));
  const framed = frameLightOnDark(g, w, h, c, rule);
  notes.push(
    rule.framing === 'digit'
      ? `framed as MNIST: the ink's box scaled to ${Math.round((20 / 28) * rule.width)} px, centred by its centre of mass`
      : `framed as Fashion-MNIST: trimmed, the longer side fitted to ${Math.max(rule.width, rule.height)} px, centred`,
  );
  return { pixels: framed, notes: [...notes, ...warnings], warnings };
}
