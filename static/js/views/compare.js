// Several jobs on one chart: best so far, population mean, each environment's returns (raw or
// normalised) and σ, against generation, environment steps or wall time. Each job is a line,
// or the jobs are grouped by a spec field or by their sweep variant and each group drawn as
// mean ± std or min–max band (as the sweep page draws variants). Uses the server's downsampled
// chart endpoint (with its per-environment and σ series), refreshed while a compared job makes
// progress. The whole view (selection, grouping, band, smoothing, scale, x axis, environment
// quantity) lives in the address, so a link shows what its sender saw.

import { api, stream, jobUrl } from '../api.js';
import { lineChart, line, stepped, join, ema, sampleAt, stats, bandColumns, bandSeries, X_AXES, PALETTE } from '../charts.js';
import { h, replace, fmtNum, fmtAgo, statusBadge, envNames, hashQuery, throttle, toast, fitnessNote, fitnessExplained } from '../util.js';
import { distinctLabels } from '../labels.js';

const MAX_JOBS = 8;
const MAX_POINTS = 600;
/** Group key of the sweep variant (a job's `sweep.variant`: its sweep's axis values less the
 * seed), beside the spec fields' dotted paths. */
const VARIANT = 'variant';
/** The per-environment quantities: the chart's raw series, or a raw series normalised with the
 * environment's return bounds (`of`). */
const ENV_METRICS = {
  mean_return_max: { text: 'population mean return', y: 'return' },
  best_return_max: { text: 'best return', y: 'return' },
  mean_score: { text: 'population mean score (normalised)', y: 'score', of: 'mean_return_max' },
  best_score: { text: 'best score (normalised)', y: 'score', of: 'best_return_max' },
};
const DEFAULT_ENV_METRIC = 'mean_return_max';
/** Where a chart series reaches an x axis other than generation (`GET …/history/chart`). */
const X_COLUMNS = { generation: 'generation', steps: 'steps', wall: 'wall_seconds' };

