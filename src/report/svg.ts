/**
 * Small, dependency-free SVG plots for the report (inline, no network): bars, lines, heat maps,
 * filter grids and SIFT glyphs. Every function returns an `<svg>` string.
 */

const FONT = 'font-family="system-ui, -apple-system, Segoe UI, sans-serif"';
export const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];

export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  return a >= 1000 ? v.toFixed(0).replace(/\B(?=(\d{3})+(?!\d))/g, ',') : a >= 10 ? v.toFixed(1) : a >= 1 ? v.toFixed(2) : v.toFixed(3);
}

/** Width in px a title of `n` characters needs at 14-15 px bold. */
const titleWidth = (t: string) => Math.ceil(t.length * 9.6) + 16;

/** 'Nice' ticks (steps of 1, 2 or 5 x 10^k) covering [a, b], and the decimals they need. */
export function niceTicks(a: number, b: number, target = 5): { ticks: number[]; decimals: number } {
  const span = Math.max(1e-12, b - a);
  const raw = span / target,
    mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((v) => v >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  for (let v = Math.ceil(a / step - 1e-9) * step; v <= b + 1e-9 * span; v += step) ticks.push(+v.toFixed(12));
  return { ticks, decimals: Math.max(0, -Math.floor(Math.log10(step) + 1e-9)) };
}

export function barChart(
  rows: { label: string; value: number; color?: string }[],
  o: { title: string; unit?: string; width?: number; format?: (v: number) => string },
): string {
  const W = Math.max(o.width ?? 560, titleWidth(o.title)),
    rowH = 30,
    left = 210,
    top = 34,
    H = top + rows.length * rowH + 12;
  const max = Math.max(1e-12, ...rows.map((r) => r.value));
  const bars = rows
    .map((r, i) => {
      const y = top + i * rowH,
        w = ((W - left - 90) * r.value) / max;
      return (
        `<text x="${left - 8}" y="${y + 17}" text-anchor="end" font-size="15">${esc(r.label)}</text>` +
        `<rect x="${left}" y="${y + 4}" width="${Math.max(1, w).toFixed(1)}" height="${rowH - 8}" fill="${r.color ?? PALETTE[i % PALETTE.length]}" rx="2"/>` +
        `<text x="${left + w + 6}" y="${y + 17}" font-size="14" fill="#333">${o.format ? esc(o.format(r.value)) : `${fmt(r.value)}${o.unit ? ` ${esc(o.unit)}` : ''}`}</text>`
      );
    })
    .join('');
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" ${FONT}>` +
    `<text x="8" y="20" font-size="18" font-weight="600">${esc(o.title)}</text>${bars}</svg>`
  );
}

/** Marker shapes, cycled past the palette so that two series never look alike (with the dash pattern). */
export const MARKERS = ['circle', 'square', 'triangle', 'diamond'] as const;
export type Marker = (typeof MARKERS)[number];

/** A series' look when the caller gives none: the colour cycles through the palette, then the marker and dash change. */
export function seriesStyle(i: number): { color: string; marker: Marker; dash: boolean } {
  const round = Math.floor(i / PALETTE.length);
  return { color: PALETTE[i % PALETTE.length], marker: MARKERS[round % MARKERS.length], dash: round % 2 === 1 };
}

function markerSvg(m: Marker, x: number, y: number, c: string, r = 3): string {
  const X = x.toFixed(1),
    Y = y.toFixed(1);
  if (m === 'square') return `<rect x="${(x - r).toFixed(1)}" y="${(y - r).toFixed(1)}" width="${2 * r}" height="${2 * r}" fill="${c}"/>`;
  if (m === 'triangle')
    return `<path d="M${X},${(y - r - 1).toFixed(1)}L${(x + r + 0.5).toFixed(1)},${(y + r).toFixed(1)}L${(x - r - 0.5).toFixed(1)},${(y + r).toFixed(1)}Z" fill="${c}"/>`;
  if (m === 'diamond')
    return `<path d="M${X},${(y - r - 1).toFixed(1)}L${(x + r + 1).toFixed(1)},${Y}L${X},${(y + r + 1).toFixed(1)}L${(x - r - 1).toFixed(1)},${Y}Z" fill="${c}"/>`;
  return `<circle cx="${X}" cy="${Y}" r="${r - 0.5}" fill="${c}"/>`;
}

/** Short labels for axis values: 1,000 -> "1k", 60,000 -> "60k", 1,000,000 -> "1M". */
export function shortNumber(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e6) return `${+(v / 1e6).toPrecision(3)}M`;
  if (a >= 1e4) return `${+(v / 1e3).toPrecision(3)}k`;
  return String(+v.toPrecision(6));
}

/**
 * At most `max` of the given x values, evenly thinned (always keeping the first and last), so that tick
 * labels never run into each other.
 */
