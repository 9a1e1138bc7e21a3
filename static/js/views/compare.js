// Several jobs on one chart: best so far, population mean, each environment's returns and σ
// against generation. Uses the server's downsampled chart endpoint (with its per-environment
// and σ series), refreshed while a compared job makes progress.

import { api, stream, jobUrl } from '../api.js';
import { lineChart, line, stepped, join, PALETTE } from '../charts.js';
import { h, replace, fmtNum, fmtAgo, statusBadge, envNames, hashQuery, throttle, toast, fitnessNote, fitnessExplained } from '../util.js';
import { distinctLabels } from '../labels.js';

const MAX_JOBS = 8;
const MAX_POINTS = 600;

export function compareView(root, { setConnection }) {
  const controller = new AbortController();
  let ids = readIds();
  let candidates = [];
  let disposed = false;
  const data = new Map(); // id -> { job, chart }
  let bsfChart = null;
  let meanChart = null;
  let sigmaChart = null;
  const envCharts = new Map(); // environment name -> chart
  let envMetric = 'mean_return_max';
  let chartKey = null;
  let labels = new Map(); // id -> { full, short }

  const picker = h('div', { class: 'picker', id: 'compare-picker' }, h('p', { class: 'muted', text: 'Loading jobs…' }));
  const legend = h('div', { class: 'compare-legend' });
  const bsfHolder = h('div', { class: 'chart', dataset: { chart: 'compare-best' } });
  const meanHolder = h('div', { class: 'chart', dataset: { chart: 'compare-mean' } });
  const empty = h('p', { class: 'muted chart-empty', text: 'Pick up to 8 evolution jobs to overlay their curves.' });
  const diffBody = h('div', { id: 'spec-diff' });
  const fitnessLine = fitnessNote(null);
  const envGrid = h('div', { class: 'compare-envs', id: 'compare-envs' });
  const sigmaHolder = h('div', { class: 'chart', dataset: { chart: 'compare-sigma' } });
  const envMetricSelect = h('select', { id: 'compare-env-metric', 'aria-label': 'Per-environment quantity' },
    h('option', { value: 'mean_return_max', text: 'population mean return' }),
    h('option', { value: 'best_return_max', text: 'best return' }));
  envMetricSelect.addEventListener('change', () => {
    envMetric = envMetricSelect.value;
    draw();
  });

  replace(root,
    h('div', { class: 'page-head' }, h('h1', { text: 'Compare jobs' })),
    h('div', { class: 'compare-layout' },
      h('section', { class: 'card picker-card', 'aria-labelledby': 'pick-title' },
        h('div', { class: 'card-head' }, h('h2', { id: 'pick-title', text: 'Jobs' })), picker),
      h('div', { class: 'compare-charts' },
        h('section', { class: 'card chart-card', 'aria-labelledby': 'cmp-best-title' },
          h('div', { class: 'card-head' }, h('h2', { id: 'cmp-best-title', text: 'Best fitness so far' })),
          fitnessLine, empty, legend, bsfHolder),
        h('section', { class: 'card chart-card', 'aria-labelledby': 'cmp-mean-title' },
          h('div', { class: 'card-head' }, h('h2', { id: 'cmp-mean-title', text: 'Population mean fitness' }),
            h('span', { class: 'muted small', text: 'long runs: the highest mean in each bucket of generations' })), meanHolder),
        h('section', { class: 'card chart-card', 'aria-labelledby': 'cmp-envs-title' },
          h('div', { class: 'card-head' }, h('h2', { id: 'cmp-envs-title', text: 'Per environment' }),
            h('label', { class: 'small' }, 'Show ', envMetricSelect),
            h('span', { class: 'muted small', text: 'raw returns; long runs: the highest in each bucket' })), envGrid),
        h('section', { class: 'card chart-card', 'aria-labelledby': 'cmp-sigma-title' },
          h('div', { class: 'card-head' }, h('h2', { id: 'cmp-sigma-title', text: 'Step size σ' }),
            h('span', { class: 'muted small', text: 'log scale; long runs: the largest σ in each bucket' })), sigmaHolder),
        h('section', { class: 'card', 'aria-labelledby': 'cmp-diff-title' },
          h('div', { class: 'card-head' }, h('h2', { id: 'cmp-diff-title', text: 'How the specs differ' })), diffBody))));

  function setIds(next) {
    ids = next.slice(0, MAX_JOBS);
    const target = ids.length ? `#/compare?ids=${ids.join(',')}` : '#/compare';
    if (location.hash !== target) history.replaceState(null, '', target);
    refresh();
  }

  function renderPicker() {
    const known = new Map(candidates.map((j) => [j.id, j]));
    for (const id of ids) if (!known.has(id) && data.get(id)?.job) known.set(id, data.get(id).job);
    const list = [...known.values()];
    if (!list.length) {
      replace(picker, h('p', { class: 'muted' }, 'No evolution jobs yet. ', h('a', { href: '#/new', text: 'Submit one' }), '.'));
      return;
    }
    replace(picker, h('ul', { class: 'pick-list' }, list.map((job) => {
      const i = ids.indexOf(job.id);
      const box = h('input', {
        type: 'checkbox', id: `pick-${job.id}`, value: job.id, checked: i >= 0,
        disabled: i < 0 && ids.length >= MAX_JOBS,
        on: { change: (e) => setIds(e.target.checked ? [...ids, job.id] : ids.filter((x) => x !== job.id)) },
      });
      return h('li', { class: i >= 0 ? 'picked' : null },
        box,
        h('span', { class: `swatch swatch-${i >= 0 ? i : 'none'}`, 'aria-hidden': 'true' }),
        h('label', { for: `pick-${job.id}` },
          h('span', { class: 'pick-name', text: job.name }),
          h('span', { class: 'muted small', text: `${envNames(job.spec).join(', ')} · ${job.generation}/${job.generations} · ${fmtAgo(job.created_at)}` })),
        statusBadge(job.status));
    })));
  }

  /** The compared jobs' legend names: full names, told apart only where they collide or are
   * long and alike (see labels.js). */
  function relabel() {
    const jobs = ids.map((id) => ({ id, name: data.get(id)?.job?.name ?? id.slice(0, 8) }));
    labels = distinctLabels(jobs);
  }
  const label = (id) => labels.get(id)?.full ?? id.slice(0, 8);
  const short = (id) => labels.get(id)?.short ?? label(id);

  /** The environments of the compared jobs, in order of first appearance. */
  function envUnion() {
    const names = [];
    for (const id of ids) for (const env of envNames(data.get(id)?.job?.spec)) if (!names.includes(env)) names.push(env);
    return names;
  }

  /** The compared jobs (index into `ids`, for its colour) that ran `env`. */
  const jobsWith = (env) => ids.map((id, i) => [id, i]).filter(([id]) => envNames(data.get(id)?.job?.spec).includes(env));

  function rebuildCharts() {
    // Rebuild only when the set of series changes, so a live refresh keeps the zoom.
    const envs = envUnion();
    const key = [ids.map((id) => `${id}:${short(id)}`).join(','), envs.map((e) => `${e}:${jobsWith(e).map(([id]) => id).join('+')}`).join(',')].join('|');
    if (key === chartKey && bsfChart) return;
    chartKey = key;
    destroyCharts();
    const series = (list, extra = {}) => list.map(([id, i]) => line(short(id), PALETTE[i % PALETTE.length], { spanGaps: true, ...extra }));
    const all = ids.map((id, i) => [id, i]);
    bsfChart = lineChart(bsfHolder, { yLabel: 'fitness', height: 280, series: series(all, { paths: stepped() }) });
    meanChart = lineChart(meanHolder, { yLabel: 'fitness', height: 240, series: series(all) });
    sigmaChart = lineChart(sigmaHolder, { yLabel: 'σ', height: 220, log: true, series: series(all) });
    replace(envGrid);
    for (const env of envs) {
      const holder = h('div', { class: 'chart', dataset: { chart: 'compare-env', env } });
      envGrid.append(h('figure', { class: 'compare-env' }, h('figcaption', { class: 'small', text: env }), holder));
      envCharts.set(env, lineChart(holder, { yLabel: 'return', height: 200, series: series(jobsWith(env)) }));
    }
    if (!envs.length) envGrid.append(h('p', { class: 'muted small', text: 'No environments yet.' }));
  }

  function destroyCharts() {
    bsfChart?.destroy();
    meanChart?.destroy();
    sigmaChart?.destroy();
    for (const chart of envCharts.values()) chart.destroy();
    envCharts.clear();
  }

  function draw() {
    empty.hidden = ids.length > 0;
    relabel();
    // Name the combine rule when every compared job uses the same one.
    const combines = new Set(ids.map((id) => data.get(id)?.job?.spec?.lifetime?.combine));
    fitnessLine.textContent = fitnessExplained(combines.size === 1 ? { lifetime: { combine: [...combines][0] } } : null);
    replace(legend, ids.map((id, i) => {
      const d = data.get(id);
      return h('a', { class: 'legend-item', href: jobUrl(id), title: `${label(id)} (${id})` },
        h('span', { class: `swatch swatch-${i}`, 'aria-hidden': 'true' }),
        label(id),
        d?.chart ? h('span', { class: 'muted small', text: ` best ${fmtNum(d.chart.best_so_far.value.at(-1), 4)}` }) : null);
    }));
    rebuildCharts();
    if (!ids.length) return;
    const column = (id, pick) => {
      const c = data.get(id)?.chart;
      const ys = c && pick(c);
      return ys ? [c.generation, ys] : [[], []];
    };
    const bsf = ids.map((id) => {
      const c = data.get(id)?.chart;
      return c ? [c.best_so_far.generation, c.best_so_far.value] : [[], []];
    });
    bsfChart.setData(join(bsf));
    meanChart.setData(join(ids.map((id) => column(id, (c) => c.mean_max))));
    sigmaChart.setData(join(ids.map((id) => column(id, (c) => c.sigma?.max))));
    // Points on screen, for tests and anyone inspecting the page.
    sigmaHolder.dataset.points = String(ids.reduce((n, id) => n + (data.get(id)?.chart?.sigma?.max.filter(Number.isFinite).length ?? 0), 0));
    for (const [env, chart] of envCharts) {
      chart.setData(join(jobsWith(env).map(([id]) => column(id, (c) => {
        // A spec may list an environment twice; the chart shows its first entry.
        const curves = c.envs?.find((e) => e.env === env);
        return curves?.[envMetric];
      }))));
    }
    drawDiff();
  }

  /** The spec fields whose values differ between the compared jobs, one row each. */
  function drawDiff() {
    const specs = ids.map((id) => flatten(data.get(id)?.job?.spec || {}));
    const paths = [...new Set(specs.flatMap((s) => Object.keys(s)))].sort()
      .filter((p) => p !== 'name' && new Set(specs.map((s) => JSON.stringify(s[p]))).size > 1);
    if (ids.length < 2) {
      replace(diffBody, h('p', { class: 'muted', text: 'Pick two or more jobs to see how their specs differ.' }));
    } else if (!paths.length) {
      replace(diffBody, h('p', { class: 'muted', text: 'The specs are identical (names aside).' }));
    } else {
      replace(diffBody, h('div', { class: 'table-wrap' }, h('table', { class: 'table' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col', text: 'Field' }),
          ids.map((id, i) => h('th', { scope: 'col' }, h('span', { class: `swatch swatch-${i}`, 'aria-hidden': 'true' }), ' ', label(id))))),
        h('tbody', {}, paths.map((p) => h('tr', { dataset: { field: p } }, h('th', { scope: 'row' }, h('code', { text: p })),
          specs.map((s) => h('td', { text: s[p] === undefined ? '—' : JSON.stringify(s[p]) }))))))));
    }
  }

  let loadToken = 0;
  async function refresh() {
    const token = ++loadToken;
    renderPicker();
    await Promise.all(ids.map(async (id) => {
      try {
        const [job, chart] = await Promise.all([
          api(`/jobs/${id}`, { signal: controller.signal }),
          api(`/jobs/${id}/history/chart?max_points=${MAX_POINTS}&series=envs,sigma`, { signal: controller.signal }),
        ]);
        data.set(id, { job, chart });
      } catch (e) {
        if (e.name !== 'AbortError') toast(`Could not load job ${id.slice(0, 8)}: ${e.message}`, 'error');
      }
    }));
    if (token !== loadToken || disposed) return;
    renderPicker();
    draw();
  }

  const refreshSoon = throttle(() => refresh(), 3000);
  const events = stream('/events', {
    progress: (p) => { if (ids.includes(p.job_id)) refreshSoon(); },
    job: (job) => {
      if (job.kind !== 'evolve') return;
      const i = candidates.findIndex((c) => c.id === job.id);
      if (i >= 0) candidates[i] = job;
      else candidates.unshift(job);
      if (ids.includes(job.id)) refreshSoon();
      else renderPicker();
    },
    resync: () => refreshSoon(),
  }, setConnection);

  api('/jobs?kind=evolve&limit=100', { signal: controller.signal }).then((page) => {
    candidates = page.jobs;
    renderPicker();
  }).catch((e) => {
    if (e.name !== 'AbortError') toast(`Could not load jobs: ${e.message}`, 'error');
  });
  refresh();

  const dispose = () => {
    disposed = true;
    controller.abort();
    events.close();
    refreshSoon.cancel();
    destroyCharts();
  };
  dispose.onQuery = () => {
    const next = readIds();
    if (next.join(',') !== ids.join(',')) {
      ids = next;
      refresh();
    }
  };
  return dispose;
}

/** `{a: {b: 1}}` as `{"a.b": 1}`; arrays stay whole (an env list is one value). */
function flatten(value, prefix = '', out = {}) {
  for (const [k, v] of Object.entries(value)) {
    const path = prefix ? `${prefix}.${k}` : k;
    if (v && typeof v === 'object' && !Array.isArray(v)) flatten(v, path, out);
    else out[path] = v;
  }
  return out;
}

function readIds() {
  const raw = hashQuery().get('ids') || '';
  return [...new Set(raw.split(',').map((s) => s.trim()).filter((s) => /^[0-9a-fA-F-]{36}$/.test(s)))].slice(0, MAX_JOBS);
}
