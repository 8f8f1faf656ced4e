/** Pictures of the page: feature maps as tiles, SIFT descriptor glyphs, visual-word maps, bars, and SVG line plots. */

export const COLOURS = { bow: '#d9730d', cnn: '#2a6fdb' };

/** A distinct colour for visual word k (golden-angle hues). */
export function wordColour(k: number): string {
  return `hsl(${(k * 137.508) % 360} 70% 50%)`;
}

function canvas(w: number, h: number, cssScale: number, title?: string): HTMLCanvasElement {
  const c = document.createElement('canvas');
  c.width = w;
  c.height = h;
  c.style.width = `${Math.round(w * cssScale)}px`;
  c.style.height = `${Math.round(h * cssScale)}px`;
  if (title) c.title = title;
  return c;
}

/** One map `[h*w]` (stride `step`, offset `off` in a channels-last array) as a canvas: grey (>= 0) or blue-white-red (signed). */
export function mapTile(
  v: ArrayLike<number>,
  h: number,
  w: number,
  step: number,
  off: number,
  px: number,
  title?: string,
): HTMLCanvasElement {
  const c = canvas(w, h, px / Math.max(h, w), title);
  const ctx = c.getContext('2d')!;
  const img = ctx.createImageData(w, h);
  let lo = 0,
    hi = 0;
  for (let i = 0; i < h * w; i++) {
    const x = v[i * step + off];
    if (x < lo) lo = x;
    if (x > hi) hi = x;
  }
  const signed = lo < -1e-9;
  const m = Math.max(Math.abs(lo), Math.abs(hi), 1e-12);
  for (let i = 0; i < h * w; i++) {
    const x = v[i * step + off] / m;
    const o = 4 * i;
    if (signed) {
      const a = Math.round(255 * (1 - Math.abs(x)));
      img.data[o] = x > 0 ? 255 : a;
      img.data[o + 1] = a;
      img.data[o + 2] = x < 0 ? 255 : a;
    } else img.data[o] = img.data[o + 1] = img.data[o + 2] = Math.round(255 * x);
    img.data[o + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
  return c;
}

/** Up to `max` channels of a `[h,w,c]` map as tiles. */
export function mapTiles(
  box: HTMLElement,
  v: ArrayLike<number>,
  [h, w, c]: number[],
  px: number,
  max = 16,
  names?: (i: number) => string,
): void {
  for (let i = 0; i < Math.min(c, max); i++) box.append(mapTile(v, h, w, c, i, px, names?.(i) ?? `map ${i}`));
  if (c > max) box.append(note(`… ${c - max} more maps`));
}

export function note(text: string): HTMLElement {
  const s = document.createElement('span');
  s.className = 'label';
  s.textContent = text;
  return s;
}

/**
 * SIFT descriptors `[fy,fx,128]` as VLFeat draws them: per frame, 4x4 cells, each a star of 8 arrows whose
 * lengths are the cell's orientation histogram. Channel order (by, bx, t), t fastest.
 */
export function siftGlyphs(v: ArrayLike<number>, fy: number, fx: number, px: number): HTMLCanvasElement {
  const cell = Math.max(4, Math.floor(px / (fx * 4)));
  const c = canvas(fx * 4 * cell, fy * 4 * cell, 1, 'one tile per frame: 4x4 cells x 8 orientations');
  const ctx = c.getContext('2d')!;
  ctx.fillStyle = '#111';
  ctx.fillRect(0, 0, c.width, c.height);
  let max = 1e-12;
  for (let i = 0; i < fy * fx * 128; i++) max = Math.max(max, v[i]);
  ctx.strokeStyle = '#333';
  for (let f = 0; f <= fx; f++) ctx.strokeRect(f * 4 * cell, 0, 0, c.height);
  for (let f = 0; f <= fy; f++) ctx.strokeRect(0, f * 4 * cell, c.width, 0);
  ctx.strokeStyle = '#ffd24a';
  ctx.lineWidth = 1.5;
  for (let y = 0; y < fy; y++)
    for (let x = 0; x < fx; x++)
      for (let by = 0; by < 4; by++)
        for (let bx = 0; bx < 4; bx++) {
          const cx = (x * 4 + bx + 0.5) * cell,
            cy = (y * 4 + by + 0.5) * cell;
          for (let t = 0; t < 8; t++) {
            const a = v[((y * fx + x) * 16 + by * 4 + bx) * 8 + t] / max;
            if (a <= 0.02) continue;
            const ang = (2 * Math.PI * t) / 8;
            ctx.beginPath();
            ctx.moveTo(cx, cy);
            ctx.lineTo(cx + 0.5 * cell * a * Math.cos(ang), cy + 0.5 * cell * a * Math.sin(ang));
            ctx.stroke();
          }
        }
  return c;
}

/** The visual-word map `[h,w]` of word indices, each frame in its word's colour. */
export function wordMap(words: ArrayLike<number>, h: number, w: number, px: number): HTMLCanvasElement {
  const s = Math.max(1, Math.floor(px / Math.max(h, w)));
  const c = canvas(w * s, h * s, 1, 'each descriptor frame coloured by its visual word');
  const ctx = c.getContext('2d')!;
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      ctx.fillStyle = wordColour(words[y * w + x]);
      ctx.fillRect(x * s, y * s, s, s);
      if (s >= 18) {
        ctx.fillStyle = '#fff';
        ctx.font = `${Math.floor(s / 2.6)}px sans-serif`;
        ctx.fillText(String(words[y * w + x]), x * s + 2, y * s + s / 2 + 4);
      }
    }
  return c;
}

/** Bars of `v`, coloured by `colour(i)`, with separators every `group` bars (a pyramid's regions). */
export function bars(
  v: ArrayLike<number>,
  width: number,
  height: number,
  colour: (i: number) => string,
  group = 0,
  labels?: string[],
): SVGSVGElement {
  const n = v.length;
  const svg = svgEl('svg', { viewBox: `0 0 ${width} ${height}`, width, height });
  let lo = 0,
    hi = 0;
  for (let i = 0; i < n; i++) {
    lo = Math.min(lo, v[i]);
    hi = Math.max(hi, v[i]);
  }
  const span = hi - lo || 1;
  const base = labels ? 12 : 0;
  const zero = height - base - ((0 - lo) / span) * (height - base - 2);
  const bw = width / n;
  for (let i = 0; i < n; i++) {
    const y = height - base - ((v[i] - lo) / span) * (height - base - 2);
    svg.append(
      svgEl('rect', {
        x: i * bw,
        y: Math.min(y, zero),
        width: Math.max(bw - (n > 64 ? 0 : 1), 0.6),
        height: Math.abs(zero - y) || 0.5,
        fill: colour(i),
      }),
    );
    if (labels) svg.append(svgText(labels[i], i * bw + bw / 2, height - 2, 'middle'));
  }
  if (group && group < n)
    for (let g = group; g < n; g += group) svg.append(svgEl('line', { x1: g * bw, x2: g * bw, y1: 0, y2: height - base, class: 'axis' }));
  svg.append(svgEl('line', { x1: 0, x2: width, y1: zero, y2: zero, class: 'axis' }));
  return svg;
}

export function svgEl(tag: string, attrs: Record<string, string | number>): SVGSVGElement {
  const e = document.createElementNS('http://www.w3.org/2000/svg', tag) as SVGSVGElement;
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

export function svgText(text: string, x: number, y: number, anchor = 'start', attrs: Record<string, string | number> = {}): SVGSVGElement {
  const t = svgEl('text', { x, y, 'text-anchor': anchor, ...attrs });
  t.textContent = text;
  return t;
}

export interface Series {
  label: string;
  colour: string;
  points: [number, number][];
  opacity?: number;
  dots?: boolean;
}

/** A line plot into an <svg> (its viewBox gives the size): axes, y from 0 to yMax, a vertical marker at `marker`. */
export function linePlot(
  svg: SVGSVGElement,
  series: Series[],
  o: {
    xMin: number;
    xMax: number;
    yMax: number;
    xLabel: string;
    yLabel: string;
    marker?: number;
    xTicks?: [number, string][];
    top?: [number, string, string][];
  },
): void {
  const [, , W, H] = (svg.getAttribute('viewBox') ?? '0 0 400 200').split(' ').map(Number);
  const L = 38,
    R = 8,
    B = 30;
  // the prediction row: horizontal labels where each fits its slot (about 6 px a character at 10 px), else
  // vertical ones (a label then takes one line's height of the row, so that no two overlap), capped at 12
  // characters with the full name in a tooltip
  const top = o.top ?? [];
  const slot = top.length > 1 ? (W - L - R) / (top.length - 1) : W - L - R;
  const longest = Math.max(0, ...top.map(([, l]) => Math.min(12, l.length)));
  const vertical = longest * 6 + 4 > slot;
  const T = !top.length ? 8 : vertical ? 10 + longest * 6 : 22;
  svg.replaceChildren();
  const X = (x: number) => L + ((x - o.xMin) / (o.xMax - o.xMin || 1)) * (W - L - R);
  const Y = (y: number) => H - B - (Math.min(y, o.yMax) / o.yMax) * (H - T - B);
  for (let k = 0; k <= 4; k++) {
    const y = (o.yMax * k) / 4;
    svg.append(svgEl('line', { x1: L, x2: W - R, y1: Y(y), y2: Y(y), class: 'grid' }));
    svg.append(svgText(y.toFixed(2), L - 4, Y(y) + 3, 'end'));
  }
  svg.append(svgEl('path', { d: `M${L},${T} V${H - B} H${W - R}`, class: 'axis' }));
  const span = o.xMax - o.xMin || 1;
  for (const [x, label] of o.xTicks ?? [])
    svg.append(svgText(label, X(x), H - B + 12, x - o.xMin < 0.05 * span ? 'start' : o.xMax - x < 0.05 * span ? 'end' : 'middle'));
  svg.append(svgText(o.xLabel, (L + W - R) / 2, H - 4, 'middle'));
  svg.append(svgText(o.yLabel, 10, (T + H - B) / 2, 'middle', { transform: `rotate(-90 10 ${(T + H - B) / 2})` }));
  if (o.marker !== undefined)
    svg.append(
      svgEl('line', { x1: X(o.marker), x2: X(o.marker), y1: T, y2: H - B, stroke: '#222', 'stroke-dasharray': '3 2', class: 'marker' }),
    );
  for (const [x, label, colour] of top) {
    const shown = label.length > 12 ? `${label.slice(0, 11)}…` : label;
    // the colour as a style (a CSS rule for svg text would override a fill attribute)
    const at = { style: `fill:${colour}`, 'font-weight': 600, class: 'pred-label' };
    const t = vertical
      ? svgText(shown, X(x) + 3, T - 4, 'start', { ...at, transform: `rotate(-90 ${X(x) + 3} ${T - 4})` })
      : svgText(shown, X(x), 14, x - o.xMin < 0.05 * span ? 'start' : o.xMax - x < 0.05 * span ? 'end' : 'middle', at);
    const title = svgEl('title', {});
    title.textContent = label;
    t.append(title);
    svg.append(t);
  }
  for (const s of series) {
    if (!s.points.length) continue;
    const d = s.points.map(([x, y], i) => `${i ? 'L' : 'M'}${X(x).toFixed(1)},${Y(y).toFixed(1)}`).join(' ');
    const path = svgEl('path', { d, fill: 'none', stroke: s.colour, 'stroke-width': 2, 'stroke-opacity': s.opacity ?? 1, class: 'curve' });
    path.dataset.series = s.label;
    svg.append(path);
    if (s.dots) for (const [x, y] of s.points) svg.append(svgEl('circle', { cx: X(x), cy: Y(y), r: 3, fill: s.colour }));
  }
}