export function compareView(root, { setConnection }) {
  const controller = new AbortController();
  let view = readState();
  let ids = view.ids;
  let candidates = [];
  let disposed = false;
  const data = new Map(); // id -> { job, chart }
  let bsfChart = null;
  let meanChart = null;
  let sigmaChart = null;
  const envCharts = new Map(); // environment name -> chart
  let chartKey = null;
  let labels = new Map(); // id -> { full, short }
  let envBounds = new Map(); // environment name -> { return_min, return_max } (GET /envs)
  let search = '';

  const picker = h('div', { class: 'picker', id: 'compare-picker' }, h('p', { class: 'muted', text: 'Loading jobs…' }));
  const searchInput = h('input', { type: 'search', id: 'compare-search', placeholder: 'name, environment or tag', autocomplete: 'off', maxlength: 200 });
  const legend = h('div', { class: 'compare-legend' });
  const bsfHolder = h('div', { class: 'chart', dataset: { chart: 'compare-best' } });
  const meanHolder = h('div', { class: 'chart', dataset: { chart: 'compare-mean' } });
  const empty = h('p', { class: 'muted chart-empty', text: 'Pick up to 8 evolution jobs to overlay their curves.' });
  const diffBody = h('div', { id: 'spec-diff', class: 'spec-diff' });
  const fitnessLine = fitnessNote(null);
  const envGrid = h('div', { class: 'compare-envs', id: 'compare-envs' });
  const sigmaHolder = h('div', { class: 'chart', dataset: { chart: 'compare-sigma' } });
  // What the log scale leaves out, per card (a log axis has no place for values ≤ 0).
  const bsfLogNote = logNote('compare-best-log-note');
  const meanLogNote = logNote('compare-mean-log-note');
  const envLogNote = logNote('compare-envs-log-note');
  const xNote = h('p', { class: 'muted small', id: 'compare-x-note', hidden: true });

  // ---- the view's controls ----
  const groupSelect = h('select', { id: 'compare-group' });
  const bandSelect = h('select', { id: 'compare-band' },
    h('option', { value: 'std', text: 'mean ± std' }),
    h('option', { value: 'range', text: 'mean, min–max' }));
  const smoothInput = h('input', { type: 'range', id: 'compare-smoothing', min: 0, max: 0.99, step: 0.01, value: '0' });
  const smoothText = h('output', { for: 'compare-smoothing', class: 'small mono' });
  const logToggle = h('input', { type: 'checkbox', id: 'compare-log' });
  const xSelect = h('select', { id: 'compare-x' },
    Object.entries(X_AXES).map(([key, axis]) => h('option', { value: key, text: axis.label })));
  const envMetricSelect = h('select', { id: 'compare-env-metric' },
    Object.entries(ENV_METRICS).map(([key, m]) => h('option', { value: key, text: m.text })));
  groupSelect.addEventListener('change', () => update({ group: groupSelect.value }));
  bandSelect.addEventListener('change', () => update({ band: bandSelect.value }));
  smoothInput.addEventListener('input', () => update({ smooth: Number(smoothInput.value) }));
  logToggle.addEventListener('change', () => update({ log: logToggle.checked }));
  xSelect.addEventListener('change', () => update({ x: xSelect.value }));
  envMetricSelect.addEventListener('change', () => update({ env: envMetricSelect.value }));

  const control = (id, text, input) => h('span', { class: 'control' }, h('label', { for: id, class: 'small', text }), input);
  const controls = h('section', { class: 'card compare-controls', 'aria-label': 'How the jobs are drawn' },
    h('div', { class: 'chart-controls' },
      control('compare-group', 'Group by', groupSelect),
      control('compare-band', 'Band', bandSelect),
      control('compare-smoothing', 'Smoothing (EMA)', h('span', { class: 'control' }, smoothInput, smoothText)),
      h('label', { class: 'small check' }, logToggle, ' log y scale'),
      control('compare-x', 'x axis', xSelect)),
    h('p', { class: 'muted small', text: 'A group draws its jobs\' mean with a band of ± one standard deviation, or from the lowest to the highest, at every x any of them reached. Smoothing applies to the mean and per-environment curves of each job (before grouping); best so far and σ stay exact.' }),
    xNote);

  replace(root,
    h('div', { class: 'page-head' }, h('h1', { text: 'Compare jobs' })),
    h('div', { class: 'compare-layout' },
      h('section', { class: 'card picker-card', 'aria-labelledby': 'pick-title' },
        h('div', { class: 'card-head' }, h('h2', { id: 'pick-title', text: 'Jobs' })),
        h('div', { class: 'field picker-search' }, h('label', { for: 'compare-search', text: 'Find jobs' }), searchInput),
        picker),
      h('div', { class: 'compare-charts' },
        controls,
        h('section', { class: 'card chart-card', 'aria-labelledby': 'cmp-best-title' },
          h('div', { class: 'card-head' }, h('h2', { id: 'cmp-best-title', text: 'Best fitness so far' })),
          fitnessLine, empty, legend, bsfHolder, bsfLogNote),
        h('section', { class: 'card chart-card', 'aria-labelledby': 'cmp-mean-title' },
          h('div', { class: 'card-head' }, h('h2', { id: 'cmp-mean-title', text: 'Population mean fitness' }),
            h('span', { class: 'muted small', text: 'long runs: the highest mean in each bucket of generations' })), meanHolder, meanLogNote),
        h('section', { class: 'card chart-card', 'aria-labelledby': 'cmp-envs-title' },
          h('div', { class: 'card-head' }, h('h2', { id: 'cmp-envs-title', text: 'Per environment' }),
            control('compare-env-metric', 'Show', envMetricSelect),
            h('span', { class: 'muted small', text: 'weighted over a lifetime\'s episodes; a score is the return scaled to 0 at the environment\'s floor and 1 at its best; long runs: the highest in each bucket' })),
          envGrid, envLogNote),
        h('section', { class: 'card chart-card', 'aria-labelledby': 'cmp-sigma-title' },
          h('div', { class: 'card-head' }, h('h2', { id: 'cmp-sigma-title', text: 'Step size σ' }),
            h('span', { class: 'muted small', text: 'log scale; long runs: the largest σ in each bucket' })), sigmaHolder),
        h('section', { class: 'card', 'aria-labelledby': 'cmp-diff-title' },
          h('div', { class: 'card-head' }, h('h2', { id: 'cmp-diff-title', text: 'How the specs differ' })), diffBody))));

  /** The controls as the view state has them (after a change of address too). */
  function showState() {
    groupSelect.value = view.group;
    bandSelect.value = view.band;
    bandSelect.disabled = !view.group;
    smoothInput.value = String(view.smooth);
    smoothText.textContent = view.smooth > 0 ? view.smooth.toFixed(2) : 'off';
    logToggle.checked = view.log;
    xSelect.value = view.x;
    envMetricSelect.value = view.env;
  }

  /** Changes the view state, keeps it in the address (replacing the entry: a tweak is not a
   * page of its own for Back) and redraws. */
  function update(change) {
    view = { ...view, ...change, ids };
    const target = stateHash(view);
    if (location.hash !== target) history.replaceState(null, '', target);
    showState();
    draw();
  }

  function setIds(next) {
    ids = next.slice(0, MAX_JOBS);
    view = { ...view, ids };
    const target = stateHash(view);
    if (location.hash !== target) history.replaceState(null, '', target);
    refresh();
  }

  // ---- the job picker: the compared jobs pinned on top, then the others that match ----
  function renderPicker() {
    const known = new Map(candidates.map((j) => [j.id, j]));
    for (const id of ids) if (!known.has(id) && data.get(id)?.job) known.set(id, data.get(id).job);
    if (!known.size) {
      replace(picker, h('p', { class: 'muted' }, 'No evolution jobs yet. ', h('a', { href: '#/new', text: 'Submit one' }), '.'));
      return;
    }
    const pinned = ids.map((id) => known.get(id)).filter(Boolean);
    const others = [...known.values()].filter((j) => !ids.includes(j.id) && matchesSearch(j));
    const colors = swatchIndex();
    const item = (job) => {
      const picked = ids.includes(job.id);
      const box = h('input', {
        type: 'checkbox', id: `pick-${job.id}`, value: job.id, checked: picked,
        disabled: !picked && ids.length >= MAX_JOBS,
        on: { change: (e) => setIds(e.target.checked ? [...ids, job.id] : ids.filter((x) => x !== job.id)) },
      });
      return h('li', { class: picked ? 'picked' : null, dataset: { jobId: job.id } },
        box,
        h('span', { class: `swatch swatch-${picked ? colors.get(job.id) % 8 : 'none'}`, 'aria-hidden': 'true' }),
        // The status goes under the name, which so has the card's whole width to wrap in.
        h('label', { for: `pick-${job.id}` },
          h('span', { class: 'pick-name', text: job.name }),
          h('span', { class: 'pick-meta muted small' }, statusBadge(job.status),
            ` ${envNames(job.spec).join(', ')} · ${job.generation}/${job.generations} · ${fmtAgo(job.created_at)}`)));
    };
    replace(picker,
      pinned.length ? h('ul', { class: 'pick-list pick-pinned', 'aria-label': 'Compared jobs' }, pinned.map(item)) : null,
      others.length
        ? h('ul', { class: 'pick-list', 'aria-label': 'Other jobs' }, others.map(item))
        : h('p', { class: 'muted small', text: search ? `No other job matches “${search}”.` : 'No other evolution jobs.' }));
  }

  function matchesSearch(job) {
    if (!search) return true;
    const needle = search.toLowerCase();
    return [job.name, ...envNames(job.spec), ...(job.tags || [])].some((t) => t.toLowerCase().includes(needle));
  }

  // Searching also asks the server, which knows jobs beyond the 100 newest listed at first.
  let searchTimer = null;
  searchInput.addEventListener('input', () => {
    search = searchInput.value.trim();
    renderPicker();
    clearTimeout(searchTimer);
    if (!search) return;
    searchTimer = setTimeout(async () => {
      try {
        const q = new URLSearchParams({ kind: 'evolve', limit: '100', q: search });
        const page = await api(`/jobs?${q}`, { signal: controller.signal });
        for (const job of page.jobs) if (!candidates.some((c) => c.id === job.id)) candidates.push(job);
        renderPicker();
      } catch (e) {
        if (e.name !== 'AbortError') toast(`Could not search the jobs: ${e.message}`, 'error');
      }
    }, 300);
  });

  /** The compared jobs' legend names: full names, told apart only where they collide or are
   * long and alike (see labels.js). */
  function relabel() {
    const jobs = ids.map((id) => ({ id, name: data.get(id)?.job?.name ?? id.slice(0, 8) }));
    labels = distinctLabels(jobs);
  }
  const label = (id) => labels.get(id)?.full ?? id.slice(0, 8);
  const short = (id) => labels.get(id)?.short ?? label(id);

  // ---- grouping ----
  /** The groups of the compared jobs under the chosen grouping, ordered by value; null when
   * each job is drawn on its own. */
  function groupsOf() {
    if (!view.group) return null;
    const groups = new Map();
    const sweeps = new Set(ids.map((id) => data.get(id)?.job?.sweep?.id).filter(Boolean));
    for (const id of ids) {
      const job = data.get(id)?.job;
      const { key, text, value } = groupOf(job, view.group, sweeps.size > 1);
      if (!groups.has(key)) groups.set(key, { key, label: text, value, members: [] });
      groups.get(key).members.push(id);
    }
    const list = [...groups.values()].sort(byValue);
    list.forEach((g, i) => { g.color = PALETTE[i % PALETTE.length]; g.index = i; });
    return list;
  }

  /** Each compared job's colour: its own place, or its group's. */
  function swatchIndex() {
    const groups = groupsOf();
    const out = new Map(ids.map((id, i) => [id, i]));
    for (const g of groups || []) for (const id of g.members) out.set(id, g.index);
    return out;
  }

  /** The fields to group by: those that differ between the compared jobs first. */
  let groupOptionsKey = null;
  function renderGroupOptions() {
    const specs = ids.map((id) => flatten(data.get(id)?.job?.spec || {}));
    const paths = [...new Set(specs.flatMap((s) => Object.keys(s)))].filter((p) => p !== 'name').sort();
    const differ = paths.filter((p) => new Set(specs.map((s) => JSON.stringify(s[p]))).size > 1);
    const same = paths.filter((p) => !differ.includes(p));
    const extra = view.group && view.group !== VARIANT && !paths.includes(view.group) ? [view.group] : [];
    const key = JSON.stringify([differ, same, extra]);
    if (key !== groupOptionsKey) {
      groupOptionsKey = key;
      replace(groupSelect,
        h('option', { value: '', text: 'nothing: one line per job' }),
        h('option', { value: VARIANT, text: 'sweep variant (axes less the seed)' }),
        differ.length ? h('optgroup', { label: 'Spec fields that differ' }, differ.map((p) => h('option', { value: p, text: p }))) : null,
        same.length ? h('optgroup', { label: 'Other spec fields' }, same.map((p) => h('option', { value: p, text: p }))) : null,
        extra.map((p) => h('option', { value: p, text: p })));
    }
    groupSelect.value = view.group;
  }

  // ---- x axes ----
  /** The x axis drawn: the chosen one where every compared chart carries it, else generation
   * (a server that predates steps and wall times in its charts). */
  function effectiveX() {
    const charts = ids.map((id) => data.get(id)?.chart).filter(Boolean);
    const has = (key) => charts.every((c) => hasColumn(c, X_COLUMNS[key]));
    for (const option of xSelect.options) option.disabled = !has(option.value);
    const usable = has(view.x);
    xNote.hidden = usable;
    if (!usable) xNote.textContent = `This server's charts carry no ${X_AXES[view.x].label}: drawn against generation.`;
    return usable ? view.x : 'generation';
  }

  /** A job's curves against x axis `x`, each [xs, ys]; `end` is the last x it reached. */
  function curvesOf(id, x) {
    const d = data.get(id);
    const c = d?.chart;
    if (!c) return null;
    const xs = c[X_COLUMNS[x]];
    const end = x === 'generation' ? c.generations - 1 : (xs.at(-1) ?? -Infinity);
    const smooth = (ys) => ema(ys, view.smooth);
    // Best so far changes at single generations: on another axis, at its bucket's end.
    const bsfX = x === 'generation' ? [...c.best_so_far.generation] : c.best_so_far.generation.map((g) => xs[bucketOf(c.generation, g)]);
    const bsfY = [...c.best_so_far.value];
    // A step curve held to the run's last point, so it shows how far the run went.
    if (bsfX.length && end > bsfX.at(-1)) {
      bsfX.push(end);
      bsfY.push(bsfY.at(-1));
    }
    return {
      end,
      bsf: [bsfX, bsfY],
      mean: [xs, smooth(c.mean_max)],
      sigma: [xs, c.sigma?.max ?? xs.map(() => null)],
      env: (name) => {
        // A spec may list an environment twice; the chart shows its first entry.
        const curves = c.envs?.find((e) => e.env === name);
        return curves ? [xs, smooth(envValues(d.job, name, curves))] : null;
      },
    };
  }

  /** One environment's curve of the chosen quantity: raw, or normalised with the spec's (else
   * the environment's) bounds. A weighted return normalises to the weighted score exactly (the
   * weights sum to 1), unless the spec clips each episode's score. */
  function envValues(job, name, curves) {
    const metric = ENV_METRICS[view.env];
    if (!metric.of) return curves[view.env];
    const entry = (job?.spec?.envs || []).find((e) => (typeof e === 'string' ? e : e?.name) === name);
    const own = envBounds.get(name) || {};
    const lo = (typeof entry === 'object' && entry.return_min !== null && entry.return_min !== undefined) ? entry.return_min : own.return_min;
    const hi = (typeof entry === 'object' && entry.return_max !== null && entry.return_max !== undefined) ? entry.return_max : own.return_max;
    const raw = curves[metric.of];
    if (!(Number.isFinite(lo) && Number.isFinite(hi) && hi !== lo)) return raw.map(() => null);
    return raw.map((v) => (v === null || v === undefined ? null : (v - lo) / (hi - lo)));
  }

  /** The environments of the compared jobs, in order of first appearance. */
  function envUnion() {
    const names = [];
    for (const id of ids) for (const env of envNames(data.get(id)?.job?.spec)) if (!names.includes(env)) names.push(env);
    return names;
  }

  /** The compared jobs (index into `ids`, for its colour) that ran `env`. */
  const jobsWith = (env) => ids.map((id, i) => [id, i]).filter(([id]) => envNames(data.get(id)?.job?.spec).includes(env));
  const groupsWith = (groups, env) => groups.filter((g) => g.members.some((id) => envNames(data.get(id)?.job?.spec).includes(env)));

  function rebuildCharts(groups, x) {
    // Rebuild only when what the charts are made of changes, so a live refresh keeps the zoom.
    const envs = envUnion();
    const who = groups ? groups.map((g) => `${g.key}:${g.label}`).join(',') : ids.map((id) => `${id}:${short(id)}`).join(',');
    const key = JSON.stringify([who, envs.map((e) => `${e}:${jobsWith(e).map(([id]) => id).join('+')}`), x, view.log, ENV_METRICS[view.env].y]);
    if (key === chartKey && bsfChart) return;
    chartKey = key;
    destroyCharts();
    const axis = { xLabel: X_AXES[x].label, xFormat: X_AXES[x].format, log: view.log };
    const jobSeries = (list, extra = {}) => list.map(([id, i]) => line(short(id), PALETTE[i % PALETTE.length], { spanGaps: true, ...extra }));
    const all = ids.map((id, i) => [id, i]);
    // A chart of `list`: jobs ([id, index]) as lines, or groups as bands.
    const make = (holder, list, { extra, ...options }) => lineChart(holder, {
      ...axis,
      ...options,
      ...(groups
        ? bandSeries(list.map((g) => ({ label: `${g.label} (${g.members.length})`, color: g.color })))
        : { series: jobSeries(list, extra) }),
    });
    bsfChart = make(bsfHolder, groups || all, { yLabel: 'fitness', height: 280, extra: { paths: stepped() } });
    meanChart = make(meanHolder, groups || all, { yLabel: 'fitness', height: 240 });
    sigmaChart = make(sigmaHolder, groups || all, { yLabel: 'σ', height: 220, log: true });
    for (const holder of [bsfHolder, meanHolder, sigmaHolder]) holder.dataset.groups = String(groups ? groups.length : 0);
    replace(envGrid);
    for (const env of envs) {
      const holder = h('div', { class: 'chart', dataset: { chart: 'compare-env', env } });
      envGrid.append(h('figure', { class: 'compare-env' }, h('figcaption', { class: 'small', text: env }), holder));
      const list = groups ? groupsWith(groups, env) : jobsWith(env);
      holder.dataset.groups = String(groups ? list.length : 0);
      envCharts.set(env, make(holder, list, { yLabel: ENV_METRICS[view.env].y, height: 200 }));
    }
    if (!envs.length) envGrid.append(h('p', { class: 'muted small', text: 'No environments yet.' }));
  }

  function destroyCharts() {
    bsfChart?.destroy();
    meanChart?.destroy();
    sigmaChart?.destroy();
    bsfChart = meanChart = sigmaChart = null;
    for (const chart of envCharts.values()) chart.destroy();
    envCharts.clear();
  }

  function draw() {
    empty.hidden = ids.length > 0;
    relabel();
    renderGroupOptions();
    const groups = groupsOf();
    const x = effectiveX();
    // Name the combine rule when every compared job uses the same one.
    const combines = new Set(ids.map((id) => data.get(id)?.job?.spec?.lifetime?.combine));
    fitnessLine.textContent = fitnessExplained(combines.size === 1 ? { lifetime: { combine: [...combines][0] } } : null);
    drawLegend(groups);
    renderPicker();
    rebuildCharts(groups, x);
    bsfHolder.dataset.x = x;
    if (!ids.length) return;
    const curves = new Map(ids.map((id) => [id, curvesOf(id, x)]));
    // One [x, ...ys] table: per job a column, or per group its center, low and high.
    const table = (list, pick) => {
      if (!groups) return join(list.map(([id]) => (curves.get(id) && pick(curves.get(id))) || [[], []]));
      const members = list.map((g) => g.members.map((id) => {
        const cv = curves.get(id);
        const xy = cv && pick(cv);
        return xy ? { xy, end: cv.end } : null;
      }).filter(Boolean));
      const xs = [...new Set(members.flat().flatMap((m) => m.xy[0]))].sort((a, b) => a - b);
      return [xs, ...members.flatMap((ms) => bandColumns(xs.map((at) => stats(ms.map((m) => sampleAt(m.xy[0], m.xy[1], at, m.end)))), view.band))];
    };
    const all = groups || ids.map((id, i) => [id, i]);
    positiveOnly(table(all, (c) => c.bsf), bsfChart, bsfLogNote);
    positiveOnly(table(all, (c) => c.mean), meanChart, meanLogNote);
    sigmaChart.setData(table(all, (c) => c.sigma));
    // Points on screen, for tests and anyone inspecting the page.
    sigmaHolder.dataset.points = String(ids.reduce((n, id) => n + (data.get(id)?.chart?.sigma?.max.filter(Number.isFinite).length ?? 0), 0));
    let envSkipped = 0;
    for (const [env, chart] of envCharts) {
      const list = groups ? groupsWith(groups, env) : jobsWith(env);
      envSkipped += positiveOnly(table(list, (c) => c.env(env)), chart, null);
    }
    showSkipped(envLogNote, envSkipped);
    drawDiff();
  }

  /** Draws `tbl` on `chart`; on a log scale without the values ≤ 0 (a log axis has no place
   * for them), saying how many were left out under the chart. Returns that count. */
  function positiveOnly(tbl, chart, note) {
    let skipped = 0;
    if (view.log) {
      tbl = [tbl[0], ...tbl.slice(1).map((ys) => ys.map((v) => {
        if (v !== null && v !== undefined && v <= 0) {
          skipped += 1;
          return null;
        }
        return v;
      }))];
    }
    chart.setData(tbl);
    if (note) showSkipped(note, skipped);
    return skipped;
  }

  function showSkipped(note, skipped) {
    note.hidden = !(view.log && skipped > 0);
    note.dataset.skipped = String(skipped);
    note.textContent = `Log scale: ${skipped} point${skipped === 1 ? '' : 's'} at or below 0 left out (a logarithm has no value there).`;
  }

  function drawLegend(groups) {
    if (groups) {
      replace(legend, groups.map((g) => h('span', {
        class: 'legend-item legend-group', dataset: { group: g.key },
        title: g.members.map((id) => label(id)).join('\n'),
      },
      h('span', { class: `swatch swatch-${g.index % 8}`, 'aria-hidden': 'true' }),
      g.label,
      h('span', { class: 'muted small', text: ` ${g.members.length} job${g.members.length === 1 ? '' : 's'}` }))));
      return;
    }
    replace(legend, ids.map((id, i) => {
      const d = data.get(id);
      return h('a', { class: 'legend-item', href: jobUrl(id), title: `${label(id)} (${id})` },
        h('span', { class: `swatch swatch-${i % 8}`, 'aria-hidden': 'true' }),
        label(id),
        d?.chart ? h('span', { class: 'muted small', text: ` best ${fmtNum(d.chart.best_so_far.value.at(-1), 4)}` }) : null);
    }));
  }

  /** The spec fields whose values differ between the compared jobs, one row each. */
  let diffKey = null;
  function drawDiff() {
    const specs = ids.map((id) => flatten(data.get(id)?.job?.spec || {}));
    const paths = [...new Set(specs.flatMap((s) => Object.keys(s)))].sort()
      .filter((p) => p !== 'name' && new Set(specs.map((s) => JSON.stringify(s[p]))).size > 1);
    const colors = swatchIndex();
    // Drawn again only when it changes: a live refresh keeps where the table is scrolled to.
    const key = JSON.stringify([ids.map((id) => [label(id), colors.get(id)]), paths, specs.map((s) => paths.map((p) => s[p]))]);
    if (key === diffKey) return;
    diffKey = key;
    if (ids.length < 2) {
      replace(diffBody, h('p', { class: 'muted', text: 'Pick two or more jobs to see how their specs differ.' }));
    } else if (!paths.length) {
      replace(diffBody, h('p', { class: 'muted', text: 'The specs are identical (names aside).' }));
    } else {
      // The table scrolls sideways inside its card when eight jobs do not fit.
      replace(diffBody, h('div', { class: 'table-wrap' }, h('table', { class: 'table' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col', text: 'Field' }),
          ids.map((id) => h('th', { scope: 'col' }, h('span', { class: `swatch swatch-${colors.get(id) % 8}`, 'aria-hidden': 'true' }), ' ', label(id))))),
        h('tbody', {}, paths.map((p) => h('tr', { dataset: { field: p } }, h('th', { scope: 'row' }, h('code', { text: p })),
          specs.map((s) => h('td', { text: showValue(s[p]) }))))))));
    }
  }

  let loadToken = 0;
  async function refresh() {
    const token = ++loadToken;
    renderPicker();
    const bounds = envBounds.size ? null : api('/envs', { signal: controller.signal }).catch(() => []);
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
    if (bounds) envBounds = new Map(((await bounds) || []).map((e) => [e.name, e]));
    if (token !== loadToken || disposed) return;
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
    job_deleted: ({ id }) => {
      candidates = candidates.filter((c) => c.id !== id);
      renderPicker();
    },
    resync: () => refreshSoon(),
  }, setConnection);

  api('/jobs?kind=evolve&limit=100', { signal: controller.signal }).then((page) => {
    for (const job of page.jobs) if (!candidates.some((c) => c.id === job.id)) candidates.push(job);
    renderPicker();
  }).catch((e) => {
    if (e.name !== 'AbortError') toast(`Could not load jobs: ${e.message}`, 'error');
  });
  showState();
  refresh();

  const dispose = () => {
    disposed = true;
    controller.abort();
    events.close();
    refreshSoon.cancel();
    clearTimeout(searchTimer);
    destroyCharts();
  };
  // A changed address (edited, or Back): the state it names.
  dispose.onQuery = () => {
    const next = readState();
    const idsChanged = next.ids.join(',') !== ids.join(',');
    view = next;
    ids = next.ids;
    showState();
    // Drawn at once with what is known, so the charts never show the last view's settings.
    draw();
    if (idsChanged) refresh();
  };
  return dispose;
}

