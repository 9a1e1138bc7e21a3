// One job: status and actions, live charts from the job's event stream, genomes with
// downloads and evaluation, the spec. Evaluation jobs show their result instead of charts.

import { api, stream, jobUrl, downloadUrl, API, ApiError } from '../api.js';
import { lineChart, line, stepped, fade, ema, PALETTE } from '../charts.js';
import { h, replace, fmtNum, fmtInt, fmtRate, fmtDate, fmtDuration, statusBadge, importedBadge, envNames, throttle, toast, fitnessNote, fmtCompute } from '../util.js';

const ACTIVE = new Set(['queued', 'running']);
const ENV_METRICS = {
  mean_score: { label: 'mean normalised score', y: 'score' },
  mean_return: { label: 'mean weighted return', y: 'return' },
  best_return: { label: 'best weighted return', y: 'return' },
};
const GENOME_LABELS = {
  final_best: 'final best', final_mean: 'final mean', generation_best: 'new best',
  strategy_mean: 'strategy mean', uploaded: 'uploaded',
};

export function jobView(root, id, { setConnection }) {
  const controller = new AbortController();
  let job = null;
  let events = null;
  let disposed = false;
  const charts = [];
  // History as columns.
  const cols = { gen: [], best: [], mean: [], worst: [], q25: [], q75: [], bsf: [], sigma: [], thr: [] };
  const envCols = new Map(); // env -> { mean_score: [], mean_return: [], best_return: [] }
  let lastGeneration = null;
  let lastRecord = null;

  const title = h('h1', { class: 'job-title', text: 'Job' });
  // Enabled once the job has loaded: there is nothing to edit before (or for an unknown id).
  const editButton = h('button', { type: 'button', class: 'btn btn-small', id: 'edit-job', disabled: true, on: { click: () => job && editDialog() } }, 'Edit name, tags, notes…');
  const badge = h('span');
  const tags = h('div', { class: 'tags' });
  const actions = h('div', { class: 'actions' });
  const facts = h('dl', { class: 'facts' });
  const notesText = h('p', { class: 'notes-text', id: 'job-notes' });
  const alertBox = h('div', { class: 'alert', role: 'alert', hidden: true });
  const body = h('div', { class: 'job-body' });

  replace(root,
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '#/', text: 'Jobs' }), h('span', { 'aria-hidden': 'true', text: ' / ' }), h('span', { class: 'mono', text: id.slice(0, 8) })),
    h('div', { class: 'page-head' }, h('div', { class: 'title-block' }, h('div', { class: 'title-line' }, title, badge), tags), actions),
    alertBox,
    h('section', { class: 'card facts-card', 'aria-label': 'Summary' }, facts),
    h('section', { class: 'card notes-card', 'aria-labelledby': 'notes-title' },
      h('div', { class: 'card-head' }, h('h2', { id: 'notes-title', text: 'Notes' }),
        editButton),
      notesText),
    body);

  // ---- header, facts, actions ----------------------------------------------------------

  function renderHead() {
    editButton.disabled = false;
    document.title = `${job.name} · SFNN Lab`;
    title.textContent = job.name || id.slice(0, 8);
    replace(badge, statusBadge(job.status), job.imported ? importedBadge() : null);
    replace(tags, job.tags.map((t) => h('a', { class: 'tag', href: `#/?tag=${encodeURIComponent(t)}`, text: t })));
    const buttons = [];
    if (ACTIVE.has(job.status)) buttons.push(button('Cancel', 'btn-danger-outline', () => act('cancel')));
    if (job.kind === 'evolve' && !job.imported && (job.status === 'failed' || job.status === 'cancelled')) buttons.push(button('Resume', '', () => act('resume')));
    if (job.kind === 'evolve') {
      buttons.push(h('a', { class: 'btn', href: `#/new?from=${job.id}`, text: 'Clone…' }));
      buttons.push(h('a', { class: 'btn', href: `#/compare?ids=${job.id}`, text: 'Compare…' }));
    }
    if (!ACTIVE.has(job.status)) buttons.push(button('Delete', 'btn-danger-outline', remove));
    replace(actions, buttons);
    notesText.textContent = job.notes || 'No notes yet.';
    notesText.classList.toggle('muted', !job.notes);

    if (job.error) {
      alertBox.hidden = false;
      replace(alertBox, h('strong', { text: 'Error: ' }), job.error);
    } else alertBox.hidden = true;

    const started = job.started_at;
    const end = job.finished_at || (job.status === 'running' ? Date.now() : null);
    // An imported run ran elsewhere: its run time is its history's, its machine the one it
    // recorded (the import itself took a moment and used no executor here).
    const runTime = job.imported
      ? (job.compute?.wall_seconds > 0 ? fmtDuration(job.compute.wall_seconds) : '—')
      : (started && end ? fmtDuration((end - started) / 1000) : '—');
    const executor = job.executor
      ? `${job.executor}${job.device ? ` · ${job.device}` : ''}`
      : (job.imported ? (job.compute?.machine || 'elsewhere (imported)') : '—');
    const thr = lastRecord && lastRecord.timing?.evaluate > 0 ? lastRecord.env_steps / lastRecord.timing.evaluate : null;
    const progress = h('progress', { max: Math.max(1, job.generations), value: Math.min(job.generation, job.generations), 'aria-label': 'Generations done' });
    const items = [
      ['Progress', [h('span', { class: 'big', text: `${fmtInt(job.generation)} / ${fmtInt(job.generations)}` }), progress]],
    ];
    if (job.kind === 'evolve') {
      items.push(
        ['Best fitness', h('span', { class: 'big', id: 'best-fitness', text: fmtNum(job.best_fitness, 5) })],
        ['Throughput', h('span', { class: 'big', id: 'job-throughput', text: thr ? fmtRate(thr, 'steps') : '—' })],
      );
    }
    items.push(
      ['Executor', h('span', { id: 'job-executor', text: executor })],
      ['Compute', h('span', { id: 'job-compute', title: job.compute?.machine || '', text: fmtCompute(job.compute) })],
      ['Created', fmtDate(job.created_at)],
      ['Run time', h('span', { id: 'job-run-time', text: runTime })],
    );
    if (job.stop_reason) items.push(['Stopped by', job.stop_reason.replace(/_/g, ' ')]);
    if (job.attempts > 1) items.push(['Attempts', String(job.attempts)]);
    if (job.sweep) {
      const variant = Object.entries(job.sweep.variant).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(', ');
      items.push(['Sweep', h('a', { href: `#/sweeps/${job.sweep.id}`, id: 'job-sweep', text: variant || 'all seeds' })]);
    }
    replace(facts, items.map(([k, v]) => h('div', { class: 'fact' }, h('dt', { text: k }), h('dd', {}, v))));
  }

  // Name, tags and notes are the owner's to change at any time (PATCH /jobs/{id}).
  function editDialog() {
    const slots = {};
    const slot = (name) => (slots[name] = h('p', { class: 'field-error', id: `edit-${name}-error`, hidden: true }));
    const name = h('input', { type: 'text', id: 'edit-name', maxlength: 200, value: job.name, 'aria-describedby': 'edit-name-error' });
    const tagsInput = h('input', { type: 'text', id: 'edit-tags', value: job.tags.join(', '), 'aria-describedby': 'edit-tags-error' });
    const notes = h('textarea', { id: 'edit-notes', rows: 8, maxlength: 10000, 'aria-describedby': 'edit-notes-error' });
    notes.value = job.notes || '';
    const save = h('button', { type: 'submit', class: 'btn btn-primary', text: 'Save' });
    const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': 'edit-title' });
    const form = h('form', { method: 'dialog' },
      h('h2', { id: 'edit-title', text: 'Edit job' }),
      h('div', { class: 'field' }, h('label', { for: 'edit-name', text: 'Name' }), name, slot('name')),
      h('div', { class: 'field' }, h('label', { for: 'edit-tags', text: 'Tags (comma-separated)' }), tagsInput, slot('tags')),
      h('div', { class: 'field' }, h('label', { for: 'edit-notes', text: 'Notes' }), notes, slot('notes')),
      slot('other'),
      h('div', { class: 'actions' }, h('button', { type: 'button', class: 'btn', text: 'Close', on: { click: () => dialog.close() } }), save));
    dialog.append(form);
    dialog.addEventListener('close', () => dialog.remove());
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      for (const s of Object.values(slots)) s.hidden = true;
      const patch = {
        name: name.value,
        tags: tagsInput.value.split(',').map((t) => t.trim()).filter(Boolean),
        notes: notes.value,
      };
      save.disabled = true;
      try {
        const next = await api(`/jobs/${id}`, { method: 'PATCH', body: patch });
        job = { ...next, generation: Math.max(next.generation, job.generation) };
        renderHead();
        dialog.close();
        toast('Saved.');
      } catch (e) {
        showFieldError(slots, e);
      } finally {
        save.disabled = false;
      }
    });
    document.body.append(dialog);
    dialog.showModal();
  }

  function button(text, cls, onClick) {
    return h('button', { type: 'button', class: `btn ${cls}`, on: { click: onClick } }, text);
  }

  async function act(what) {
    try {
      job = await api(`/jobs/${id}/${what}`, { method: 'POST' });
      renderHead();
      toast(what === 'cancel' ? 'Cancel requested.' : 'Job queued again.');
      if (what === 'resume' && !events) openStream(lastGeneration);
    } catch (e) {
      toast(`${what} failed: ${e.message}`, 'error');
    }
  }

  let deleting = false;
  async function remove() {
    const ok = await confirmDialog(`Delete “${job.name}” with its history and genomes? This cannot be undone.`, 'Delete');
    if (!ok) return;
    try {
      deleting = true;
      await api(`/jobs/${id}`, { method: 'DELETE' });
      toast('Job deleted.');
      location.hash = '#/';
    } catch (e) {
      deleting = false;
      toast(`Delete failed: ${e.message}`, 'error');
    }
  }

  // ---- evolution: charts ----------------------------------------------------------------

  let fitnessCard;
  let smoothingWeight = 0;
  const smoothingLabel = () => (smoothingWeight > 0 ? smoothingWeight.toFixed(2) : 'off');
  // The best genome's downloads, filled once the job has kept one.
  const bestDownloads = h('div', { class: 'downloads', id: 'best-genome', hidden: true });
  let envChart = null;
  let envMetric = 'mean_score';
  let envHolder;
  let genomeBox;
  const redraw = throttle(() => draw(), 250);

  function buildEvolve() {
    const blue = PALETTE[0];
    fitnessCard = h('div', { class: 'chart', dataset: { chart: 'fitness', points: '0' } });
    const sigmaHolder = h('div', { class: 'chart', dataset: { chart: 'sigma' } });
    const thrHolder = h('div', { class: 'chart', dataset: { chart: 'throughput' } });
    envHolder = h('div', { class: 'chart', dataset: { chart: 'envs' } });
    const metricSelect = h('select', { id: 'env-metric', 'aria-label': 'Per-environment quantity' },
      Object.entries(ENV_METRICS).map(([k, m]) => h('option', { value: k, text: m.label })));
    metricSelect.addEventListener('change', () => {
      envMetric = metricSelect.value;
      buildEnvChart();
      draw();
    });
    genomeBox = h('div', { class: 'genomes' }, h('p', { class: 'muted', text: 'No genomes yet.' }));
    const specPre = h('pre', { class: 'spec', tabindex: 0, 'aria-label': 'Job spec' }, JSON.stringify(job.spec, null, 2));
    const smoothing = h('input', { type: 'range', id: 'fitness-smoothing', min: 0, max: 0.99, step: 0.01, value: String(smoothingWeight) });
    const smoothingText = h('output', { for: 'fitness-smoothing', class: 'small mono', text: smoothingLabel() });
    smoothing.addEventListener('input', () => {
      smoothingWeight = Number(smoothing.value);
      smoothingText.textContent = smoothingLabel();
      draw();
    });
    const logToggle = h('input', { type: 'checkbox', id: 'fitness-log' });
    logToggle.addEventListener('change', () => {
      charts[0].setLog(logToggle.checked);
      draw();
    });
    const controls = h('div', { class: 'chart-controls' },
      h('label', { for: 'fitness-smoothing', class: 'small', text: 'Smoothing (EMA) ' }), smoothing, smoothingText,
      h('label', { class: 'small check' }, logToggle, ' log scale'));
    const empty = h('p', { class: 'chart-empty muted', id: 'chart-empty', text: job.status === 'queued' ? 'Waiting for a worker to start this job…' : 'No generations recorded yet.' });

    replace(body,
      h('section', { class: 'card chart-card wide', 'aria-labelledby': 'fitness-title' },
        h('div', { class: 'card-head' }, h('h2', { id: 'fitness-title', text: 'Fitness' }),
          h('p', { class: 'muted small', text: 'Population min–max (light band) and interquartile range (dark band), mean, and best so far. Smoothing applies to the mean and the generation best. Drag to zoom, double-click to reset.' }),
          fitnessNote(job.spec),
          controls),
        empty, fitnessCard),
      h('div', { class: 'chart-grid' },
        h('section', { class: 'card chart-card', 'aria-labelledby': 'envs-title' },
          h('div', { class: 'card-head' }, h('h2', { id: 'envs-title', text: 'Per environment' }), metricSelect), envHolder),
        h('section', { class: 'card chart-card', 'aria-labelledby': 'sigma-title' },
          h('div', { class: 'card-head' }, h('h2', { id: 'sigma-title', text: 'Strategy σ' }), h('span', { class: 'muted small', text: 'log scale' })), sigmaHolder),
        h('section', { class: 'card chart-card', 'aria-labelledby': 'thr-title' },
          h('div', { class: 'card-head' }, h('h2', { id: 'thr-title', text: 'Throughput' }), h('span', { class: 'muted small', text: 'environment steps per second of evaluation' })), thrHolder)),
      h('section', { class: 'card', 'aria-labelledby': 'genomes-title' },
        h('div', { class: 'card-head' }, h('h2', { id: 'genomes-title', text: 'Genomes' }),
          bestDownloads,
          h('div', { class: 'downloads' }, h('span', { class: 'muted small', text: 'History: ' }),
            h('a', { class: 'btn btn-small', href: `${API}/jobs/${id}/history?format=csv`, download: '', text: 'CSV' }),
            h('a', { class: 'btn btn-small', href: `${API}/jobs/${id}/history?format=json`, download: '', text: 'JSON' }))),
        genomeBox),
      replayCard(),
      h('section', { class: 'card', 'aria-labelledby': 'spec-title' },
        h('div', { class: 'card-head' }, h('h2', { id: 'spec-title', text: 'Spec' })), specPre));

    charts.push(lineChart(fitnessCard, {
      yLabel: 'fitness',
      height: 300,
      series: [
        line('worst', fade(blue, 0.45), { width: 1 }),
        line('25th pct', 'transparent', { width: 0 }),
        line('75th pct', 'transparent', { width: 0 }),
        line('best', fade(blue, 0.45), { width: 1 }),
        line('mean', PALETTE[3], { width: 2 }),
        line('best so far', PALETTE[1], { width: 2.5, paths: stepped() }),
      ],
      bands: [
        { series: [4, 1], fill: fade(blue, 0.1) },
        { series: [3, 2], fill: fade(blue, 0.22) },
      ],
    }));
    charts.push(lineChart(sigmaHolder, { yLabel: 'σ', log: true, height: 200, series: [line('σ', PALETTE[4])] }));
    charts.push(lineChart(thrHolder, { yLabel: 'steps/s', height: 200, series: [line('steps/s', PALETTE[2])] }));
    buildEnvChart();
    loadGenomes();
  }

  function buildEnvChart() {
    if (envChart) {
      envChart.destroy();
      charts.splice(charts.indexOf(envChart), 1);
    }
    const names = envNames(job.spec);
    envChart = lineChart(envHolder, {
      yLabel: ENV_METRICS[envMetric].y,
      height: 200,
      series: names.map((n, i) => line(n, PALETTE[(i + 1) % PALETTE.length])),
    });
    charts.push(envChart);
  }

  function draw() {
    if (disposed || !fitnessCard) return;
    const [fit, sig, thr] = charts;
    fit.setData([cols.gen, cols.worst, cols.q25, cols.q75, ema(cols.best, smoothingWeight), ema(cols.mean, smoothingWeight), cols.bsf]);
    fitnessCard.dataset.smoothing = String(smoothingWeight);
    sig.setData([cols.gen, cols.sigma]);
    thr.setData([cols.gen, cols.thr]);
    const names = envNames(job.spec);
    envChart.setData([cols.gen, ...names.map((n) => envCols.get(n)?.[envMetric] || cols.gen.map(() => null))]);
    fitnessCard.dataset.points = String(cols.gen.length);
    document.getElementById('chart-empty')?.toggleAttribute('hidden', cols.gen.length > 0);
  }

  const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : null);

  function addRecord(r) {
    if (lastGeneration !== null && r.generation <= lastGeneration) return;
    lastGeneration = r.generation;
    lastRecord = r;
    const n = cols.gen.length;
    cols.gen.push(r.generation);
    cols.best.push(num(r.fitness?.best));
    cols.mean.push(num(r.fitness?.mean));
    cols.worst.push(num(r.fitness?.worst));
    cols.q25.push(num(r.fitness?.q25));
    cols.q75.push(num(r.fitness?.q75));
    cols.bsf.push(num(r.best_so_far));
    cols.sigma.push(num(r.sigma) !== null && r.sigma > 0 ? r.sigma : null);
    cols.thr.push(r.timing?.evaluate > 0 ? r.env_steps / r.timing.evaluate : null);
    for (const e of r.envs || []) {
      let c = envCols.get(e.env);
      if (!c) {
        c = { mean_score: Array(n).fill(null), mean_return: Array(n).fill(null), best_return: Array(n).fill(null) };
        envCols.set(e.env, c);
      }
      c.mean_score.push(num(e.mean_score));
      c.mean_return.push(num(e.mean_return));
      c.best_return.push(num(e.best_return));
    }
    for (const c of envCols.values()) {
      for (const arr of Object.values(c)) if (arr.length < n + 1) arr.push(null);
    }
    if (job && r.generation + 1 > job.generation) {
      job = { ...job, generation: r.generation + 1, best_fitness: num(r.best_so_far) ?? job.best_fitness };
    }
    renderHeadSoon();
    if (r.improved) genomesSoon();
    redraw();
  }

  const renderHeadSoon = throttle(() => job && renderHead(), 500);

  // ---- genomes ----------------------------------------------------------------------------

  let showAllGenomes = false;
  let genomeLoad = 0;
  const genomesSoon = throttle(() => loadGenomes(), 2000);

  async function loadGenomes() {
    const token = ++genomeLoad;
    try {
      const list = await api(`/jobs/${id}/genomes`, { signal: controller.signal });
      if (token === genomeLoad && !disposed) renderGenomes(list);
    } catch (e) {
      if (e.name !== 'AbortError') toast(`Could not load genomes: ${e.message}`, 'error');
    }
  }

  function renderGenomes(genomes) {
    const rank = { final_best: 0, final_mean: 1, generation_best: 2, strategy_mean: 3, uploaded: 4 };
    genomes.sort((a, b) => (rank[a.kind] ?? 9) - (rank[b.kind] ?? 9) || (b.generation ?? 0) - (a.generation ?? 0));
    // One row per distinct genome: the final best is usually the last "new best" again. The
    // row keeps the first (highest-ranked) copy and lists every kind it was kept as.
    const bySha = new Map();
    for (const g of genomes) {
      const seen = bySha.get(g.sha256);
      if (seen) {
        if (!seen.kinds.includes(g.kind)) seen.kinds.push(g.kind);
      } else bySha.set(g.sha256, { ...g, kinds: [g.kind] });
    }
    const list = [...bySha.values()];
    renderBest(genomes);
    if (!list.length) {
      replace(genomeBox, h('p', { class: 'muted', text: 'No genomes yet: the first one is kept after the first generation.' }));
      return;
    }
    const shown = showAllGenomes ? list : list.slice(0, 8);
    const table = h('table', { class: 'genome-table', id: 'genome-table' },
      h('caption', { class: 'sr-only', text: 'Genomes kept by this job' }),
      h('thead', {}, h('tr', {},
        ['Kind', 'Generation', 'Fitness', 'Parameters', 'SHA-256'].map((t, i) => h('th', { scope: 'col', class: i >= 1 && i <= 3 ? 'num' : null, text: t })),
        h('th', { scope: 'col' }, h('span', { class: 'sr-only', text: 'Actions' })))),
      h('tbody', {}, shown.map((g) => h('tr', { dataset: { genomeId: g.id, kind: g.kind, kinds: g.kinds.join(' '), sha256: g.sha256 } },
        h('td', {}, g.kinds.map((k) => h('span', { class: `kind kind-${k}`, text: GENOME_LABELS[k] || k }))),
        h('td', { class: 'num', text: g.generation ?? '—' }),
        h('td', { class: 'num', text: fmtNum(g.fitness, 5) }),
        h('td', { class: 'num', text: fmtInt(g.param_count) }),
        h('td', { class: 'mono small', title: g.sha256, text: g.sha256.slice(0, 12) }),
        h('td', { class: 'row-actions' },
          h('a', { class: 'btn btn-small', href: downloadUrl(g.id, 'json'), download: '', 'aria-label': `Download genome ${g.id.slice(0, 8)} as JSON`, dataset: { format: 'json' }, text: 'JSON' }),
          h('a', { class: 'btn btn-small', href: downloadUrl(g.id, 'safetensors'), download: '', 'aria-label': `Download genome ${g.id.slice(0, 8)} as safetensors`, dataset: { format: 'safetensors' }, text: 'safetensors' }),
          h('button', { type: 'button', class: 'btn btn-small btn-primary-outline', on: { click: () => evaluateDialog(g) } }, 'Evaluate…'))))));
    const more = list.length > shown.length || showAllGenomes
      ? h('button', { type: 'button', class: 'btn btn-small link', on: { click: () => { showAllGenomes = !showAllGenomes; renderGenomes(list); } } },
        showAllGenomes ? 'Show fewer' : `Show all ${list.length}`)
      : null;
    replace(genomeBox, h('div', { class: 'table-wrap' }, table), more);
  }

  /** Downloads of the run's best genome: the final best, else the fittest kept so far. */
  function renderBest(genomes) {
    const candidates = genomes.filter((g) => g.kind === 'final_best' || g.kind === 'generation_best');
    const best = candidates.find((g) => g.kind === 'final_best') ||
      candidates.reduce((a, g) => (a === null || (g.fitness ?? -Infinity) > (a.fitness ?? -Infinity) ? g : a), null);
    bestDownloads.hidden = !best;
    bestGenome = best;
    if (replayButton) replayButton.disabled = !best;
    if (!best) return;
    replace(bestDownloads, h('span', { class: 'muted small', text: 'Best genome: ' }),
      h('a', { class: 'btn btn-small', id: 'best-genome-json', href: downloadUrl(best.id, 'json'), download: '', dataset: { genomeId: best.id }, text: 'JSON' }),
      h('a', { class: 'btn btn-small', id: 'best-genome-safetensors', href: downloadUrl(best.id, 'safetensors'), download: '', text: 'safetensors' }));
  }

  // ---- replay the best genome ----------------------------------------------------------
  // The replay view (replay.js) and its data load only when asked for, so the job page stays
  // as light as before.

  let bestGenome = null;
  let replayButton = null;
  let disposeReplay = null;
  let replayRequest = null;

  function replayCard() {
    const names = envNames(job.spec);
    const envSelect = h('select', { id: 'replay-env', 'aria-label': 'Environment' }, names.map((n) => h('option', { value: n, text: n })));
    const seed = h('input', { type: 'number', id: 'replay-seed', min: 0, step: 1, value: '0', class: 'narrow' });
    const episodes = h('input', { type: 'number', id: 'replay-episodes', min: 1, step: 1, value: String(job.spec?.lifetime?.episodes ?? 8), class: 'narrow' });
    const status = h('p', { class: 'form-status', id: 'replay-status', role: 'status', 'aria-live': 'polite' });
    const holder = h('div', { class: 'replay', id: 'replay' });
    replayButton = h('button', { type: 'button', class: 'btn btn-primary', id: 'replay-best', disabled: !bestGenome, text: 'Replay best genome' });
    replayButton.addEventListener('click', async () => {
      if (!bestGenome) return;
      replayRequest?.abort();
      const request = (replayRequest = new AbortController());
      replayButton.disabled = true;
      status.classList.remove('error');
      status.textContent = 'Running the lifetime on the server…';
      try {
        const { showReplay } = await import('./replay.js');
        const dispose = await showReplay(holder, {
          genomeId: bestGenome.id, env: envSelect.value, seed: Number(seed.value), episodes: Number(episodes.value),
          mode: job.spec?.lifetime?.episode_mode, signal: request.signal,
        });
        disposeReplay?.();
        disposeReplay = dispose;
        const mode = job.spec?.lifetime?.episode_mode ?? 'fixed_horizon';
        replace(status, `Genome ${bestGenome.id.slice(0, 8)} (fitness ${fmtNum(bestGenome.fitness, 5)}), one lifetime on a fresh wiring: what `,
          h('code', { text: `sfnn eval --env ${envSelect.value} --seed ${Number(seed.value)} --episodes ${Number(episodes.value)} --mode ${mode} --trace` }),
          ' records for its file.');
      } catch (e) {
        if (e.name === 'AbortError') return;
        status.classList.add('error');
        status.textContent = `${e.field ? `${e.field}: ` : ''}${e.message}`;
      } finally {
        if (replayRequest === request) replayButton.disabled = !bestGenome;
      }
    });
    return h('section', { class: 'card', 'aria-labelledby': 'replay-title' },
      h('div', { class: 'card-head' }, h('h2', { id: 'replay-title', text: 'Replay' }),
        h('div', { class: 'replay-form' },
          h('label', { for: 'replay-env', class: 'small', text: 'Environment' }), envSelect,
          h('label', { for: 'replay-seed', class: 'small', text: 'Seed' }), seed,
          h('label', { for: 'replay-episodes', class: 'small', text: 'Episodes' }), episodes,
          replayButton)),
      status, holder);
  }

  // ---- evaluate a genome --------------------------------------------------------------

  let envInfo = null;
  async function evaluateDialog(genome) {
    envInfo ??= await api('/envs').catch(() => []);
    const chosen = new Set(envNames(job.spec));
    const slots = {};
    const slot = (name) => (slots[name] = h('p', { class: 'field-error', id: `eval-${name}-error`, hidden: true }));
    const envBoxes = envInfo.map((e) => h('label', { class: 'env-choice compact' },
      h('input', { type: 'checkbox', name: 'envs', value: e.name, checked: chosen.has(e.name) }), h('span', { text: e.name })));
    const episodes = h('input', { type: 'number', id: 'eval-episodes', min: 1, step: 1, value: job.spec?.lifetime?.episodes ?? 8, 'aria-describedby': 'eval-episodes-error' });
    const seeds = h('input', { type: 'text', id: 'eval-seeds', value: '0, 1, 2', 'aria-describedby': 'eval-seeds-error' });
    const mode = h('select', { id: 'eval-mode' }, ['fixed_horizon', 'stop_on_done'].map((m) => h('option', { value: m, text: m, selected: (job.spec?.lifetime?.episode_mode ?? 'fixed_horizon') === m })));
    const status = h('p', { class: 'form-status', role: 'status', 'aria-live': 'polite' });
    const submit = h('button', { type: 'submit', class: 'btn btn-primary', text: 'Queue evaluation' });
    const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': 'eval-title' });
    const form = h('form', { method: 'dialog' },
      h('h2', { id: 'eval-title', text: 'Evaluate this genome' }),
      h('p', { class: 'muted small' }, `${GENOME_LABELS[genome.kind] || genome.kind}, generation ${genome.generation ?? '—'}, fitness ${fmtNum(genome.fitness, 5)}. Each seed is one lifetime on a fresh random wiring.`),
      h('fieldset', { class: 'field', 'aria-describedby': 'eval-envs-error' }, h('legend', { text: 'Environments' }), h('div', { class: 'env-choices compact' }, envBoxes), slot('envs')),
      h('div', { class: 'grid-fields' },
        h('div', { class: 'field' }, h('label', { for: 'eval-episodes', text: 'Episodes per lifetime' }), episodes, slot('episodes')),
        h('div', { class: 'field' }, h('label', { for: 'eval-seeds', text: 'Seeds (comma-separated)' }), seeds, slot('seeds')),
        h('div', { class: 'field' }, h('label', { for: 'eval-mode', text: 'Episode mode' }), mode, slot('episode_mode'))),
      slot('other'),
      status,
      h('div', { class: 'actions' }, h('button', { type: 'button', class: 'btn', text: 'Close', on: { click: () => dialog.close() } }), submit));
    dialog.append(form);
    dialog.addEventListener('close', () => dialog.remove());
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      for (const s of Object.values(slots)) s.hidden = true;
      const request = {
        envs: [...form.querySelectorAll('input[name=envs]:checked')].map((b) => b.value),
        episodes: Number(episodes.value),
        seeds: seeds.value.split(',').map((s) => s.trim()).filter(Boolean).map(Number),
        episode_mode: mode.value,
      };
      submit.disabled = true;
      try {
        const evalJob = await api(`/genomes/${genome.id}/evaluate`, { method: 'POST', body: request });
        replace(status, 'Queued. ', h('a', { href: jobUrl(evalJob.id), text: 'Open the evaluation' }), '.');
        form.querySelector('a')?.addEventListener('click', () => dialog.close());
      } catch (e) {
        showFieldError(slots, e);
      } finally {
        submit.disabled = false;
      }
    });
    document.body.append(dialog);
    dialog.showModal();
  }

  // ---- evaluation jobs ----------------------------------------------------------------

  let resultBox;
  function buildEvaluate() {
    resultBox = h('div', { class: 'evaluation' }, h('p', { class: 'muted', text: 'The result appears when the evaluation has run.' }));
    const genomeId = job.spec?.genome_id;
    replace(body,
      h('section', { class: 'card', 'aria-labelledby': 'result-title' }, h('div', { class: 'card-head' }, h('h2', { id: 'result-title', text: 'Result' })), resultBox),
      h('section', { class: 'card', 'aria-labelledby': 'spec-title' },
        h('div', { class: 'card-head' }, h('h2', { id: 'spec-title', text: 'Spec' }),
          genomeId ? h('div', { class: 'downloads' },
            h('a', { class: 'btn btn-small', href: downloadUrl(genomeId, 'json'), download: '', text: 'Genome JSON' }),
            h('a', { class: 'btn btn-small', href: downloadUrl(genomeId, 'safetensors'), download: '', text: 'safetensors' })) : null),
        h('pre', { class: 'spec', tabindex: 0 }, JSON.stringify(job.spec, null, 2))));
    if (job.status === 'succeeded') loadResult();
  }

  async function loadResult() {
    try {
      const result = await api(`/jobs/${id}/evaluation`, { signal: controller.signal });
      replace(resultBox, h('div', { class: 'table-wrap' }, h('table', { class: 'result-table' },
        h('thead', {}, h('tr', {}, ['Environment', 'Seed', 'Episode returns', 'Weighted return', 'Score'].map((t, i) => h('th', { scope: 'col', class: i >= 3 ? 'num' : null, text: t })))),
        result.envs.map((env) => h('tbody', {},
          env.lifetimes.map((l) => h('tr', {},
            h('td', { text: env.env }), h('td', { text: l.seed }),
            h('td', { class: 'mono small', text: l.episode_returns.map((r) => fmtNum(r, 4)).join(', ') }),
            h('td', { class: 'num', text: fmtNum(l.weighted_return, 5) }),
            h('td', { class: 'num', text: fmtNum(l.score, 4) }))),
          h('tr', { class: 'total' }, h('th', { scope: 'row', colspan: 3, text: `${env.env}: mean over seeds` }),
            h('td', { class: 'num', text: fmtNum(env.mean_weighted_return, 5) }), h('td', { class: 'num', text: fmtNum(env.mean_score, 4) })))))));
    } catch (e) {
      if (e.name !== 'AbortError') replace(resultBox, h('p', { class: 'muted', text: `No result: ${e.message}` }));
    }
  }

  // ---- live stream --------------------------------------------------------------------------

  function onJob(next) {
    const was = job?.status;
    const first = !job;
    job = { ...next };
    if (lastGeneration !== null && lastGeneration + 1 > job.generation) job.generation = lastGeneration + 1;
    if (first) {
      if (job.kind === 'evolve') buildEvolve();
      else buildEvaluate();
    }
    renderHead();
    if (!first && was !== job.status) {
      if (job.kind === 'evolve') loadGenomes();
      else if (job.status === 'succeeded') loadResult();
      const empty = document.getElementById('chart-empty');
      if (empty && job.status !== 'queued') empty.textContent = 'No generations recorded yet.';
    }
  }

  function openStream(after) {
    events?.close();
    const q = after !== null && after !== undefined ? `?after=${after}` : '';
    events = stream(`/jobs/${id}/events${q}`, {
      job: onJob,
      // Deleted elsewhere (another tab, a script): nothing is left to show.
      job_deleted: () => {
        if (deleting) return; // this page's own delete says so when it returns
        toast('This job was deleted.');
        location.hash = '#/';
      },
      generation: addRecord,
      // We fell behind the live events: reconnect from the last record we have.
      resync: () => openStream(lastGeneration),
    }, setConnection);
  }

  // Load the job first so that a wrong id shows a clear message rather than a failing stream.
  api(`/jobs/${id}`, { signal: controller.signal }).then(async (j) => {
    if (disposed) return;
    onJob(j);
    // A long history arrives much faster as one JSON document than as thousands of events
    // (10,000 generations: ~0.4 s less); the stream then continues after its last record.
    // If that fails, the stream replays whatever is missing.
    if (j.kind === 'evolve' && j.generation > 0) {
      try {
        const records = await api(`/jobs/${id}/history?format=json`, { signal: controller.signal });
        if (disposed) return;
        for (const r of records) addRecord(r);
        draw();
      } catch (e) {
        if (e.name === 'AbortError') return;
      }
    }
    openStream(lastGeneration);
  }).catch((e) => {
    if (e.name === 'AbortError') return;
    // Nothing of a job to show: no facts, notes or actions, only why.
    for (const card of root.querySelectorAll('.facts-card, .notes-card')) card.remove();
    replace(actions);
    replace(body, h('section', { class: 'card empty', id: 'job-missing' }, h('h2', { text: e.status === 404 ? 'No such job' : 'Could not load the job' }),
      h('p', {}, e.message, '. ', h('a', { href: '#/', text: 'Back to the jobs' }))));
    title.textContent = e.status === 404 ? 'No such job' : 'Job not found';
  });

  return () => {
    disposed = true;
    controller.abort();
    replayRequest?.abort();
    disposeReplay?.();
    events?.close();
    redraw.cancel();
    genomesSoon.cancel();
    renderHeadSoon.cancel();
    for (const c of charts) c.destroy();
    document.title = 'SFNN Lab';
  };
}

export function confirmDialog(text, confirmLabel) {
  const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': 'confirm-title' },
    h('form', { method: 'dialog' },
      h('h2', { id: 'confirm-title', text: 'Are you sure?' }),
      h('p', { text }),
      h('div', { class: 'actions' },
        h('button', { value: 'no', class: 'btn', text: 'Keep it' }),
        h('button', { value: 'yes', class: 'btn btn-danger', text: confirmLabel }))));
  document.body.append(dialog);
  dialog.showModal();
  return new Promise((resolve) => dialog.addEventListener('close', () => {
    dialog.remove();
    resolve(dialog.returnValue === 'yes');
  }, { once: true }));
}

/** Shows an API error under the form field it names (`tags[2]` under `tags`), else under `other`. */
function showFieldError(slots, e) {
  const key = e instanceof ApiError && e.field ? e.field.replace(/\[\d+\]/g, '') : 'other';
  const target = slots[key] || slots.other;
  target.textContent = e.message;
  target.hidden = false;
}
