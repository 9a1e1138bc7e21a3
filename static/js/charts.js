// Line charts on uPlot: a card with a title, a legend and a canvas that follows its width.

import uPlot from '../vendor/uplot/uPlot.esm.js';

export const PALETTE = ['#2b59c3', '#d1495b', '#2a9d8f', '#e9a23b', '#7b4fc9', '#3d8bd4', '#8a6d3b', '#c2459a'];

const AXIS = {
  stroke: '#5b6472',
  grid: { stroke: '#e7eaf0', width: 1 },
  ticks: { stroke: '#d3d8e0', width: 1 },
  font: '12px system-ui, sans-serif',
};

function fmtTick(v) {
  if (v === null) return '';
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(1);
  return String(Number(v.toPrecision(4)));
}

/** Environment steps in a few characters: 950, 12.5 k, 1.2 M, 3.4 G. */
export function fmtSteps(v) {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  const a = Math.abs(v);
  if (a >= 1e9) return `${Number((v / 1e9).toPrecision(3))} G`;
  if (a >= 1e6) return `${Number((v / 1e6).toPrecision(3))} M`;
  if (a >= 1e3) return `${Number((v / 1e3).toPrecision(3))} k`;
  return String(Number(v.toPrecision(3)));
}

/** Wall-clock seconds as a tick label: 45 s, 2.5 min, 1.2 h. */
export function fmtSeconds(v) {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  const a = Math.abs(v);
  if (a < 120) return `${Number(v.toPrecision(3))} s`;
  if (a < 7200) return `${Number((v / 60).toPrecision(3))} min`;
  return `${Number((v / 3600).toPrecision(3))} h`;
}

/** The x axes a chart can have: its label and how its values read. */
export const X_AXES = {
  generation: { label: 'generation', format: (v) => String(v) },
  steps: { label: 'environment steps', format: fmtSteps },
  wall: { label: 'wall time', format: fmtSeconds },
};

// Generations are whole numbers: ticks only at integer steps.
const INTEGER_INCRS = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1e3, 2e3, 2.5e3, 5e3, 1e4, 2e4, 2.5e4, 5e4, 1e5, 2e5, 5e5, 1e6, 2e6, 5e6, 1e7];

/** The y scale: linear, or logarithmic when asked and every value is positive, else asinh
 * (a logarithm on both sides of zero, linear near it), so negative fitness stays drawable. */
function yScale(log, data) {
  if (!log) return { auto: true };
  const positive = data.slice(1).every((ys) => ys.every((v) => v === null || v === undefined || v > 0));
  return positive ? { distr: 3 } : { distr: 4, asinh: 1 };
}

const isPow10 = (v) => {
  const e = Math.log10(Math.abs(v));
  return Math.abs(e - Math.round(e)) < 1e-9;
};

/** Candidate ticks for a log (or asinh) axis over [min, max]: 1, 2 and 5 of every decade
 * (negated too where the range is below zero, and 0 where it is inside). */
function decadeCandidates(min, max) {
  const out = [];
  const side = (lo, hi, sign) => {
    // `lo` > 0: the smallest magnitude worth a tick on this side.
    for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
      for (const m of [1, 2, 5]) {
        const v = Number((m * 10 ** e).toPrecision(12));
        if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) out.push(sign * v);
      }
    }
  };
  if (max > 0) side(min > 0 ? min : Math.max(max * 1e-4, 1e-3), max, 1);
  if (min < 0) side(max < 0 ? -max : Math.max(-min * 1e-4, 1e-3), -min, -1);
  if (min <= 0 && max >= 0) out.push(0);
  return out.sort((a, b) => a - b);
}

/**
 * Ticks of a log or asinh y axis. uPlot's own put a tick only at each power of ten, so a
 * fitness between 0.1 and 1 got two (or, on the asinh scale, 0 and 1): here every decade
 * offers 1, 2 and 5, kept while they are at least `gap` pixels apart, powers of ten first.
 */
