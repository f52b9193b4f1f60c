/**
 * A small dependency-free SVG plotter: log-log line charts, one panel per group of series, with decade ticks
 * (labelled 10ⁿ), minor ticks at 2–9 × 10ⁿ, grid lines and a legend that names colours, dash patterns and
 * marker shapes.
 */

/**
 * One line: its colour is chosen by `color` (a legend name), its dash pattern by `dash` (another legend name),
 * the shape of its point markers by `marker` (a third; default a circle, not in the legend).
 */
export interface PlotSeries {
  color: string;
  dash: string;
  marker?: string;
  /** Positive x and y; non-positive or non-finite points are left out. */
  points: Array<{ x: number; y: number }>;
}

export interface PlotPanel {
  title: string;
  /** This panel's axis labels; default those of `PlotOptions`. */
  xLabel?: string;
  yLabel?: string;
  series: PlotSeries[];
}

export interface PlotOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  /** Panels per row; default 3. */
  columns?: number;
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#bcbd22', '#7f7f7f'];
const DASHES = ['', '7 4', '2 3', '9 3 2 3', '14 4', '4 2 4 6'];

const PANEL_WIDTH = 600;
const PANEL_HEIGHT = 330;
/** The plot area inside a panel; the legend takes the right-hand side. */
const AREA = { left: 62, top: 34, width: 300, height: 240 };
const TITLE_HEIGHT = 40;

const SUPERSCRIPTS: Record<string, string> = { '-': '⁻', '0': '⁰', '1': '¹', '2': '²', '3': '³', '4': '⁴', '5': '⁵', '6': '⁶', '7': '⁷', '8': '⁸', '9': '⁹' };

/** Escapes text for SVG content and attribute values. */
export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** "10³", "10⁻²". */
export function decadeLabel(exponent: number): string {
  return `10${String(exponent).split('').map((c) => SUPERSCRIPTS[c]).join('')}`;
}

/**
 * The whole decades [lo, hi] (as exponents) that cover the positive values, at least one decade wide; [0, 1] when
 * there are none.
 */
export function decadeRange(values: readonly number[]): [number, number] {
  const positive = values.filter((v) => v > 0 && Number.isFinite(v));
  if (positive.length === 0) return [0, 1];
  // `|| 0` turns -0 (the ceiling of a small negative) into 0.
  const lo = Math.floor(Math.log10(Math.min(...positive))) || 0;
  const hi = Math.ceil(Math.log10(Math.max(...positive))) || 0;
  return [lo, Math.max(hi, lo + 1)];
}

function fmt(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toFixed(2);
}

/** Tick marks, grid lines and decade labels of one log axis. */
function axisMarks(range: [number, number], toPixel: (exponent: number) => number, horizontal: boolean): string[] {
  const out: string[] = [];
  const { left, top, width, height } = AREA;
  for (let k = range[0]; k <= range[1]; k++) {
    for (let m = 1; m <= 9 && (m === 1 || k < range[1]); m++) {
      const p = toPixel(k + Math.log10(m));
      const major = m === 1;
      const tick = major ? 6 : 3;
      if (horizontal) {
        out.push(`<line x1="${fmt(p)}" y1="${top}" x2="${fmt(p)}" y2="${top + height}" stroke="${major ? '#ddd' : '#f2f2f2'}"/>`);
        out.push(`<line x1="${fmt(p)}" y1="${top + height}" x2="${fmt(p)}" y2="${top + height + tick}" stroke="#333"/>`);
        if (major) out.push(`<text x="${fmt(p)}" y="${top + height + 19}" text-anchor="middle">${decadeLabel(k)}</text>`);
      } else {
        out.push(`<line x1="${left}" y1="${fmt(p)}" x2="${left + width}" y2="${fmt(p)}" stroke="${major ? '#ddd' : '#f2f2f2'}"/>`);
        out.push(`<line x1="${left - tick}" y1="${fmt(p)}" x2="${left}" y2="${fmt(p)}" stroke="#333"/>`);
        if (major) out.push(`<text x="${left - 9}" y="${fmt(p + 4)}" text-anchor="end">${decadeLabel(k)}</text>`);
      }
    }
  }
  return out;
}

/** Legend names in order of first appearance. */
function namesOf(series: readonly PlotSeries[], key: 'color' | 'dash' | 'marker'): string[] {
  return [...new Set(series.flatMap((s) => (s[key] === undefined ? [] : [s[key]!])))];
}

const MARKERS = ['circle', 'square', 'triangle', 'diamond'] as const;

/** A point marker of a shape centred at (x, y). */
function markerSvg(shape: (typeof MARKERS)[number], x: number, y: number, color: string, kind: 'point' | 'legend'): string {
  const r = 2.8;
  const fill = `fill="${color}" class="${kind}"`;
  switch (shape) {
    case 'circle':
      return `<circle cx="${fmt(x)}" cy="${fmt(y)}" r="${r - 0.4}" ${fill}/>`;
    case 'square':
      return `<rect x="${fmt(x - r + 0.4)}" y="${fmt(y - r + 0.4)}" width="${fmt(2 * r - 0.8)}" height="${fmt(2 * r - 0.8)}" ${fill}/>`;
    case 'triangle':
      return `<polygon points="${fmt(x)},${fmt(y - r - 0.4)} ${fmt(x + r)},${fmt(y + r - 0.6)} ${fmt(x - r)},${fmt(y + r - 0.6)}" ${fill}/>`;
    case 'diamond':
      return `<polygon points="${fmt(x)},${fmt(y - r - 0.4)} ${fmt(x + r + 0.4)},${fmt(y)} ${fmt(x)},${fmt(y + r + 0.4)} ${fmt(x - r - 0.4)},${fmt(y)}" ${fill}/>`;
  }
}