export function thinTicks(values: number[], max: number): number[] {
  if (values.length <= max) return values;
  const step = Math.ceil((values.length - 1) / Math.max(1, max - 1));
  const out = values.filter((_, i) => i % step === 0);
  if (out[out.length - 1] !== values[values.length - 1]) {
    if (out.length >= max) out.pop();
    out.push(values[values.length - 1]);
  }
  return out;
}

export function lineChart(
  series: {
    name: string;
    points: [number, number][];
    color?: string;
    dash?: boolean;
    marker?: Marker;
    err?: [number, number][];
    /** a shaded band [lo, hi] at each point (the spread across seeds) */
    band?: [number, number][];
    /** points only, no line between them */
    noLine?: boolean;
  }[],
  o: {
    title: string;
    xlabel: string;
    ylabel: string;
    width?: number;
    height?: number;
    yMin?: number;
    yMax?: number;
    xMin?: number;
    xMax?: number;
    /** a logarithmic x axis (ticks at 1, 2, 5 x 10^k) */
    xLog?: boolean;
    /** labels at x positions (categories at 0, 1, ...), in place of the x values themselves */
    xTicks?: { at: number; label: string }[];
  },
): string {
  const W = Math.max(o.width ?? 460, titleWidth(o.title)),
    H = o.height ?? 300,
    l = 58,
    r = 12,
    t = 32,
    b = 70;
  const tx = (v: number) => (o.xLog ? Math.log10(Math.max(1e-12, v)) : v);
  const xs = series.flatMap((s) => s.points.map((p) => p[0])),
    ys = series.flatMap((s) => [...s.points.map((p) => p[1]), ...(s.err ?? []).flat(), ...(s.band ?? []).flat()]).filter(Number.isFinite);
  const x0 = tx(o.xMin ?? Math.min(...xs)),
    x1 = tx(o.xMax ?? Math.max(...xs));
  const y0 = o.yMin ?? Math.min(0, ...ys),
    y1 = o.yMax ?? Math.max(...ys, y0 + 1e-9);
  const X = (v: number) => l + ((tx(v) - x0) / Math.max(1e-12, x1 - x0)) * (W - l - r);
  const Y = (v: number) => t + (1 - (v - y0) / Math.max(1e-12, y1 - y0)) * (H - t - b);
  const yt = niceTicks(y0, y1, 4);
  const xv = [...new Set(xs)].sort((a, c) => a - c);
  const xd = Math.max(0, ...xv.map((v) => (String(v).split('.')[1] ?? '').length));
  // room for about one label per 46 px
  const room = Math.max(2, Math.floor((W - l - r) / 46));
  let xTicks: { at: number; label: string }[];
  if (o.xTicks) xTicks = o.xTicks;
  else if (o.xLog) {
    const lo = Math.floor(x0),
      hi = Math.ceil(x1);
    const all: number[] = [];
    for (let e = lo; e <= hi; e++) for (const m of [1, 2, 5]) all.push(m * 10 ** e);
    const inside = all.filter((v) => tx(v) >= x0 - 1e-9 && tx(v) <= x1 + 1e-9);
    xTicks = (inside.length > room ? inside.filter((v) => /^1/.test(String(v))) : inside).map((v) => ({ at: v, label: shortNumber(v) }));
  } else if (xv.length <= room) xTicks = xv.map((v) => ({ at: v, label: xd ? v.toFixed(xd) : shortNumber(v) }));
  else {
    const nt = niceTicks(xv[0], xv[xv.length - 1], Math.min(room, 8));
    xTicks = thinTicks(nt.ticks, room).map((v) => ({ at: v, label: nt.decimals ? v.toFixed(nt.decimals) : shortNumber(v) }));
  }
  const grid =
    yt.ticks
      .map(
        (v) =>
          `<line x1="${l}" x2="${W - r}" y1="${Y(v).toFixed(1)}" y2="${Y(v).toFixed(1)}" stroke="#e5e5e5"/><text x="${l - 6}" y="${(Y(v) + 4).toFixed(1)}" font-size="13" text-anchor="end">${v.toFixed(yt.decimals)}</text>`,
      )
      .join('') +
    xTicks
      .map((k) => `<text x="${X(k.at).toFixed(1)}" y="${H - b + 16}" font-size="13" text-anchor="middle">${esc(k.label)}</text>`)
      .join('');
  const style = (s: (typeof series)[number], i: number) => {
    const d = seriesStyle(i);
    return { color: s.color ?? d.color, marker: s.marker ?? d.marker, dash: s.dash ?? d.dash };
  };
  const lines = series
    .map((s, i) => {
      const st = style(s, i);
      const c = st.color;
      const band = s.band?.length
        ? `<path d="${[
            ...s.points.map((p, j) => `${j ? 'L' : 'M'}${X(p[0]).toFixed(1)},${Y(s.band![j][1]).toFixed(1)}`),
            ...[...s.points]
              .map((p, j) => ({ p, j }))
              .reverse()
              .map(({ p, j }) => `L${X(p[0]).toFixed(1)},${Y(s.band![j][0]).toFixed(1)}`),
          ].join('')}Z" fill="${c}" opacity="0.15" stroke="none"/>`
        : '';
      const d = s.points.map((p, j) => `${j ? 'L' : 'M'}${X(p[0]).toFixed(1)},${Y(p[1]).toFixed(1)}`).join('');
      const whiskers = (s.err ?? [])
        .map(
          ([lo, hi], j) =>
            `<line x1="${X(s.points[j][0]).toFixed(1)}" x2="${X(s.points[j][0]).toFixed(1)}" y1="${Y(lo).toFixed(1)}" y2="${Y(hi).toFixed(1)}" stroke="${c}" stroke-width="1.5" opacity="0.6"/>`,
        )
        .join('');
      return (
        band +
        whiskers +
        (s.noLine ? '' : `<path d="${d}" fill="none" stroke="${c}" stroke-width="2"${st.dash ? ' stroke-dasharray="5,3"' : ''}/>`) +
        s.points.map((p) => markerSvg(st.marker, X(p[0]), Y(p[1]), c, s.noLine ? 4 : 3)).join('')
      );
    })
    .join('');
  // as many legend entries a row as their longest name allows (about 7.5 px a character)
  const perRow = Math.max(1, Math.min(3, Math.floor((W - l) / (Math.max(...series.map((s) => s.name.length)) * 7.5 + 30))));
  const legendRows = Math.ceil(series.length / perRow);
  const legend = series
    .map((s, i) => {
      const st = style(s, i);
      const x = l + (i % perRow) * ((W - l) / perRow),
        y = H - 20 + Math.floor(i / perRow) * 16;
      return `<line x1="${x}" x2="${x + 16}" y1="${y - 4}" y2="${y - 4}" stroke="${st.color}" stroke-width="2"${st.dash ? ' stroke-dasharray="5,3"' : ''}/>${markerSvg(st.marker, x + 8, y - 4, st.color)}<text x="${x + 20}" y="${y}" font-size="13">${esc(s.name)}</text>`;
    })
    .join('');
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H + Math.max(0, legendRows - 1) * 16}" viewBox="0 0 ${W} ${H + Math.max(0, legendRows - 1) * 16}" ${FONT}>` +
    `<text x="8" y="18" font-size="17" font-weight="600">${esc(o.title)}</text>${grid}` +
    `<line x1="${l}" x2="${l}" y1="${t}" y2="${H - b}" stroke="#999"/><line x1="${l}" x2="${W - r}" y1="${H - b}" y2="${H - b}" stroke="#999"/>` +
    `<text x="${(l + W - r) / 2}" y="${H - b + 32}" font-size="14" text-anchor="middle">${esc(o.xlabel)}</text>` +
    `<text transform="translate(13 ${(t + H - b) / 2}) rotate(-90)" font-size="14" text-anchor="middle">${esc(o.ylabel)}</text>${lines}${legend}</svg>`
  );
}

