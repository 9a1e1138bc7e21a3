// Sweeps: the list (#/sweeps) and one sweep (#/sweeps/<id>), whose variants (the runs that
// differ only in their seed) are drawn as mean ± std, or min–max, over their runs.

import { api, stream, jobUrl } from '../api.js';
import { lineChart, line, fade, PALETTE } from '../charts.js';
import { h, replace, fmtNum, fmtAgo, statusBadge, throttle, toast, fitnessNote, fmtCompute } from '../util.js';

const MAX_POINTS = 600;

export function sweepsView(root) {
  const controller = new AbortController();
  const body = h('tbody', {}, h('tr', {}, h('td', { colspan: 4, class: 'muted', text: 'Loading sweeps…' })));
  replace(root,
    h('div', { class: 'page-head' }, h('h1', { text: 'Sweeps' })),
    h('section', { class: 'card' },
      h('p', { class: 'muted' },
        'A sweep queues one job per combination of a spec\'s axes (POST /api/v1/sweeps, see the ',
        h('a', { href: 'api/docs/', text: 'API' }), '). Runs that differ only in their seed form a variant.'),
      h('table', { class: 'table', id: 'sweep-table' },
        h('thead', {}, h('tr', {}, ['Name', 'Axes', 'Jobs', 'Created'].map((t) => h('th', { scope: 'col', text: t })))),
        body)));
  api('/sweeps?limit=100', { signal: controller.signal }).then((sweeps) => {
    if (!sweeps.length) {
      replace(body, h('tr', {}, h('td', { colspan: 4, class: 'muted', text: 'No sweeps yet.' })));
      return;
    }
    replace(body, sweeps.map((s) => h('tr', { dataset: { sweepId: s.id } },
      h('td', {}, h('a', { href: `#/sweeps/${s.id}`, text: s.name })),
      h('td', { class: 'small' }, Object.entries(s.axes).map(([k, v]) => `${k} × ${v.length}`).join(' · ')),
      h('td', { text: String(s.jobs) }),
      h('td', { class: 'muted', text: fmtAgo(s.created_at) }))));
  }).catch((e) => {
    if (e.name !== 'AbortError') toast(`Could not load sweeps: ${e.message}`, 'error');
  });
  return () => controller.abort();
}

