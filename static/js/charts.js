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

// Generations are whole numbers: ticks only at integer steps.
const INTEGER_INCRS = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1e3, 2e3, 2.5e3, 5e3, 1e4, 2e4, 2.5e4, 5e4, 1e5, 2e5, 5e5, 1e6, 2e6, 5e6, 1e7];

/** The y scale: linear, or logarithmic when asked and every value is positive, else asinh
 * (a logarithm on both sides of zero, linear near it), so negative fitness stays drawable. */
function yScale(log, data) {
  if (!log) return { auto: true };
  const positive = data.slice(1).every((ys) => ys.every((v) => v === null || v === undefined || v > 0));
  return positive ? { distr: 3 } : { distr: 4, asinh: 1 };
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
 * columns; `data` is [x, ...ys]. Options: `xLabel`, `yLabel`, `log` (log y), `bands`,
 * `stepped` indexes. Returns { setData(data), setLog(on), destroy() }. When the cursor is off
 * the chart, the legend shows each series' last value.
 */
export function lineChart(container, { series, bands = [], xLabel = 'generation', yLabel = '', log = false, height = 240 }) {
  let plot = null;
  let data = [[], ...series.map(() => [])];
  const integerX = xLabel === 'generation';
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
        ...(integerX ? {
          incrs: INTEGER_INCRS,
          values: (u, splits) => {
            // The ticks on screen, for tests and anyone inspecting the page.
            container.dataset.xTicks = splits.join(',');
            return splits.map((v) => String(v));
          },
        } : {}),
      },
      {
        ...AXIS,
        label: yLabel,
        labelSize: 20,
        labelFont: '12px system-ui, sans-serif',
        // As wide as the widest tick label, so the axis label never overlaps the ticks.
        size: fitTicks,
        values: (u, splits) => splits.map(fmtTick),
      },
    ],
    series: [{ label: xLabel, value: (u, v) => (v === null ? '—' : String(v)) }, ...series],
    bands,
    hooks: { setScale: [onScale], setLegend: [showLast] },
  });
  const width = () => Math.max(280, Math.floor(container.clientWidth || 600));
  const build = () => {
    plot?.destroy();
    plot = new uPlot(opts(width()), data, container);
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
      container.dataset.log = String(on);
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