function panelSvg(panel: PlotPanel, options: PlotOptions, dashNames: string[]): string {
  const { left, top, width, height } = AREA;
  const series = panel.series.map((s) => ({ ...s, points: s.points.filter((p) => p.x > 0 && p.y > 0 && Number.isFinite(p.x) && Number.isFinite(p.y)).sort((a, b) => a.x - b.x) }));
  const xRange = decadeRange(series.flatMap((s) => s.points.map((p) => p.x)));
  const yRange = decadeRange(series.flatMap((s) => s.points.map((p) => p.y)));
  const xPixel = (e: number): number => left + ((e - xRange[0]) / (xRange[1] - xRange[0])) * width;
  const yPixel = (e: number): number => top + height - ((e - yRange[0]) / (yRange[1] - yRange[0])) * height;
  const colorNames = namesOf(series, 'color');
  const colorOf = (name: string): string => PALETTE[colorNames.indexOf(name) % PALETTE.length];
  const dashOf = (name: string): string => DASHES[dashNames.indexOf(name) % DASHES.length];
  const markerNames = namesOf(series, 'marker');
  const markerOf = (name: string | undefined): (typeof MARKERS)[number] => (name === undefined ? 'circle' : MARKERS[markerNames.indexOf(name) % MARKERS.length]);
  const out: string[] = [];
  out.push(`<text x="${left + width / 2}" y="${top - 14}" text-anchor="middle" font-weight="bold">${escapeXml(panel.title)}</text>`);
  out.push(`<rect x="${left}" y="${top}" width="${width}" height="${height}" fill="#fff" stroke="none"/>`);
  out.push(...axisMarks(xRange, xPixel, true), ...axisMarks(yRange, yPixel, false));
  out.push(`<rect x="${left}" y="${top}" width="${width}" height="${height}" fill="none" stroke="#333"/>`);
  out.push(`<text x="${left + width / 2}" y="${top + height + 38}" text-anchor="middle">${escapeXml(panel.xLabel ?? options.xLabel)}</text>`);
  out.push(`<text transform="translate(14 ${top + height / 2}) rotate(-90)" text-anchor="middle">${escapeXml(panel.yLabel ?? options.yLabel)}</text>`);
  for (const s of series) {
    const color = colorOf(s.color);
    const dash = dashOf(s.dash);
    const pixels = s.points.map((p) => [xPixel(Math.log10(p.x)), yPixel(Math.log10(p.y))]);
    const label = escapeXml([s.color, s.dash, ...(s.marker === undefined ? [] : [s.marker])].join(' · '));
    out.push(
      `<polyline data-series="${label}" points="${pixels.map(([x, y]) => `${fmt(x)},${fmt(y)}`).join(' ')}" fill="none" stroke="${color}" stroke-width="1.6"${dash ? ` stroke-dasharray="${dash}"` : ''}/>`,
    );
    for (const [x, y] of pixels) out.push(markerSvg(markerOf(s.marker), x, y, color, 'point'));
  }
  const legendX = left + width + 18;
  let y = top + 4;
  for (const name of colorNames) {
    out.push(`<line x1="${legendX}" y1="${y}" x2="${legendX + 22}" y2="${y}" stroke="${colorOf(name)}" stroke-width="3"/>`);
    out.push(`<text x="${legendX + 28}" y="${y + 4}">${escapeXml(name)}</text>`);
    y += 15;
  }
  y += 6;
  for (const name of namesOf(series, 'dash')) {
    const dash = dashOf(name);
    out.push(`<line x1="${legendX}" y1="${y}" x2="${legendX + 22}" y2="${y}" stroke="#333" stroke-width="1.6"${dash ? ` stroke-dasharray="${dash}"` : ''}/>`);
    out.push(`<text x="${legendX + 28}" y="${y + 4}">${escapeXml(name)}</text>`);
    y += 15;
  }
  y += 6;
  for (const name of markerNames) {
    out.push(markerSvg(markerOf(name), legendX + 11, y, '#333', 'legend'));
    out.push(`<text x="${legendX + 28}" y="${y + 4}">${escapeXml(name)}</text>`);
    y += 15;
  }
  return out.join('\n');
}

/**
 * An SVG document of log-log line charts: `panels` in a grid of `options.columns` (default 3), each with its own
 * axis ranges (whole decades), a polyline and point markers per series, and a legend of the colour names (per
 * panel) and dash names (shared by all panels, so one dash means the same everywhere).
 */
export function logLogPlotSvg(panels: readonly PlotPanel[], options: PlotOptions): string {
  const columns = Math.max(1, Math.min(options.columns ?? 3, panels.length));
  const rows = Math.max(1, Math.ceil(panels.length / columns));
  const width = columns * PANEL_WIDTH;
  const height = TITLE_HEIGHT + rows * PANEL_HEIGHT;
  const dashNames = namesOf(panels.flatMap((p) => p.series), 'dash');
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="#fafafa"/>`,
    `<text x="${width / 2}" y="26" text-anchor="middle" font-size="16" font-weight="bold">${escapeXml(options.title)}</text>`,
  ];
  panels.forEach((panel, i) => {
    const x = (i % columns) * PANEL_WIDTH;
    const y = TITLE_HEIGHT + Math.floor(i / columns) * PANEL_HEIGHT;
    out.push(`<g transform="translate(${x} ${y})">`, panelSvg(panel, options, dashNames), '</g>');
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