function logNote(id) {
  return h('p', { class: 'muted small log-note', id, hidden: true, 'aria-live': 'polite' });
}

/** Which group a job falls in: a key, its text, and the value to order groups by. Variants of
 * different sweeps stay apart (`sweeps` > 1 names the sweep). */
function groupOf(job, by, manySweeps) {
  if (by === VARIANT) {
    const sweep = job?.sweep;
    if (!sweep) return { key: '~none', text: 'not in a sweep', value: null };
    const entries = Object.entries(sweep.variant || {});
    const text = entries.length ? entries.map(([k, v]) => `${k}=${showValue(v)}`).join(', ') : 'all';
    return { key: `${sweep.id}|${text}`, text: manySweeps ? `${text} (sweep ${sweep.id.slice(0, 8)})` : text, value: text };
  }
  const value = job ? flatten(job.spec || {})[by] : undefined;
  return { key: JSON.stringify(value ?? null), text: `${by}=${value === undefined ? '—' : showValue(value)}`, value: value ?? null };
}

/** Groups in order of their values: numbers as numbers, the rest as text, missing last. */
function byValue(a, b) {
  if (a.value === null || b.value === null) return (a.value === null) - (b.value === null);
  if (typeof a.value === 'number' && typeof b.value === 'number') return a.value - b.value;
  return String(a.label).localeCompare(String(b.label), undefined, { numeric: true });
}

