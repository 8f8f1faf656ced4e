/**
 * The page's input: a drawing square (mouse, touch, pen) and photos, both through bowcnn's input rule
 * (src/data/input-rule.ts): a drawing is framed as the models' training images were made (MNIST: its box
 * scaled to 20x20 pixels and centred by its mass; Fashion-MNIST: trimmed and its longer side fitted), a photo
 * is also composited on white and inverted where its background is light.
 */
import { applyRule, type InputRule, type RuleResult } from '../src/data/input-rule.js';

/** Grey levels in [0,1] of a canvas (its red channel), row-major. */
export function greyOf(c: HTMLCanvasElement): Float32Array {
  const d = c.getContext('2d', { willReadFrequently: true })!.getImageData(0, 0, c.width, c.height).data;
  const g = new Float32Array(c.width * c.height);
  for (let i = 0; i < g.length; i++) g[i] = d[4 * i] / 255;
  return g;
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
 * A photo through the input rule (src/data/input-rule.ts, the same as `bowcnn predict`'s): decoded at its own
 * size (within 1024 px), alpha on white, polarity and framing as the models' training images.
 */
export async function photoInput(file: Blob, rule: InputRule): Promise<RuleResult> {
  const bmp = await createImageBitmap(file);
  const s = Math.min(1, 1024 / Math.max(bmp.width, bmp.height));
  const w = Math.max(1, Math.round(bmp.width * s)),
    h = Math.max(1, Math.round(bmp.height * s));
  const c = document.createElement('canvas');
  c.width = w;
  c.height = h;
  const ctx = c.getContext('2d', { willReadFrequently: true })!;
  ctx.drawImage(bmp, 0, 0, w, h);
  bmp.close();
  return applyRule({ data: ctx.getImageData(0, 0, w, h).data, width: w, height: h, channels: 4 }, rule);
}