function logSplits(u, axisIdx, min, max) {
  const gap = 18;
  const pos = (v) => u.valToPos(v, 'y');
  const kept = [];
  const candidates = decadeCandidates(min, max);
  for (const round of [(v) => v === 0 || isPow10(v), () => true]) {
    for (const v of candidates) {
      if (kept.includes(v) || !round(v)) continue;
      const p = pos(v);
      if (kept.every((k) => Math.abs(pos(k) - p) >= gap)) kept.push(v);
    }
  }
  kept.sort((a, b) => a - b);
  if (kept.length >= 3) return kept;
  // A range narrower than a decade (zoomed in): plain linear ticks read better.
  const step = niceStep((max - min) / 4);
  const ticks = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks.length >= kept.length ? ticks : kept;
}

/** 1, 2 or 5 times a power of ten, at least `raw`. */
function niceStep(raw) {
  const e = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * e).find((s) => s >= raw * (1 - 1e-9));
}

/** A y axis's width: its widest tick label, the tick marks and the gap (uPlot's axis-autosize). */
function fitTicks(u, values, axisIdx, cycleNum) {
  const axis = u.axes[axisIdx];
  // After two passes uPlot settles on a size; keep it rather than oscillate.
  if (cycleNum > 1) return axis._size;
  let size = axis.ticks.size + axis.gap;
  const widest = (values ?? []).reduce((a, v) => (String(v).length > a.length ? String(v) : a), '');
  if (widest !== '') {
    u.ctx.font = axis.font[0];
    size += u.ctx.measureText(widest).width / devicePixelRatio;
  }
  return Math.max(40, Math.ceil(size));
}

/**
 * A chart in `container` (an empty element). `series` are uPlot series options for the y
 * columns; `data` is [x, ...ys]. Options: `xLabel`, `xFormat` (the x values' text; default
 * numbers), `yLabel`, `log` (log y), `bands`, `stepped` indexes. Returns { setData(data),
 * setLog(on), destroy() }. When the cursor is off the chart, the legend shows each series'
 * last value.
 */
export function lineChart(container, { series, bands = [], xLabel = 'generation', xFormat = null, yLabel = '', log = false, height = 240 }) {
  let plot = null;
  let data = [[], ...series.map(() => [])];
  const integerX = xLabel === 'generation';
  const xText = xFormat || (integerX ? (v) => String(v) : fmtTick);
  // The legend at the last point when the cursor is not on a point.
  const showLast = (u) => {
    if (u.cursor.idx === null || u.cursor.idx === undefined) {
      const last = u.data[0].length - 1;
      if (last >= 0) u.setLegend({ idx: last }, false);
    }
  };
  // Whether the user has zoomed in (drag to zoom, double-click to reset): live updates then
  // keep the zoomed range instead of following the data.
  let zoomed = false;
  const onScale = (u, key) => {
    if (key !== 'x') return;
    const x = u.data[0];
    zoomed = x.length > 1 && (u.scales.x.min > x[0] || u.scales.x.max < x[x.length - 1]);
    // The range on screen, for tests and anyone inspecting the page.
    container.dataset.xMin = String(u.scales.x.min ?? '');
    container.dataset.xMax = String(u.scales.x.max ?? '');
  };
  const opts = (width) => ({
    width,
    height,
    cursor: { drag: { x: true, y: false }, points: { size: 6 } },
    legend: { live: true },
    scales: { x: { time: false }, y: yScale(log, data) },
    axes: [
      {
        ...AXIS,
        label: xLabel,
        labelSize: 20,
        labelFont: '12px system-ui, sans-serif',
        ...(integerX ? { incrs: INTEGER_INCRS } : {}),
        values: (u, splits) => {
          // The ticks on screen, for tests and anyone inspecting the page.
          container.dataset.xTicks = splits.join(',');
          return splits.map(xText);
        },
      },
      {
        ...AXIS,
        label: yLabel,
        labelSize: 20,
        labelFont: '12px system-ui, sans-serif',
        // As wide as the widest tick label, so the axis label never overlaps the ticks.
        size: fitTicks,
        // uPlot's own filter for log axes would blank the labels of our 2s and 5s.
        ...(log ? { splits: logSplits, filter: (u, splits) => splits } : {}),
        values: (u, splits) => {
          container.dataset.yTicks = splits.join(',');
          return splits.map(fmtTick);
        },
      },
    ],
    series: [{ label: xLabel, value: (u, v) => (v === null ? '—' : xText(v)) }, ...series],
    bands,
    hooks: { setScale: [onScale], setLegend: [showLast] },
  });
  const width = () => Math.max(280, Math.floor(container.clientWidth || 600));
  const build = () => {
    plot?.destroy();
    plot = new uPlot(opts(width()), data, container);
    container.dataset.log = String(log);
  };
  build();
  let lastWidth = width();
  const observer = new ResizeObserver(() => {
    const w = width();
    if (w !== lastWidth && plot) {
      lastWidth = w;
      plot.setSize({ width: w, height });
    }
  });
  observer.observe(container);
  return {
    setData(next) {
      data = next;
      // A log axis turns asinh when a value that is not positive arrives (and back).
      if (log && yScale(log, data).distr !== plot.scales.y.distr) {
        zoomed = false;
        build();
      } else plot.setData(data, !zoomed);
    },
    /** Switches the y axis between linear and log (rebuilt: uPlot fixes a scale's kind). */
    setLog(on) {
      if (on === log) return;
      log = on;
      zoomed = false;
      build();
    },
    destroy() {
      observer.disconnect();
      plot?.destroy();
      plot = null;
    },
  };
}