/** A confusion matrix: rows true, columns predicted, cells shaded by row-normalised count; full class names on both axes. */
export function heatmap(m: number[][], o: { title: string; labels: readonly string[]; cell?: number }): string {
  const k = m.length,
    c = o.cell ?? 34;
  const longest = Math.max(1, ...o.labels.map((l) => l.length));
  const left = 16 + Math.ceil(longest * 8),
    top = 50,
    bottom = 24 + Math.ceil(longest * 6.2);
  const W = Math.max(left + k * c + 24, titleWidth(o.title)),
    H = top + k * c + bottom;
  const cells = m
    .map((row, i) => {
      const s = row.reduce((a, b) => a + b, 0) || 1;
      return row
        .map((v, j) => {
          const f = v / s;
          const col = i === j ? `rgba(31,119,180,${(0.15 + 0.85 * f).toFixed(3)})` : `rgba(214,39,40,${Math.min(1, 4 * f).toFixed(3)})`;
          return (
            `<rect x="${left + j * c}" y="${top + i * c}" width="${c - 1}" height="${c - 1}" fill="${col}"/>` +
            (v
              ? `<text x="${left + j * c + c / 2}" y="${top + i * c + c / 2 + 5}" font-size="${c > 30 ? 13 : 11}" text-anchor="middle" fill="${f > 0.6 ? '#fff' : '#222'}">${v}</text>`
              : '')
          );
        })
        .join('');
    })
    .join('');
  const rowLab = o.labels
    .map((l, i) => `<text x="${left - 6}" y="${top + i * c + c / 2 + 5}" font-size="14" text-anchor="end">${esc(l)}</text>`)
    .join('');
  const colLab = o.labels
    .map((l, j) => {
      const x = left + j * c + c / 2,
        y = top + k * c + 10;
      return `<text transform="translate(${x} ${y}) rotate(-40)" font-size="14" text-anchor="end" dominant-baseline="middle">${esc(l)}</text>`;
    })
    .join('');
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" ${FONT}>` +
    `<text x="8" y="20" font-size="17" font-weight="600">${esc(o.title)}</text>` +
    `<text x="${left}" y="42" font-size="13" fill="#555">predicted →  (rows: true class)</text>${cells}${rowLab}${colLab}</svg>`
  );
}

