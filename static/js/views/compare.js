// Several jobs on one chart: best so far and population mean against generation. Uses the
// server's downsampled chart endpoint, refreshed while a compared job makes progress.

import { api, stream, jobUrl } from '../api.js';
import { lineChart, line, stepped, join, PALETTE } from '../charts.js';
import { h, replace, fmtNum, fmtAgo, statusBadge, envNames, hashQuery, throttle, toast } from '../util.js';

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
  let chartKey = null;

  const picker = h('div', { class: 'picker', id: 'compare-picker' }, h('p', { class: 'muted', text: 'Loading jobs…' }));
  const legend = h('div', { class: 'compare-legend' });
  const bsfHolder = h('div', { class: 'chart', dataset: { chart: 'compare-best' } });
  const meanHolder = h('div', { class: 'chart', dataset: { chart: 'compare-mean' } });
  const empty = h('p', { class: 'muted chart-empty', text: 'Pick up to 8 evolution jobs to overlay their curves.' });
  const diffBody = h('div', { id: 'spec-diff' });

  replace(root,
    h('div', { class: 'page-head' }, h('h1', { text: 'Compare jobs' })),
    h('div', { class: 'compare-layout' },
      h('section', { class: 'card picker-card', 'aria-labelledby': 'pick-title' },
        h('div', { class: 'card-head' }, h('h2', { id: 'pick-title', text: 'Jobs' })), picker),
      h('div', { class: 'compare-charts' },
        h('section', { class: 'card chart-card', 'aria-labelledby': 'cmp-best-title' },
          h('div', { class: 'card-head' }, h('h2', { id: 'cmp-best-title', text: 'Best fitness so far' })), empty, legend, bsfHolder),
        h('section', { class: 'card chart-card', 'aria-labelledby': 'cmp-mean-title' },
          h('div', { class: 'card-head' }, h('h2', { id: 'cmp-mean-title', text: 'Population mean fitness' }),
            h('span', { class: 'muted small', text: 'long runs: the highest mean in each bucket of generations' })), meanHolder),
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

  /** The job's name, with its short id when another compared job has the same name. */
  function label(id) {
    const job = data.get(id)?.job;
    if (!job) return id.slice(0, 8);
    const same = ids.filter((other) => data.get(other)?.job?.name === job.name).length;
    return same > 1 ? `${job.name} (${id.slice(0, 8)})` : job.name;
  }

  function rebuildCharts() {
    // Rebuild only when the set of series changes, so a live refresh keeps the zoom.
    const key = ids.map((id) => `${id}:${label(id)}`).join(',');
    if (key === chartKey && bsfChart) return;
    chartKey = key;
    bsfChart?.destroy();
    meanChart?.destroy();
    const series = (kind) => ids.map((id, i) => {
      return line(label(id), PALETTE[i % PALETTE.length], { spanGaps: true, ...(kind === 'bsf' ? { paths: stepped() } : {}) });
    });
    bsfChart = lineChart(bsfHolder, { yLabel: 'fitness', height: 280, series: series('bsf') });
    meanChart = lineChart(meanHolder, { yLabel: 'fitness', height: 240, series: series('mean') });
  }

  function draw() {
    empty.hidden = ids.length > 0;
    replace(legend, ids.map((id, i) => {
      const d = data.get(id);
      return h('a', { class: 'legend-item', href: jobUrl(id) },
        h('span', { class: `swatch swatch-${i}`, 'aria-hidden': 'true' }),
        label(id),
        d?.chart ? h('span', { class: 'muted small', text: ` best ${fmtNum(d.chart.best_so_far.value.at(-1), 4)}` }) : null);
    }));
    rebuildCharts();
    if (!ids.length) return;
    const bsf = ids.map((id) => {
      const c = data.get(id)?.chart;
      return c ? [c.best_so_far.generation, c.best_so_far.value] : [[], []];
    });
    const mean = ids.map((id) => {
      const c = data.get(id)?.chart;
      return c ? [c.generation, c.mean_max] : [[], []];
    });
    bsfChart.setData(join(bsf));
    meanChart.setData(join(mean));
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
          api(`/jobs/${id}/history/chart?max_points=${MAX_POINTS}`, { signal: controller.signal }),
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
    bsfChart?.destroy();
    meanChart?.destroy();
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
