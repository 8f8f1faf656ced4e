/**
 * The page's input: a drawing square (mouse, touch, pen), photos, and MNIST's framing of a digit (its
 * bounding box scaled to 20x20 pixels by area averaging, then placed so that its centre of mass is at the
 * centre of the 28x28 image), so that a drawing looks like the test images the models were fitted on.
 */

/** Grey levels in [0,1] of a canvas (its red channel), row-major. */
export function greyOf(c: HTMLCanvasElement): Float32Array {
  const d = c.getContext('2d', { willReadFrequently: true })!.getImageData(0, 0, c.width, c.height).data;
  const g = new Float32Array(c.width * c.height);
  for (let i = 0; i < g.length; i++) g[i] = d[4 * i] / 255;
  return g;
}

/**
 * MNIST's framing of a grey image `[h*w]`: the box around the pixels above `floor`, scaled by area averaging
 * so that its longer side is `box` pixels, placed with its centre of mass at the centre of a `side` x `side`
 * image. Returns zeros when nothing is drawn.
 */
export function frameDigit(g: Float32Array, w: number, h: number, side = 28, box = 20, floor = 0.05): Float32Array {
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
  const out = new Float32Array(side * side);
  if (x1 < 0) return out;
  const bw = x1 - x0 + 1,
    bh = y1 - y0 + 1;
  const s = box / Math.max(bw, bh);
  const tw = Math.max(1, Math.round(bw * s)),
    th = Math.max(1, Math.round(bh * s));
  // area averaging: each target pixel is the mean of the source pixels whose centres fall in its footprint
  const small = new Float32Array(tw * th);
  for (let ty = 0; ty < th; ty++)
    for (let tx = 0; tx < tw; tx++) {
      const sx0 = x0 + (tx * bw) / tw,
        sx1 = x0 + ((tx + 1) * bw) / tw,
        sy0 = y0 + (ty * bh) / th,
        sy1 = y0 + ((ty + 1) * bh) / th;
      let sum = 0,
        n = 0;
      for (let y = Math.floor(sy0); y < Math.ceil(sy1); y++)
        for (let x = Math.floor(sx0); x < Math.ceil(sx1); x++) {
          sum += g[y * w + x];
          n++;
        }
      small[ty * tw + tx] = n ? sum / n : 0;
    }
  let m = 0,
    mx = 0,
    my = 0;
  for (let y = 0; y < th; y++)
    for (let x = 0; x < tw; x++) {
      const v = small[y * tw + x];
      m += v;
      mx += v * (x + 0.5);
      my += v * (y + 0.5);
    }
  const clamp = (v: number, hi: number) => Math.min(Math.max(v, 0), hi);
  const ox = clamp(Math.round(side / 2 - (m ? mx / m : tw / 2)), side - tw),
    oy = clamp(Math.round(side / 2 - (m ? my / m : th / 2)), side - th);
  for (let y = 0; y < th; y++) for (let x = 0; x < tw; x++) out[(y + oy) * side + x + ox] = Math.min(1, small[y * tw + x]);
  return out;
}

/** A drawing square: white strokes on black; calls onChange while drawing and onDone when a stroke ends. */
export function drawingPad(
  c: HTMLCanvasElement,
  onChange: () => void,
  onDone: () => void,
): { clear(): void; show(g: Float32Array, side: number): void } {
  const ctx = c.getContext('2d', { willReadFrequently: true })!;
  const clear = () => {
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, c.width, c.height);
  };
  clear();
  let last: [number, number] | null = null;
  const at = (e: PointerEvent): [number, number] => {
    const r = c.getBoundingClientRect();
    return [((e.clientX - r.left) * c.width) / r.width, ((e.clientY - r.top) * c.height) / r.height];
  };
  c.addEventListener('pointerdown', (e) => {
    c.setPointerCapture(e.pointerId);
    last = at(e);
    stroke(last, last);
  });
  c.addEventListener('pointermove', (e) => {
    if (!last) return;
    const p = at(e);
    stroke(last, p);
    last = p;
  });
  const end = () => {
    if (!last) return;
    last = null;
    onDone();
  };
  c.addEventListener('pointerup', end);
  c.addEventListener('pointercancel', end);
  function stroke(a: [number, number], b: [number, number]) {
    ctx.strokeStyle = '#fff';
    ctx.lineWidth = c.width / 13;
    ctx.lineCap = 'round';
    ctx.lineJoin = 'round';
    ctx.beginPath();
    ctx.moveTo(a[0], a[1]);
    ctx.lineTo(b[0], b[1]);
    ctx.stroke();
    onChange();
  }
  /** Shows a grey image of side x side pixels on the square (a test image, a photo), scaled up. */
  const show = (g: Float32Array, side: number) => {
    const img = ctx.createImageData(c.width, c.height);
    for (let y = 0; y < c.height; y++)
      for (let x = 0; x < c.width; x++) {
        const v = Math.round(255 * g[Math.floor((y * side) / c.height) * side + Math.floor((x * side) / c.width)]);
        const o = 4 * (y * c.width + x);
        img.data[o] = img.data[o + 1] = img.data[o + 2] = v;
        img.data[o + 3] = 255;
      }
    ctx.putImageData(img, 0, 0);
  };
  return { clear, show };
}

/**
 * A photo as a digit drawing: grey, inverted when its background is light (ink on paper), its contrast
 * stretched between the 5th and the 95th percentile and its background set to 0.
 */
export async function photoAsDrawing(file: Blob, side: number): Promise<Float32Array> {
  const bmp = await createImageBitmap(file);
  const c = document.createElement('canvas');
  c.width = c.height = side;
  const ctx = c.getContext('2d', { willReadFrequently: true })!;
  const s = Math.min(side / bmp.width, side / bmp.height);
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, side, side);
  ctx.drawImage(bmp, (side - bmp.width * s) / 2, (side - bmp.height * s) / 2, bmp.width * s, bmp.height * s);
  bmp.close();
  const d = ctx.getImageData(0, 0, side, side).data;
  const g = new Float32Array(side * side);
  for (let i = 0; i < g.length; i++) g[i] = (0.299 * d[4 * i] + 0.587 * d[4 * i + 1] + 0.114 * d[4 * i + 2]) / 255;
  const sorted = Float32Array.from(g).sort();
  const median = sorted[sorted.length >> 1];
  if (median > 0.5) for (let i = 0; i < g.length; i++) g[i] = 1 - g[i];
  const after = Float32Array.from(g).sort();
  const lo = after[Math.floor(g.length * 0.05)],
    hi = after[Math.floor(g.length * 0.95)];
  // the background (below the median after inversion) goes to 0 so that the digit's box is found
  const bg = Math.max(lo, after[g.length >> 1]);
  for (let i = 0; i < g.length; i++) g[i] = g[i] <= bg ? 0 : Math.min(1, (g[i] - bg) / Math.max(1e-6, hi - bg));
  return g;
}