export function sweepView(root, id, { setConnection }) {
  const controller = new AbortController();
  let sweep = null;
  const charts = new Map(); // job id -> chart
  let spread = 'std';
  let bsfChart = null;
  let meanChart = null;
  let chartKey = null;
  // Per environment, in the sweep spec's order: the population mean weighted return (raw).
  let envNames = [];
  const envCharts = new Map(); // env -> chart

  const title = h('h1', { text: 'Sweep' });
  const axes = h('dl', { class: 'facts', id: 'sweep-axes' });
  const variantsBody = h('tbody');
  const bsfHolder = h('div', { class: 'chart', dataset: { chart: 'sweep-best' } });
  const meanHolder = h('div', { class: 'chart', dataset: { chart: 'sweep-mean' } });
  const envsCard = h('section', { class: 'card', 'aria-labelledby': 'sw-envs-title', id: 'sweep-envs', hidden: true },
    h('div', { class: 'card-head' }, h('h2', { id: 'sw-envs-title', text: 'Returns per environment, per variant' })),
    h('p', { class: 'muted small', text: 'The population mean weighted return Σ w_k R_k in each environment\'s own units (bucket maxima), averaged over a variant\'s seeds with the band chosen above.' }));
  const spreadSelect = h('select', { id: 'sweep-spread', 'aria-label': 'Spread over runs' },
    h('option', { value: 'std', text: 'mean ± std' }),
    h('option', { value: 'range', text: 'mean, min–max' }));
  spreadSelect.addEventListener('change', () => {
    spread = spreadSelect.value;
    draw();
  });

  replace(root,
    h('div', { class: 'page-head' }, title),
    h('section', { class: 'card' }, h('div', { class: 'card-head' }, h('h2', { text: 'Axes' })), axes),
    h('section', { class: 'card chart-card', 'aria-labelledby': 'sw-best-title' },
      h('div', { class: 'card-head' },
        h('h2', { id: 'sw-best-title', text: 'Best fitness so far, per variant' }),
        h('label', { class: 'small' }, 'Band ', spreadSelect)),
      fitnessNote(null, 'Each variant is averaged over its seeds.'),
      bsfHolder),
    h('section', { class: 'card chart-card', 'aria-labelledby': 'sw-mean-title' },
      h('div', { class: 'card-head' }, h('h2', { id: 'sw-mean-title', text: 'Population mean fitness, per variant' })),
      meanHolder),
    envsCard,
    h('section', { class: 'card', 'aria-labelledby': 'sw-var-title' },
      h('div', { class: 'card-head' }, h('h2', { id: 'sw-var-title', text: 'Variants' })),
      h('table', { class: 'table', id: 'variant-table' },
        h('thead', {}, h('tr', {}, ['', 'Variant', 'Runs', 'Best so far (mean ± std)', 'Compute (all runs)', 'Jobs'].map((t) => h('th', { scope: 'col', text: t })))),
        variantsBody)));

  /** The variants' curves on one generation grid: per variant [center, low, high]. */
  function aggregate() {
    const xs = new Set();
    for (const c of charts.values()) for (const g of c.generation) xs.add(g);
    const grid = [...xs].sort((a, b) => a - b);
    const columns = sweep.variants.map((v) => {
      const members = v.job_ids.map((j) => charts.get(j)).filter(Boolean);
      const bsf = grid.map((g) => stats(members.map((c) => stepAt(c.best_so_far.generation, c.best_so_far.value, g, c.generations))));
      const mean = grid.map((g) => stats(members.map((c) => stepAt(c.generation, c.mean_max, g, c.generations))));
      const envs = envNames.map((name) => grid.map((g) => stats(members.map((c) => {
        const curves = c.envs?.find((e) => e.env === name);
        return curves ? stepAt(c.generation, curves.mean_return_max, g, c.generations) : null;
      }))));
      return { bsf, mean, envs };
    });
    return { grid, columns };
  }

  function bandColumns(grid, stat) {
    return stat.map((s) => [
      s.map((p) => p?.mean ?? null),
      s.map((p) => (p ? (spread === 'std' ? p.mean - p.std : p.min) : null)),
      s.map((p) => (p ? (spread === 'std' ? p.mean + p.std : p.max) : null)),
    ]);
  }

  function rebuildCharts() {
    const key = `${sweep.variants.map((v) => v.label).join('|')}#${envNames.join('|')}`;
    if (key === chartKey && bsfChart) return;
    chartKey = key;
    bsfChart?.destroy();
    meanChart?.destroy();
    const series = [];
    const bands = [];
    sweep.variants.forEach((v, i) => {
      const color = PALETTE[i % PALETTE.length];
      const base = series.length + 1;
      // The center line carries the variant's name; the band's edges are its low and high.
      series.push(line(`${v.label} (${v.job_ids.length})`, color, { width: 2 }));
      series.push(line('low', fade(color, 0.5), { width: 1 }));
      series.push(line('high', fade(color, 0.5), { width: 1 }));
      bands.push({ series: [base + 2, base + 1], fill: fade(color, 0.14) });
    });
    bsfChart = lineChart(bsfHolder, { yLabel: 'fitness', height: 300, series, bands });
    meanChart = lineChart(meanHolder, { yLabel: 'fitness', height: 260, series, bands });
    for (const chart of envCharts.values()) chart.destroy();
    envCharts.clear();
    for (const holder of envsCard.querySelectorAll('.env-panel')) holder.remove();
    envsCard.hidden = envNames.length === 0;
    for (const name of envNames) {
      const holder = h('div', { class: 'chart', dataset: { chart: `sweep-env-${name}` } });
      envsCard.append(h('div', { class: 'env-panel' }, h('h3', { class: 'small', text: name }), holder));
      envCharts.set(name, lineChart(holder, { yLabel: 'return', height: 220, series, bands }));
    }
  }

  function draw() {
    if (!sweep) return;
    rebuildCharts();
    const { grid, columns } = aggregate();
    const flat = (which) => [grid, ...bandColumns(grid, columns.map((c) => c[which])).flat()];
    bsfChart.setData(flat('bsf'));
    meanChart.setData(flat('mean'));
    envNames.forEach((name, e) => {
      envCharts.get(name)?.setData([grid, ...bandColumns(grid, columns.map((c) => c.envs[e])).flat()]);
    });
    bsfHolder.dataset.points = String(grid.length);
    replace(variantsBody, sweep.variants.map((v, i) => {
      const last = columns[i].bsf.filter(Boolean).at(-1);
      return h('tr', { dataset: { variant: v.label } },
        h('td', {}, h('span', { class: `swatch swatch-${i % 8}`, 'aria-hidden': 'true' })),
        h('td', {}, h('code', { text: v.label })),
        h('td', { text: String(v.job_ids.length) }),
        h('td', { class: 'num', text: last ? `${fmtNum(last.mean, 4)} ± ${fmtNum(last.std, 3)} (n=${last.n})` : '—' }),
        h('td', { class: 'num compute', text: fmtCompute(v.compute) }),
        h('td', {}, v.job_ids.map((jid) => {
          const job = sweep.jobs.find((j) => j.id === jid);
          return h('a', { class: 'sweep-member', href: jobUrl(jid), title: job?.name || jid },
            statusBadge(job?.status || 'queued'), ` seed ${job?.spec?.seed ?? '?'}`, ' ');
        })));
    }));
  }

  async function load() {
    try {
      sweep = await api(`/sweeps/${id}`, { signal: controller.signal });
      title.textContent = `Sweep: ${sweep.name}`;
      replace(axes, Object.entries(sweep.axes).flatMap(([path, values]) => [
        h('dt', {}, h('code', { text: path })),
        h('dd', { text: values.map((v) => JSON.stringify(v)).join(', ') }),
      ]), h('dt', { text: 'Compute' }), h('dd', { id: 'sweep-compute', text: fmtCompute(sweep.compute) }));
      envNames = (sweep.spec?.envs || []).map((e) => (typeof e === 'string' ? e : e.name));
      await Promise.all(sweep.jobs.map(async (job) => {
        try {
          charts.set(job.id, await api(`/jobs/${job.id}/history/chart?max_points=${MAX_POINTS}&series=envs`, { signal: controller.signal }));
        } catch (e) {
          if (e.name !== 'AbortError') toast(`Could not load job ${job.id.slice(0, 8)}: ${e.message}`, 'error');
        }
      }));
      draw();
    } catch (e) {
      if (e.name === 'AbortError') return;
      replace(root, h('section', { class: 'card empty' }, h('h1', { text: 'Sweep not found' }),
        h('p', {}, e.message, '. ', h('a', { href: '#/sweeps', text: 'All sweeps' }))));
    }
  }

  const reloadSoon = throttle(() => load(), 3000);
  const events = stream('/events', {
    progress: (p) => { if (sweep?.jobs.some((j) => j.id === p.job_id)) reloadSoon(); },
    job: (job) => { if (job.sweep?.id === id) reloadSoon(); },
    resync: () => reloadSoon(),
  }, setConnection);
  load();

  return () => {
    controller.abort();
    events.close();
    reloadSoon.cancel();
    bsfChart?.destroy();
    meanChart?.destroy();
    for (const chart of envCharts.values()) chart.destroy();
  };
}

/** The value of a step curve (or a bucketed series) at generation g; null past the run's end. */
function stepAt(gens, values, g, generations) {
  if (g >= generations) return null;
  let lo = 0;
  let hi = gens.length - 1;
  if (hi < 0 || gens[0] > g) return null;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (gens[mid] <= g) lo = mid;
    else hi = mid - 1;
  }
  const v = values[lo];
  return v === null || v === undefined || Number.isNaN(v) ? null : v;
}

/** Mean, population std, min and max of the non-null values; null when there are none. */
function stats(values) {
  const xs = values.filter((v) => v !== null);
  if (!xs.length) return null;
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const std = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length);
  return { mean, std, min: Math.min(...xs), max: Math.max(...xs), n: xs.length };
}