/** Series options for a plain line. */
export function line(label, color, extra = {}) {
  return {
    label,
    stroke: color,
    width: 1.75,
    points: { show: false },
    spanGaps: false,
    value: (u, v) => (v === null || v === undefined ? '—' : fmtTick(v)),
    ...extra,
  };
}

export const stepped = () => uPlot.paths.stepped({ align: 1 });

/** Aligns several [x, y...] tables on the union of their x values. */
export const join = (tables) => uPlot.join(tables);

export function fade(hex, alpha) {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}

/** Exponential moving average with weight `w` on the past (0: the values as they are); gaps
 * stay gaps and do not reset the average. */
export function ema(values, w) {
  if (!(w > 0)) return values;
  const out = new Array(values.length);
  let avg = null;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || v === undefined || Number.isNaN(v)) {
      out[i] = null;
      continue;
    }
    avg = avg === null ? v : w * avg + (1 - w) * v;
    out[i] = avg;
  }
  return out;
}

/** The value of a step curve (or a bucketed series) `ys` over sorted `xs` at `x`: the last
 * point at or before it; null before the first and past `end` (the run's last x). */
export function sampleAt(xs, ys, x, end) {
  if (x > end) return null;
  let lo = 0;
  let hi = xs.length - 1;
  if (hi < 0 || xs[0] > x) return null;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (xs[mid] <= x) lo = mid;
    else hi = mid - 1;
  }
  const v = ys[lo];
  return v === null || v === undefined || Number.isNaN(v) ? null : v;
}

/** Mean, population std, min and max of the non-null values; null when there are none. */
export function stats(values) {
  const xs = values.filter((v) => v !== null && v !== undefined);
  if (!xs.length) return null;
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const std = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length);
  return { mean, std, min: Math.min(...xs), max: Math.max(...xs), n: xs.length };
}

/** A group's curve as three columns, center, low and high, from `stats` per point:
 * mean ± std (`spread` 'std') or mean within min–max ('range'). */
export function bandColumns(points, spread) {
  return [
    points.map((p) => p?.mean ?? null),
    points.map((p) => (p ? (spread === 'std' ? p.mean - p.std : p.min) : null)),
    points.map((p) => (p ? (spread === 'std' ? p.mean + p.std : p.max) : null)),
  ];
}

/** uPlot series and bands for groups drawn as bands: per group a center line named `label`
 * and its low and high edges, the space between them filled. `groups` is [{ label, color }]. */
export function bandSeries(groups) {
  const series = [];
  const bands = [];
  for (const { label, color } of groups) {
    const base = series.length + 1;
    series.push(line(label, color, { width: 2, spanGaps: true }));
    // The edges stay out of the legend (.band-edge), which so lists one entry per group.
    series.push(line('low', fade(color, 0.5), { width: 1, spanGaps: true, class: 'band-edge' }));
    series.push(line('high', fade(color, 0.5), { width: 1, spanGaps: true, class: 'band-edge' }));
    bands.push({ series: [base + 2, base + 1], fill: fade(color, 0.14) });
  }
  return { series, bands };
}