/** A spec value as the diff table and group names show it: text as it is, anything else as
 * JSON. */
function showValue(v) {
  if (v === undefined) return '—';
  return typeof v === 'string' ? v : JSON.stringify(v);
}

const hasColumn = (chart, key) => Array.isArray(chart[key]) && chart[key].length === chart.generation.length;

/** The bucket (index into the chart's first generations) that holds generation `g`. */
function bucketOf(firsts, g) {
  let lo = 0;
  let hi = firsts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (firsts[mid] <= g) lo = mid;
    else hi = mid - 1;
  }
  return lo;
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

/** The view state the address names (`#/compare?ids=…&group=…&band=range&smooth=0.9&log=1&x=steps&env=…`). */
function readState(q = hashQuery()) {
  const raw = q.get('ids') || '';
  const smooth = Number(q.get('smooth'));
  const x = q.get('x');
  const env = q.get('env');
  return {
    ids: [...new Set(raw.split(',').map((s) => s.trim()).filter((s) => /^[0-9a-fA-F-]{36}$/.test(s)))].slice(0, MAX_JOBS),
    group: (q.get('group') || '').slice(0, 200),
    band: q.get('band') === 'range' ? 'range' : 'std',
    smooth: Number.isFinite(smooth) && smooth > 0 ? Math.min(0.99, Math.round(smooth * 100) / 100) : 0,
    log: q.get('log') === '1',
    x: Object.hasOwn(X_AXES, x || '') ? x : 'generation',
    env: Object.hasOwn(ENV_METRICS, env || '') ? env : DEFAULT_ENV_METRIC,
  };
}

/** The address of a view state; defaults are left out. */
function stateHash(s) {
  const q = [];
  if (s.ids.length) q.push(`ids=${s.ids.join(',')}`);
  if (s.group) q.push(`group=${encodeURIComponent(s.group)}`);
  if (s.band !== 'std') q.push(`band=${s.band}`);
  if (s.smooth > 0) q.push(`smooth=${s.smooth}`);
  if (s.log) q.push('log=1');
  if (s.x !== 'generation') q.push(`x=${s.x}`);
  if (s.env !== DEFAULT_ENV_METRIC) q.push(`env=${s.env}`);
  return q.length ? `#/compare?${q.join('&')}` : '#/compare';
}