/** Filters `[k][h][w]` as small images, blue negative / red positive, each scaled to its own max. */
export function filterGrid(filters: number[][][], o: { title: string; labels?: string[]; px?: number; cols?: number }): string {
  const n = filters.length,
    px = o.px ?? 10,
    cols = o.cols ?? Math.min(n, 8);
  const fh = filters[0].length,
    fw = filters[0][0].length,
    cw = Math.max(fw * px + 14, 40),
    ch = fh * px + 30;
  const rows = Math.ceil(n / cols),
    W = Math.max(cols * cw + 10, titleWidth(o.title)),
    H = 30 + rows * ch;
  const body = filters
    .map((f, i) => {
      const ox = 8 + (i % cols) * cw,
        oy = 30 + Math.floor(i / cols) * ch;
      const max = Math.max(1e-12, ...f.flat().map(Math.abs));
      const px2 = f
        .map((row, y) =>
          row
            .map((v, x) => {
              const a = v / max;
              const col =
                a >= 0
                  ? `rgb(255,${Math.round(255 * (1 - a))},${Math.round(255 * (1 - a))})`
                  : `rgb(${Math.round(255 * (1 + a))},${Math.round(255 * (1 + a))},255)`;
              return `<rect x="${ox + x * px}" y="${oy + y * px}" width="${px}" height="${px}" fill="${col}"/>`;
            })
            .join(''),
        )
        .join('');
      return (
        px2 +
        `<rect x="${ox}" y="${oy}" width="${fw * px}" height="${fh * px}" fill="none" stroke="#888" stroke-width="0.5"/>` +
        (o.labels
          ? `<text x="${ox + (fw * px) / 2}" y="${oy + fh * px + 15}" font-size="13" text-anchor="middle">${esc(o.labels[i])}</text>`
          : '')
      );
    })
    .join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" ${FONT}><text x="8" y="18" font-size="17" font-weight="600">${esc(o.title)}</text>${body}</svg>`;
}

/**
 * SIFT descriptors (128 values, VLFeat order: y bin, x bin, orientation) drawn as glyphs: a 4x4 grid of
 * cells, each with 8 arrows from the cell centre along the orientations (x right, y down), length
 * proportional to the bin's value.
 */
export function siftGlyphs(descs: number[][], o: { title: string; cell?: number; cols?: number }): string {
  const c = o.cell ?? 16,
    g = 4 * c,
    cols = o.cols ?? 8,
    n = descs.length;
  const W = Math.max(10 + cols * (g + 8), titleWidth(o.title)),
    H = 30 + Math.ceil(n / cols) * (g + 20);
  const body = descs
    .map((d, i) => {
      const ox = 8 + (i % cols) * (g + 8),
        oy = 30 + Math.floor(i / cols) * (g + 20);
      const max = Math.max(1e-12, ...d);
      let s = `<rect x="${ox}" y="${oy}" width="${g}" height="${g}" fill="#fafafa" stroke="#bbb" stroke-width="0.5"/>`;
      for (let by = 0; by < 4; by++)
        for (let bx = 0; bx < 4; bx++) {
          const cx = ox + bx * c + c / 2,
            cy = oy + by * c + c / 2;
          for (let t = 0; t < 8; t++) {
            const v = d[(by * 4 + bx) * 8 + t] / max;
            if (v <= 0.02) continue;
            const a = (2 * Math.PI * t) / 8,
              len = v * (c / 2 - 1);
            s += `<line x1="${cx.toFixed(1)}" y1="${cy.toFixed(1)}" x2="${(cx + len * Math.cos(a)).toFixed(1)}" y2="${(cy + len * Math.sin(a)).toFixed(1)}" stroke="#1f3b73" stroke-width="1.2" stroke-linecap="round"/>`;
          }
        }
      return `${s}<text x="${ox + g / 2}" y="${oy + g + 15}" font-size="12" text-anchor="middle">word ${i}</text>`;
    })
    .join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" ${FONT}><text x="8" y="18" font-size="17" font-weight="600">${esc(o.title)}</text>${body}</svg>`;
}
